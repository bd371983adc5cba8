//! The song a host gives the band: key, time signature, tempo and chord
//! track. Everything is validated here, before it reaches the band, so a bad
//! value is an error and changes nothing.

use crate::runtime::MuseError;
use crate::theory::{ChordLabel, Key};
use crate::tokenizers::{MAX_BEATS, SUBSTEPS};

use super::TICKS_PER_QUARTER;

/// A metre the experts can play: a whole number of quarter-note beats per
/// bar, 1 to 8 (the vocabulary's `BEAT_0..BEAT_7`): 2/4, 3/4, 4/4, 5/4, 6/8,
/// 12/8, 2/2, 7/4 … but not 7/8 or 9/8 (half a beat left over).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSignature {
    numerator: u8,
    denominator: u8,
}

impl TimeSignature {
    pub const FOUR_FOUR: TimeSignature = TimeSignature {
        numerator: 4,
        denominator: 4,
    };

    pub fn new(numerator: u8, denominator: u8) -> Result<Self, MuseError> {
        let bad = |why: &str| {
            Err(MuseError::InvalidArgument(format!(
                "time signature {numerator}/{denominator}: {why}"
            )))
        };
        if !matches!(denominator, 1 | 2 | 4 | 8 | 16) || numerator == 0 {
            return bad("the denominator must be 1, 2, 4, 8 or 16 and the numerator > 0");
        }
        let steps = numerator as u32 * 16 / denominator as u32;
        if !(numerator as u32 * 16).is_multiple_of(denominator as u32)
            || !steps.is_multiple_of(SUBSTEPS)
        {
            return bad(
                "the experts play whole quarter-note beats (7/8 and 9/8 leave half a beat)",
            );
        }
        if steps > MAX_BEATS * SUBSTEPS {
            return bad("longer than the 8 beats a bar the experts can address");
        }
        Ok(TimeSignature {
            numerator,
            denominator,
        })
    }

    pub fn numerator(&self) -> u8 {
        self.numerator
    }

    pub fn denominator(&self) -> u8 {
        self.denominator
    }

    /// Bar length on the 16th grid.
    pub fn steps_per_bar(&self) -> u32 {
        self.numerator as u32 * 16 / self.denominator as u32
    }

    /// Quarter-note beats per bar (the harmony expert's beats).
    pub fn beats_per_bar(&self) -> u32 {
        self.steps_per_bar() / SUBSTEPS
    }

    pub fn ticks_per_bar(&self) -> u32 {
        self.beats_per_bar() * TICKS_PER_QUARTER
    }

    /// Bit `s` set when 16th `s` of the bar carries an accent: the pulses of
    /// the denominator grouped in threes for compound metres (6/8, 12/8, 6/4),
    /// in twos for even ones (4/4: beats 1 and 3), three-then-twos for odd
    /// ones (5/4: beats 1 and 4); 2/4 and 3/4 accent the downbeat.
    pub fn strong_steps(&self) -> u32 {
        let pulse = 16 / self.denominator as u32;
        let n = self.numerator as u32;
        let mut mask = 1u32;
        let compound = n.is_multiple_of(3) && n > 3;
        let mut at = if compound || n == 3 {
            3
        } else if n.is_multiple_of(2) {
            2
        } else {
            3
        };
        let group = if compound { 3 } else { 2 };
        while at < n {
            mask |= 1 << (at * pulse);
            at += group;
        }
        mask
    }

    pub fn is_strong(&self, step_in_bar: u32) -> bool {
        step_in_bar < 32 && self.strong_steps() & (1 << step_in_bar) != 0
    }
}

/// One entry of a chord track: from (bar, beat) on, `chord` sounds
/// (`Some(ChordLabel::NONE)`: explicitly no chord) or, with `None`, the host
/// leaves a gap the harmony expert fills in the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChordChange {
    pub bar: u32,
    /// Quarter-note beat within the bar.
    pub beat: u32,
    pub chord: Option<ChordLabel>,
}

/// The host's chord track: changes on any beat, `length_bars` long, looped
/// over the song when `repeat`; beyond its end (and before its first change)
/// are gaps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChordTrack {
    changes: Vec<ChordChange>,
    length_bars: u32,
    repeat: bool,
}

impl ChordTrack {
    /// Validates the changes against `metre`: in order, no two on one beat,
    /// every beat inside the bar and every bar inside the track.
    pub fn new(
        changes: Vec<ChordChange>,
        length_bars: u32,
        repeat: bool,
        metre: TimeSignature,
    ) -> Result<Self, MuseError> {
        for (i, c) in changes.iter().enumerate() {
            if c.beat >= metre.beats_per_bar() || c.bar >= length_bars {
                return Err(MuseError::InvalidArgument(format!(
                    "chord change {i} at bar {} beat {} lies outside {length_bars} bars of {}/{}",
                    c.bar,
                    c.beat,
                    metre.numerator(),
                    metre.denominator()
                )));
            }
            if i > 0 && (changes[i - 1].bar, changes[i - 1].beat) >= (c.bar, c.beat) {
                return Err(MuseError::InvalidArgument(format!(
                    "chord change {i} is not after the one before it"
                )));
            }
        }
        Ok(ChordTrack {
            changes,
            length_bars,
            repeat,
        })
    }

    /// A progression of symbols, one chord per `bars_each` bars ("C G Am F").
    pub fn from_symbols(
        symbols: &str,
        bars_each: u32,
        repeat: bool,
        metre: TimeSignature,
    ) -> Result<Self, MuseError> {
        let mut changes = Vec::new();
        for (i, sym) in symbols.split_whitespace().enumerate() {
            let chord = ChordLabel::from_symbol(sym).ok_or_else(|| unknown_symbol(sym))?;
            changes.push(ChordChange {
                bar: i as u32 * bars_each,
                beat: 0,
                chord: Some(chord),
            });
        }
        let length = changes.len() as u32 * bars_each;
        Self::new(changes, length, repeat, metre)
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn changes(&self) -> &[ChordChange] {
        &self.changes
    }

    /// What the track says at (bar, beat): `None` is a gap.
    pub fn chord_at(&self, bar: u32, beat: u32) -> Option<ChordLabel> {
        if self.length_bars == 0 {
            return None;
        }
        let bar = match (bar < self.length_bars, self.repeat) {
            (true, _) => bar,
            (false, true) => bar % self.length_bars,
            (false, false) => return None,
        };
        let i = self
            .changes
            .partition_point(|c| (c.bar, c.beat) <= (bar, beat));
        i.checked_sub(1).and_then(|i| self.changes[i].chord)
    }

    /// The key most of the track's chords are diatonic to (ties: the one
    /// whose tonic chord appears first), for songs given chords but no key.
    pub fn likeliest_key(&self) -> Option<Key> {
        let chords: Vec<ChordLabel> = self
            .changes
            .iter()
            .filter_map(|c| c.chord)
            .filter(|c| !c.is_none())
            .collect();
        let first = chords.first()?;
        (0..Key::DENSE_COUNT)
            .filter_map(Key::from_dense_index)
            .max_by_key(|k| {
                let fits = chords.iter().filter(|c| k.is_diatonic(c)).count();
                let tonic_first = first.root == k.tonic
                    && (first.quality.intervals().get(1) == Some(&4))
                        == (k.mode == crate::theory::Mode::Major);
                (fits, tonic_first, std::cmp::Reverse(k.dense_index()))
            })
    }
}

pub(crate) fn unknown_symbol(sym: &str) -> MuseError {
    MuseError::InvalidArgument(format!(
        "unknown chord symbol {sym:?} (e.g. C, Am, G7, Fmaj7, Bm7b5, Cdim, Esus4, N)"
    ))
}

/// Key, metre, tempo and chord track of the host's song.
#[derive(Debug, Clone, PartialEq)]
pub struct SongContext {
    /// `None`: from the chord track, else the primer, else the harmony expert.
    pub key: Option<Key>,
    pub time_signature: TimeSignature,
    /// Tempo written into MIDI output.
    pub bpm: f64,
    pub chords: ChordTrack,
}

impl Default for SongContext {
    fn default() -> Self {
        SongContext {
            key: None,
            time_signature: TimeSignature::FOUR_FOUR,
            bpm: 120.0,
            chords: ChordTrack::default(),
        }
    }
}

impl SongContext {
    pub fn validate(&self) -> Result<(), MuseError> {
        if !(self.bpm.is_finite() && self.bpm > 3.6 && self.bpm < 1000.0) {
            return Err(MuseError::InvalidArgument(format!(
                "tempo {} bpm out of range (3.6, 1000)",
                self.bpm
            )));
        }
        let beats = self.time_signature.beats_per_bar();
        if let Some(c) = self.chords.changes.iter().find(|c| c.beat >= beats) {
            return Err(MuseError::InvalidArgument(format!(
                "chord change at bar {} beat {} lies outside a {beats}-beat bar",
                c.bar, c.beat
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theory::{ChordQuality, Mode};

    #[test]
    fn playable_metres_and_their_accents() {
        let ts = |n, d| TimeSignature::new(n, d).unwrap();
        assert_eq!(ts(4, 4).strong_steps(), 1 | 1 << 8);
        assert_eq!(ts(3, 4).strong_steps(), 1);
        assert_eq!(ts(2, 4).strong_steps(), 1);
        assert_eq!(ts(5, 4).strong_steps(), 1 | 1 << 12);
        assert_eq!(ts(6, 8).strong_steps(), 1 | 1 << 6);
        assert_eq!(ts(12, 8).strong_steps(), 1 | 1 << 6 | 1 << 12 | 1 << 18);
        assert_eq!(ts(6, 8).steps_per_bar(), 12);
        assert_eq!(ts(12, 8).beats_per_bar(), 6);
        for (n, d) in [(7, 8), (9, 8), (9, 4), (4, 3), (0, 4), (3, 0)] {
            assert!(TimeSignature::new(n, d).is_err(), "{n}/{d}");
        }
    }

    #[test]
    fn chord_track_gaps_repeats_and_key() {
        let metre = TimeSignature::new(3, 4).unwrap();
        let t = ChordTrack::from_symbols("C G Am F", 2, true, metre).unwrap();
        let g = ChordLabel::new(7, ChordQuality::Maj);
        assert_eq!(t.chord_at(3, 2), Some(g));
        assert_eq!(t.chord_at(8 + 3, 1), Some(g));
        assert_eq!(t.likeliest_key(), Some(Key::new(0, Mode::Major)));
        let once = ChordTrack::from_symbols("Am", 1, false, metre).unwrap();
        assert_eq!(once.chord_at(1, 0), None);
        assert!(matches!(
            ChordTrack::from_symbols("C Hm", 1, false, metre),
            Err(MuseError::InvalidArgument(m)) if m.contains("Hm")
        ));
        let late = ChordChange {
            bar: 0,
            beat: 3,
            chord: Some(g),
        };
        assert!(ChordTrack::new(vec![late], 1, false, metre).is_err());
    }
}
