//! The band: the one generation core. Three experts behind the
//! [`StepModel`] trait (tract sessions for hosts, candle and random steppers
//! for the report card) play the host's song bar by bar — harmony (forced
//! from the chord track, gaps filled in the key), then melody conditioned on
//! those chords, then drums — decoded by the tokenizers' own
//! [`EventDecoder`](crate::tokenizers::EventDecoder), voiced, and written
//! into per-bar slots allocated up front. A snapshot at every bar line lets
//! a host re-roll bar N, or everything from bar N on.
//!
//! Files: `context` (song: key, metre, tempo, chord track), `controls`
//! (per-part controls), `primer` (host clips → first bars), `schedule` (one
//! part, one bar), `snapshot` (preallocated per-bar storage), `voicing`
//! (events → notes), `song` (the band's public operations), `conductor`
//! (the song's form: the Conductor expert or the host's form → each bar's
//! controls and repeats).

mod conductor;
mod context;
mod controls;
mod primer;
mod schedule;
mod snapshot;
mod song;
mod voicing;

pub use conductor::{parse_form, Direction, DEFAULT_SECTION_BARS, MAX_CONDUCTOR_TOKENS};
pub use context::{ChordChange, ChordTrack, SongContext, TimeSignature};
pub use controls::{Part, PartControls};
pub use primer::{Primer, PrimerNote};
pub use snapshot::{BarNotes, MAX_NOTES_PER_BAR, MAX_TOKENS_PER_BAR};
pub use song::{Band, Reroll};
pub use voicing::{swung_tick, voice_chord};

pub const TICKS_PER_QUARTER: u32 = 480;
/// Bars a band holds unless told otherwise (its storage is allocated for
/// them when it is made: about 9 KB a bar).
pub const DEFAULT_MAX_BARS: usize = 256;

pub const DRUMS_CHANNEL: u8 = 9;
pub const CHORDS_CHANNEL: u8 = 1;
pub const MELODY_CHANNEL: u8 = 0;

/// One generated note, ticks at 480 per quarter from the first bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandNote {
    pub tick: u32,
    pub duration: u32,
    pub pitch: u8,
    pub velocity: u8,
    pub channel: u8,
}

#[cfg(test)]
mod conductor_tests;
#[cfg(test)]
mod tests;
