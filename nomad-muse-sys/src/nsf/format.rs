//! The Nomad Symbolic Format (NSF): the canonical JSON form every tokenizer
//! reads. Field names follow the design seed so files are interchangeable.

use serde::{Deserialize, Serialize};

use super::metre::MetreEvidence;
use crate::theory::{parse_pitch_class, pitch_class_name, ChordLabel, ChordQuality, Key, Mode};

/// Quantization grid: 16th notes, i.e. 4 steps per quarter-note beat.
pub const STEPS_PER_BEAT: u32 = 4;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nsf {
    pub global: GlobalInfo,
    pub tracks: Vec<NsfTrack>,
    pub chords: Vec<ChordSpan>,
    /// The key of the whole piece.
    pub key: KeyInfo,
    /// Local keys of modulating music, in order, covering the song (one
    /// segment when it stays in one key). Absent in files written before it.
    #[serde(default)]
    pub key_segments: Vec<KeySegment>,
    pub metadata: Metadata,
    /// Sections, repeats, energy, parts and fills per bar (`nsf::form`).
    /// Absent in files written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<super::form::SongForm>,
}

/// A stretch of the song in one key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeySegment {
    pub time_start: f64,
    pub bar_start: u32,
    /// Absolute 16th step where the segment starts.
    pub step_start: u32,
    pub duration_steps: u32,
    pub key: KeyInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalInfo {
    /// `(time_seconds, bpm)`, first entry at 0.0.
    pub tempo_map: Vec<(f64, f64)>,
    /// `(time_seconds, (numerator, denominator))`, first entry at 0.0.
    pub time_signature_map: Vec<(f64, (u8, u8))>,
    pub ppq: u16,
    pub duration_seconds: f64,
    /// Bar lines on the 16th grid: `bar_starts[i]` is the absolute step where
    /// bar `i` starts (last entry = end of the song). Lets tokenizers map a
    /// step to (bar, beat, substep) without re-reading the time-signature map.
    pub bar_starts: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackType {
    Drums,
    Bass,
    Melody,
    Harmony,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    #[serde(rename = "type")]
    pub kind: TrackType,
    /// In [0, 1].
    pub confidence: f32,
    /// Human-readable evidence, e.g. "GM percussion channel".
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NsfTrack {
    pub id: u32,
    pub name: String,
    pub is_drum: bool,
    /// MIDI channel 0..15 of the track's first note.
    pub channel: u8,
    /// GM program of the track's first program change (0 if none).
    pub program: u8,
    pub classification: Classification,
    /// Sorted by (onset_step, pitch).
    pub events: Vec<NoteEvent>,
}

/// A note with both real time and grid position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteEvent {
    pub onset_seconds: f64,
    pub duration_seconds: f64,
    pub onset_tick: u64,
    pub duration_ticks: u64,
    /// Absolute 16th-note step of the quantized onset.
    pub onset_step: u32,
    /// Quantized duration in 16th steps, at least 1.
    pub duration_steps: u32,
    pub bar: u32,
    /// Quarter-note beat within the bar.
    pub beat: u32,
    /// 16th within the beat, 0..4.
    pub substep: u32,
    pub pitch: u8,
    pub velocity: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChordSpan {
    pub time_start: f64,
    pub bar_start: u32,
    /// Absolute 16th step where the chord starts.
    pub step_start: u32,
    /// Length in 16th steps.
    pub duration_steps: u32,
    pub chord: ChordInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChordInfo {
    /// Pitch-class name ("C", "F#"); "N" for no chord.
    pub root: String,
    /// "maj", "min7", …, or "N".
    pub quality: ChordQuality,
    pub confidence: f32,
}

impl ChordInfo {
    pub fn from_label(label: ChordLabel, confidence: f32) -> Self {
        let root = if label.is_none() {
            "N".to_string()
        } else {
            pitch_class_name(label.root).to_string()
        };
        ChordInfo {
            root,
            quality: label.quality,
            confidence,
        }
    }

    pub fn label(&self) -> ChordLabel {
        match (self.quality, parse_pitch_class(&self.root)) {
            (ChordQuality::NoChord, _) | (_, None) => ChordLabel::NONE,
            (q, Some(root)) => ChordLabel::new(root, q),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub root: String,
    pub mode: Mode,
    pub confidence: f32,
}

impl KeyInfo {
    pub fn from_key(key: Key, confidence: f32) -> Self {
        KeyInfo {
            root: pitch_class_name(key.tonic).to_string(),
            mode: key.mode,
            confidence,
        }
    }

    pub fn key(&self) -> Key {
        Key::new(parse_pitch_class(&self.root).unwrap_or(0), self.mode)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub source_file: String,
    pub quantization_grid: String,
    /// Whether harmony really sounds: two or more simultaneous pitch classes
    /// for a real share of the song, or a chordal part. A bare tune's chords
    /// (read off its melody) condition the melody expert but are no harmony
    /// training data.
    #[serde(default = "harmony_sounds_default")]
    pub harmony_sounds: bool,
    /// The declared metre, the one used for the bar lines and why. Absent
    /// in files written before it.
    #[serde(default)]
    pub metre: MetreInfo,
}

/// Declared against used metre (see `nsf::metre`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetreInfo {
    /// The file's time signatures in order (repeats merged); empty when it
    /// declares none usable.
    pub declared: Vec<(u8, u8)>,
    /// The first bar's time signature as used for `bar_starts`.
    pub used: (u8, u8),
    /// Bar lines from the music's periodicity instead of the declaration.
    pub inferred: bool,
    /// What the music says, whether or not it was used.
    pub evidence: Option<MetreEvidence>,
}

fn harmony_sounds_default() -> bool {
    true
}

/// Grid position of an absolute step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridPosition {
    pub bar: u32,
    pub beat: u32,
    pub substep: u32,
}

impl GlobalInfo {
    /// Number of complete or partial bars.
    pub fn bar_count(&self) -> u32 {
        self.bar_starts.len().saturating_sub(1) as u32
    }

    /// Length of bar `bar` in 16th steps (16 for 4/4 past the end).
    pub fn bar_length(&self, bar: u32) -> u32 {
        let b = bar as usize;
        match (self.bar_starts.get(b), self.bar_starts.get(b + 1)) {
            (Some(s), Some(e)) => e - s,
            _ => 16,
        }
    }

    /// (bar, beat, substep) of an absolute step; steps past the last bar line
    /// continue in 4/4.
    pub fn position_of(&self, step: u32) -> GridPosition {
        let bars = &self.bar_starts;
        let (bar, start) = if bars.len() >= 2 && step < *bars.last().unwrap_or(&0) {
            let i = bars.partition_point(|s| *s <= step).saturating_sub(1);
            (i as u32, bars[i])
        } else {
            let end = bars.last().copied().unwrap_or(0);
            let past = step.saturating_sub(end);
            let n = bars.len().saturating_sub(1) as u32;
            (n + past / 16, end + (past / 16) * 16)
        };
        let within = step - start;
        GridPosition {
            bar,
            beat: within / STEPS_PER_BEAT,
            substep: within % STEPS_PER_BEAT,
        }
    }

    /// Absolute step where bar `bar` starts.
    pub fn bar_start_step(&self, bar: u32) -> u32 {
        match self.bar_starts.get(bar as usize) {
            Some(s) => *s,
            None => {
                let n = self.bar_starts.len().saturating_sub(1) as u32;
                let end = self.bar_starts.last().copied().unwrap_or(0);
                end + (bar - n.min(bar)) * 16
            }
        }
    }
}

impl Nsf {
    /// The chord sounding at absolute step `step` ("N" if none).
    pub fn chord_at(&self, step: u32) -> ChordLabel {
        let i = self.chords.partition_point(|c| c.step_start <= step);
        if i == 0 {
            return ChordLabel::NONE;
        }
        let c = &self.chords[i - 1];
        if step < c.step_start + c.duration_steps {
            c.chord.label()
        } else {
            ChordLabel::NONE
        }
    }

    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    pub fn from_json(s: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(bar_starts: Vec<u32>) -> GlobalInfo {
        GlobalInfo {
            tempo_map: vec![(0.0, 120.0)],
            time_signature_map: vec![(0.0, (4, 4))],
            ppq: 480,
            duration_seconds: 4.0,
            bar_starts,
        }
    }

    #[test]
    fn positions_follow_bar_lines() {
        // 4/4, then a 3/4 bar, then 4/4.
        let g = global(vec![0, 16, 28, 44]);
        assert_eq!(
            g.position_of(0),
            GridPosition {
                bar: 0,
                beat: 0,
                substep: 0
            }
        );
        assert_eq!(
            g.position_of(17),
            GridPosition {
                bar: 1,
                beat: 0,
                substep: 1
            }
        );
        assert_eq!(
            g.position_of(27),
            GridPosition {
                bar: 1,
                beat: 2,
                substep: 3
            }
        );
        assert_eq!(
            g.position_of(28),
            GridPosition {
                bar: 2,
                beat: 0,
                substep: 0
            }
        );
        assert_eq!(
            g.position_of(44),
            GridPosition {
                bar: 3,
                beat: 0,
                substep: 0
            }
        );
        assert_eq!(
            g.position_of(61),
            GridPosition {
                bar: 4,
                beat: 0,
                substep: 1
            }
        );
        assert_eq!(g.bar_start_step(4), 60);
        assert_eq!(g.bar_length(1), 12);
    }
}
