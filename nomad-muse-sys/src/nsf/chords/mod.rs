//! Chord analysis at the music's own harmonic rhythm. Frames of an eighth
//! note on the music's beat (found from the onsets) each get a score for
//! every chord from its duration- and bass-weighted pitch-class profile
//! ([`templates`]); a Viterbi pass then segments the song with a change
//! penalty that is smallest on bar lines and largest off the beat, so a chord
//! can change on any beat and last any length, and a frame whose evidence is
//! thin (one pitch class, a rest) carries the chord around it or is "N".
//! An optional key per frame favours the key's own chords.

pub mod frames;
mod templates;

use super::{ChordInfo, ChordSpan, GlobalInfo, NoteEvent};
use crate::theory::{ChordLabel, Key};
use frames::{beat_phase, frame_profiles, FrameGrid, FrameProfiles, WeightedNote};
pub use templates::all_labels;
use templates::{fit, key_prior, normalise};

#[derive(Debug, Clone)]
pub struct ChordExtractor {
    /// Analysis frames per quarter-note beat (2 = eighth notes).
    pub frames_per_beat: i64,
    /// Score of "no chord" for a fully sounding frame: a frame fits no chord
    /// better than this is "N" unless the chord around it carries over.
    pub min_score: f32,
    /// Cost of a chord change on a bar line, on a beat, and between beats.
    pub change_cost_bar: f32,
    pub change_cost_beat: f32,
    pub change_cost_offbeat: f32,
    /// Weight of the key prior (chords of the frame's key gain this much).
    pub key_weight: f32,
}

impl Default for ChordExtractor {
    fn default() -> Self {
        Self::new()
    }
}

/// "N" gains this per silent frame, so a rest of about a bar ends the chord
/// while a shorter one carries it.
const SILENCE_NO_CHORD: f32 = 0.12;

/// What the analysis found besides the chords: the frames and the phase.
#[derive(Debug, Clone)]
pub struct ChordAnalysis {
    pub spans: Vec<ChordSpan>,
    pub grid: FrameGrid,
    pub profiles: FrameProfiles,
}

impl ChordExtractor {
    pub fn new() -> Self {
        ChordExtractor {
            frames_per_beat: 2,
            min_score: 0.25,
            change_cost_bar: 0.35,
            change_cost_beat: 0.6,
            change_cost_offbeat: 1.1,
            key_weight: 0.25,
        }
    }

    /// Labels one window from its pitch-class weights and lowest pitch class
    /// (the frame score the segmentation uses, taken alone).
    pub fn label_window(&self, pc_weights: &[f32; 12], bass_pc: Option<u8>) -> (ChordLabel, f32) {
        let (x, total) = normalise(pc_weights);
        if total <= 0.0 {
            return (ChordLabel::NONE, 1.0);
        }
        let mut bass = [0f32; 12];
        if let Some(b) = bass_pc {
            bass[(b % 12) as usize] = 1.0;
        }
        let mut best = (self.min_score, ChordLabel::NONE);
        for label in all_labels() {
            let score = fit(label, &x, &bass);
            if score > best.0 {
                best = (score, label);
            }
        }
        (best.1, best.0.clamp(0.0, 1.0))
    }

    /// Chord spans over the whole song, each inside one bar.
    pub fn extract(&self, notes: &[NoteEvent], global: &GlobalInfo) -> Vec<ChordSpan> {
        let weighted: Vec<(&NoteEvent, f32)> = notes.iter().map(|n| (n, 1.0)).collect();
        self.extract_weighted(&weighted, global)
    }

    /// Like [`ChordExtractor::extract`], each note's duration scaled by its
    /// weight (e.g. melody notes count less: they carry passing tones).
    pub fn extract_weighted(
        &self,
        notes: &[(&NoteEvent, f32)],
        global: &GlobalInfo,
    ) -> Vec<ChordSpan> {
        let notes = weighted_notes(notes);
        let mut analysis = self.frames(&notes, global);
        analysis.spans = self.segment(&analysis, global, |_| None);
        analysis.spans
    }

    /// Beat phase, frame grid and frame profiles (no chords yet).
    pub fn frames(&self, notes: &[WeightedNote], global: &GlobalInfo) -> ChordAnalysis {
        let phase = beat_phase(notes, global.ppq);
        let end = notes.iter().map(|n| n.end_tick).max().unwrap_or(0);
        let grid = FrameGrid::new(global.ppq, phase, end, self.frames_per_beat);
        let profiles = frame_profiles(notes, &grid);
        ChordAnalysis {
            spans: Vec::new(),
            grid,
            profiles,
        }
    }

    /// Viterbi segmentation of the frames; `key_of(frame)` gives the key a
    /// frame lies in, if known.
    pub fn segment(
        &self,
        analysis: &ChordAnalysis,
        global: &GlobalInfo,
        key_of: impl Fn(usize) -> Option<Key>,
    ) -> Vec<ChordSpan> {
        let labels = all_labels();
        let n_states = labels.len() + 1; // + "N", the last state
        let grid = &analysis.grid;
        let bar_ticks = bar_ticks(global);
        let mut score = vec![0f32; n_states];
        let mut emit = vec![0f32; n_states];
        let mut trace = Trace::new(grid.count, n_states);
        for f in 0..grid.count {
            self.emissions(analysis, f, &labels, key_of(f), &mut emit);
            let cost = self.change_cost(grid, f, &bar_ticks);
            let (best_prev, best_score) = argmax(&score);
            trace.from[f] = best_prev as u16;
            let switch = best_score - cost;
            for s in 0..n_states {
                if f == 0 {
                    score[s] = emit[s];
                } else if score[s] >= switch {
                    trace.set_stay(f, s);
                    score[s] += emit[s];
                } else {
                    score[s] = switch + emit[s];
                }
            }
        }
        let path = trace.backtrack(argmax(&score).0);
        self.spans(analysis, global, &labels, &path, &bar_ticks)
    }

    /// Frame `f`'s score for every state, scaled by how much sounds in it.
    fn emissions(
        &self,
        analysis: &ChordAnalysis,
        f: usize,
        labels: &[ChordLabel],
        key: Option<Key>,
        out: &mut [f32],
    ) {
        let p = &analysis.profiles;
        let (x, total) = normalise(&p.pcs[f]);
        let (bass, _) = normalise(&p.bass[f]);
        let n = labels.len();
        if total <= 0.0 {
            out.fill(0.0);
            out[n] = SILENCE_NO_CHORD;
            return;
        }
        let voices = total / analysis.grid.len as f32;
        let mass = (voices.min(3.0) / 3.0).sqrt();
        for (i, label) in labels.iter().enumerate() {
            let prior = key.map_or(0.0, |k| self.key_weight * key_prior(*label, k));
            out[i] = mass * (fit(*label, &x, &bass) + prior);
        }
        out[n] = mass * self.min_score;
    }

    /// Cost of a chord change at the start of frame `f`.
    fn change_cost(&self, grid: &FrameGrid, f: usize, bar_ticks: &[i64]) -> f32 {
        let on_grid = grid.start(f) - grid.phase;
        if bar_ticks.binary_search(&on_grid).is_ok() {
            self.change_cost_bar
        } else if (grid.first + f as i64).rem_euclid(grid.per_beat) == 0 {
            self.change_cost_beat
        } else {
            self.change_cost_offbeat
        }
    }

    /// Runs of equal states → spans (split at bar lines), with confidence
    /// from the chord's margin over the runner-up across the run.
    fn spans(
        &self,
        analysis: &ChordAnalysis,
        global: &GlobalInfo,
        labels: &[ChordLabel],
        path: &[u16],
        bar_ticks: &[i64],
    ) -> Vec<ChordSpan> {
        let grid = &analysis.grid;
        let mut spans: Vec<ChordSpan> = Vec::new();
        let mut run_start = 0;
        for f in 1..=path.len() {
            let bar_line = f < path.len()
                && bar_ticks
                    .binary_search(&(grid.start(f) - grid.phase))
                    .is_ok();
            if f < path.len() && path[f] == path[run_start] && !bar_line {
                continue;
            }
            let state = path[run_start] as usize;
            let label = labels.get(state).copied().unwrap_or(ChordLabel::NONE);
            let start_step = crate::midi::tick_to_step(grid.start_tick(run_start), global.ppq);
            let end_step = crate::midi::tick_to_step(grid.start_tick(f), global.ppq);
            if end_step > start_step {
                let confidence = self.confidence(analysis, labels, label, run_start..f);
                spans.push(ChordSpan {
                    time_start: 0.0,
                    bar_start: global.position_of(start_step).bar,
                    step_start: start_step,
                    duration_steps: end_step - start_step,
                    chord: ChordInfo::from_label(label, confidence),
                });
            }
            run_start = f;
        }
        spans
    }

    /// In [0, 1]: 0.5 when the runner-up fits the run as well, 1 when the
    /// chord wins by a full template score per frame.
    fn confidence(
        &self,
        analysis: &ChordAnalysis,
        labels: &[ChordLabel],
        label: ChordLabel,
        frames: std::ops::Range<usize>,
    ) -> f32 {
        let mut totals = vec![0f32; labels.len()];
        let mut sounding = 0.0;
        for f in frames.clone() {
            let (x, total) = normalise(&analysis.profiles.pcs[f]);
            if total <= 0.0 {
                continue;
            }
            sounding += 1.0;
            let (bass, _) = normalise(&analysis.profiles.bass[f]);
            for (t, l) in totals.iter_mut().zip(labels) {
                *t += fit(*l, &x, &bass);
            }
        }
        if sounding == 0.0 {
            return 1.0;
        }
        let ours = labels
            .iter()
            .position(|l| *l == label)
            .map_or(self.min_score * sounding, |i| totals[i]);
        let runner_up = labels
            .iter()
            .zip(&totals)
            .filter(|(l, _)| **l != label)
            .map(|(_, t)| *t)
            .fold(self.min_score * sounding, f32::max);
        (0.5 + 0.5 * (ours - runner_up) / sounding).clamp(0.0, 1.0)
    }
}

/// Viterbi back-pointers: one "stayed" bit per (frame, state) and the best
/// previous state per frame (every switch comes from it).
struct Trace {
    words: usize,
    stay: Vec<u64>,
    from: Vec<u16>,
}

impl Trace {
    fn new(frames: usize, states: usize) -> Self {
        let words = states.div_ceil(64);
        Trace {
            words,
            stay: vec![0; frames * words],
            from: vec![0; frames],
        }
    }

    fn set_stay(&mut self, f: usize, s: usize) {
        self.stay[f * self.words + s / 64] |= 1 << (s % 64);
    }

    fn stayed(&self, f: usize, s: usize) -> bool {
        self.stay[f * self.words + s / 64] & (1 << (s % 64)) != 0
    }

    fn backtrack(&self, last: usize) -> Vec<u16> {
        let mut path = vec![0u16; self.from.len()];
        let mut s = last;
        for f in (0..self.from.len()).rev() {
            path[f] = s as u16;
            if !self.stayed(f, s) {
                s = self.from[f] as usize;
            }
        }
        path
    }
}

fn argmax(v: &[f32]) -> (usize, f32) {
    v.iter()
        .copied()
        .enumerate()
        .fold((0, f32::MIN), |a, b| if b.1 > a.1 { b } else { a })
}

/// The song's bar lines in ticks, on the file's grid.
fn bar_ticks(global: &GlobalInfo) -> Vec<i64> {
    let ppq = global.ppq.max(1) as i64;
    global
        .bar_starts
        .iter()
        .map(|s| *s as i64 * ppq / 4)
        .collect()
}

/// Notes with their weights, in ticks.
pub fn weighted_notes(notes: &[(&NoteEvent, f32)]) -> Vec<WeightedNote> {
    notes
        .iter()
        .map(|(n, w)| WeightedNote {
            start_tick: n.onset_tick,
            end_tick: n.onset_tick + n.duration_ticks.max(1),
            pitch: n.pitch,
            weight: *w,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theory::{ChordQuality, Key, Mode};

    /// Block chords, one per bar, voiced from `pitches` (lowest first).
    fn song(chords: &[Vec<u8>]) -> (Vec<NoteEvent>, GlobalInfo) {
        let mut notes = vec![];
        for (bar, pitches) in chords.iter().enumerate() {
            for p in pitches {
                let step = bar as u32 * 16;
                notes.push(NoteEvent {
                    onset_seconds: 0.0,
                    duration_seconds: 0.0,
                    onset_tick: step as u64 * 120,
                    duration_ticks: 16 * 120,
                    onset_step: step,
                    duration_steps: 16,
                    bar: bar as u32,
                    beat: 0,
                    substep: 0,
                    pitch: *p,
                    velocity: 90,
                });
            }
        }
        let n = chords.len() as u32;
        let global = GlobalInfo {
            tempo_map: vec![(0.0, 120.0)],
            time_signature_map: vec![(0.0, (4, 4))],
            ppq: 480,
            duration_seconds: n as f64 * 2.0,
            bar_starts: (0..=n).map(|b| b * 16).collect(),
        };
        (notes, global)
    }

    /// Voices `label` from `base` with `inversion` (0 = root position).
    fn voice(label: ChordLabel, base: u8, inversion: usize) -> Vec<u8> {
        let mut pcs: Vec<u8> = label
            .quality
            .intervals()
            .iter()
            .map(|i| base + label.root + i)
            .collect();
        for _ in 0..inversion.min(pcs.len() - 1) {
            let low = pcs.remove(0);
            pcs.push(low + 12);
        }
        pcs
    }

    #[test]
    fn labelled_progressions_are_recognised() {
        let mut total = 0;
        let mut right = 0;
        for tonic in [0u8, 2, 5, 7, 9, 10] {
            for mode in [Mode::Major, Mode::Minor] {
                let key = Key::new(tonic, mode);
                // I–vi–IV–V in triads and ii7–V7–Imaj7 with sevenths.
                let mut labels: Vec<ChordLabel> = [0, 5, 3, 4]
                    .iter()
                    .map(|d| key.diatonic_triad(*d))
                    .collect();
                labels.extend([1, 4, 0].iter().map(|d| key.diatonic_seventh(*d)));
                let voiced: Vec<Vec<u8>> = labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        // Root-position bass note plus an inverted upper voicing.
                        let mut v = voice(*l, 48, i % 3);
                        v.insert(0, 36 + l.root);
                        v
                    })
                    .collect();
                let (notes, global) = song(&voiced);
                let spans = ChordExtractor::new().extract(&notes, &global);
                for (bar, label) in labels.iter().enumerate() {
                    for half in 0..2 {
                        total += 1;
                        let step = bar as u32 * 16 + half * 8;
                        let got = spans
                            .iter()
                            .find(|s| {
                                s.step_start <= step && step < s.step_start + s.duration_steps
                            })
                            .map(|s| s.chord.label());
                        if got == Some(*label) {
                            right += 1;
                        }
                    }
                }
            }
        }
        let accuracy = right as f64 / total as f64;
        println!(
            "chord accuracy on labelled progressions: {right}/{total} = {:.1}%",
            accuracy * 100.0
        );
        assert!(accuracy >= 0.95, "accuracy {accuracy}");
    }

    #[test]
    fn inversions_without_bass_keep_the_root() {
        let x = ChordExtractor::new();
        let mut w = [0f32; 12];
        for pc in [4, 7, 0] {
            w[pc] = 1.0;
        }
        // C major in first inversion (E in the bass).
        assert_eq!(
            x.label_window(&w, Some(4)).0,
            ChordLabel::new(0, ChordQuality::Maj)
        );
        assert_eq!(x.label_window(&[0.0; 12], None).0, ChordLabel::NONE);
    }

    #[test]
    fn spans_merge_and_stay_inside_bars() {
        let c = vec![48, 52, 55];
        let (notes, global) = song(&[c.clone(), c]);
        let spans = ChordExtractor::new().extract(&notes, &global);
        assert_eq!(spans.len(), 2);
        assert!(spans.iter().all(|s| s.duration_steps == 16));
    }
}
