//! Music-theory primitives shared by every stage: pitch classes, chord
//! qualities, chord labels and keys. One definition, used by the NSF
//! converter, the tokenizers, the runtime and the evaluation code.

mod chord;
mod key;

pub use chord::{ChordLabel, ChordQuality};
pub use key::{Key, Mode};

/// Pitch-class names, sharps only, index = pitch class (C = 0).
pub const PITCH_CLASS_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

/// Name of a pitch class (`pc` is reduced mod 12).
pub fn pitch_class_name(pc: u8) -> &'static str {
    PITCH_CLASS_NAMES[(pc % 12) as usize]
}

/// Parses a pitch-class name; accepts sharps and the common flat spellings.
pub fn parse_pitch_class(name: &str) -> Option<u8> {
    if let Some(i) = PITCH_CLASS_NAMES.iter().position(|n| *n == name) {
        return Some(i as u8);
    }
    let flat = match name {
        "Db" => 1,
        "Eb" => 3,
        "Gb" => 6,
        "Ab" => 8,
        "Bb" => 10,
        "Cb" => 11,
        "Fb" => 4,
        "E#" => 5,
        "B#" => 0,
        _ => return None,
    };
    Some(flat)
}
