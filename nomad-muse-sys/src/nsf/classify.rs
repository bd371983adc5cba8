//! Track classification from channel, GM program, register, polyphony, note
//! density and name, each piece of evidence recorded as a human-readable
//! reason.

use super::{Classification, TrackType};
use crate::midi::MidiTrackData;

/// Scores a logical MIDI track as drums, bass, melody, harmony or other.
#[derive(Debug, Clone)]
pub struct TrackClassifier {
    /// Resolution of the file the tracks come from (for notes per bar).
    ppq: u16,
}

impl Default for TrackClassifier {
    fn default() -> Self {
        TrackClassifier { ppq: 480 }
    }
}

/// Per-class evidence scores.
#[derive(Default)]
struct Scores {
    bass: f32,
    melody: f32,
    harmony: f32,
    other: f32,
    reasons: Vec<String>,
}

/// GM percussion channel (channel 10, index 9).
const DRUM_CHANNEL: u8 = 9;
/// Register below which a line reads as bass (G3).
const BASS_MEDIAN_BELOW: u8 = 55;
/// GM drum-map range; a "drums" name only counts when every note lies in it.
const GM_DRUM_KEYS: std::ops::RangeInclusive<u8> = 27..=87;

/// Mean number of notes sounding at each note onset (the note included).
pub fn mean_polyphony(track: &MidiTrackData) -> f32 {
    if track.notes.is_empty() {
        return 0.0;
    }
    let mut starts: Vec<u64> = track.notes.iter().map(|n| n.start_tick).collect();
    let mut ends: Vec<u64> = track.notes.iter().map(|n| n.end_tick).collect();
    starts.sort_unstable();
    ends.sort_unstable();
    // Sounding at t = started at or before t minus ended at or before t.
    let total: usize = starts
        .iter()
        .map(|t| starts.partition_point(|s| s <= t) - ends.partition_point(|e| e <= t))
        .sum();
    total as f32 / track.notes.len() as f32
}

fn median_pitch(track: &MidiTrackData) -> u8 {
    let mut p: Vec<u8> = track.notes.iter().map(|n| n.pitch).collect();
    p.sort_unstable();
    p.get(p.len() / 2).copied().unwrap_or(60)
}

/// Notes per 4/4 bar over the span the track plays.
fn notes_per_bar(track: &MidiTrackData, ppq: u16) -> f32 {
    let first = track.notes.iter().map(|n| n.start_tick).min().unwrap_or(0);
    let last = track.notes.iter().map(|n| n.end_tick).max().unwrap_or(0);
    let bar_ticks = 4 * ppq.max(1) as u64;
    let bars = (last.saturating_sub(first)).div_ceil(bar_ticks).max(1);
    track.notes.len() as f32 / bars as f32
}

impl TrackClassifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `ppq` to measure note density in bars.
    pub fn with_ppq(mut self, ppq: u16) -> Self {
        self.ppq = ppq.max(1);
        self
    }

    pub fn classify(&self, track: &MidiTrackData) -> Classification {
        let name = track.name.to_lowercase();
        if track.channel == DRUM_CHANNEL {
            return Classification {
                kind: TrackType::Drums,
                confidence: 0.95,
                reasons: vec!["GM percussion channel".into()],
            };
        }
        let named_drums = ["drum", "perc", "kit"].iter().find(|h| name.contains(*h));
        if let Some(hint) = named_drums {
            if !track.notes.is_empty()
                && track.notes.iter().all(|n| GM_DRUM_KEYS.contains(&n.pitch))
            {
                return Classification {
                    kind: TrackType::Drums,
                    confidence: 0.6,
                    reasons: vec![
                        format!("name contains \"{hint}\""),
                        "all notes in the GM drum-map range".into(),
                    ],
                };
            }
        }
        let mut s = Scores::default();
        self.score_program(track, &mut s);
        self.score_notes(track, &mut s);
        for (hint, kind) in [
            ("bass", TrackType::Bass),
            ("melody", TrackType::Melody),
            ("lead", TrackType::Melody),
            ("vocal", TrackType::Melody),
            ("voice", TrackType::Melody),
            ("chord", TrackType::Harmony),
            ("pad", TrackType::Harmony),
            ("keys", TrackType::Harmony),
            ("piano", TrackType::Harmony),
            ("comp", TrackType::Harmony),
        ] {
            if name.contains(hint) {
                match kind {
                    TrackType::Bass => s.bass += 1.5,
                    TrackType::Melody => s.melody += 1.5,
                    _ => s.harmony += 1.5,
                }
                s.reasons.push(format!("name contains \"{hint}\""));
            }
        }
        let ranked = [
            (TrackType::Bass, s.bass),
            (TrackType::Melody, s.melody),
            (TrackType::Harmony, s.harmony),
            (TrackType::Other, s.other),
        ];
        let (kind, best) = ranked
            .iter()
            .copied()
            .fold(
                (TrackType::Other, f32::MIN),
                |a, b| if b.1 > a.1 { b } else { a },
            );
        // Softmax share of the winning class.
        let denom: f32 = ranked.iter().map(|(_, v)| (v - best).exp()).sum();
        Classification {
            kind,
            confidence: (1.0 / denom).clamp(0.0, 1.0),
            reasons: s.reasons,
        }
    }

    fn score_program(&self, track: &MidiTrackData, s: &mut Scores) {
        let Some(p) = track.program else { return };
        let family = match p {
            32..=39 => {
                s.bass += 2.0;
                "bass"
            }
            0..=7 | 16..=31 | 48..=55 | 88..=95 => {
                s.harmony += 0.5;
                s.melody += 0.3;
                "keys/organ/guitar/strings/pad"
            }
            56..=87 => {
                s.melody += 1.0;
                "lead instrument"
            }
            112..=127 => {
                s.other += 1.5;
                "percussive/effects"
            }
            _ => return,
        };
        s.reasons.push(format!("GM program {p} ({family})"));
    }

    fn score_notes(&self, track: &MidiTrackData, s: &mut Scores) {
        let median = median_pitch(track);
        if median < BASS_MEDIAN_BELOW {
            s.bass += 1.5;
            s.reasons
                .push(format!("median pitch {median} below {BASS_MEDIAN_BELOW}"));
        } else {
            s.melody += 0.5;
            s.harmony += 0.5;
            s.reasons.push(format!("median pitch {median}"));
        }
        let poly = mean_polyphony(track);
        if poly >= 2.0 {
            s.harmony += 2.0;
            s.bass -= 1.0;
            s.melody -= 1.0;
        } else if poly <= 1.2 {
            s.melody += 1.0;
            s.bass += 0.5;
            s.harmony -= 1.0;
        }
        s.reasons.push(format!("polyphony {poly:.1}"));
        let density = notes_per_bar(track, self.ppq);
        if density < 0.5 {
            // A note every other bar or less: a sound effect or a stray hit.
            s.other += 1.5;
            s.reasons
                .push(format!("sparse: {density:.2} notes per bar"));
        } else if density >= 4.0 && poly <= 1.2 {
            // Busy single lines are tunes or bass lines, rarely comping.
            s.melody += 0.5;
            s.bass += 0.25;
            s.reasons
                .push(format!("density {density:.1} notes per bar"));
        } else {
            s.reasons
                .push(format!("density {density:.1} notes per bar"));
        }
        if track.notes.len() < 4 {
            s.other += 2.0;
            s.reasons.push(format!("only {} notes", track.notes.len()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::RawNote;

    fn track(
        name: &str,
        channel: u8,
        program: Option<u8>,
        notes: &[(u64, u64, u8)],
    ) -> MidiTrackData {
        MidiTrackData {
            name: name.into(),
            channel,
            program,
            notes: notes
                .iter()
                .map(|(s, e, p)| RawNote {
                    channel,
                    pitch: *p,
                    velocity: 90,
                    start_tick: *s,
                    end_tick: *e,
                })
                .collect(),
        }
    }

    /// 16 eighth-ish notes a quarter apart (480 ppq) walking up from `base`.
    fn line(base: u8) -> Vec<(u64, u64, u8)> {
        (0..16)
            .map(|i| (i * 480, i * 480 + 400, base + (i % 5) as u8))
            .collect()
    }

    /// One held triad per bar for 8 bars.
    fn block_chords() -> Vec<(u64, u64, u8)> {
        (0..8)
            .flat_map(|i| [60u8, 64, 67].map(|p| (i * 1920, i * 1920 + 1900, p)))
            .collect()
    }

    fn classify(t: &MidiTrackData) -> Classification {
        TrackClassifier::new().with_ppq(480).classify(t)
    }

    #[test]
    fn channel_ten_is_drums() {
        let drums = classify(&track("x", 9, None, &[(0, 10, 36)]));
        assert_eq!(drums.kind, TrackType::Drums);
        assert_eq!(drums.reasons, vec!["GM percussion channel"]);
    }

    #[test]
    fn a_named_kit_on_another_channel_is_drums_only_in_the_drum_range() {
        let kit = classify(&track("Drum Kit", 3, None, &line(36)));
        assert_eq!(kit.kind, TrackType::Drums);
        let not_kit = classify(&track("Drum Kit", 3, None, &line(90)));
        assert_ne!(not_kit.kind, TrackType::Drums);
    }

    #[test]
    fn low_line_with_bass_program_is_bass() {
        let bass = classify(&track("Track 2", 1, Some(33), &line(36)));
        assert_eq!(bass.kind, TrackType::Bass);
        assert!(
            bass.reasons.iter().any(|r| r == "median pitch 38 below 55"),
            "{:?}",
            bass.reasons
        );
        assert!(bass.reasons.iter().any(|r| r == "GM program 33 (bass)"));
        // Without a program, register and the name still decide.
        let named = classify(&track("Synth Bass", 0, None, &line(40)));
        assert_eq!(named.kind, TrackType::Bass);
    }

    #[test]
    fn high_single_line_is_melody() {
        let melody = classify(&track("Track 3", 0, Some(73), &line(72)));
        assert_eq!(melody.kind, TrackType::Melody);
        assert!(
            melody.reasons.iter().any(|r| r == "polyphony 1.0"),
            "{:?}",
            melody.reasons
        );
        assert!(melody.confidence > 0.5);
    }

    #[test]
    fn block_chords_are_harmony() {
        let harmony = classify(&track("Track 4", 2, Some(0), &block_chords()));
        assert_eq!(harmony.kind, TrackType::Harmony);
        assert!(
            harmony.reasons.iter().any(|r| r == "polyphony 3.0"),
            "{:?}",
            harmony.reasons
        );
        assert!(harmony.confidence > 0.5 && harmony.confidence <= 1.0);
    }

    #[test]
    fn a_few_effect_notes_are_other() {
        let fx = classify(&track(
            "Track 5",
            4,
            Some(122),
            &[(0, 100, 60), (19200, 19300, 62)],
        ));
        assert_eq!(fx.kind, TrackType::Other);
        assert!(
            fx.reasons.iter().any(|r| r.starts_with("sparse")),
            "{:?}",
            fx.reasons
        );
        assert!(fx.reasons.iter().any(|r| r == "only 2 notes"));
    }

    #[test]
    fn polyphony_counts_notes_sounding_at_each_onset() {
        // A long note with two short ones inside it, then a lone note.
        let t = track(
            "",
            0,
            None,
            &[(0, 100, 60), (10, 20, 64), (20, 30, 67), (200, 210, 60)],
        );
        // Onsets: 0 → 1, 10 → 2, 20 → 2 (64 ended at 20), 200 → 1.
        assert!((mean_polyphony(&t) - 1.5).abs() < 1e-6);
        assert_eq!(mean_polyphony(&track("", 0, None, &[])), 0.0);
    }
}
