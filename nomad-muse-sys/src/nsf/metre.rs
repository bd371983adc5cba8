//! Metre from the music: a file's declared time signature can be wrong
//! (POP909 declares 1/4 in most songs: every beat a "bar"). The beats where
//! bars start carry the harmonic changes, the bass notes, the long notes and
//! the accents; the period (2, 3 or 4 quarters) and downbeat whose beats
//! carry them most clearly is the music's metre.

use serde::{Deserialize, Serialize};

use super::chords::frames::{beat_phase, WeightedNote};
use crate::midi::MidiSong;

/// Bar lengths, in quarter notes, the inference chooses between.
pub const CANDIDATE_BEATS: [u32; 3] = [2, 3, 4];

/// What the music says about its metre, recorded in the NSF metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetreEvidence {
    /// Quarter notes per bar the music's periodicity points to.
    pub beats_per_bar: u32,
    /// Quarter beats before the first downbeat (a pickup).
    pub downbeat_offset: u32,
    /// Beats subdivide in three (6/8-style compound time in quarter beats).
    pub compound: bool,
    /// Downbeat contrast of each candidate, `[2, 3, 4]` quarters a bar: how
    /// much more the chosen downbeats carry than the other beats (0: none).
    pub scores: [f32; 3],
    /// Quarter beats the evidence was read over.
    pub beats: u32,
    /// Offset of the music's beats from the file's quarter grid, in ticks
    /// (POP909's files are aligned to recordings: up to half a beat).
    #[serde(default)]
    pub beat_phase_ticks: i64,
}

impl MetreEvidence {
    /// Contrast of a bar of `beats` quarters (0 outside the candidates).
    pub fn score_of(&self, beats: u32) -> f32 {
        CANDIDATE_BEATS
            .iter()
            .position(|b| *b == beats)
            .map_or(0.0, |i| self.scores[i])
    }

    /// Whether the evidence clearly contradicts a declared bar of
    /// `declared_beats` quarters: a different grouping (duple against
    /// triple) that scores far better over enough music.
    pub fn contradicts(&self, declared_beats: u32) -> bool {
        // 2 and 4 quarters group the beats alike (duple); 3 does not.
        let triple = |beats: u32| beats.is_multiple_of(3);
        if triple(self.beats_per_bar) == triple(declared_beats) {
            return false;
        }
        let (music, declared) = (
            self.score_of(self.beats_per_bar),
            self.score_of(declared_beats),
        );
        self.beats >= MIN_BEATS_TO_OVERRIDE
            && music > declared + OVERRIDE_MARGIN
            && music > OVERRIDE_RATIO * declared
    }
}

/// Music shorter than this (in quarters) never overrides a plausible metre.
const MIN_BEATS_TO_OVERRIDE: u32 = 48;
/// Contrast by which, and times which, the music's metre must beat a
/// plausible declared one: syncopated 4/4 (funk riffs) shows some 3-beat
/// periodicity, real triple time against duple bars scores 4x or more.
const OVERRIDE_MARGIN: f32 = 0.3;
const OVERRIDE_RATIO: f32 = 3.0;

/// Per-beat features whose periodicity marks the bar.
struct BeatFeatures {
    /// Harmonic change into the beat: 1 − cosine of the pitch-class
    /// profiles of this beat and the previous one.
    harmonic_change: Vec<f32>,
    /// Notes in the bass register starting on the beat.
    bass_onsets: Vec<f32>,
    /// Notes of a beat or longer starting on the beat.
    long_onsets: Vec<f32>,
    /// Summed velocity of notes starting on the beat (accent).
    accent: Vec<f32>,
}

/// Feature weights: the harmony and the bass mark bars most reliably.
const WEIGHTS: [f32; 4] = [2.0, 1.5, 1.0, 0.5];
/// Below this pitch a note is in the bass register.
const BASS_BELOW: u8 = 55;

/// Infers the metre of `song` on its quarter-note grid. `None` when there
/// are too few notes to say anything.
pub fn infer_metre(song: &MidiSong) -> Option<MetreEvidence> {
    let ppq = song.ppq.max(1) as u64;
    let beats = song.end_tick.div_ceil(ppq).min(1 << 16) as usize;
    if beats < 8 {
        return None;
    }
    // Read the beats where the music has them: a file's grid may be offset
    // from the music by a constant.
    let pitched: Vec<WeightedNote> = song
        .tracks
        .iter()
        .filter(|t| t.channel != 9)
        .flat_map(|t| &t.notes)
        .map(|n| WeightedNote {
            start_tick: n.start_tick,
            end_tick: n.end_tick,
            pitch: n.pitch,
            weight: 1.0,
        })
        .collect();
    let phase = beat_phase(&pitched, song.ppq);
    let features = beat_features(song, ppq, beats, phase);
    let rows = [
        &features.harmonic_change,
        &features.bass_onsets,
        &features.long_onsets,
        &features.accent,
    ];
    let mut scores = [0f32; 3];
    let mut offsets = [0u32; 3];
    for (c, &period) in CANDIDATE_BEATS.iter().enumerate() {
        let (score, offset) = (0..period)
            .map(|o| (contrast(&rows, period as usize, o as usize), o))
            .fold((f32::MIN, 0), |best, x| if x.0 > best.0 { x } else { best });
        scores[c] = score.max(0.0);
        offsets[c] = offset;
    }
    let best = (0..3)
        .max_by(|a, b| scores[*a].total_cmp(&scores[*b]).then(b.cmp(a)))
        .unwrap_or(2);
    Some(MetreEvidence {
        beats_per_bar: CANDIDATE_BEATS[best],
        downbeat_offset: offsets[best],
        compound: is_compound(song, ppq, phase),
        scores,
        beats: beats as u32,
        beat_phase_ticks: phase,
    })
}

/// Weighted downbeat contrast: per feature, (mean on the beats `offset`
/// mod `period`) − (mean on the others), over the feature's mean.
fn contrast(rows: &[&Vec<f32>; 4], period: usize, offset: usize) -> f32 {
    let mut total = 0.0;
    for (row, w) in rows.iter().zip(WEIGHTS) {
        let (mut on, mut n_on, mut off, mut n_off) = (0f32, 0usize, 0f32, 0usize);
        for (b, v) in row.iter().enumerate() {
            if b % period == offset {
                on += v;
                n_on += 1;
            } else {
                off += v;
                n_off += 1;
            }
        }
        let mean = (on + off) / row.len().max(1) as f32;
        if mean > 0.0 && n_on > 0 && n_off > 0 {
            total += w * (on / n_on as f32 - off / n_off as f32) / mean;
        }
    }
    total / WEIGHTS.iter().sum::<f32>()
}

fn beat_features(song: &MidiSong, ppq: u64, beats: usize, phase: i64) -> BeatFeatures {
    // Ticks on the music's beat grid (notes before its first beat at 0).
    let shift = |t: u64| (t as i64 - phase).max(0) as u64;
    let mut pcs = vec![[0f32; 12]; beats];
    let mut f = BeatFeatures {
        harmonic_change: vec![0.0; beats],
        bass_onsets: vec![0.0; beats],
        long_onsets: vec![0.0; beats],
        accent: vec![0.0; beats],
    };
    // An onset within an eighth of a beat counts for that beat.
    let near = ppq / 8;
    for track in &song.tracks {
        let drums = track.channel == 9;
        for n in &track.notes {
            let (start, end) = (shift(n.start_tick), shift(n.end_tick));
            let b = ((start + ppq / 2) / ppq) as usize;
            let on_beat = (start + near) % ppq <= 2 * near;
            if on_beat && b < beats {
                f.accent[b] += n.velocity as f32 / 127.0;
                let kick = drums && matches!(n.pitch, 35 | 36);
                if kick || (!drums && n.pitch < BASS_BELOW) {
                    f.bass_onsets[b] += 1.0;
                }
                if !drums && end - start >= ppq - near {
                    f.long_onsets[b] += 1.0;
                }
            }
            if !drums {
                add_sounding(&mut pcs, start, end, n.pitch, ppq);
            }
        }
    }
    for b in 1..beats {
        f.harmonic_change[b] = 1.0 - cosine(&pcs[b - 1], &pcs[b]);
    }
    f
}

/// Adds a note's sounding ticks to the pitch-class profile of every beat
/// it covers.
fn add_sounding(pcs: &mut [[f32; 12]], start: u64, end: u64, pitch: u8, ppq: u64) {
    let pc = (pitch % 12) as usize;
    let mut t = start;
    while t < end {
        let b = (t / ppq) as usize;
        let Some(profile) = pcs.get_mut(b) else {
            return;
        };
        let beat_end = (b as u64 + 1) * ppq;
        profile[pc] += (end.min(beat_end) - t) as f32;
        t = beat_end;
    }
}

fn cosine(a: &[f32; 12], b: &[f32; 12]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        // Silence next to sound is a change; silence next to silence is not.
        return if na == nb { 1.0 } else { 0.0 };
    }
    dot / (na * nb)
}

/// Beats that subdivide in three: more off-beat onsets near the thirds of
/// a beat than near its 8th and 16th positions.
fn is_compound(song: &MidiSong, ppq: u64, phase: i64) -> bool {
    let tolerance = (ppq / 24).max(1);
    let near = |pos: u64, target: u64| pos.abs_diff(target) <= tolerance;
    let (mut thirds, mut quarters) = (0usize, 0usize);
    for n in song.tracks.iter().flat_map(|t| &t.notes) {
        let pos = (n.start_tick as i64 - phase).rem_euclid(ppq as i64) as u64;
        if near(pos, ppq / 3) || near(pos, 2 * ppq / 3) {
            thirds += 1;
        } else if near(pos, ppq / 4) || near(pos, ppq / 2) || near(pos, 3 * ppq / 4) {
            quarters += 1;
        }
    }
    thirds > 20 && thirds > 2 * quarters
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{MidiTrackData, RawNote};

    fn note(tick: u64, len: u64, pitch: u8, velocity: u8) -> RawNote {
        RawNote {
            channel: 0,
            pitch,
            velocity,
            start_tick: tick,
            end_tick: tick + len,
        }
    }

    /// Bass on each downbeat, a chord change every bar, quarters above.
    fn song(beats_per_bar: u64, bars: u64, pickup: u64) -> MidiSong {
        let q = 96;
        let roots = [0u8, 5, 7, 9];
        let mut bass = Vec::new();
        let mut upper = Vec::new();
        for bar in 0..bars {
            let start = (pickup + bar * beats_per_bar) * q;
            let root = roots[(bar % 4) as usize];
            bass.push(note(start, beats_per_bar * q, 36 + root, 100));
            for beat in 0..beats_per_bar {
                let v = if beat == 0 { 100 } else { 70 };
                for i in [0u8, 4, 7] {
                    upper.push(note(start + beat * q, q, 60 + root + i, v));
                }
            }
        }
        let track = |channel, notes| MidiTrackData {
            name: String::new(),
            channel,
            program: None,
            notes,
        };
        MidiSong {
            ppq: q as u16,
            tempo_changes: vec![(0, 120.0)],
            time_signatures: vec![(0, 1, 4)],
            end_tick: (pickup + bars * beats_per_bar) * q,
            tracks: vec![track(0, bass), track(1, upper)],
        }
    }

    #[test]
    fn finds_two_three_and_four_beat_bars_and_the_pickup() {
        for (beats, pickup) in [(2, 0), (3, 0), (4, 0), (4, 1), (3, 2)] {
            let e = infer_metre(&song(beats, 24, pickup)).unwrap();
            assert_eq!(
                (e.beats_per_bar as u64, e.downbeat_offset as u64),
                (beats, pickup),
                "{e:?}"
            );
            assert!(!e.compound);
        }
    }

    #[test]
    fn overrides_only_a_clearly_contradicted_declaration() {
        let waltz = infer_metre(&song(3, 24, 0)).unwrap();
        assert!(waltz.contradicts(4) && waltz.contradicts(2), "{waltz:?}");
        assert!(!waltz.contradicts(3));
        let four = infer_metre(&song(4, 24, 0)).unwrap();
        assert!(!four.contradicts(2) && !four.contradicts(4), "{four:?}");
        // Too little music to override anything.
        let short = infer_metre(&song(3, 4, 0)).unwrap();
        assert!(!short.contradicts(4), "{short:?}");
    }
}
