//! Chord extraction: template matching of duration-weighted pitch-class
//! profiles over harmonic windows, merged while the label is unchanged.

use super::{ChordInfo, ChordSpan, GlobalInfo, NoteEvent, STEPS_PER_BEAT};
use crate::theory::{ChordLabel, ChordQuality};

#[derive(Debug, Clone)]
pub struct ChordExtractor {
    /// Window length in beats (1 = beat windows, 2 = half a 4/4 bar).
    pub window_beats: u32,
    /// Below this template score a window is "N".
    pub min_score: f32,
}

impl Default for ChordExtractor {
    fn default() -> Self {
        Self::new()
    }
}

/// Penalty weight of pitch-class mass outside the chord.
const OUTSIDE_PENALTY: f32 = 1.0;
/// Penalty per chord tone that does not sound; a tone weaker than
/// `WEAK_TONE` × the chord tones' mean weight is penalised in proportion, so
/// a passing melody note does not turn a triad into a seventh chord.
const MISSING_PENALTY: f32 = 0.3;
const WEAK_TONE: f32 = 0.75;
/// Bonus when the lowest note is the chord root (root position is most common).
const BASS_ROOT_BONUS: f32 = 0.1;

impl ChordExtractor {
    pub fn new() -> Self {
        ChordExtractor {
            window_beats: 2,
            min_score: 0.3,
        }
    }

    /// Labels one window from its pitch-class weights and lowest pitch class.
    pub fn label_window(&self, pc_weights: &[f32; 12], bass_pc: Option<u8>) -> (ChordLabel, f32) {
        let total: f32 = pc_weights.iter().sum();
        if total <= 0.0 {
            return (ChordLabel::NONE, 1.0);
        }
        let w: Vec<f32> = pc_weights.iter().map(|x| x / total).collect();
        let mut best = (f32::MIN, ChordLabel::NONE);
        for root in 0..12u8 {
            for quality in ChordQuality::SOUNDING {
                let label = ChordLabel::new(root, quality);
                let tones = label.pitch_classes();
                let inside: f32 = tones.iter().map(|pc| w[*pc as usize]).sum();
                let threshold = WEAK_TONE * inside / tones.len() as f32;
                let missing: f32 = tones
                    .iter()
                    .map(|pc| {
                        if threshold > 0.0 {
                            (1.0 - w[*pc as usize] / threshold).max(0.0)
                        } else {
                            1.0
                        }
                    })
                    .sum();
                let mut score =
                    inside - OUTSIDE_PENALTY * (1.0 - inside) - MISSING_PENALTY * missing;
                if bass_pc == Some(root) {
                    score += BASS_ROOT_BONUS;
                }
                if score > best.0 {
                    best = (score, label);
                }
            }
        }
        if best.0 < self.min_score {
            (ChordLabel::NONE, (1.0 - best.0.max(0.0)).clamp(0.0, 1.0))
        } else {
            (best.1, best.0.clamp(0.0, 1.0))
        }
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
        let window = self.window_beats.max(1) * STEPS_PER_BEAT;
        let mut spans: Vec<ChordSpan> = Vec::new();
        let mut sorted: Vec<(&NoteEvent, f32)> = notes.to_vec();
        sorted.sort_by_key(|(n, _)| n.onset_step);
        let bar_count = global.bar_count();
        for bar in 0..bar_count {
            let bar_start = global.bar_start_step(bar);
            let bar_end = bar_start + global.bar_length(bar);
            let mut start = bar_start;
            while start < bar_end {
                let end = (start + window).min(bar_end);
                let mut weights = [0f32; 12];
                let mut bass: Option<u8> = None;
                // Notes are sorted by onset; anything starting at or after `end` is irrelevant.
                for (n, weight) in sorted.iter().take_while(|(n, _)| n.onset_step < end) {
                    let (s, e) = (
                        n.onset_step.max(start),
                        (n.onset_step + n.duration_steps).min(end),
                    );
                    if e > s {
                        weights[(n.pitch % 12) as usize] += (e - s) as f32 * weight;
                        bass = Some(bass.map_or(n.pitch, |b: u8| b.min(n.pitch)));
                    }
                }
                let (label, confidence) = self.label_window(&weights, bass.map(|b| b % 12));
                match spans.last_mut() {
                    Some(last)
                        if last.chord.label() == label
                            && last.bar_start == bar
                            && last.step_start + last.duration_steps == start =>
                    {
                        last.duration_steps += end - start;
                        last.chord.confidence = last.chord.confidence.min(confidence);
                    }
                    _ => spans.push(ChordSpan {
                        time_start: 0.0,
                        bar_start: bar,
                        step_start: start,
                        duration_steps: end - start,
                        chord: ChordInfo::from_label(label, confidence),
                    }),
                }
                start = end;
            }
        }
        spans
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theory::{Key, Mode};

    /// Block chords, one per bar, voiced from `pitches` (lowest first).
    fn song(chords: &[Vec<u8>]) -> (Vec<NoteEvent>, GlobalInfo) {
        let mut notes = vec![];
        for (bar, pitches) in chords.iter().enumerate() {
            for p in pitches {
                let step = bar as u32 * 16;
                notes.push(NoteEvent {
                    onset_seconds: 0.0,
                    duration_seconds: 0.0,
                    onset_tick: 0,
                    duration_ticks: 0,
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
