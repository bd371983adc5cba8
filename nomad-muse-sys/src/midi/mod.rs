//! Standard MIDI file reading (midly) and writing.
