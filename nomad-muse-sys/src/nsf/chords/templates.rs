//! How well each chord explains one frame's sound: template matching of the
//! duration-weighted pitch-class profile, with the bass deciding between
//! chords that share their tones (C E G A: C6 over C, Am7 over A).

use crate::theory::{ChordLabel, ChordQuality, Key};

/// Every sounding chord label, in dense-index order.
pub fn all_labels() -> Vec<ChordLabel> {
    (0..12u8)
        .flat_map(|root| {
            ChordQuality::SOUNDING
                .iter()
                .map(move |q| ChordLabel::new(root, *q))
        })
        .collect()
}

/// Penalty weight of pitch-class mass outside the chord.
const OUTSIDE_PENALTY: f32 = 1.0;
/// Penalty per chord tone that does not sound; a tone weaker than
/// `WEAK_TONE` × the chord tones' mean weight is penalised in proportion.
/// Two missing tones cost more than any fit can earn: one pitch class is
/// never a triad.
const MISSING_PENALTY: f32 = 0.45;
const WEAK_TONE: f32 = 0.6;
/// Weight of the bass: the lowest note is the root far more often than not.
const BASS_ROOT_BONUS: f32 = 0.25;
/// A bass note outside the chord (a passing bass) is weak evidence against it.
const BASS_OUTSIDE_PENALTY: f32 = 0.1;
/// An added sixth over a major triad (C E G A) is not outside the chord.
const ADDED_SIXTH_DISCOUNT: f32 = 0.7;
/// Rarer qualities must win clearly: suspensions only when the 2nd/4th is
/// held, not passing; augmented and fully diminished chords likewise.
fn quality_prior(q: ChordQuality) -> f32 {
    match q {
        ChordQuality::Sus2 | ChordQuality::Sus4 => -0.12,
        ChordQuality::Aug => -0.1,
        ChordQuality::Dim7 | ChordQuality::Dim => -0.04,
        ChordQuality::Dom7 | ChordQuality::Maj7 | ChordQuality::Min7 | ChordQuality::Hdim7 => -0.03,
        _ => 0.0,
    }
}

/// Score in about [-2, 1.3] of `label` for a profile `x` (sums to 1) with
/// bass distribution `bass` (sums to 1, or all 0 when silent).
pub fn fit(label: ChordLabel, x: &[f32; 12], bass: &[f32; 12]) -> f32 {
    let intervals = label.quality.intervals();
    let root = label.root as usize;
    let mut inside = 0.0;
    for i in intervals {
        inside += x[(root + *i as usize) % 12];
    }
    let mut outside = 1.0 - inside;
    if label.quality == ChordQuality::Maj {
        outside -= ADDED_SIXTH_DISCOUNT * x[(root + 9) % 12];
    }
    let threshold = WEAK_TONE * inside / intervals.len() as f32;
    let missing: f32 = intervals
        .iter()
        .map(|i| {
            let w = x[(root + *i as usize) % 12];
            if threshold > 0.0 {
                (1.0 - w / threshold).max(0.0)
            } else {
                1.0
            }
        })
        .sum();
    let bass_in: f32 = intervals
        .iter()
        .map(|i| bass[(root + *i as usize) % 12])
        .sum();
    let bass_total: f32 = bass.iter().sum();
    inside - OUTSIDE_PENALTY * outside.max(0.0) - MISSING_PENALTY * missing
        + BASS_ROOT_BONUS * bass[root]
        - BASS_OUTSIDE_PENALTY * (bass_total - bass_in).max(0.0)
        + quality_prior(label.quality)
}

/// 1 for chords of the key (minor keys include the harmonic-minor V, V7,
/// vii°7), else 0.
pub fn key_prior(label: ChordLabel, key: Key) -> f32 {
    if key.is_diatonic(&label) {
        1.0
    } else {
        0.0
    }
}

/// Normalises `v` to sum 1 (all zeros stay zeros); returns the old sum.
pub fn normalise(v: &[f32; 12]) -> ([f32; 12], f32) {
    let total: f32 = v.iter().sum();
    if total <= 0.0 {
        return ([0.0; 12], 0.0);
    }
    (std::array::from_fn(|i| v[i] / total), total)
}
