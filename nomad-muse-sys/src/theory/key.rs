use serde::{Deserialize, Serialize};

use super::{parse_pitch_class, pitch_class_name, ChordLabel, ChordQuality};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Major,
    Minor,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Major => "major",
            Mode::Minor => "minor",
        }
    }
}

/// A key: tonic pitch class and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub tonic: u8,
    pub mode: Mode,
}

const MAJOR_SCALE: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
const MINOR_SCALE: [u8; 7] = [0, 2, 3, 5, 7, 8, 10];

impl Key {
    pub fn new(tonic: u8, mode: Mode) -> Self {
        Key {
            tonic: tonic % 12,
            mode,
        }
    }

    /// "C_major", "A_minor".
    pub fn token_name(&self) -> String {
        format!("{}_{}", pitch_class_name(self.tonic), self.mode.name())
    }

    pub fn from_token_name(s: &str) -> Option<Self> {
        let (root, mode) = s.split_once('_')?;
        let mode = match mode {
            "major" => Mode::Major,
            "minor" => Mode::Minor,
            _ => return None,
        };
        Some(Key::new(parse_pitch_class(root)?, mode))
    }

    /// The key signature as a MIDI key-signature event states it: sharps
    /// (negative: flats) of the major key with the same signature, in -6..=5
    /// (F#/Gb major and D#/Eb minor are written with six flats).
    /// The key with the same signature and the other mode (C major ↔ A minor).
    pub fn relative(self) -> Key {
        match self.mode {
            Mode::Major => Key::new((self.tonic + 9) % 12, Mode::Minor),
            Mode::Minor => Key::new((self.tonic + 3) % 12, Mode::Major),
        }
    }

    pub fn signature_sharps(&self) -> i8 {
        let major_tonic = match self.mode {
            Mode::Major => self.tonic,
            Mode::Minor => (self.tonic + 3) % 12,
        };
        // Each sharp moves the tonic a fifth (7 semitones) up the circle.
        let fifths = (major_tonic as i8 * 7) % 12;
        if fifths > 5 {
            fifths - 12
        } else {
            fifths
        }
    }

    /// Dense index `tonic + 12 * mode` (major = 0): the key-conditioning id.
    pub fn dense_index(&self) -> u32 {
        self.tonic as u32 + if self.mode == Mode::Minor { 12 } else { 0 }
    }

    pub fn from_dense_index(i: u32) -> Option<Self> {
        match i {
            0..=11 => Some(Key::new(i as u8, Mode::Major)),
            12..=23 => Some(Key::new((i - 12) as u8, Mode::Minor)),
            _ => None,
        }
    }

    pub const DENSE_COUNT: u32 = 24;

    /// Pitch classes of the (natural) scale.
    pub fn scale(&self) -> [u8; 7] {
        let steps = match self.mode {
            Mode::Major => MAJOR_SCALE,
            Mode::Minor => MINOR_SCALE,
        };
        steps.map(|s| (self.tonic + s) % 12)
    }

    pub fn contains_pitch_class(&self, pc: u8) -> bool {
        self.scale().contains(&(pc % 12))
    }

    /// A chord is diatonic when all its tones are in the scale; minor keys
    /// also accept the harmonic-minor dominant (V, V7) and leading-tone dim7.
    pub fn is_diatonic(&self, chord: &ChordLabel) -> bool {
        if chord.is_none() {
            return true;
        }
        if chord
            .pitch_classes()
            .iter()
            .all(|pc| self.contains_pitch_class(*pc))
        {
            return true;
        }
        if self.mode == Mode::Minor {
            let dominant = (self.tonic + 7) % 12;
            let leading = (self.tonic + 11) % 12;
            return (chord.root == dominant
                && matches!(chord.quality, ChordQuality::Maj | ChordQuality::Dom7))
                || (chord.root == leading && chord.quality == ChordQuality::Dim7);
        }
        false
    }

    /// Diatonic triad on scale degree `degree` (0-based, 0..7).
    pub fn diatonic_triad(&self, degree: usize) -> ChordLabel {
        let scale = self.scale();
        let root = scale[degree % 7];
        let third = (scale[(degree + 2) % 7] + 12 - root) % 12;
        let fifth = (scale[(degree + 4) % 7] + 12 - root) % 12;
        let quality = match (third, fifth) {
            (4, 7) => ChordQuality::Maj,
            (3, 7) => ChordQuality::Min,
            (3, 6) => ChordQuality::Dim,
            (4, 8) => ChordQuality::Aug,
            _ => ChordQuality::Maj,
        };
        ChordLabel::new(root, quality)
    }

    /// Diatonic seventh chord on scale degree `degree` (0-based).
    pub fn diatonic_seventh(&self, degree: usize) -> ChordLabel {
        let scale = self.scale();
        let root = scale[degree % 7];
        let iv = |k: usize| (scale[(degree + k) % 7] + 12 - root) % 12;
        let quality = match (iv(2), iv(4), iv(6)) {
            (4, 7, 11) => ChordQuality::Maj7,
            (4, 7, 10) => ChordQuality::Dom7,
            (3, 7, 10) => ChordQuality::Min7,
            (3, 6, 10) => ChordQuality::Hdim7,
            (3, 6, 9) => ChordQuality::Dim7,
            _ => ChordQuality::Maj7,
        };
        ChordLabel::new(root, quality)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_sharps_follow_the_circle_of_fifths() {
        // (tonic, mode, sharps) from the standard key-signature table.
        let table = [
            (0, Mode::Major, 0),
            (7, Mode::Major, 1),
            (11, Mode::Major, 5),
            (5, Mode::Major, -1),
            (10, Mode::Major, -2),
            (1, Mode::Major, -5),
            (6, Mode::Major, -6),
            (9, Mode::Minor, 0),
            (4, Mode::Minor, 1),
            (1, Mode::Minor, 4),
            (2, Mode::Minor, -1),
            (0, Mode::Minor, -3),
            (3, Mode::Minor, -6),
        ];
        for (tonic, mode, sharps) in table {
            let key = Key::new(tonic, mode);
            assert_eq!(key.signature_sharps(), sharps, "{}", key.token_name());
        }
    }

    #[test]
    fn diatonic_chords_of_c_major() {
        let c = Key::new(0, Mode::Major);
        let names: Vec<String> = (0..7).map(|d| c.diatonic_triad(d).token_name()).collect();
        assert_eq!(
            names,
            ["C_maj", "D_min", "E_min", "F_maj", "G_maj", "A_min", "B_dim"]
        );
        assert_eq!(c.diatonic_seventh(4).token_name(), "G_dom7");
        assert_eq!(c.diatonic_seventh(6).token_name(), "B_hdim7");
        assert!(c.is_diatonic(&ChordLabel::new(7, ChordQuality::Dom7)));
        assert!(!c.is_diatonic(&ChordLabel::new(1, ChordQuality::Maj)));
        let a = Key::new(9, Mode::Minor);
        assert!(a.is_diatonic(&ChordLabel::new(4, ChordQuality::Dom7)));
    }

    #[test]
    fn dense_index_round_trips() {
        for i in 0..Key::DENSE_COUNT {
            let k = Key::from_dense_index(i).unwrap();
            assert_eq!(k.dense_index(), i);
            assert_eq!(Key::from_token_name(&k.token_name()), Some(k));
        }
    }
}
