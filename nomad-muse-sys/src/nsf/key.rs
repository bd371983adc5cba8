//! Key detection by correlating the song's pitch-class profile with the
//! Krumhansl–Kessler major and minor key profiles (Krumhansl 1990).

use super::{ChordSpan, NoteEvent};
use crate::theory::{ChordLabel, ChordQuality, Key, Mode};

/// Correlation bonus for a key whose tonic chord ends the song (cadences
/// resolve to the tonic), and a smaller one for a tonic chord opening it.
const FINAL_TONIC_BONUS: f64 = 0.15;
const OPENING_TONIC_BONUS: f64 = 0.05;

/// Whether `chord` is the tonic chord of `key` (triad or seventh).
fn is_tonic_chord(key: Key, chord: ChordLabel) -> bool {
    chord.root == key.tonic
        && match key.mode {
            Mode::Major => matches!(chord.quality, ChordQuality::Maj | ChordQuality::Maj7),
            Mode::Minor => matches!(chord.quality, ChordQuality::Min | ChordQuality::Min7),
        }
}

const KK_MAJOR: [f64; 12] = [
    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
];
const KK_MINOR: [f64; 12] = [
    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
];

#[derive(Debug, Clone, Default)]
pub struct KeyDetector;

fn pearson(a: &[f64; 12], b: &[f64; 12]) -> f64 {
    let ma = a.iter().sum::<f64>() / 12.0;
    let mb = b.iter().sum::<f64>() / 12.0;
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for i in 0..12 {
        num += (a[i] - ma) * (b[i] - mb);
        da += (a[i] - ma).powi(2);
        db += (b[i] - mb).powi(2);
    }
    if da == 0.0 || db == 0.0 {
        0.0
    } else {
        num / (da * db).sqrt()
    }
}

impl KeyDetector {
    pub fn new() -> Self {
        KeyDetector
    }

    /// Duration-weighted pitch-class profile. Bass-register notes count
    /// double, notes of the first bar 1.5× and of the last bar 3×: bass lines,
    /// openings and above all final cadences carry the tonic.
    pub fn profile(&self, notes: &[NoteEvent]) -> [f64; 12] {
        let mut profile = [0.0; 12];
        let last_bar = notes.iter().map(|n| n.bar).max().unwrap_or(0);
        for n in notes {
            let mut w = n.duration_steps.max(1) as f64;
            if n.pitch < 55 {
                w *= 2.0;
            }
            if n.bar == last_bar {
                w *= 3.0;
            } else if n.bar == 0 {
                w *= 1.5;
            }
            profile[(n.pitch % 12) as usize] += w;
        }
        profile
    }

    /// The best key and a confidence in [0, 1] from its correlation and its
    /// margin over the runner-up.
    pub fn detect(&self, notes: &[NoteEvent]) -> (Key, f32) {
        self.detect_with_chords(notes, &[])
    }

    /// [`KeyDetector::detect`] plus the cadence evidence of the extracted
    /// chords: a key whose tonic chord closes (or opens) the song is favoured.
    pub fn detect_with_chords(&self, notes: &[NoteEvent], chords: &[ChordSpan]) -> (Key, f32) {
        let sounding: Vec<ChordLabel> = chords
            .iter()
            .map(|c| c.chord.label())
            .filter(|c| !c.is_none())
            .collect();
        let profile = self.profile(notes);
        let mut scores: Vec<(f64, Key)> = Vec::with_capacity(24);
        for tonic in 0..12u8 {
            for (mode, template) in [(Mode::Major, &KK_MAJOR), (Mode::Minor, &KK_MINOR)] {
                let rotated: [f64; 12] =
                    std::array::from_fn(|i| template[(i + 12 - tonic as usize) % 12]);
                let key = Key::new(tonic, mode);
                let mut score = pearson(&profile, &rotated);
                if sounding.last().is_some_and(|c| is_tonic_chord(key, *c)) {
                    score += FINAL_TONIC_BONUS;
                }
                if sounding.first().is_some_and(|c| is_tonic_chord(key, *c)) {
                    score += OPENING_TONIC_BONUS;
                }
                scores.push((score, key));
            }
        }
        scores.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (best, key) = scores[0];
        let margin = best - scores[1].0;
        let confidence = (best.clamp(0.0, 1.0) * (0.5 + 0.5 * (margin / 0.1).min(1.0))) as f32;
        (key, confidence.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notes(pitches: &[u8]) -> Vec<NoteEvent> {
        pitches
            .iter()
            .enumerate()
            .map(|(i, p)| NoteEvent {
                onset_seconds: 0.0,
                duration_seconds: 0.5,
                onset_tick: 0,
                duration_ticks: 480,
                onset_step: i as u32 * 4,
                duration_steps: 4,
                bar: i as u32 / 4,
                beat: i as u32 % 4,
                substep: 0,
                pitch: *p,
                velocity: 90,
            })
            .collect()
    }

    #[test]
    fn scales_and_cadences_find_their_key() {
        // D major scale with a D–A–D bass.
        let d = notes(&[62, 64, 66, 67, 69, 71, 73, 74, 50, 45, 50, 62]);
        assert_eq!(KeyDetector::new().detect(&d).0, Key::new(2, Mode::Major));
        // A natural minor, A–E–A.
        let a = notes(&[57, 59, 60, 62, 64, 65, 67, 69, 45, 52, 45, 69, 60, 64]);
        assert_eq!(KeyDetector::new().detect(&a).0, Key::new(9, Mode::Minor));
        let (_, conf) = KeyDetector::new().detect(&a);
        assert!((0.0..=1.0).contains(&conf));
    }
}
