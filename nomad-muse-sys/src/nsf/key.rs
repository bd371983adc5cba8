//! Key finding by correlating a duration-weighted pitch-class profile with
//! key profiles, over the whole piece (the global key) and over windows of
//! bars smoothed by a Viterbi pass (local key segments of modulating music).
//! No chord overrides the profile: a Picardy third or a half cadence at the
//! end must not turn a minor piece into its final chord's key.

use super::NoteEvent;
use crate::theory::{ChordLabel, ChordQuality, Key, Mode};

/// Published major/minor key profiles (tonic first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProfile {
    /// Krumhansl & Kessler (1982) probe-tone ratings.
    KrumhanslKessler,
    /// Temperley (2007), from the Kostka–Payne harmony textbook excerpts.
    Temperley,
    /// Albrecht & Shanahan (2013), from a corpus of classical pieces.
    AlbrechtShanahan,
}

impl KeyProfile {
    pub const ALL: [KeyProfile; 3] = [
        KeyProfile::KrumhanslKessler,
        KeyProfile::Temperley,
        KeyProfile::AlbrechtShanahan,
    ];

    pub fn weights(self, mode: Mode) -> [f64; 12] {
        match (self, mode) {
            (KeyProfile::KrumhanslKessler, Mode::Major) => [
                6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
            ],
            (KeyProfile::KrumhanslKessler, Mode::Minor) => [
                6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
            ],
            (KeyProfile::Temperley, Mode::Major) => [
                0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400,
            ],
            (KeyProfile::Temperley, Mode::Minor) => [
                0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330,
            ],
            (KeyProfile::AlbrechtShanahan, Mode::Major) => [
                0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081,
            ],
            (KeyProfile::AlbrechtShanahan, Mode::Minor) => [
                0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052,
            ],
        }
    }
}

/// A stretch of the song in one key: frames `[start, end)` of the chord
/// analysis grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyRun {
    pub start: usize,
    pub end: usize,
    pub key: Key,
    pub confidence: f32,
}

#[derive(Debug, Clone)]
pub struct KeyDetector {
    pub profile: KeyProfile,
    /// Weight of notes below G3 (bass lines state the tonic).
    pub bass_weight: f64,
}

impl Default for KeyDetector {
    fn default() -> Self {
        Self::new()
    }
}

pub fn pearson(a: &[f64; 12], b: &[f64; 12]) -> f64 {
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

/// What besides the pitch profile tells relative keys apart.
#[derive(Debug, Clone, Copy)]
pub struct TonicEvidence {
    /// Weight of the share of the piece its tonic triad sounds.
    pub tonic_chord_weight: f64,
    /// Weight of the share of chord time diatonic to a candidate (a minor
    /// key with its harmonic dominant): the chords keep to the song's scale
    /// where the tonic-chord time pulls a fifth away, as in pop songs whose
    /// V chord sounds longest. Never for a lone line: its chords are guesses.
    pub chord_fit_weight: f64,
    /// Pitch class of the piece's last bass note: music ends on its tonic
    /// (whatever the final chord's quality: a Picardy third keeps the tonic).
    pub final_bass: Option<u8>,
    pub final_bass_weight: f64,
    /// Pitch class of the first bass note: openings state the tonic too,
    /// less reliably (pickups, intros on IV or vi).
    pub first_bass: Option<u8>,
    pub first_bass_weight: f64,
    /// Pitch profile of the melody alone: the tune states its key signature
    /// more plainly than the accompaniment (borrowed and secondary chords
    /// pull the piano's profile a fifth away). It never decides between
    /// relative keys: the tune shares their notes, the tonic chord tells.
    pub melody_profile: Option<[f64; 12]>,
    /// Weight of the melody's correlation with each candidate's signature
    /// (the better of the key and its relative).
    pub melody_weight: f64,
    /// A lone line (a folk tune) ends on its tonic: only the two keys on
    /// its final note compete, however the profile ranks them (a tune in E
    /// minor without F♯ has A minor's notes). All 40 Essen tunes of the
    /// fixtures end on their labelled tonic.
    pub final_is_tonic: bool,
}

/// The pitch class of the lowest note sounding at the very end.
pub fn final_bass(notes: &[NoteEvent]) -> Option<u8> {
    let end = notes
        .iter()
        .map(|n| n.onset_step + n.duration_steps)
        .max()?;
    notes
        .iter()
        .filter(|n| n.onset_step + n.duration_steps + 4 > end)
        .map(|n| n.pitch)
        .min()
        .map(|p| p % 12)
}

impl Default for TonicEvidence {
    /// The weights `ears` measured best on real music (see the README).
    fn default() -> Self {
        TonicEvidence {
            tonic_chord_weight: 1.0,
            chord_fit_weight: 2.0,
            final_bass: None,
            final_bass_weight: 0.1,
            first_bass: None,
            first_bass_weight: 0.1,
            melody_profile: None,
            melody_weight: 0.8,
            final_is_tonic: false,
        }
    }
}

/// The pitch class of the lowest note sounding in the first beat.
pub fn first_bass(notes: &[NoteEvent]) -> Option<u8> {
    let start = notes.iter().map(|n| n.onset_step).min()?;
    notes
        .iter()
        .filter(|n| n.onset_step < start + 4)
        .map(|n| n.pitch)
        .min()
        .map(|p| p % 12)
}

/// Profile candidates the tonic-chord evidence chooses among.
const TONIC_CANDIDATES: usize = 3;

/// Frames per key window step (one 4/4 bar of eighth frames) and the
/// window's reach either side, in steps.
const WINDOW_STEP: usize = 8;
const WINDOW_REACH: usize = 3;
/// Cost of a modulation in the Viterbi over keys, and the bonus of the
/// global key (local segments leave it only on clear evidence).
const MODULATION_COST: f64 = 2.0;
const GLOBAL_KEY_BONUS: f64 = 0.1;

impl KeyDetector {
    pub fn new() -> Self {
        KeyDetector {
            profile: KeyProfile::AlbrechtShanahan,
            bass_weight: 1.0,
        }
    }

    /// Duration-weighted pitch-class profile; bass-register notes count
    /// `bass_weight` times.
    pub fn profile(&self, notes: &[NoteEvent]) -> [f64; 12] {
        let mut profile = [0.0; 12];
        for n in notes {
            let mut w = n.duration_steps.max(1) as f64;
            if n.pitch < 55 {
                w *= self.bass_weight;
            }
            profile[(n.pitch % 12) as usize] += w;
        }
        profile
    }

    /// Correlation of `profile` with `key`'s template.
    pub fn correlation(&self, profile: &[f64; 12], key: Key) -> f64 {
        let template = self.profile.weights(key.mode);
        let rotated: [f64; 12] =
            std::array::from_fn(|i| template[(i + 12 - key.tonic as usize) % 12]);
        pearson(profile, &rotated)
    }

    /// Correlation of `profile` with every key, best first.
    pub fn rank(&self, profile: &[f64; 12]) -> Vec<(f64, Key)> {
        let mut scores: Vec<(f64, Key)> = Vec::with_capacity(24);
        for tonic in 0..12u8 {
            for mode in [Mode::Major, Mode::Minor] {
                let key = Key::new(tonic, mode);
                scores.push((self.correlation(profile, key), key));
            }
        }
        scores.sort_by(|a, b| b.0.total_cmp(&a.0));
        scores
    }

    /// The best key for a profile and a confidence in [0, 1] from its
    /// correlation and its margin over the runner-up.
    pub fn detect_profile(&self, profile: &[f64; 12]) -> (Key, f32) {
        let scores = self.rank(profile);
        let (best, key) = scores[0];
        let margin = best - scores[1].0;
        let confidence = (best.clamp(0.0, 1.0) * (0.5 + 0.5 * (margin / 0.1).min(1.0))) as f32;
        (key, confidence.clamp(0.0, 1.0))
    }

    /// The key of a whole piece.
    pub fn detect(&self, notes: &[NoteEvent]) -> (Key, f32) {
        self.detect_profile(&self.profile(notes))
    }

    /// [`KeyDetector::detect_profile`] refined by how long each candidate's
    /// tonic triad sounds over the whole piece (`chord_time[dense chord
    /// index]`, any measure of time): the profile alone confuses relative
    /// keys (C major / A minor share their notes), the tonic chord tells
    /// them apart. Only the best few profile candidates compete, and the
    /// whole piece counts, never just its final chord.
    pub fn detect_with_tonic_chords(
        &self,
        profile: &[f64; 12],
        chord_time: &[f64],
        evidence: TonicEvidence,
    ) -> (Key, f32) {
        let TonicEvidence {
            tonic_chord_weight: tonic_weight,
            chord_fit_weight,
            final_bass,
            final_bass_weight,
            first_bass,
            first_bass_weight,
            melody_profile,
            melody_weight,
            final_is_tonic,
        } = evidence;
        let ranked = self.rank(profile);
        let total: f64 = chord_time.iter().sum();
        let lone_tonic = final_bass.filter(|_| final_is_tonic);
        if total <= 0.0 && lone_tonic.is_none() {
            return self.detect_profile(profile);
        }
        let tonic_share = |key: Key| {
            let quality = match key.mode {
                Mode::Major => [ChordQuality::Maj, ChordQuality::Maj7],
                Mode::Minor => [ChordQuality::Min, ChordQuality::Min7],
            };
            quality
                .iter()
                .map(|q| {
                    let i = ChordLabel::new(key.tonic, *q).dense_index() as usize;
                    chord_time.get(i).copied().unwrap_or(0.0)
                })
                .sum::<f64>()
                / total.max(f64::MIN_POSITIVE)
        };
        let chord_fit = |key: Key| {
            let diatonic: f64 = (0..ChordLabel::DENSE_COUNT)
                .filter_map(|i| {
                    Some((
                        chord_time.get(i as usize)?,
                        ChordLabel::from_dense_index(i)?,
                    ))
                })
                .filter(|(_, chord)| key.is_diatonic(chord))
                .map(|(time, _)| *time)
                .sum();
            diatonic / total.max(f64::MIN_POSITIVE)
        };
        let fit_weight = match lone_tonic {
            Some(_) => 0.0,
            None => chord_fit_weight,
        };
        // A lone line's key is on its final note; the profile picks the mode.
        let candidates: Vec<(f64, Key)> = match lone_tonic {
            Some(tonic) => [Mode::Major, Mode::Minor]
                .map(|mode| Key::new(tonic, mode))
                .map(|key| (self.correlation(profile, key), key))
                .to_vec(),
            None => ranked.iter().take(TONIC_CANDIDATES).copied().collect(),
        };
        let mut best = candidates
            .iter()
            .map(|(r, k)| {
                let at = |bass: Option<u8>, weight: f64| {
                    if bass == Some(k.tonic) {
                        weight
                    } else {
                        0.0
                    }
                };
                let bonus = at(final_bass, final_bass_weight) + at(first_bass, first_bass_weight);
                let tune = melody_profile
                    .filter(|m| m.iter().sum::<f64>() > 0.0)
                    .map_or(0.0, |m| {
                        let signature = self
                            .correlation(&m, *k)
                            .max(self.correlation(&m, k.relative()));
                        melody_weight * signature
                    });
                let fit = fit_weight * chord_fit(*k);
                (r + tonic_weight * tonic_share(*k) + bonus + tune + fit, *k)
            })
            .collect::<Vec<_>>();
        best.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (score, key) = best[0];
        let margin = score - best.get(1).map_or(0.0, |b| b.0);
        let confidence = (score.clamp(0.0, 1.0) * (0.5 + 0.5 * (margin / 0.1).min(1.0))) as f32;
        (key, confidence.clamp(0.0, 1.0))
    }

    /// Local keys over frame profiles (`frame_pcs` and `frame_bass` as the
    /// chord analysis fills them): windows of a few bars, smoothed by a
    /// Viterbi pass that favours `global` (if any) and charges for every
    /// modulation.
    pub fn segments(
        &self,
        frame_pcs: &[[f32; 12]],
        frame_bass: &[[f32; 12]],
        global: Option<Key>,
    ) -> Vec<KeyRun> {
        let blocks = frame_pcs.len().div_ceil(WINDOW_STEP);
        if blocks == 0 {
            return Vec::new();
        }
        let block_profiles: Vec<[f64; 12]> = (0..blocks)
            .map(|b| {
                let mut p = [0f64; 12];
                let frames = b * WINDOW_STEP..((b + 1) * WINDOW_STEP).min(frame_pcs.len());
                for f in frames {
                    for pc in 0..12 {
                        p[pc] += frame_pcs[f][pc] as f64
                            + (self.bass_weight - 1.0) * frame_bass[f][pc] as f64;
                    }
                }
                p
            })
            .collect();
        let keys: Vec<Key> = (0..24u32).filter_map(Key::from_dense_index).collect();
        let emissions: Vec<Vec<f64>> = (0..blocks)
            .map(|b| {
                let mut p = [0f64; 12];
                let lo = b.saturating_sub(WINDOW_REACH);
                for bp in &block_profiles[lo..(b + WINDOW_REACH + 1).min(blocks)] {
                    for pc in 0..12 {
                        p[pc] += bp[pc];
                    }
                }
                let ranked = self.rank(&p);
                keys.iter()
                    .map(|k| {
                        let r = ranked.iter().find(|(_, rk)| rk == k).map_or(0.0, |x| x.0);
                        r + if Some(*k) == global {
                            GLOBAL_KEY_BONUS
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect();
        let path = viterbi_keys(&emissions, keys.iter().position(|k| Some(*k) == global));
        let mut runs: Vec<KeyRun> = Vec::new();
        for (b, s) in path.iter().enumerate() {
            let (start, end) = (
                b * WINDOW_STEP,
                ((b + 1) * WINDOW_STEP).min(frame_pcs.len()),
            );
            match runs.last_mut() {
                Some(r) if r.key == keys[*s] => r.end = end,
                _ => runs.push(KeyRun {
                    start,
                    end,
                    key: keys[*s],
                    confidence: 0.0,
                }),
            }
        }
        for r in &mut runs {
            let mut p = [0f64; 12];
            for b in &block_profiles[r.start / WINDOW_STEP..r.end.div_ceil(WINDOW_STEP)] {
                for pc in 0..12 {
                    p[pc] += b[pc];
                }
            }
            let ranked = self.rank(&p);
            let ours = ranked
                .iter()
                .find(|(_, k)| *k == r.key)
                .map_or(0.0, |x| x.0);
            let other = ranked
                .iter()
                .find(|(_, k)| *k != r.key)
                .map_or(0.0, |x| x.0);
            r.confidence = (ours.clamp(0.0, 1.0)
                * (0.5 + 0.5 * ((ours - other) / 0.1).clamp(0.0, 1.0)))
                as f32;
        }
        runs
    }
}

/// Shares of a song that mark it as modulating ([`modulating_key`]): one
/// scale for at least half of it, another for at least 15 %.
const SETTLED_SHARE: f64 = 0.5;
const SECOND_SHARE: f64 = 0.15;

/// The key of a song that modulates, from its local keys read with no
/// global prior (`runs`). Heard whole, a song a step up for its last
/// chorus reads as the scale between its two (D major then E major as A
/// major, one it never plays in), or as its later key. Where one scale (a
/// key and its relative) sounds in at least half of the song, another in
/// at least 15 %, and the global key is not in the first, that scale's
/// longest-sounding key is the song's (POP909 labels a song with the key it
/// sounds longest in); else `None`, and the global key stands (it also
/// decides between a key and its relative).
pub fn modulating_key(runs: &[KeyRun], global: Key) -> Option<Key> {
    let scale = |k: Key| k.signature_sharps().rem_euclid(12) as usize;
    let mut by_key = [0usize; Key::DENSE_COUNT as usize];
    let mut by_scale = [0usize; 12];
    for r in runs {
        by_key[r.key.dense_index() as usize] += r.end - r.start;
        by_scale[scale(r.key)] += r.end - r.start;
    }
    let total: usize = by_scale.iter().sum();
    let share = |frames: usize| frames as f64 / total.max(1) as f64;
    let settled = (0..12).find(|s| share(by_scale[*s]) >= SETTLED_SHARE)?;
    // The scale it modulates to (or from) must sound too.
    let second = (0..12).any(|s| s != settled && share(by_scale[s]) >= SECOND_SHARE);
    if settled == scale(global) || !second {
        return None;
    }
    (0..Key::DENSE_COUNT)
        .filter_map(Key::from_dense_index)
        .filter(|k| scale(*k) == settled)
        .max_by_key(|k| by_key[k.dense_index() as usize])
}

/// Most likely key per block; `start` (the global key) is where it begins.
fn viterbi_keys(emissions: &[Vec<f64>], start: Option<usize>) -> Vec<usize> {
    let n = emissions.first().map_or(0, Vec::len);
    let mut score: Vec<f64> = (0..n)
        .map(|k| {
            if Some(k) == start {
                0.0
            } else {
                -MODULATION_COST / 2.0
            }
        })
        .collect();
    let mut back: Vec<Vec<usize>> = Vec::with_capacity(emissions.len());
    for e in emissions {
        let (best, best_score) = score
            .iter()
            .copied()
            .enumerate()
            .fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
        let mut from = vec![0; n];
        for k in 0..n {
            let switch = best_score - MODULATION_COST;
            from[k] = if score[k] >= switch { k } else { best };
            score[k] = score[k].max(switch) + e[k];
        }
        back.push(from);
    }
    let mut k = score
        .iter()
        .copied()
        .enumerate()
        .fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a })
        .0;
    let mut path = vec![0; emissions.len()];
    for b in (0..emissions.len()).rev() {
        path[b] = k;
        k = back[b][k];
    }
    path
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
    fn the_tune_settles_the_signature_never_the_mode() {
        let detector = KeyDetector::new();
        // Accompaniment between C and G major: F and F# alike, G as often as C.
        let mut profile = [0.0; 12];
        for (pc, w) in [
            (0, 3.0),
            (2, 2.0),
            (4, 2.0),
            (5, 1.5),
            (6, 1.5),
            (7, 3.0),
            (9, 2.0),
            (11, 2.0),
        ] {
            profile[pc] = w;
        }
        let tune_in_g = detector.profile(&notes(&[67, 69, 71, 72, 74, 66, 67, 71, 74, 67]));
        let no_chords = vec![0.0; ChordLabel::DENSE_COUNT as usize];
        let mut chord_time = no_chords.clone();
        chord_time[ChordLabel::new(7, ChordQuality::Maj).dense_index() as usize] = 1.0;
        chord_time[ChordLabel::new(0, ChordQuality::Maj).dense_index() as usize] = 1.0;
        let with_tune = |melody_profile| TonicEvidence {
            melody_profile,
            ..TonicEvidence::default()
        };
        let (without, _) =
            detector.detect_with_tonic_chords(&profile, &chord_time, with_tune(None));
        let (with, _) =
            detector.detect_with_tonic_chords(&profile, &chord_time, with_tune(Some(tune_in_g)));
        assert_eq!(with, Key::new(7, Mode::Major), "the tune's F# says G");
        assert_ne!(without, with, "the accompaniment alone leans to C");
        // A tune on C major's notes over A minor's tonic chord: still A minor.
        let a_minor_chords = {
            let mut t = no_chords;
            t[ChordLabel::new(9, ChordQuality::Min).dense_index() as usize] = 1.0;
            t
        };
        let a_minor = detector.profile(&notes(&[57, 60, 64, 69, 45, 52, 45, 62, 65, 69]));
        let tune_on_c = detector.profile(&notes(&[72, 74, 76, 77, 79, 76, 72, 67, 72]));
        let (key, _) = detector.detect_with_tonic_chords(
            &a_minor,
            &a_minor_chords,
            with_tune(Some(tune_on_c)),
        );
        assert_eq!(key, Key::new(9, Mode::Minor));
    }

    #[test]
    fn chords_in_one_scale_outweigh_the_longest_chord() {
        let detector = KeyDetector::new();
        // A major's notes, E and B heaviest: the profile leans to E major.
        let mut profile = [0.0; 12];
        for (pc, w) in [
            (9, 2.0),
            (11, 3.0),
            (1, 2.0),
            (2, 1.5),
            (4, 3.5),
            (6, 2.0),
            (8, 2.5),
        ] {
            profile[pc] = w;
        }
        // E sounds longest, but D and Bm keep D natural: A major's chords.
        let mut chord_time = vec![0.0; ChordLabel::DENSE_COUNT as usize];
        for (root, quality, time) in [
            (4, ChordQuality::Maj, 4.0),
            (6, ChordQuality::Min, 2.5),
            (2, ChordQuality::Maj, 2.5),
            (11, ChordQuality::Min, 1.0),
        ] {
            chord_time[ChordLabel::new(root, quality).dense_index() as usize] = time;
        }
        let with_fit = |chord_fit_weight| TonicEvidence {
            chord_fit_weight,
            ..TonicEvidence::default()
        };
        let key = |weight| {
            detector
                .detect_with_tonic_chords(&profile, &chord_time, with_fit(weight))
                .0
        };
        assert_eq!(
            key(0.0),
            Key::new(4, Mode::Major),
            "E's chord time wins alone"
        );
        assert_eq!(
            key(TonicEvidence::default().chord_fit_weight),
            Key::new(9, Mode::Major)
        );
    }

    #[test]
    fn scales_and_cadences_find_their_key() {
        for profile in KeyProfile::ALL {
            let detector = KeyDetector {
                profile,
                ..KeyDetector::new()
            };
            // D major scale with a D–A–D bass.
            let d = notes(&[62, 64, 66, 67, 69, 71, 73, 74, 50, 45, 50, 62]);
            assert_eq!(
                detector.detect(&d).0,
                Key::new(2, Mode::Major),
                "{profile:?}"
            );
            // A natural minor, A–E–A.
            let a = notes(&[57, 59, 60, 62, 64, 65, 67, 69, 45, 52, 45, 69, 60, 64]);
            assert_eq!(
                detector.detect(&a).0,
                Key::new(9, Mode::Minor),
                "{profile:?}"
            );
            let (_, conf) = detector.detect(&a);
            assert!((0.0..=1.0).contains(&conf));
        }
    }

    #[test]
    fn a_picardy_ending_does_not_change_a_minor_key() {
        // D minor material, then a long D major chord at the end.
        let mut p: Vec<u8> = [
            62, 64, 65, 67, 69, 70, 72, 74, 50, 57, 50, 65, 62, 69, 61, 62,
        ]
        .repeat(3)
        .to_vec();
        p.extend([50, 62, 66, 69]);
        assert_eq!(
            KeyDetector::new().detect(&notes(&p)).0,
            Key::new(2, Mode::Minor)
        );
    }

    #[test]
    fn segments_follow_a_modulation() {
        // 16 bars of C major scale material then 16 of A-flat major.
        let bar = |tonic: u8| -> [f32; 12] {
            let mut x = [0f32; 12];
            for (i, d) in [0u8, 2, 4, 5, 7, 9, 11].iter().enumerate() {
                x[((tonic + d) % 12) as usize] = [3.0, 1.0, 2.0, 1.0, 2.5, 1.0, 1.0][i];
            }
            x
        };
        let mut pcs = vec![bar(0); 16 * WINDOW_STEP];
        pcs.extend(vec![bar(8); 16 * WINDOW_STEP]);
        let bass = vec![[0f32; 12]; pcs.len()];
        let runs = KeyDetector::new().segments(&pcs, &bass, Some(Key::new(0, Mode::Major)));
        assert_eq!(runs.len(), 2, "{runs:?}");
        assert_eq!(runs[0].key, Key::new(0, Mode::Major));
        assert_eq!(runs[1].key, Key::new(8, Mode::Major));
        let boundary = runs[1].start / WINDOW_STEP;
        assert!((14..=18).contains(&boundary), "{boundary}");
    }

    #[test]
    fn a_song_a_step_up_for_its_last_chorus_is_in_its_first_key() {
        let run = |start: usize, end: usize, tonic: u8, mode: Mode| KeyRun {
            start,
            end,
            key: Key::new(tonic, mode),
            confidence: 1.0,
        };
        let (d, a) = (Key::new(2, Mode::Major), Key::new(9, Mode::Major));
        // D major, its relative B minor, then E major: heard whole as A major.
        let song = [
            run(0, 400, 2, Mode::Major),
            run(400, 560, 11, Mode::Minor),
            run(560, 800, 4, Mode::Major),
        ];
        assert_eq!(modulating_key(&song, a), Some(d));
        // Heard as its later key, it is in its first (the longer) too.
        assert_eq!(modulating_key(&song, Key::new(4, Mode::Major)), Some(d));
        // A global key in the song's main scale stands.
        assert_eq!(modulating_key(&song, d), None);
        assert_eq!(modulating_key(&song, Key::new(11, Mode::Minor)), None);
        // One scale throughout, away from the global key: not a modulation.
        let one = [run(0, 800, 4, Mode::Major)];
        assert_eq!(modulating_key(&one, a), None);
        // A second scale too brief to be a modulation.
        let brief = [run(0, 760, 4, Mode::Major), run(760, 800, 2, Mode::Major)];
        assert_eq!(modulating_key(&brief, a), None);
        assert_eq!(modulating_key(&[], a), None);
    }

    #[test]
    fn a_lone_line_is_in_a_key_on_its_final_note() {
        // The notes of A minor (no F sharp), ending on E: E minor (Phrygian
        // colour), not the A minor the profile alone ranks first.
        let mut profile = [0.0; 12];
        for (pc, w) in [
            (9, 5.0),
            (11, 2.0),
            (0, 3.0),
            (2, 2.0),
            (4, 4.0),
            (5, 1.0),
            (7, 2.0),
        ] {
            profile[pc] = w;
        }
        let detector = KeyDetector::new();
        assert_eq!(
            detector.detect_profile(&profile).0,
            Key::new(9, Mode::Minor)
        );
        let lone = TonicEvidence {
            final_bass: Some(4),
            final_is_tonic: true,
            ..TonicEvidence::default()
        };
        let (key, _) = detector.detect_with_tonic_chords(&profile, &[0.0; 4], lone);
        assert_eq!(key, Key::new(4, Mode::Minor));
        // Accompanied music keeps the profile's say (and no chord time).
        let not_lone = TonicEvidence {
            final_is_tonic: false,
            ..lone
        };
        let (key, _) = detector.detect_with_tonic_chords(&profile, &[0.0; 4], not_lone);
        assert_eq!(key, Key::new(9, Mode::Minor));
    }
}
