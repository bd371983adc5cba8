//! Expert tokenizers: NSF → token ids → decoded musical events.
//!
//! Sequence layouts (one bar at a time, every bar of the song emitted, bars
//! numbered `bar % PHRASE_BARS`):
//! - drums:   `BOS (BAR_n [FILL_START] (REST_d | (BEAT_b SUBSTEP_s (DRUM_HIT_p VEL_BIN_v)+)*) [FILL_END])* EOS`
//! - harmony: `BOS KEY_k (BAR_n (BEAT_b (CHORD_c | REST) HOLD_h)*)* EOS`
//! - melody:  `BOS CONDITION_KEY_k (BAR_n CONDITION_CHORD_c (BEAT_b SUBSTEP_s (NOTE_p VEL_BIN_v DUR_BIN_d)+)*)* EOS`
//!
//! The melody expert is also conditioned at every step on the chord sounding
//! at the current grid position and on the key (`EncodedSequence::chord_cond`,
//! `key_cond`): the dense ids of [`crate::theory::ChordLabel::dense_index`]
//! and [`crate::theory::Key::dense_index`].

mod drums;
pub mod grammar;
mod harmony;
mod melody;
mod token;
mod vocab;

use serde::{Deserialize, Serialize};

pub use drums::{DrumHit, DrumsTokenizer};
pub use harmony::{ChordEvent, HarmonyDecoded, HarmonyTokenizer};
pub use grammar::Grammar;
pub use melody::{MelodyNote, MelodyTokenizer};
pub use token::{Token, UnknownToken};
pub use vocab::*;

/// The three experts (the conductor comes later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpertKind {
    Drums,
    Harmony,
    Melody,
}

impl ExpertKind {
    pub const ALL: [ExpertKind; 3] = [ExpertKind::Drums, ExpertKind::Harmony, ExpertKind::Melody];

    pub fn name(self) -> &'static str {
        match self {
            ExpertKind::Drums => "drums",
            ExpertKind::Harmony => "harmony",
            ExpertKind::Melody => "melody",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == s)
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
