//! The band's Conductor: the fourth expert (song form and energy), or a
//! form the host writes out, set before the first bar.

use std::ffi::{c_char, CStr};

use super::band::BANDS;
use super::error::MuseStatus;
use super::guard::{guard, path_arg};
use super::MuseBand;
use crate::runtime::{ExpertSession, MuseError};

/// Gives the band a Conductor (an exported `conductor.onnx`, loaded as for
/// `muse_session_new`), or with `conductor_path` NULL takes it away (the
/// band then plays as before). From the first bar on the Conductor sets
/// each bar's intensity, drum fills and which parts rest, and repeated
/// sections replay the bars they repeat. Call before the first bar (after
/// `muse_band_reset` to change it); otherwise, or for a file that is no
/// conductor expert, an error and nothing changes.
///
/// Threads: any thread, one call per band at a time (not the audio thread:
/// it reads a file and allocates).
///
/// # Safety
/// `band` may be any value; `conductor_path` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn muse_band_set_conductor(
    band: *mut MuseBand,
    conductor_path: *const c_char,
) -> MuseStatus {
    guard(|| {
        let session = if conductor_path.is_null() {
            None
        } else {
            Some(ExpertSession::load(&path_arg(
                conductor_path,
                "conductor_path",
            )?)?)
        };
        BANDS.exclusive(band.cast())?.band.set_conductor(session)
    })
}

/// Sets the song's form, overriding any Conductor: sections separated by
/// spaces, each `name` or `name:bars` (1..=16 bars, default 8), e.g.
/// "intro:4 verse:8 chorus:8 verse:8 chorus:8 outro:4". A name that comes
/// back repeats its section's bars; intro and outro rest the melody; verse,
/// bridge and chorus rise in energy. The form plays again from its start if
/// the song outlasts it. NULL or "" clears it. Call before the first bar;
/// a malformed form is MUSE_ERR_INVALID_ARGUMENT and changes nothing. The
/// band copies the text.
///
/// Threads: any thread, one call per band at a time (not the audio thread).
///
/// # Safety
/// `band` may be any value; `form` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn muse_band_set_form(
    band: *mut MuseBand,
    form: *const c_char,
) -> MuseStatus {
    guard(|| {
        let text = if form.is_null() {
            ""
        } else {
            CStr::from_ptr(form)
                .to_str()
                .map_err(|_| MuseError::InvalidArgument("form is not UTF-8".into()))?
        };
        BANDS.exclusive(band.cast())?.band.set_form(text)
    })
}
