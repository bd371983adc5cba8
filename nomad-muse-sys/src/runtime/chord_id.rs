//! Chord ID for hosts: a MIDI clip's chords and key, by the very analysis
//! `prepare` runs (MIDI → NSF: chord extraction and key detection), so a
//! host can fill its chord track from a clip.

use crate::nsf::{midi_to_nsf, Nsf};
use crate::theory::{ChordLabel, Key};

use super::band::{ChordChange, ChordTrack, TimeSignature};
use super::MuseError;

/// One chord of the clip, on the clip's bar grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdentifiedChord {
    pub bar: u32,
    /// Quarter-note beat within the bar.
    pub beat: u32,
    /// Length in 16th steps.
    pub duration_steps: u32,
    /// `ChordLabel::NONE` where no chord is clear.
    pub chord: ChordLabel,
    pub confidence: f32,
}

/// A stretch of the clip in one key, from `bar` on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeySegment {
    pub bar: u32,
    pub key: Key,
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChordAnalysis {
    pub chords: Vec<IdentifiedChord>,
    pub keys: Vec<KeySegment>,
    /// The clip's first time signature.
    pub time_signature: (u8, u8),
    pub bars: u32,
}

/// Analyses a MIDI file's bytes. A broken file is an error.
pub fn identify_chords(midi: &[u8]) -> Result<ChordAnalysis, MuseError> {
    let nsf = midi_to_nsf(midi, "clip").map_err(|e| MuseError::InvalidArgument(e.to_string()))?;
    Ok(analysis_of(&nsf))
}

fn analysis_of(nsf: &Nsf) -> ChordAnalysis {
    let chords = nsf
        .chords
        .iter()
        .map(|c| {
            let pos = nsf.global.position_of(c.step_start);
            IdentifiedChord {
                bar: pos.bar,
                beat: pos.beat,
                duration_steps: c.duration_steps,
                chord: c.chord.label(),
                confidence: c.chord.confidence,
            }
        })
        .collect();
    // Files converted before key segments existed have none: the song's key.
    let mut keys: Vec<KeySegment> = nsf
        .key_segments
        .iter()
        .map(|s| KeySegment {
            bar: s.bar_start,
            key: s.key.key(),
            confidence: s.key.confidence,
        })
        .collect();
    if keys.is_empty() {
        keys.push(KeySegment {
            bar: 0,
            key: nsf.key.key(),
            confidence: nsf.key.confidence,
        });
    }
    ChordAnalysis {
        chords,
        keys,
        time_signature: nsf
            .global
            .time_signature_map
            .first()
            .map_or((4, 4), |(_, s)| *s),
        bars: nsf.global.bar_count(),
    }
}

impl ChordAnalysis {
    /// The chords as a chord track for a song in `metre` (a change per
    /// identified chord; steps off the beat are moved to their beat).
    pub fn to_chord_track(
        &self,
        metre: TimeSignature,
        repeat: bool,
    ) -> Result<ChordTrack, MuseError> {
        let mut changes: Vec<ChordChange> = Vec::new();
        for c in &self.chords {
            let beat = c.beat.min(metre.beats_per_bar() - 1);
            if changes
                .last()
                .is_some_and(|l| (l.bar, l.beat) >= (c.bar, beat))
            {
                continue;
            }
            changes.push(ChordChange {
                bar: c.bar,
                beat,
                chord: Some(c.chord),
            });
        }
        ChordTrack::new(changes, self.bars.max(1), repeat, metre)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{write_smf, MidiNote, MidiSongSpec, MidiTrackSpec};
    use crate::theory::{ChordQuality, Mode};

    /// Block chords, one per bar, as a MIDI file.
    fn progression(chords: &[ChordLabel]) -> Vec<u8> {
        let notes = chords
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                c.pitch_classes().into_iter().map(move |pc| MidiNote {
                    tick: i as u64 * 1920,
                    duration: 1900,
                    pitch: 48 + pc,
                    velocity: 80,
                    channel: 0,
                })
            })
            .collect();
        write_smf(&MidiSongSpec {
            ppq: 480,
            tempo_changes: vec![(0, 120.0)],
            time_signatures: vec![(0, 4, 4)],
            tracks: vec![MidiTrackSpec {
                name: "pad".into(),
                channel: 0,
                program: Some(0),
                notes,
            }],
        })
        .unwrap()
    }

    #[test]
    fn a_clip_gives_its_chords_key_and_a_chord_track() {
        use ChordQuality::*;
        let want = [
            ChordLabel::new(0, Maj),
            ChordLabel::new(9, Min),
            ChordLabel::new(5, Maj),
            ChordLabel::new(7, Maj),
            ChordLabel::new(0, Maj),
        ];
        let a = identify_chords(&progression(&want)).unwrap();
        let found: Vec<ChordLabel> = a
            .chords
            .iter()
            .map(|c| c.chord)
            .filter(|c| !c.is_none())
            .collect();
        assert_eq!(found, want);
        assert_eq!(a.chords[1].bar, 1);
        assert_eq!(a.keys[0].key, Key::new(0, Mode::Major));
        let track = a.to_chord_track(TimeSignature::FOUR_FOUR, false).unwrap();
        assert_eq!(track.chord_at(2, 3), Some(want[2]));
        assert!(identify_chords(b"MThd\x00\x00\x00\x06garbage").is_err());
    }
}
