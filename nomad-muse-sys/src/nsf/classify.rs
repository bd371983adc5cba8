//! Track classification from channel, GM program, register, polyphony and
//! name, each piece of evidence recorded as a human-readable reason.

use super::{Classification, TrackType};
use crate::midi::MidiTrackData;

#[derive(Debug, Clone, Default)]
pub struct TrackClassifier;

/// Per-class evidence scores.
#[derive(Default)]
struct Scores {
    bass: f32,
    melody: f32,
    harmony: f32,
    other: f32,
    reasons: Vec<String>,
}

/// Mean number of notes sounding at each note onset.
pub fn mean_polyphony(track: &MidiTrackData) -> f32 {
    if track.notes.is_empty() {
        return 0.0;
    }
    let total: usize = track
        .notes
        .iter()
        .map(|n| track.notes.iter().filter(|m| m.start_tick <= n.start_tick && n.start_tick < m.end_tick).count())
        .sum();
    total as f32 / track.notes.len() as f32
}

fn median_pitch(track: &MidiTrackData) -> u8 {
    let mut p: Vec<u8> = track.notes.iter().map(|n| n.pitch).collect();
    p.sort_unstable();
    p.get(p.len() / 2).copied().unwrap_or(60)
}

impl TrackClassifier {
    pub fn new() -> Self {
        TrackClassifier
    }

    pub fn classify(&self, track: &MidiTrackData) -> Classification {
        if track.channel == 9 {
            return Classification {
                kind: TrackType::Drums,
                confidence: 0.95,
                reasons: vec!["GM percussion channel".into()],
            };
        }
        let mut s = Scores::default();
        let name = track.name.to_lowercase();
        let median = median_pitch(track);
        let poly = mean_polyphony(track);

        if let Some(p) = track.program {
            match p {
                32..=39 => {
                    s.bass += 2.0;
                    s.reasons.push(format!("GM program {p} (bass)"));
                }
                0..=7 | 16..=23 | 24..=31 | 48..=55 | 88..=95 => {
                    s.harmony += 0.5;
                    s.melody += 0.3;
                    s.reasons.push(format!("GM program {p} (keys/guitar/strings/pad)"));
                }
                56..=87 => {
                    s.melody += 1.0;
                    s.reasons.push(format!("GM program {p} (lead instrument)"));
                }
                112..=127 => {
                    s.other += 1.5;
                    s.reasons.push(format!("GM program {p} (effects/percussive)"));
                }
                _ => {}
            }
        }
        if median < 55 {
            s.bass += 1.5;
            s.reasons.push(format!("median pitch {median} below 55"));
        } else {
            s.melody += 0.5;
            s.harmony += 0.5;
            s.reasons.push(format!("median pitch {median}"));
        }
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
        for (hint, slot) in [("bass", 0), ("melody", 1), ("lead", 1), ("vocal", 1), ("chord", 2), ("pad", 2), ("keys", 2)]
        {
            if name.contains(hint) {
                match slot {
                    0 => s.bass += 1.5,
                    1 => s.melody += 1.5,
                    _ => s.harmony += 1.5,
                }
                s.reasons.push(format!("name contains \"{hint}\""));
            }
        }
        if track.notes.len() < 4 {
            s.other += 2.0;
            s.reasons.push(format!("only {} notes", track.notes.len()));
        }
        let ranked = [
            (TrackType::Bass, s.bass),
            (TrackType::Melody, s.melody),
            (TrackType::Harmony, s.harmony),
            (TrackType::Other, s.other),
        ];
        let (kind, best) = ranked.iter().copied().fold((TrackType::Other, f32::MIN), |a, b| if b.1 > a.1 { b } else { a });
        // Softmax share of the winning class.
        let denom: f32 = ranked.iter().map(|(_, v)| (v - best).exp()).sum();
        Classification { kind, confidence: (1.0 / denom).clamp(0.0, 1.0), reasons: s.reasons }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::RawNote;

    fn track(name: &str, channel: u8, program: Option<u8>, notes: &[(u64, u64, u8)]) -> MidiTrackData {
        MidiTrackData {
            name: name.into(),
            channel,
            program,
            notes: notes
                .iter()
                .map(|(s, e, p)| RawNote { channel, pitch: *p, velocity: 90, start_tick: *s, end_tick: *e })
                .collect(),
        }
    }

    #[test]
    fn each_class_is_recognised_with_reasons() {
        let drums = TrackClassifier::new().classify(&track("x", 9, None, &[(0, 10, 36)]));
        assert_eq!(drums.kind, TrackType::Drums);
        assert_eq!(drums.reasons, vec!["GM percussion channel"]);

        let line = |base: u8| -> Vec<(u64, u64, u8)> { (0..16).map(|i| (i * 480, i * 480 + 400, base + (i % 5) as u8)).collect() };
        let bass = TrackClassifier::new().classify(&track("Track 2", 1, Some(33), &line(36)));
        assert_eq!(bass.kind, TrackType::Bass);
        assert!(bass.reasons.iter().any(|r| r.contains("below 55")));

        let melody = TrackClassifier::new().classify(&track("Track 3", 0, Some(73), &line(72)));
        assert_eq!(melody.kind, TrackType::Melody);

        let chords: Vec<(u64, u64, u8)> =
            (0..8).flat_map(|i| [60u8, 64, 67].map(|p| (i * 1920, i * 1920 + 1900, p))).collect();
        let harmony = TrackClassifier::new().classify(&track("Track 4", 2, Some(0), &chords));
        assert_eq!(harmony.kind, TrackType::Harmony);
        assert!(harmony.reasons.iter().any(|r| r.starts_with("polyphony 3.0")));
        assert!(harmony.confidence > 0.5 && harmony.confidence <= 1.0);
    }
}
