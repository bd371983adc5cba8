//! Status codes, and the message of the last failed call on each thread.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use crate::runtime::MuseError;

/// Status codes of every `muse_*` function. Values are stable: new codes are
/// only ever appended.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuseStatus {
    MuseOk = 0,
    MuseErrNullPointer = 1,
    /// A non-NULL pointer that is not a live handle of that type (freed,
    /// foreign, or of the other handle type).
    MuseErrInvalidHandle = 2,
    MuseErrInvalidArgument = 3,
    MuseErrIo = 4,
    /// Not a Nomad Muse expert, or one outside the library's limits.
    MuseErrModel = 5,
    MuseErrWrongExpert = 6,
    MuseErrBufferTooSmall = 7,
    MuseErrUtf8 = 8,
    /// An internal panic was caught (its message is in `muse_last_error`);
    /// a handle it happened in refuses every call but its `_free`.
    MuseErrPanic = 9,
    /// Another call is using this handle right now (a handle is used by one
    /// thread at a time). Nothing was done: retry later.
    MuseErrBusy = 10,
    /// A resource limit of the library (e.g. live handles) is reached.
    MuseErrLimit = 11,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(crate) fn set_last_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    // A thread being torn down has no last error to keep.
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = c);
}

pub(crate) fn status_of(e: &MuseError) -> MuseStatus {
    match e {
        MuseError::NullPointer(_) => MuseStatus::MuseErrNullPointer,
        MuseError::InvalidHandle(_) => MuseStatus::MuseErrInvalidHandle,
        MuseError::InvalidArgument(_) => MuseStatus::MuseErrInvalidArgument,
        MuseError::Io { .. } => MuseStatus::MuseErrIo,
        MuseError::Model(_) => MuseStatus::MuseErrModel,
        MuseError::WrongExpert { .. } => MuseStatus::MuseErrWrongExpert,
        MuseError::BufferTooSmall { .. } => MuseStatus::MuseErrBufferTooSmall,
        MuseError::Utf8 => MuseStatus::MuseErrUtf8,
        MuseError::Busy(_) => MuseStatus::MuseErrBusy,
        MuseError::Poisoned(_) => MuseStatus::MuseErrPanic,
        MuseError::Limit(_) => MuseStatus::MuseErrLimit,
    }
}

/// Message of the last failed call on the calling thread ("" if none).
///
/// Ownership: the string belongs to the library; it stays valid until the
/// next failing `muse_*` call on the same thread. Threads: any thread; each
/// thread has its own message. Never fails, never returns NULL.
#[no_mangle]
pub extern "C" fn muse_last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|e| e.try_borrow().map(|c| c.as_ptr()).ok())
        .ok()
        .flatten()
        .unwrap_or(c"thread is exiting".as_ptr())
}
