//! The C ABI of `libnomad_muse`, a thin skin over the safe runtime API: each
//! `extern "C"` function converts its arguments, calls one safe function and
//! maps the error. What they share lives in one place: `guard` (panic
//! boundary, last error, out-parameters, argument conversions) and `handle`
//! (lock-free handle tables: busy, freed and foreign handles are errors).
//! One file per handle type.

mod band;
mod band_song;
mod conductor;
mod constants;
mod diagnostics;
mod error;
mod guard;
mod handle;
mod session;
mod version;

pub use band::{
    muse_band_free, muse_band_new, muse_band_next_bar, muse_band_reset, muse_band_write_midi,
    MuseBand, MuseNoteEvent,
};
pub use band_song::*;
pub use conductor::{muse_band_set_conductor, muse_band_set_form};
pub use constants::{MUSE_CHORD_ID_COUNT, MUSE_CHORD_NONE, MUSE_KEY_ID_COUNT};
pub use diagnostics::muse_thread_alloc_counts;
pub use error::{muse_last_error, MuseStatus};
pub use session::{
    muse_expert_kind, muse_generate_next, muse_generate_next_conditioned, muse_session_free,
    muse_session_new, muse_session_reset, muse_token_to_string, muse_vocab_size, MuseExpertKind,
    MuseSession, MuseSessionOptions,
};
pub use version::muse_version;
