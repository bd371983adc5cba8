//! Per-expert vocabularies: an ordered list of [`Token`]s, id = position.
//! Built in code (the single definition), written to / read from JSON for
//! humans and for the ONNX metadata.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::token::Token;
use super::ExpertKind;
use crate::theory::{ChordLabel, Key};

/// Bars are numbered within a phrase of this many bars (`BAR_0..BAR_15`).
pub const PHRASE_BARS: u32 = 16;
/// Beats per bar the vocabulary can address (`BEAT_0..BEAT_7`).
pub const MAX_BEATS: u32 = 8;
/// 16ths per beat (`SUBSTEP_0..SUBSTEP_3`).
pub const SUBSTEPS: u32 = 4;
/// GM drum pitch range kept by the drums tokenizer.
pub const DRUM_PITCH_MIN: u8 = 35;
pub const DRUM_PITCH_MAX: u8 = 81;
/// Velocity bins (`VEL_BIN_0..VEL_BIN_7`).
pub const VELOCITY_BINS: u8 = 8;
/// Longest `HOLD_<beats>`.
pub const MAX_HOLD_BEATS: u32 = 16;
/// Longest drums `REST_<steps>` (an empty bar of up to 8 beats).
pub const MAX_REST_STEPS: u32 = MAX_BEATS * SUBSTEPS;
/// Duration bins in 16th steps: `DUR_BIN_k` stands for `DURATION_BIN_STEPS[k]`.
pub const DURATION_BIN_STEPS: [u32; 8] = [1, 2, 3, 4, 6, 8, 12, 16];

/// Conductor: section labels `SECTION_A..SECTION_H` (later new labels
/// fold into the last).
pub const SECTION_LABELS: u8 = 8;
/// Conductor: energy bins `ENERGY_0..=ENERGY_4` (0 silent).
pub const ENERGY_LEVELS: u8 = crate::nsf::form::ENERGY_BINS + 1;
/// Conductor: density bins per part `0..=3` (0 rests).
pub const DENSITY_LEVELS: u8 = crate::nsf::form::DENSITY_BINS + 1;
/// Conductor: parts with a density token per bar.
pub const DENSITY_PARTS: u8 = crate::nsf::form::FormPart::COUNT as u8;

pub const PAD_ID: u32 = 0;
pub const BOS_ID: u32 = 1;
pub const EOS_ID: u32 = 2;

/// Velocity (1..=127) → bin.
pub fn velocity_bin(velocity: u8) -> u8 {
    (velocity.min(127) as u32 * VELOCITY_BINS as u32 / 128) as u8
}

/// Bin → representative velocity (bin centre).
pub fn velocity_from_bin(bin: u8) -> u8 {
    let width = 128 / VELOCITY_BINS as u32;
    (bin.min(VELOCITY_BINS - 1) as u32 * width + width / 2) as u8
}

/// Duration in 16th steps → nearest bin (ties go to the shorter bin).
pub fn duration_bin(steps: u32) -> u8 {
    let mut best = 0usize;
    for (i, b) in DURATION_BIN_STEPS.iter().enumerate() {
        if steps.abs_diff(*b) < steps.abs_diff(DURATION_BIN_STEPS[best]) {
            best = i;
        }
    }
    best as u8
}

/// Bin → duration in 16th steps.
pub fn duration_from_bin(bin: u8) -> u32 {
    DURATION_BIN_STEPS[(bin as usize).min(DURATION_BIN_STEPS.len() - 1)]
}

/// Token ids ↔ tokens for one expert.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    expert: ExpertKind,
    tokens: Vec<Token>,
    ids: HashMap<Token, u32>,
}

/// JSON form: `{"expert": "drums", "tokens": ["PAD", "BOS", ...]}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VocabularyFile {
    pub expert: ExpertKind,
    pub tokens: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum VocabularyError {
    #[error("vocabulary JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("vocabulary: {0}")]
    Token(#[from] super::token::UnknownToken),
    #[error("vocabulary: duplicate token {0}")]
    Duplicate(String),
    #[error("vocabulary for {0:?} does not match this build's definition")]
    Mismatch(ExpertKind),
}

fn common() -> Vec<Token> {
    vec![Token::Pad, Token::Bos, Token::Eos]
}

fn positions(with_substeps: bool) -> Vec<Token> {
    let mut t: Vec<Token> = (0..PHRASE_BARS).map(Token::Bar).collect();
    t.extend((0..MAX_BEATS).map(Token::Beat));
    if with_substeps {
        t.extend((0..SUBSTEPS).map(Token::Substep));
    }
    t
}

fn all_keys() -> impl Iterator<Item = Key> {
    (0..Key::DENSE_COUNT).filter_map(Key::from_dense_index)
}

fn all_chords() -> impl Iterator<Item = ChordLabel> {
    (0..ChordLabel::DENSE_COUNT).filter_map(ChordLabel::from_dense_index)
}

impl Vocabulary {
    /// The vocabulary of `expert`, as defined by this build.
    pub fn for_expert(expert: ExpertKind) -> Self {
        let mut tokens = common();
        match expert {
            ExpertKind::Drums => {
                tokens.extend(positions(true));
                tokens.extend((DRUM_PITCH_MIN..=DRUM_PITCH_MAX).map(Token::DrumHit));
                tokens.extend((0..VELOCITY_BINS).map(Token::VelBin));
                tokens.extend((1..=MAX_REST_STEPS).map(Token::Rest));
                tokens.extend([Token::FillStart, Token::FillEnd]);
            }
            ExpertKind::Harmony => {
                tokens.extend(positions(false));
                tokens.extend(all_keys().map(Token::Key));
                tokens.extend(all_chords().filter(|c| !c.is_none()).map(Token::Chord));
                tokens.extend((1..=MAX_HOLD_BEATS).map(Token::Hold));
                tokens.push(Token::RestChord);
            }
            ExpertKind::Melody => {
                tokens.extend(positions(true));
                tokens.extend((0..=127u8).map(Token::Note));
                tokens.extend((0..VELOCITY_BINS).map(Token::VelBin));
                tokens.extend((0..DURATION_BIN_STEPS.len() as u8).map(Token::DurBin));
                tokens.extend(all_chords().map(Token::ConditionChord));
                tokens.extend(all_keys().map(Token::ConditionKey));
            }
            ExpertKind::Conductor => {
                // BAR_n is the bar within its section (the phrase position).
                tokens.extend((0..PHRASE_BARS).map(Token::Bar));
                tokens.extend((0..SECTION_LABELS).map(Token::Section));
                tokens.extend([Token::Repeat, Token::Vary]);
                tokens.extend((0..ENERGY_LEVELS).map(Token::Energy));
                for part in 0..DENSITY_PARTS {
                    tokens.extend((0..DENSITY_LEVELS).map(|b| Token::Density(part, b)));
                }
                tokens.push(Token::Fill);
            }
        }
        Self::from_tokens(expert, tokens).expect("built-in vocabulary has no duplicates")
    }

    fn from_tokens(expert: ExpertKind, tokens: Vec<Token>) -> Result<Self, VocabularyError> {
        let mut ids = HashMap::with_capacity(tokens.len());
        for (i, t) in tokens.iter().enumerate() {
            if ids.insert(*t, i as u32).is_some() {
                return Err(VocabularyError::Duplicate(t.to_string()));
            }
        }
        Ok(Vocabulary {
            expert,
            tokens,
            ids,
        })
    }

    pub fn expert(&self) -> ExpertKind {
        self.expert
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn token(&self, id: u32) -> Option<Token> {
        self.tokens.get(id as usize).copied()
    }

    pub fn id(&self, token: Token) -> Option<u32> {
        self.ids.get(&token).copied()
    }

    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    pub fn to_file(&self) -> VocabularyFile {
        VocabularyFile {
            expert: self.expert,
            tokens: self.tokens.iter().map(|t| t.to_string()).collect(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_file()).unwrap_or_default()
    }

    /// Parses a vocabulary JSON and checks it is exactly this build's
    /// vocabulary for that expert (a model trained on another vocabulary
    /// would silently produce garbage).
    pub fn from_json(s: &str) -> Result<Self, VocabularyError> {
        let file: VocabularyFile = serde_json::from_str(s)?;
        let tokens = file
            .tokens
            .iter()
            .map(|t| t.parse())
            .collect::<Result<Vec<Token>, _>>()?;
        let v = Self::from_tokens(file.expert, tokens)?;
        if v.tokens != Vocabulary::for_expert(file.expert).tokens {
            return Err(VocabularyError::Mismatch(file.expert));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vocabulary_round_trips_through_strings_and_json() {
        for e in ExpertKind::WITH_CONDUCTOR {
            let v = Vocabulary::for_expert(e);
            assert_eq!(v.token(PAD_ID), Some(Token::Pad));
            assert_eq!(v.token(BOS_ID), Some(Token::Bos));
            assert_eq!(v.token(EOS_ID), Some(Token::Eos));
            for (i, t) in v.tokens().iter().enumerate() {
                let parsed: Token = t.to_string().parse().unwrap();
                assert_eq!(parsed, *t);
                assert_eq!(v.id(*t), Some(i as u32));
            }
            let back = Vocabulary::from_json(&v.to_json()).unwrap();
            assert_eq!(back.tokens(), v.tokens());
        }
    }

    #[test]
    fn tampered_vocabulary_is_rejected() {
        let mut f = Vocabulary::for_expert(ExpertKind::Drums).to_file();
        f.tokens.swap(5, 6);
        let s = serde_json::to_string(&f).unwrap();
        assert!(matches!(
            Vocabulary::from_json(&s),
            Err(VocabularyError::Mismatch(_))
        ));
    }

    #[test]
    fn bins() {
        assert_eq!(velocity_bin(0), 0);
        assert_eq!(velocity_bin(127), 7);
        for b in 0..VELOCITY_BINS {
            assert_eq!(velocity_bin(velocity_from_bin(b)), b);
        }
        for (k, s) in DURATION_BIN_STEPS.iter().enumerate() {
            assert_eq!(duration_bin(*s), k as u8);
        }
        assert_eq!(duration_bin(5), 3);
        assert_eq!(duration_bin(40), 7);
    }
}
