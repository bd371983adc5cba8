//! The panic boundary and the argument conversions every `extern "C"`
//! function shares: `guard` runs a body, catches any panic (silently: its
//! message goes to `muse_last_error`, never to the host's stderr) and maps
//! the error to a status; `Out` clears out-parameters before any work.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Once;

use super::error::{set_last_error, status_of, MuseStatus};
use crate::runtime::MuseError;

thread_local! {
    /// Depth of `guard` calls on this thread: a panic here is ours to report.
    static INSIDE_LIBRARY: Cell<u32> = const { Cell::new(0) };
    /// What the quiet hook saw of the last panic inside the library.
    static PANIC_TEXT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once per process, a panic hook that stays silent for panics
/// inside a `guard` (recording their text instead) and hands every other
/// panic to the hook that was installed before, so the host's own hook
/// (or Rust's default) keeps working for the rest of the process.
fn install_quiet_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ours = INSIDE_LIBRARY.try_with(|d| d.get() > 0).unwrap_or(false);
            if !ours {
                return previous(info);
            }
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let text = format!("{}{at}", payload_text(info.payload()));
            let _ = PANIC_TEXT.try_with(|t| t.try_borrow_mut().map(|mut t| *t = Some(text)));
        }));
    });
}

fn payload_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Runs the body of an `extern "C"` function: errors become status codes
/// (message in `muse_last_error`), panics are caught and reported the same
/// way (`MUSE_ERR_PANIC`), so none unwinds into the host.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), MuseError>) -> MuseStatus {
    install_quiet_panic_hook();
    INSIDE_LIBRARY.with(|d| d.set(d.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(body));
    INSIDE_LIBRARY.with(|d| d.set(d.get() - 1));
    match result {
        Ok(Ok(())) => MuseStatus::MuseOk,
        Ok(Err(e)) => {
            set_last_error(&e.to_string());
            status_of(&e)
        }
        Err(payload) => {
            let text = PANIC_TEXT
                .with(|t| t.borrow_mut().take())
                .unwrap_or_else(|| payload_text(payload.as_ref()).to_string());
            set_last_error(&format!("internal panic (caught at the C ABI): {text}"));
            MuseStatus::MuseErrPanic
        }
    }
}

/// An out-parameter. `Out::clear` writes the "nothing" value at once, so the
/// caller sees a defined value (NULL / 0) whatever happens next.
pub(crate) struct Out<T>(*mut T);

impl<T: Copy> Out<T> {
    /// # Safety
    /// `p` must be NULL or valid for writes of a `T`.
    pub unsafe fn clear(p: *mut T, nothing: T) -> Self {
        if !p.is_null() {
            p.write(nothing);
        }
        Out(p)
    }

    /// Fails when the caller passed NULL for a required out-parameter.
    pub fn required(self, name: &'static str) -> Result<Self, MuseError> {
        if self.0.is_null() {
            Err(MuseError::NullPointer(name))
        } else {
            Ok(self)
        }
    }

    pub fn set(&self, value: T) {
        if !self.0.is_null() {
            // SAFETY: non-NULL, and `clear`'s contract says writable.
            unsafe { self.0.write(value) };
        }
    }
}

/// A NUL-terminated UTF-8 path argument.
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string.
pub(crate) unsafe fn path_arg(p: *const c_char, name: &'static str) -> Result<PathBuf, MuseError> {
    if p.is_null() {
        return Err(MuseError::NullPointer(name));
    }
    let s = CStr::from_ptr(p).to_str().map_err(|_| MuseError::Utf8)?;
    Ok(PathBuf::from(s))
}

/// `n` elements at `p` (NULL allowed when `n` is 0).
///
/// # Safety
/// `p` must point to `n` readable elements when `n > 0`.
pub(crate) unsafe fn slice_arg<'a, T>(
    p: *const T,
    n: usize,
    name: &'static str,
) -> Result<&'a [T], MuseError> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(MuseError::NullPointer(name));
    }
    if n > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(MuseError::InvalidArgument(format!(
            "{name}: length {n} is impossible"
        )));
    }
    Ok(std::slice::from_raw_parts(p, n))
}

/// `n` writable elements at `p` (NULL allowed when `n` is 0).
///
/// # Safety
/// `p` must point to `n` writable elements when `n > 0`.
pub(crate) unsafe fn slice_mut_arg<'a, T>(
    p: *mut T,
    n: usize,
    name: &'static str,
) -> Result<&'a mut [T], MuseError> {
    if n == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(MuseError::NullPointer(name));
    }
    if n > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(MuseError::InvalidArgument(format!(
            "{name}: length {n} is impossible"
        )));
    }
    Ok(std::slice::from_raw_parts_mut(p, n))
}

/// A required in/out pointer (read now, written back on success only).
///
/// # Safety
/// `p` must be NULL or valid for reads and writes of a `T`.
pub(crate) unsafe fn in_out_arg<'a, T>(
    p: *mut T,
    name: &'static str,
) -> Result<&'a mut T, MuseError> {
    p.as_mut().ok_or(MuseError::NullPointer(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::io::Read;

    /// A panic inside a call is MUSE_ERR_PANIC with its message in
    /// `muse_last_error`, and not a byte reaches stderr (fd 2 is sent to a
    /// file for the call); a panic outside the library still reaches the
    /// previous hook.
    #[test]
    fn a_panic_is_a_status_with_its_message_and_prints_nothing() {
        let path = std::env::temp_dir().join(format!("nomad_panic_{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        // SAFETY: plain descriptor juggling on fds this test owns.
        let saved = unsafe { libc::dup(2) };
        unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&file), 2) };
        let status = guard(|| panic!("tensor of {} elements", 7));
        unsafe {
            libc::dup2(saved, 2);
            libc::close(saved);
        }
        let mut printed = String::new();
        std::fs::File::open(&path)
            .unwrap()
            .read_to_string(&mut printed)
            .unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(status, MuseStatus::MuseErrPanic);
        assert_eq!(printed, "", "the panic was printed");
        // SAFETY: muse_last_error never returns NULL.
        let message = unsafe { CStr::from_ptr(super::super::muse_last_error()) };
        let message = message.to_str().unwrap();
        assert!(message.contains("tensor of 7 elements"), "{message}");
        assert!(message.contains("guard.rs"), "{message}");
        // Outside a guard the hook hands panics on (to the test harness's).
        assert!(std::panic::catch_unwind(|| panic!("outside")).is_err());
        assert_eq!(INSIDE_LIBRARY.with(Cell::get), 0);
    }
}
