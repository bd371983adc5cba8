//! One expert loaded from its .onnx file, with its GRU state, grammar and
//! last logits kept inside the session.

use std::path::Path;

use tract_onnx::prelude::*;

use super::sampler::{sample_masked, SamplingOptions, XorShiftRng};
use super::MuseError;
use crate::tokenizers::{ExpertKind, Grammar, Token, Vocabulary};

pub struct ExpertSession {
    expert: ExpertKind,
    vocab: Vocabulary,
    grammar: Grammar,
    state: TypedSimpleState,
    layers: usize,
    hidden_size: usize,
    hidden: Option<TValue>,
    logits: Vec<f32>,
    has_logits: bool,
    mask: Vec<bool>,
    scratch: Vec<(f32, u32)>,
    pub options: SamplingOptions,
}

fn model_err(e: impl std::fmt::Display) -> MuseError {
    MuseError::Model(e.to_string())
}

impl std::fmt::Debug for ExpertSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExpertSession")
            .field("expert", &self.expert)
            .field("layers", &self.layers)
            .finish()
    }
}

impl ExpertSession {
    /// Loads an exported expert; everything it needs is in the file's metadata.
    pub fn load(path: &Path) -> Result<Self, MuseError> {
        let bytes = std::fs::read(path).map_err(|e| MuseError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut bytes.as_slice())
            .map_err(|e| {
                MuseError::Model(format!("{} is not an ONNX model: {e}", path.display()))
            })?;
        let meta = |key: &str| -> Result<String, MuseError> {
            proto
                .metadata_props
                .iter()
                .find(|p| p.key == key)
                .map(|p| p.value.clone())
                .ok_or_else(|| {
                    MuseError::Model(format!(
                        "{}: missing metadata {key} (not a Nomad Muse expert)",
                        path.display()
                    ))
                })
        };
        let vocab = Vocabulary::from_json(&meta("nomad.vocab")?).map_err(model_err)?;
        let expert = vocab.expert();
        if meta("nomad.expert")? != expert.name() {
            return Err(MuseError::Model(format!(
                "{}: expert metadata and vocabulary disagree",
                path.display()
            )));
        }
        let layers: usize = meta("nomad.num_layers")?.parse().map_err(model_err)?;
        let hidden_size: usize = meta("nomad.hidden_size")?.parse().map_err(model_err)?;
        let plan = onnx
            .model_for_proto_model(&proto)
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| MuseError::Model(format!("{}: {e}", path.display())))?;
        let state = plan.spawn().map_err(model_err)?;
        let n = vocab.len();
        let mut session = ExpertSession {
            expert,
            grammar: Grammar::new(expert).with_bar_steps(16),
            vocab,
            state,
            layers,
            hidden_size,
            hidden: None,
            logits: vec![0.0; n],
            has_logits: false,
            mask: vec![false; n],
            scratch: Vec::with_capacity(n),
            options: SamplingOptions::default(),
        };
        session.reset();
        // Warm-up: one step so the first real token pays no one-off costs.
        session.run_step(crate::tokenizers::BOS_ID, 0, 0)?;
        session.reset();
        Ok(session)
    }

    pub fn expert(&self) -> ExpertKind {
        self.expert
    }

    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    pub fn grammar(&self) -> &Grammar {
        &self.grammar
    }

    /// Back to the start: zero state, empty grammar.
    pub fn reset(&mut self) {
        self.hidden = Some(
            Tensor::zero::<f32>(&[self.layers, 1, self.hidden_size])
                .unwrap_or_default()
                .into(),
        );
        self.grammar.reset();
        self.has_logits = false;
    }

    fn run_step(&mut self, token: u32, chord: u32, key: u32) -> Result<(), MuseError> {
        let hidden = self
            .hidden
            .take()
            .ok_or_else(|| MuseError::Model("session state lost".into()))?;
        let mut inputs: TVec<TValue> = tvec!(tensor1(&[token as i64]).into(), hidden);
        if self.expert.is_conditioned() {
            inputs.push(tensor1(&[chord as i64]).into());
            inputs.push(tensor1(&[key as i64]).into());
        }
        let mut out = self.state.run(inputs).map_err(model_err)?;
        let logits = out[0].to_plain_array_view::<f32>().map_err(model_err)?;
        if logits.len() != self.logits.len() {
            return Err(MuseError::Model(format!(
                "model gives {} logits for {} tokens",
                logits.len(),
                self.logits.len()
            )));
        }
        for (dst, src) in self.logits.iter_mut().zip(logits.iter()) {
            *dst = *src;
        }
        self.hidden = Some(out.remove(1));
        self.has_logits = true;
        Ok(())
    }

    /// Feeds `token`; `condition` gives the (chord, key) conditioning ids
    /// once the grammar has consumed the token (melody; harmony derives its
    /// own from the stream, drums take none).
    pub fn feed_with(
        &mut self,
        token: u32,
        condition: impl FnOnce(&Grammar) -> (u32, u32),
    ) -> Result<(), MuseError> {
        self.grammar
            .advance(token)
            .map_err(|e| MuseError::InvalidArgument(format!("{}: {e}", self.expert.name())))?;
        let (chord, key) = if self.expert == ExpertKind::Harmony {
            self.grammar.stream_condition()
        } else {
            condition(&self.grammar)
        };
        if chord >= crate::theory::ChordLabel::DENSE_COUNT || key >= crate::theory::Key::DENSE_COUNT
        {
            return Err(MuseError::InvalidArgument(format!(
                "conditioning ids out of range: chord {chord}, key {key}"
            )));
        }
        self.run_step(token, chord, key)
    }

    pub fn feed(&mut self, token: u32, chord: u32, key: u32) -> Result<(), MuseError> {
        self.feed_with(token, |_| (chord, key))
    }

    pub fn feed_token(&mut self, token: Token) -> Result<(), MuseError> {
        let id = self.vocab.id(token).ok_or_else(|| {
            MuseError::InvalidArgument(format!("{token} is not in the vocabulary"))
        })?;
        self.feed(id, crate::theory::ChordLabel::NONE.dense_index(), 0)
    }

    /// Samples the next token from the last logits among what the grammar
    /// allows (the token is not fed).
    pub fn sample(&mut self, rng_state: &mut u64) -> Result<u32, MuseError> {
        if !self.has_logits {
            return Err(MuseError::InvalidArgument(
                "nothing fed yet: feed at least BOS before sampling".into(),
            ));
        }
        self.grammar.allowed_mask(&mut self.mask);
        sample_masked(
            &self.logits,
            &self.mask,
            &self.options,
            &mut XorShiftRng(rng_state),
            &mut self.scratch,
        )
        .ok_or_else(|| {
            MuseError::InvalidArgument("the grammar allows no token here (stream ended)".into())
        })
    }

    /// Feeds `context` then samples.
    pub fn generate_next(
        &mut self,
        context: &[u32],
        chord: u32,
        key: u32,
        rng_state: &mut u64,
    ) -> Result<u32, MuseError> {
        for t in context {
            self.feed(*t, chord, key)?;
        }
        self.sample(rng_state)
    }

    pub fn last_logits(&self) -> Option<&[f32]> {
        self.has_logits.then_some(self.logits.as_slice())
    }
}
