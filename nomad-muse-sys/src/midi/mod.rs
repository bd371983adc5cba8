//! Standard MIDI file reading (midly) and writing.

mod reader;
mod timing;
mod writer;

pub use reader::{read_midi, MidiSong, MidiTrackData, RawNote, MAX_BPM, MAX_TICK, MIN_BPM};
pub use timing::{bar_lines, tick_to_step, BarLine, TempoMap, DEFAULT_BPM};
pub use writer::{write_smf, write_smf_with_keys, MidiNote, MidiSongSpec, MidiTrackSpec};

/// Why a MIDI file could not be read or written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MidiError {
    /// Bad bytes, including a file cut short ("truncated: …").
    #[error("corrupt MIDI file: {0}")]
    Corrupt(String),
    /// Readable, but no notes to learn from.
    #[error("empty MIDI file: {0}")]
    Empty(String),
    /// Valid MIDI this reader does not handle (e.g. an unusable timing).
    #[error("unsupported MIDI file: {0}")]
    Unsupported(String),
    #[error("cannot write MIDI: {0}")]
    Write(String),
}
