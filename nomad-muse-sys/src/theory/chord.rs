use serde::{Deserialize, Serialize};

use super::{parse_pitch_class, pitch_class_name};

/// Chord qualities the chord extractor and the harmony vocabulary know.
/// `NoChord` ("N") marks windows with no clear harmony.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ChordQuality {
    #[serde(rename = "maj")]
    Maj,
    #[serde(rename = "min")]
    Min,
    #[serde(rename = "dim")]
    Dim,
    #[serde(rename = "aug")]
    Aug,
    #[serde(rename = "sus2")]
    Sus2,
    #[serde(rename = "sus4")]
    Sus4,
    #[serde(rename = "dom7")]
    Dom7,
    #[serde(rename = "maj7")]
    Maj7,
    #[serde(rename = "min7")]
    Min7,
    #[serde(rename = "hdim7")]
    Hdim7,
    #[serde(rename = "dim7")]
    Dim7,
    #[serde(rename = "N")]
    NoChord,
}

impl ChordQuality {
    /// Every quality that names a real chord, in vocabulary order.
    pub const SOUNDING: [ChordQuality; 11] = [
        ChordQuality::Maj,
        ChordQuality::Min,
        ChordQuality::Dim,
        ChordQuality::Aug,
        ChordQuality::Sus2,
        ChordQuality::Sus4,
        ChordQuality::Dom7,
        ChordQuality::Maj7,
        ChordQuality::Min7,
        ChordQuality::Hdim7,
        ChordQuality::Dim7,
    ];

    /// Short name used in NSF and in token strings.
    pub fn name(self) -> &'static str {
        match self {
            ChordQuality::Maj => "maj",
            ChordQuality::Min => "min",
            ChordQuality::Dim => "dim",
            ChordQuality::Aug => "aug",
            ChordQuality::Sus2 => "sus2",
            ChordQuality::Sus4 => "sus4",
            ChordQuality::Dom7 => "dom7",
            ChordQuality::Maj7 => "maj7",
            ChordQuality::Min7 => "min7",
            ChordQuality::Hdim7 => "hdim7",
            ChordQuality::Dim7 => "dim7",
            ChordQuality::NoChord => "N",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        if name == "N" {
            return Some(ChordQuality::NoChord);
        }
        Self::SOUNDING.iter().copied().find(|q| q.name() == name)
    }

    /// Intervals above the root, in semitones.
    pub fn intervals(self) -> &'static [u8] {
        match self {
            ChordQuality::Maj => &[0, 4, 7],
            ChordQuality::Min => &[0, 3, 7],
            ChordQuality::Dim => &[0, 3, 6],
            ChordQuality::Aug => &[0, 4, 8],
            ChordQuality::Sus2 => &[0, 2, 7],
            ChordQuality::Sus4 => &[0, 5, 7],
            ChordQuality::Dom7 => &[0, 4, 7, 10],
            ChordQuality::Maj7 => &[0, 4, 7, 11],
            ChordQuality::Min7 => &[0, 3, 7, 10],
            ChordQuality::Hdim7 => &[0, 3, 6, 10],
            ChordQuality::Dim7 => &[0, 3, 6, 9],
            ChordQuality::NoChord => &[],
        }
    }

    /// Index in [`ChordQuality::SOUNDING`]; `None` for `NoChord`.
    pub fn index(self) -> Option<usize> {
        Self::SOUNDING.iter().position(|q| *q == self)
    }
}

/// A chord: root pitch class and quality (root is ignored for `NoChord`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChordLabel {
    pub root: u8,
    pub quality: ChordQuality,
}

impl ChordLabel {
    pub const NONE: ChordLabel = ChordLabel {
        root: 0,
        quality: ChordQuality::NoChord,
    };

    pub fn new(root: u8, quality: ChordQuality) -> Self {
        ChordLabel {
            root: root % 12,
            quality,
        }
    }

    pub fn is_none(&self) -> bool {
        self.quality == ChordQuality::NoChord
    }

    /// Pitch classes sounding in this chord.
    pub fn pitch_classes(&self) -> Vec<u8> {
        self.quality
            .intervals()
            .iter()
            .map(|i| (self.root + i) % 12)
            .collect()
    }

    /// Whether pitch class `pc` is a chord tone.
    pub fn contains_pitch_class(&self, pc: u8) -> bool {
        self.quality
            .intervals()
            .iter()
            .any(|i| (self.root + i) % 12 == pc % 12)
    }

    /// "C_maj", "F#_min7", or "N".
    pub fn token_name(&self) -> String {
        if self.is_none() {
            "N".to_string()
        } else {
            format!("{}_{}", pitch_class_name(self.root), self.quality.name())
        }
    }

    /// Inverse of [`ChordLabel::token_name`].
    pub fn from_token_name(s: &str) -> Option<Self> {
        if s == "N" {
            return Some(Self::NONE);
        }
        let (root, quality) = s.split_once('_')?;
        let quality = ChordQuality::from_name(quality)?;
        if quality == ChordQuality::NoChord {
            return None;
        }
        Some(ChordLabel::new(parse_pitch_class(root)?, quality))
    }

    /// Parses a lead-sheet symbol: a root (`C`, `F#`, `Bb`) and a suffix
    /// (`""`/`maj`, `m`/`min`, `dim`, `aug`/`+`, `sus2`, `sus4`/`sus`, `7`,
    /// `maj7`/`M7`, `m7`/`min7`, `m7b5`/`hdim7`, `dim7`), "N" for no chord,
    /// or a token name (`C_maj`). `None` for anything else.
    pub fn from_symbol(symbol: &str) -> Option<Self> {
        let s = symbol.trim();
        if s == "N" || s == "NC" || s == "N.C." {
            return Some(Self::NONE);
        }
        if let Some(c) = Self::from_token_name(s) {
            return Some(c);
        }
        let root_len = match s.as_bytes().get(1) {
            Some(b'#' | b'b') => 2,
            _ => 1,
        };
        let root = parse_pitch_class(s.get(..root_len)?)?;
        use ChordQuality::*;
        let quality = match s.get(root_len..)? {
            "" | "maj" | "M" => Maj,
            "m" | "min" | "-" => Min,
            "dim" | "o" => Dim,
            "aug" | "+" => Aug,
            "sus2" => Sus2,
            "sus4" | "sus" => Sus4,
            "7" | "dom7" => Dom7,
            "maj7" | "M7" => Maj7,
            "m7" | "min7" | "-7" => Min7,
            "m7b5" | "hdim7" | "ø" | "ø7" => Hdim7,
            "dim7" | "o7" => Dim7,
            _ => return None,
        };
        Some(ChordLabel::new(root, quality))
    }

    /// Dense index: `root * 11 + quality` for sounding chords, 132 for "N".
    /// This is the melody expert's chord-conditioning id.
    pub fn dense_index(&self) -> u32 {
        match self.quality.index() {
            Some(q) => self.root as u32 * 11 + q as u32,
            None => Self::DENSE_COUNT - 1,
        }
    }

    pub fn from_dense_index(i: u32) -> Option<Self> {
        if i == Self::DENSE_COUNT - 1 {
            return Some(Self::NONE);
        }
        if i >= Self::DENSE_COUNT {
            return None;
        }
        Some(ChordLabel::new(
            (i / 11) as u8,
            ChordQuality::SOUNDING[(i % 11) as usize],
        ))
    }

    /// 12 roots × 11 qualities + "N".
    pub const DENSE_COUNT: u32 = 12 * 11 + 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_index_round_trips_every_label() {
        for i in 0..ChordLabel::DENSE_COUNT {
            let c = ChordLabel::from_dense_index(i).unwrap();
            assert_eq!(c.dense_index(), i);
            assert_eq!(ChordLabel::from_token_name(&c.token_name()), Some(c));
        }
        assert!(ChordLabel::from_dense_index(ChordLabel::DENSE_COUNT).is_none());
    }

    #[test]
    fn lead_sheet_symbols_parse_and_unknown_ones_do_not() {
        use ChordQuality::*;
        for (sym, root, q) in [
            ("C", 0, Maj),
            ("Am", 9, Min),
            ("G7", 7, Dom7),
            ("Bbmaj7", 10, Maj7),
            ("F#m7b5", 6, Hdim7),
            ("Ebdim7", 3, Dim7),
            ("Dsus4", 2, Sus4),
            ("E_min", 4, Min),
        ] {
            assert_eq!(
                ChordLabel::from_symbol(sym),
                Some(ChordLabel::new(root, q)),
                "{sym}"
            );
        }
        assert_eq!(ChordLabel::from_symbol("N"), Some(ChordLabel::NONE));
        for bad in ["", "H", "Cmaj13", "C#m#", "x7", "Cb7b9"] {
            assert_eq!(ChordLabel::from_symbol(bad), None, "{bad}");
        }
    }

    #[test]
    fn chord_tones() {
        let g7 = ChordLabel::new(7, ChordQuality::Dom7);
        assert_eq!(g7.pitch_classes(), vec![7, 11, 2, 5]);
        assert!(g7.contains_pitch_class(5));
        assert!(!g7.contains_pitch_class(0));
    }
}
