//! MIDI → Nomad Symbolic Format.

pub mod chords;
pub mod classify;
mod convert;
pub mod form;
mod format;
pub mod key;
pub mod metre;

pub use convert::{midi_to_nsf, midi_to_nsf_with, ConvertOptions, NsfError, MAX_BARS};
pub use format::*;
