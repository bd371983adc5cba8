//! Real-time allocation for the per-token call.
//!
//! tract gives every op output a fresh tensor: about a hundred heap
//! allocations per token. A DAW calls us from an audio or worker thread where
//! malloc is off limits (locks, page faults, unbounded time). So the
//! library's global allocator, [`RealtimeAllocator`], serves a thread from a
//! session's preallocated bump arena while that session runs a step (inside
//! [`RealtimeArena::enter`]) and from the system heap otherwise. A step drops
//! everything it allocated before it returns (outputs are copied into
//! buffers the session owns), so the arena rewinds to empty after each step:
//! in steady state a token costs no system allocation at all.
//!
//! Safety net: a block that outlives its step is recognised on free by its
//! address, whichever thread frees it, and its arena only rewinds once no
//! block is live; a request the arena cannot hold goes to the system heap.
//! Per-thread counters ([`thread_counters`]) let tests and the latency bench
//! measure all of this.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// At most this many arenas exist at once; loading a session that would
/// need one more is refused (`MuseError::Limit`), never served silently
/// from the system heap. Only sessions tract serves take one.
pub const MAX_ARENAS: usize = 64;
const NO_ARENA: usize = usize::MAX;

struct Slot {
    /// 0 while the slot is free.
    start: AtomicUsize,
    end: AtomicUsize,
    next: AtomicUsize,
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            start: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    fn contains(&self, p: usize) -> bool {
        let start = self.start.load(Ordering::Acquire);
        start != 0 && p >= start && p < self.end.load(Ordering::Acquire)
    }

    /// Bump allocation; only the thread that entered the arena calls it.
    fn bump(&self, layout: Layout) -> Option<*mut u8> {
        let next = self.next.load(Ordering::Relaxed);
        let aligned = next.checked_add(layout.align() - 1)? & !(layout.align() - 1);
        let new_next = aligned.checked_add(layout.size())?;
        if new_next > self.end.load(Ordering::Relaxed) {
            return None;
        }
        self.next.store(new_next, Ordering::Relaxed);
        self.live.fetch_add(1, Ordering::AcqRel);
        let used = new_next - self.start.load(Ordering::Relaxed);
        self.peak.fetch_max(used, Ordering::Relaxed);
        Some(aligned as *mut u8)
    }

    fn rewind_if_empty(&self) {
        if self.live.load(Ordering::Acquire) == 0 {
            self.next
                .store(self.start.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

static SLOTS: [Slot; MAX_ARENAS] = [const { Slot::new() }; MAX_ARENAS];
/// One past the highest slot ever claimed: frees scan only that far.
static SLOTS_USED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static ACTIVE: Cell<usize> = const { Cell::new(NO_ARENA) };
    static SYSTEM_ALLOCS: Cell<u64> = const { Cell::new(0) };
    static ARENA_ALLOCS: Cell<u64> = const { Cell::new(0) };
    static BYTES_REQUESTED: Cell<u64> = const { Cell::new(0) };
    static THREAD_TAG: Cell<usize> = const { Cell::new(0) };
}

fn active_slot() -> Option<&'static Slot> {
    let ix = ACTIVE.try_with(Cell::get).unwrap_or(NO_ARENA);
    SLOTS.get(ix)
}

fn owning_slot(p: usize) -> Option<&'static Slot> {
    let used = SLOTS_USED.load(Ordering::Acquire);
    SLOTS[..used.min(MAX_ARENAS)].iter().find(|s| s.contains(p))
}

fn count(counter: &'static std::thread::LocalKey<Cell<u64>>, layout: Layout) {
    let _ = counter.try_with(|c| c.set(c.get() + 1));
    let _ = BYTES_REQUESTED.try_with(|c| c.set(c.get() + layout.size() as u64));
}

/// The library's global allocator (feature `realtime-alloc`, on by default).
pub struct RealtimeAllocator;

// SAFETY: every block comes either from the system allocator (and goes back
// to it) or from an arena slot, which frees recognise by address; arena
// memory is never returned to the system while a block in it is live.
unsafe impl GlobalAlloc for RealtimeAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(p) = active_slot().and_then(|s| s.bump(layout)) {
            count(&ARENA_ALLOCS, layout);
            return p;
        }
        count(&SYSTEM_ALLOCS, layout);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if let Some(p) = active_slot().and_then(|s| s.bump(layout)) {
            count(&ARENA_ALLOCS, layout);
            std::ptr::write_bytes(p, 0, layout.size());
            return p;
        }
        count(&SYSTEM_ALLOCS, layout);
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match owning_slot(ptr as usize) {
            Some(slot) => {
                slot.live.fetch_sub(1, Ordering::AcqRel);
            }
            None => System.dealloc(ptr, layout),
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let in_arena = owning_slot(ptr as usize).is_some();
        if !in_arena && active_slot().is_none() {
            count(
                &SYSTEM_ALLOCS,
                Layout::from_size_align_unchecked(new_size, layout.align()),
            );
            return System.realloc(ptr, layout, new_size);
        }
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new_ptr = self.alloc(new_layout);
        if !new_ptr.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new_ptr
    }
}

/// Allocations this thread made so far: (system heap, arena).
pub fn thread_counters() -> (u64, u64) {
    (
        SYSTEM_ALLOCS.try_with(Cell::get).unwrap_or(0),
        ARENA_ALLOCS.try_with(Cell::get).unwrap_or(0),
    )
}

/// Bytes this thread has requested so far (system heap and arena): a step
/// bracketed by two readings tells how large an arena it needs.
pub fn thread_bytes_requested() -> u64 {
    BYTES_REQUESTED.try_with(Cell::get).unwrap_or(0)
}

/// A number unique to the calling thread (never 0), cheap and
/// allocation-free, unlike `std::thread::current()` on a foreign thread.
pub fn thread_tag() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    THREAD_TAG
        .try_with(|t| {
            if t.get() == 0 {
                t.set(NEXT.fetch_add(1, Ordering::Relaxed));
            }
            t.get()
        })
        .unwrap_or(0)
}

/// Makes every page of `buf` resident now (one opaque write per 4 KiB):
/// a zeroed allocation may be mapped lazily, and its first write on the
/// audio thread would page-fault (the band's song store did, 48 times over
/// 250 bars in one run of `examples/bar_probe`).
pub fn touch_pages<T: Copy>(buf: &mut [T]) {
    let stride = (4096 / std::mem::size_of::<T>().max(1)).max(1);
    for i in (0..buf.len()).step_by(stride) {
        buf[i] = std::hint::black_box(buf[i]);
    }
}

/// A preallocated region owned by one session.
#[derive(Debug)]
pub struct RealtimeArena {
    slot: Option<usize>,
    layout: Layout,
}

impl RealtimeArena {
    /// An arena with no memory: scopes on it leave the system heap in use.
    pub const fn inert() -> Self {
        RealtimeArena {
            slot: None,
            layout: Layout::new::<u8>(),
        }
    }

    /// Reserves and touches `bytes` now, so the real-time path never page
    /// faults. Without a free slot (or memory, or the `realtime-alloc`
    /// feature) the arena is inert.
    pub fn new(bytes: usize) -> Self {
        // Without the feature nothing routes allocations here: reserve nothing.
        if cfg!(not(feature = "realtime-alloc")) {
            return RealtimeArena::inert();
        }
        let layout = Layout::from_size_align(bytes.max(4096), 4096).unwrap_or(Layout::new::<u8>());
        // SAFETY: non-zero size; the region is freed in Drop with this layout.
        let mem = unsafe { System.alloc_zeroed(layout) };
        if mem.is_null() {
            return RealtimeArena { slot: None, layout };
        }
        // SAFETY: `mem` spans `layout.size()` zeroed bytes, ours alone until
        // the slot below publishes it; calloc may hand out lazily mapped pages.
        touch_pages(unsafe { std::slice::from_raw_parts_mut(mem, layout.size()) });
        let start = mem as usize;
        for (ix, slot) in SLOTS.iter().enumerate() {
            if slot
                .start
                .compare_exchange(0, start, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                slot.next.store(start, Ordering::Relaxed);
                slot.live.store(0, Ordering::Relaxed);
                slot.peak.store(0, Ordering::Relaxed);
                slot.end.store(start + layout.size(), Ordering::Release);
                SLOTS_USED.fetch_max(ix + 1, Ordering::AcqRel);
                return RealtimeArena {
                    slot: Some(ix),
                    layout,
                };
            }
        }
        // SAFETY: allocated above with this layout, never handed out.
        unsafe { System.dealloc(mem, layout) };
        RealtimeArena { slot: None, layout }
    }

    /// Until the returned scope drops, this thread allocates from the arena.
    pub fn enter(&self) -> ArenaScope {
        if let Some(slot) = self.slot.and_then(|ix| SLOTS.get(ix)) {
            slot.rewind_if_empty();
        }
        let previous = ACTIVE
            .try_with(|a| a.replace(self.slot.unwrap_or(NO_ARENA)))
            .unwrap_or(NO_ARENA);
        ArenaScope {
            slot: self.slot,
            previous,
        }
    }

    /// Most bytes ever in use at once (sizing aid for the bench).
    pub fn high_water(&self) -> usize {
        self.slot
            .and_then(|ix| SLOTS.get(ix))
            .map_or(0, |s| s.peak.load(Ordering::Relaxed))
    }

    pub fn capacity(&self) -> usize {
        self.slot.map_or(0, |_| self.layout.size())
    }
}

impl Drop for RealtimeArena {
    fn drop(&mut self) {
        let Some(slot) = self.slot.and_then(|ix| SLOTS.get(ix)) else {
            return;
        };
        if slot.live.load(Ordering::Acquire) != 0 {
            // A block still lives somewhere: leave the region registered (and
            // leaked) so its eventual free is still recognised.
            return;
        }
        let start = slot.start.load(Ordering::Acquire);
        slot.end.store(0, Ordering::Release);
        slot.start.store(0, Ordering::Release);
        // SAFETY: allocated in `new` with this layout; no block is live.
        unsafe { System.dealloc(start as *mut u8, self.layout) };
    }
}

/// While alive, the thread that created it allocates from its arena.
#[must_use]
pub struct ArenaScope {
    slot: Option<usize>,
    previous: usize,
}

impl Drop for ArenaScope {
    fn drop(&mut self) {
        let _ = ACTIVE.try_with(|a| a.set(self.previous));
        if let Some(slot) = self.slot.and_then(|ix| SLOTS.get(ix)) {
            slot.rewind_if_empty();
        }
    }
}

#[cfg(all(test, feature = "realtime-alloc"))]
mod tests {
    use super::*;

    #[test]
    fn allocations_in_scope_come_from_the_arena_and_rewind() {
        let arena = RealtimeArena::new(64 * 1024);
        assert!(arena.capacity() >= 64 * 1024);
        let (sys0, arena0) = thread_counters();
        for _ in 0..100 {
            let _scope = arena.enter();
            let v: Vec<u64> = (0..100).collect();
            let s = format!("{v:?}");
            assert!(s.len() > 100);
        }
        let (sys1, arena1) = thread_counters();
        assert_eq!(sys1 - sys0, 0, "no system allocation inside the scope");
        assert!(arena1 - arena0 >= 200);
        // Rewound every time: the peak is one iteration's worth, not 100.
        assert!(arena.high_water() < 16 * 1024, "{}", arena.high_water());
    }

    #[test]
    fn a_block_that_escapes_is_freed_safely_and_blocks_rewinding_until_then() {
        let arena = RealtimeArena::new(16 * 1024);
        let escaped: Vec<u8> = {
            let _scope = arena.enter();
            vec![7u8; 1000]
        };
        let before = arena.high_water();
        {
            let _scope = arena.enter();
            let _more = vec![1u8; 1000];
        }
        assert!(arena.high_water() > before, "no rewind while a block lives");
        // Freed outside any scope, on another thread: recognised by address.
        std::thread::spawn(move || {
            assert_eq!(escaped.iter().map(|&b| u32::from(b)).sum::<u32>(), 7000)
        })
        .join()
        .unwrap();
        let peak = arena.high_water();
        {
            let _scope = arena.enter();
            let _again = vec![1u8; 1000];
        }
        assert_eq!(arena.high_water(), peak, "rewound once nothing lives");
    }

    #[test]
    fn a_full_arena_falls_back_to_the_system_heap() {
        let arena = RealtimeArena::new(4096);
        let (sys0, _) = thread_counters();
        let big = {
            let _scope = arena.enter();
            vec![3u32; 10_000]
        };
        assert_eq!(big.iter().map(|&x| x as u64).sum::<u64>(), 30_000);
        assert!(thread_counters().0 > sys0);
        drop(big);
    }

    #[test]
    fn growing_a_vector_across_the_scope_boundary_keeps_its_contents() {
        let arena = RealtimeArena::new(64 * 1024);
        let mut v: Vec<u32> = (0..10).collect();
        {
            let _scope = arena.enter();
            v.extend(10..1000); // realloc: system block → arena block
        }
        v.extend(1000..5000); // realloc: arena block → system block
        assert_eq!(v, (0..5000).collect::<Vec<u32>>());
    }
}
