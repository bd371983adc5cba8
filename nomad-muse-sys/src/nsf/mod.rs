//! MIDI → Nomad Symbolic Format.

mod format;

pub use format::*;
