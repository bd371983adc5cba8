//! Expert tokenizers: NSF → token ids → decoded musical events.
//!
//! Sequence layouts (one bar at a time, every bar of the song emitted, bars
//! numbered `bar % PHRASE_BARS`):
//! - drums:   `BOS (BAR_n [FILL_START] (REST_d | (BEAT_b SUBSTEP_s (DRUM_HIT_p VEL_BIN_v)+)*) [FILL_END])* EOS`
//! - harmony: `BOS KEY_k (BAR_n (BEAT_b (CHORD_c | REST) HOLD_h)*)* EOS`
//! - melody:  `BOS CONDITION_KEY_k (BAR_n CONDITION_CHORD_c (BEAT_b SUBSTEP_s (NOTE_p VEL_BIN_v DUR_BIN_d)+)*)* EOS`
//! - conductor: `BOS (BAR_n [SECTION_l [REPEAT | VARY]] ENERGY_e DENSITY_<part>_b ×4 [FILL])* EOS`,
//!   `n` the bar within its section (`SECTION_l` exactly on `BAR_0`), one
//!   density per part in the order drums, bass, melody, harmony.
//!
//! The melody expert is also conditioned at every step on the chord sounding
//! at the current grid position and on the key (`EncodedSequence::chord_cond`,
//! `key_cond`): the dense ids of [`crate::theory::ChordLabel::dense_index`]
//! and [`crate::theory::Key::dense_index`].

mod conductor;
mod drums;
mod events;
pub mod grammar;
mod harmony;
mod melody;
mod token;
mod transpose;
mod vocab;

use serde::{Deserialize, Serialize};

pub use conductor::{ConductorBar, ConductorTokenizer, SectionStart};
pub use drums::{DrumHit, DrumsTokenizer};
pub use events::{DecodedEvent, EventDecoder};
pub use grammar::{Grammar, GrammarCheckpoint, GrammarState};
pub use harmony::{ChordEvent, HarmonyDecoded, HarmonyTokenizer};
pub use melody::{melody_track, MelodyNote, MelodyTokenizer};
pub use token::{Token, UnknownToken};
pub use transpose::transpose;
pub use vocab::*;

/// The three note experts and the Conductor (the song's form and energy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpertKind {
    Drums,
    Harmony,
    Melody,
    Conductor,
}

impl ExpertKind {
    /// The experts that play notes (a band's parts).
    pub const ALL: [ExpertKind; 3] = [ExpertKind::Drums, ExpertKind::Harmony, ExpertKind::Melody];
    /// Every expert: the note experts, then the Conductor.
    pub const WITH_CONDUCTOR: [ExpertKind; 4] = [
        ExpertKind::Drums,
        ExpertKind::Harmony,
        ExpertKind::Melody,
        ExpertKind::Conductor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ExpertKind::Drums => "drums",
            ExpertKind::Harmony => "harmony",
            ExpertKind::Melody => "melody",
            ExpertKind::Conductor => "conductor",
        }
    }

    /// Whether the expert's model takes (chord, key) conditioning ids at
    /// every step: melody from the host (the harmony it plays over), harmony
    /// from its own stream ([`Grammar::stream_condition`]).
    pub fn is_conditioned(self) -> bool {
        matches!(self, ExpertKind::Harmony | ExpertKind::Melody)
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::WITH_CONDUCTOR.into_iter().find(|e| e.name() == s)
    }
}

/// One song encoded for one expert.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EncodedSequence {
    pub tokens: Vec<u32>,
    /// Melody only (empty otherwise): chord-condition id per token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chord_cond: Vec<u32>,
    /// Melody only (empty otherwise): key-condition id per token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_cond: Vec<u32>,
}

/// Why a token sequence could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("token id {0} is outside the vocabulary")]
    UnknownId(u32),
    #[error("token {token} at index {index} is not allowed here")]
    Unexpected { index: usize, token: String },
}

/// Bars a song spans: its bar lines, or further if notes run past them.
pub(crate) fn bar_count_of(nsf: &crate::nsf::Nsf) -> u32 {
    let last_note_bar = nsf
        .tracks
        .iter()
        .flat_map(|t| t.events.iter())
        .map(|e| e.bar + 1)
        .max()
        .unwrap_or(0);
    nsf.global.bar_count().max(last_note_bar)
}

/// Walks `ids` through the expert's grammar, handing each token to
/// `on_token`. A leading `BOS` may be left out and trailing `PAD`s are
/// ignored; anything the grammar rejects is an error naming its index.
pub(crate) fn decode_stream(
    expert: ExpertKind,
    ids: &[u32],
    mut on_token: impl FnMut(Token),
) -> Result<(), DecodeError> {
    let mut grammar = Grammar::new(expert);
    if ids.first() != Some(&BOS_ID) {
        grammar.advance(BOS_ID)?;
    }
    for (index, id) in ids.iter().enumerate() {
        if *id == PAD_ID {
            continue;
        }
        grammar.advance(*id).map_err(|e| match e {
            DecodeError::Unexpected { token, .. } => DecodeError::Unexpected { index, token },
            other => other,
        })?;
        if let Some(token) = grammar.vocabulary().token(*id) {
            on_token(token);
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Hand-built NSF songs in 4/4 at 120 bpm, ppq 480, for tokenizer tests.

    use crate::nsf::*;
    use crate::theory::{ChordLabel, Key, Mode};

    /// `(step, pitch, velocity, duration_steps)` notes → a track.
    pub fn track(kind: TrackType, is_drum: bool, notes: &[(u32, u8, u8, u32)]) -> NsfTrack {
        let mut events: Vec<NoteEvent> = notes
            .iter()
            .map(|(step, pitch, velocity, dur)| NoteEvent {
                onset_seconds: *step as f64 * 0.125,
                duration_seconds: *dur as f64 * 0.125,
                onset_tick: *step as u64 * 120,
                duration_ticks: *dur as u64 * 120,
                onset_step: *step,
                duration_steps: *dur,
                bar: step / 16,
                beat: (step % 16) / 4,
                substep: step % 4,
                pitch: *pitch,
                velocity: *velocity,
            })
            .collect();
        events.sort_by_key(|e| (e.onset_step, e.pitch));
        NsfTrack {
            id: 0,
            name: format!("{kind:?}"),
            is_drum,
            channel: if is_drum { 9 } else { 0 },
            program: 0,
            classification: Classification {
                kind,
                confidence: 1.0,
                reasons: vec![],
            },
            events,
        }
    }

    /// `(step, duration_steps, chord)` spans.
    pub fn nsf_with_tracks(
        bars: u32,
        tracks: Vec<NsfTrack>,
        chords: Vec<(u32, u32, ChordLabel)>,
    ) -> Nsf {
        Nsf {
            global: GlobalInfo {
                tempo_map: vec![(0.0, 120.0)],
                time_signature_map: vec![(0.0, (4, 4))],
                ppq: 480,
                duration_seconds: bars as f64 * 2.0,
                bar_starts: (0..=bars).map(|b| b * 16).collect(),
            },
            tracks,
            chords: chords
                .into_iter()
                .map(|(step, dur, c)| ChordSpan {
                    time_start: step as f64 * 0.125,
                    bar_start: step / 16,
                    step_start: step,
                    duration_steps: dur,
                    chord: ChordInfo::from_label(c, 1.0),
                })
                .collect(),
            key: KeyInfo::from_key(Key::new(0, Mode::Major), 1.0),
            key_segments: Vec::new(),
            metadata: Metadata {
                source_file: "test.mid".into(),
                quantization_grid: "16th".into(),
                harmony_sounds: true,
                metre: Default::default(),
            },
            form: None,
        }
    }
}

#[cfg(test)]
mod roundtrip_tests;
