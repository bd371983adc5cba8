//! Standard MIDI file reading (midly) and writing.

mod reader;
mod timing;
mod writer;

pub use reader::{read_midi, MidiSong, MidiTrackData, RawNote};
pub use timing::TempoMap;
pub use writer::{write_smf, MidiNote, MidiSongSpec, MidiTrackSpec};

/// Why a MIDI file could not be read or written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MidiError {
    #[error("corrupt or truncated MIDI file: {0}")]
    Corrupt(String),
    #[error("empty MIDI file: {0}")]
    Empty(String),
    #[error("unsupported MIDI file: {0}")]
    Unsupported(String),
    #[error("cannot write MIDI: {0}")]
    Write(String),
}
