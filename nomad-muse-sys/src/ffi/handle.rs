//! Handles without locks and without use-after-free: a handle is the address
//! of a slot in a fixed table (static memory, never freed), so any pointer a
//! host passes is first checked to be a slot of the right table, then the
//! slot's atomic state says whether it is live, idle or busy. A call takes
//! the slot exclusively (or shared, for read-only calls) with one
//! compare-and-swap; a second concurrent call gets `MuseError::Busy` instead
//! of touching the value, and `remove` refuses a slot a call is using.
//! No lock is taken on the per-token path.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::runtime::MuseError;

/// State word of a slot: 0 = free; `CLAIMED` while being filled or emptied;
/// `LIVE` (+ `WRITER` while a call has it exclusively, + one per shared
/// reader, + `POISONED` after a panic inside an exclusive call).
const CLAIMED: u32 = 1;
const LIVE: u32 = 1 << 31;
const WRITER: u32 = 1 << 30;
const POISONED: u32 = 1 << 29;
const READERS: u32 = POISONED - 1;

/// What a handle table holds: moved between threads (`Send`), and with a
/// part read-only calls may use from several threads at once (`Sync`).
pub(crate) trait HandleValue: Send {
    type ReadOnly: Sync + ?Sized;
    fn read_only(&self) -> &Self::ReadOnly;
}

pub(crate) struct Slot<T> {
    state: AtomicU32,
    value: UnsafeCell<Option<Box<T>>>,
}

/// A fixed table of `N` slots for handles of one type.
pub(crate) struct HandleTable<T, const N: usize> {
    slots: [Slot<T>; N],
    /// Where the next free slot is looked for: slots are reused round-robin,
    /// so a stale handle stays invalid for as long as possible.
    cursor: AtomicUsize,
    name: &'static str,
}

// SAFETY: the value in a slot is reached only through the state word's
// protocol: one exclusive user (`&mut T`, needs `Send`) or shared readers,
// who only see `T::ReadOnly` (`Sync`).
unsafe impl<T: HandleValue, const N: usize> Sync for HandleTable<T, N> {}

impl<T: HandleValue, const N: usize> HandleTable<T, N> {
    pub const fn new(name: &'static str) -> Self {
        HandleTable {
            slots: [const {
                Slot {
                    state: AtomicU32::new(0),
                    value: UnsafeCell::new(None),
                }
            }; N],
            cursor: AtomicUsize::new(0),
            name,
        }
    }

    /// The slot `p` points at, if it is one of this table's.
    fn slot(&self, p: *const ()) -> Result<&Slot<T>, MuseError> {
        if p.is_null() {
            return Err(MuseError::NullPointer(self.name));
        }
        let base = self.slots.as_ptr() as usize;
        let size = std::mem::size_of::<Slot<T>>();
        let offset = (p as usize).wrapping_sub(base);
        if offset >= N * size || !offset.is_multiple_of(size) {
            return Err(self.invalid());
        }
        Ok(&self.slots[offset / size])
    }

    fn invalid(&self) -> MuseError {
        MuseError::InvalidHandle(self.name)
    }

    fn refusal(&self, state: u32) -> MuseError {
        if state & LIVE == 0 {
            self.invalid()
        } else if state & POISONED != 0 {
            MuseError::Poisoned(self.name)
        } else {
            MuseError::Busy(self.name)
        }
    }

    /// Stores `value` in a free slot; the handle is the slot's address.
    pub fn insert(&self, value: Box<T>) -> Result<*mut (), MuseError> {
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        for i in 0..N {
            let slot = &self.slots[(start + i) % N];
            if slot
                .state
                .compare_exchange(0, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                // SAFETY: CLAIMED gives this thread sole access to the slot.
                unsafe { *slot.value.get() = Some(value) };
                slot.state.store(LIVE, Ordering::Release);
                self.cursor.store(start + i + 1, Ordering::Relaxed);
                return Ok(slot as *const Slot<T> as *mut ());
            }
        }
        Err(MuseError::Limit(format!(
            "{N} live {} handles; free some first",
            self.name
        )))
    }

    /// Exclusive use of the handle's value for one call.
    pub fn exclusive(&self, p: *const ()) -> Result<Exclusive<'_, T>, MuseError> {
        let slot = self.slot(p)?;
        match slot
            .state
            .compare_exchange(LIVE, LIVE | WRITER, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => Ok(Exclusive(slot)),
            Err(state) => Err(self.refusal(state)),
        }
    }

    /// Shared (read-only) use of the handle's value for one call.
    pub fn shared(&self, p: *const ()) -> Result<Shared<'_, T>, MuseError> {
        let slot = self.slot(p)?;
        let mut state = slot.state.load(Ordering::Relaxed);
        loop {
            if state & (LIVE | WRITER | POISONED) != LIVE || state & READERS == READERS {
                return Err(self.refusal(state));
            }
            match slot.state.compare_exchange_weak(
                state,
                state + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(Shared(slot)),
                Err(now) => state = now,
            }
        }
    }

    /// Frees the handle's value. NULL is a no-op; a handle in use by a call
    /// is refused (`Busy`), a freed or foreign one is `InvalidHandle`.
    pub fn remove(&self, p: *const ()) -> Result<(), MuseError> {
        if p.is_null() {
            return Ok(());
        }
        let slot = self.slot(p)?;
        let mut state = slot.state.load(Ordering::Relaxed);
        loop {
            if state & LIVE == 0 || state & (WRITER | READERS) != 0 {
                return Err(match state & LIVE {
                    0 => self.invalid(),
                    _ => MuseError::Busy(self.name),
                });
            }
            match slot.state.compare_exchange_weak(
                state,
                CLAIMED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        // SAFETY: CLAIMED gives this thread sole access to the slot.
        let value = unsafe { (*slot.value.get()).take() };
        slot.state.store(0, Ordering::Release);
        drop(value);
        Ok(())
    }
}

/// One call's exclusive use of a slot's value; released on drop (poisoning
/// the slot if a panic is unwinding through the call).
pub(crate) struct Exclusive<'a, T>(&'a Slot<T>);

impl<T> Deref for Exclusive<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: WRITER gives this guard sole access; a LIVE slot holds a value.
        unsafe {
            (*self.0.value.get())
                .as_deref()
                .expect("live slot holds a value")
        }
    }
}

impl<T> DerefMut for Exclusive<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`.
        unsafe {
            (*self.0.value.get())
                .as_deref_mut()
                .expect("live slot holds a value")
        }
    }
}

impl<T> Drop for Exclusive<'_, T> {
    fn drop(&mut self) {
        let after = if std::thread::panicking() {
            LIVE | POISONED
        } else {
            LIVE
        };
        self.0.state.store(after, Ordering::Release);
    }
}

/// One call's shared use of a slot's read-only part; released on drop.
pub(crate) struct Shared<'a, T>(&'a Slot<T>);

impl<T: HandleValue> Deref for Shared<'_, T> {
    type Target = T::ReadOnly;
    fn deref(&self) -> &T::ReadOnly {
        // SAFETY: a reader count keeps writers and `remove` out.
        let value = unsafe { (*self.0.value.get()).as_deref() };
        value.expect("live slot holds a value").read_only()
    }
}

impl<T> Drop for Shared<'_, T> {
    fn drop(&mut self) {
        self.0.state.fetch_sub(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl HandleValue for u32 {
        type ReadOnly = u32;
        fn read_only(&self) -> &u32 {
            self
        }
    }

    #[test]
    fn busy_freed_and_foreign_handles_are_refused() {
        static TABLE: HandleTable<u32, 4> = HandleTable::new("MuseSession");
        let h = TABLE.insert(Box::new(7)).unwrap();
        {
            let mut a = TABLE.exclusive(h).unwrap();
            *a += 1;
            assert!(matches!(TABLE.exclusive(h), Err(MuseError::Busy(_))));
            assert!(matches!(TABLE.shared(h), Err(MuseError::Busy(_))));
            assert!(matches!(TABLE.remove(h), Err(MuseError::Busy(_))));
        }
        {
            let r1 = TABLE.shared(h).unwrap();
            let r2 = TABLE.shared(h).unwrap();
            assert_eq!(*r1 + *r2, 16);
            assert!(matches!(TABLE.exclusive(h), Err(MuseError::Busy(_))));
            assert!(matches!(TABLE.remove(h), Err(MuseError::Busy(_))));
        }
        let foreign = &7u64 as *const u64 as *const ();
        assert!(matches!(
            TABLE.exclusive(foreign),
            Err(MuseError::InvalidHandle(_))
        ));
        let misaligned = (h as usize + 1) as *const ();
        assert!(matches!(
            TABLE.shared(misaligned),
            Err(MuseError::InvalidHandle(_))
        ));
        TABLE.remove(h).unwrap();
        assert!(matches!(TABLE.remove(h), Err(MuseError::InvalidHandle(_))));
        assert!(matches!(
            TABLE.exclusive(h),
            Err(MuseError::InvalidHandle(_))
        ));
        let all: Vec<_> = (0..4).map(|i| TABLE.insert(Box::new(i)).unwrap()).collect();
        assert!(matches!(
            TABLE.insert(Box::new(9)),
            Err(MuseError::Limit(_))
        ));
        for h in all {
            TABLE.remove(h).unwrap();
        }
    }

    #[test]
    fn a_panic_inside_an_exclusive_call_poisons_the_handle() {
        static TABLE: HandleTable<u32, 2> = HandleTable::new("MuseSession");
        let h = TABLE.insert(Box::new(1)).unwrap();
        let r = std::panic::catch_unwind(|| {
            let _g = TABLE.exclusive(h).unwrap();
            panic!("boom");
        });
        assert!(r.is_err());
        assert!(matches!(TABLE.exclusive(h), Err(MuseError::Poisoned(_))));
        TABLE.remove(h).unwrap();
    }
}
