//! One expert loaded from its .onnx file, with its GRU state, grammar and
//! last logits kept inside the session.

use std::path::Path;

use tract_onnx::prelude::*;

use super::fused::kernels::Panels;
use super::fused::{parity, FusedGru, IntegerProducts};
use super::mask_cache::MaskCache;
use super::model_check::{self, ModelDims};
use super::realtime_alloc::{thread_bytes_requested, thread_tag, RealtimeArena};
use super::sampler::{Sampler, SamplingOptions, XorShiftRng};
use super::MuseError;
use crate::theory::{ChordLabel, Key};
use crate::tokenizers::{ExpertKind, Grammar, GrammarCheckpoint, Token, Vocabulary};

pub struct ExpertSession {
    expert: ExpertKind,
    vocab: Vocabulary,
    grammar: Grammar,
    engine: Engine,
    /// GRU state between steps, owned here so no tract tensor outlives a
    /// step (that is what lets the arena rewind).
    hidden: Vec<f32>,
    logits: Vec<f32>,
    has_logits: bool,
    /// `hidden`, `logits`, `has_logits` and the grammar as they were before
    /// the current multi-token call, put back if it fails.
    saved: SavedStep,
    mask: Vec<bool>,
    masks: MaskCache,
    sampler: Sampler,
    pub options: SamplingOptions,
}

/// Which logits a fed token's step computes.
#[derive(Debug, Clone, Copy)]
enum Logits {
    All,
    /// Those of the tokens the grammar allows next.
    Allowed,
    /// None (a context token whose logits nobody reads).
    Skipped,
}

/// What runs a step: the fused GRU when the graph is one the library
/// recognises (and agrees with tract at load), tract otherwise.
enum Engine {
    Fused(FusedGru),
    Tract(TractStep),
}

/// Which engine a session may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineChoice {
    /// The fused step when the graph is recognised, else tract.
    Auto,
    /// tract's graph always (the reference; tests and the bench).
    Tract,
}

/// tract's runnable graph, with the arena its per-step temporaries use.
struct TractStep {
    state: TypedSimpleState,
    conditioned: bool,
    layers: usize,
    hidden_size: usize,
    /// Per-step temporaries (tract's op outputs) live here.
    arena: RealtimeArena,
    /// Threads that already ran a step outside the arena: tract grows
    /// thread-local scratch on a thread's first step, which must not land
    /// in (and pin) the arena.
    warm_threads: Vec<usize>,
}

/// The step arena holds this many times what the first step requested
/// (which also counts one-off allocations, so it errs large).
const STEP_ARENA_HEADROOM: usize = 2;
/// Threads remembered as warm; more than this many threads calling one
/// session only costs those threads system allocations.
const MAX_WARM_THREADS: usize = 8;

fn model_err(e: impl std::fmt::Display) -> MuseError {
    MuseError::Model(e.to_string())
}

/// A session's step state, saved so a failed call leaves it as it was
/// (buffers preallocated: saving copies, never allocates).
struct SavedStep {
    hidden: Vec<f32>,
    logits: Vec<f32>,
    has_logits: bool,
    grammar: Option<GrammarCheckpoint>,
}

impl std::fmt::Debug for ExpertSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExpertSession")
            .field("expert", &self.expert)
            .field("engine", &self.engine_name())
            .finish()
    }
}

impl TractStep {
    /// Warm-up, so the first real token pays no one-off costs: a first
    /// step outside any arena measures what a step requests, then the
    /// arena is sized from it and a second step touches it.
    fn with_arena(mut self, state_len: usize, vocab_size: usize) -> Result<Self, MuseError> {
        let mut hidden = vec![0.0; state_len];
        let mut logits = vec![0.0; vocab_size];
        let before = thread_bytes_requested();
        self.run_step(crate::tokenizers::BOS_ID, 0, 0, &mut hidden, &mut logits)?;
        let step_bytes = usize::try_from(thread_bytes_requested() - before).unwrap_or(0);
        self.arena = RealtimeArena::new(STEP_ARENA_HEADROOM * step_bytes);
        if cfg!(feature = "realtime-alloc") && self.arena.capacity() == 0 {
            // Without an arena every token would reach malloc: refuse the
            // load rather than serve it silently off the real-time path.
            return Err(MuseError::Limit(format!(
                "no real-time arena left for a session on tract's graph (at most {} at once, or out of memory): free one",
                super::realtime_alloc::MAX_ARENAS
            )));
        }
        hidden.fill(0.0);
        self.run_step(crate::tokenizers::BOS_ID, 0, 0, &mut hidden, &mut logits)?;
        Ok(self)
    }

    fn run_step(
        &mut self,
        token: u32,
        chord: u32,
        key: u32,
        hidden: &mut [f32],
        logits: &mut [f32],
    ) -> Result<(), MuseError> {
        let thread = thread_tag();
        if self.warm_threads.contains(&thread) {
            let _scope = self.arena.enter();
            self.run_model(token, chord, key, hidden, logits)
        } else {
            let result = self.run_model(token, chord, key, hidden, logits);
            if self.warm_threads.len() < MAX_WARM_THREADS {
                self.warm_threads.push(thread);
            }
            result
        }
    }

    /// One graph step; every tract value it makes is dropped before it
    /// returns, and its results are copied into `logits` and `hidden`.
    fn run_model(
        &mut self,
        token: u32,
        chord: u32,
        key: u32,
        hidden: &mut [f32],
        logits: &mut [f32],
    ) -> Result<(), MuseError> {
        let input =
            Tensor::from_shape(&[self.layers, 1, self.hidden_size], hidden).map_err(model_err)?;
        let mut inputs: TVec<TValue> = tvec!(tensor1(&[token as i64]).into(), input.into());
        if self.conditioned {
            inputs.push(tensor1(&[chord as i64]).into());
            inputs.push(tensor1(&[key as i64]).into());
        }
        let out = self.state.run(inputs).map_err(model_err)?;
        let output = |i: usize, name: &str| {
            out.get(i)
                .ok_or_else(|| MuseError::Model(format!("model gives no {name} output")))?
                .to_plain_array_view::<f32>()
                .map_err(model_err)
        };
        let new_logits = output(0, "logits")?;
        let new_hidden = output(1, "hidden_out")?;
        if new_logits.len() != logits.len() || new_hidden.len() != hidden.len() {
            return Err(MuseError::Model(format!(
                "model gives {} logits and {} state values for {} tokens and {} state values",
                new_logits.len(),
                new_hidden.len(),
                logits.len(),
                hidden.len()
            )));
        }
        for (dst, src) in logits.iter_mut().zip(new_logits.iter()) {
            *dst = *src;
        }
        for (dst, src) in hidden.iter_mut().zip(new_hidden.iter()) {
            *dst = *src;
        }
        Ok(())
    }
}

/// `fused` once it has matched tract's graph over a few steps (a file
/// where they disagree is refused).
fn checked_fused(
    mut fused: FusedGru,
    tract: &mut TractStep,
    path: &Path,
) -> Result<FusedGru, MuseError> {
    let ids = (ChordLabel::DENSE_COUNT, Key::DENSE_COUNT);
    let state_len = tract.layers * tract.hidden_size;
    let mut reference = |t, c, k, h: &mut [f32], l: &mut [f32]| {
        tract.run_model(t, c, k, h, l).map_err(|e| e.to_string())
    };
    let worst = parity::max_difference(&mut fused, &mut reference, state_len, ids, 17)
        .map_err(|e| MuseError::Model(format!("{}: parity check: {e}", path.display())))?;
    if worst > parity::TOLERANCE {
        return Err(MuseError::Model(format!(
            "{}: the fused step disagrees with the graph by {worst:e} (more than {:e}): refused",
            path.display(),
            parity::TOLERANCE
        )));
    }
    fused.parity_difference = Some(worst);
    Ok(fused)
}

impl ExpertSession {
    /// Loads an exported expert; everything it needs is in the file's
    /// metadata. The file is checked (`model_check`) before anything sized
    /// by it is allocated: a hostile file is `MuseError::Model`, fast.
    pub fn load(path: &Path) -> Result<Self, MuseError> {
        Self::load_with_engine(path, EngineChoice::Auto)
    }

    /// Like [`ExpertSession::load`], choosing the engine. tract always
    /// parses and validates the graph; with `Auto` and a recognised graph
    /// tract only runs the parity check (unoptimised) and is then dropped.
    pub fn load_with_engine(path: &Path, choice: EngineChoice) -> Result<Self, MuseError> {
        let proto = model_check::read_model_proto(path)?;
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
        let ModelDims {
            layers,
            hidden_size,
        } = model_check::check_graph(&proto, path, expert, vocab.len())?;
        let n = vocab.len();
        let fused = match choice {
            EngineChoice::Auto => FusedGru::from_graph(&proto, layers, hidden_size, n),
            EngineChoice::Tract => None,
        };
        // tract's optimiser only runs when tract will serve the steps.
        let mut tract = TractStep {
            state: model_check::runnable_state(&proto, path, fused.is_none())?,
            conditioned: expert.is_conditioned(),
            layers,
            hidden_size,
            arena: RealtimeArena::inert(),
            warm_threads: Vec::with_capacity(MAX_WARM_THREADS),
        };
        let engine = match fused {
            Some(fused) => Engine::Fused(checked_fused(fused, &mut tract, path)?),
            None => Engine::Tract(tract.with_arena(layers * hidden_size, n)?),
        };
        let mut session = ExpertSession {
            expert,
            grammar: Grammar::new(expert).with_bar_steps(16),
            vocab,
            engine,
            hidden: vec![0.0; layers * hidden_size],
            logits: vec![0.0; n],
            has_logits: false,
            saved: SavedStep {
                hidden: vec![0.0; layers * hidden_size],
                logits: vec![0.0; n],
                has_logits: false,
                grammar: None,
            },
            mask: vec![false; n],
            masks: MaskCache::new(n),
            sampler: Sampler::new(n),
            options: SamplingOptions::default(),
        };
        // The first step touches every buffer: no page fault on the first token.
        session.run_step(crate::tokenizers::BOS_ID, 0, 0)?;
        session.reset();
        super::resident::release_load_memory();
        Ok(session)
    }

    /// What runs the steps: `"fused avx512 fp32"`, `"fused avx2+fma int8"`
    /// (widened), `"fused avx512 int8 vnni"` / `"fused avx2+fma int8
    /// words"` (integer products), … or `"tract"`.
    pub fn engine_name(&self) -> String {
        match &self.engine {
            Engine::Fused(f) => format!(
                "fused {} {}",
                f.isa().name(),
                match (f.is_int8(), f.integer_products()) {
                    (true, Some(IntegerProducts::Digits)) => "int8 vnni",
                    (true, Some(IntegerProducts::Words)) => "int8 words",
                    (true, None) => "int8",
                    _ => "fp32",
                }
            ),
            Engine::Tract(_) => "tract".into(),
        }
    }

    pub fn expert(&self) -> ExpertKind {
        self.expert
    }

    /// The fused step's largest difference from tract in the load-time
    /// parity check (relative to `max(1, |tract|)`); `None` on tract.
    pub fn parity_difference(&self) -> Option<f32> {
        match &self.engine {
            Engine::Fused(f) => f.parity_difference,
            Engine::Tract(_) => None,
        }
    }

    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    pub fn grammar(&self) -> &Grammar {
        &self.grammar
    }

    /// Back to the start: zero state, empty grammar.
    pub fn reset(&mut self) {
        self.hidden.fill(0.0);
        self.grammar.reset();
        self.has_logits = false;
    }

    fn run_step(&mut self, token: u32, chord: u32, key: u32) -> Result<(), MuseError> {
        self.run_step_for(token, chord, key, Panels::ALL)
    }

    /// A step whose logits are read only in `wanted` (fused engine; tract
    /// computes them all).
    fn run_step_for(
        &mut self,
        token: u32,
        chord: u32,
        key: u32,
        wanted: Panels,
    ) -> Result<(), MuseError> {
        match &mut self.engine {
            Engine::Fused(f) => f
                .step_for(
                    token,
                    chord,
                    key,
                    &mut self.hidden,
                    &mut self.logits,
                    wanted,
                )
                .map_err(MuseError::InvalidArgument)?,
            Engine::Tract(t) => {
                t.run_step(token, chord, key, &mut self.hidden, &mut self.logits)?
            }
        }
        self.has_logits = true;
        Ok(())
    }

    /// Bytes of the step arena in use at most so far, and its capacity.
    /// (0, 0) on the fused step, which needs no arena.
    pub fn arena_usage(&self) -> (usize, usize) {
        match &self.engine {
            Engine::Tract(t) => (t.arena.high_water(), t.arena.capacity()),
            Engine::Fused(_) => (0, 0),
        }
    }

    /// Feeds `token`; `condition` gives the (chord, key) conditioning ids
    /// once the grammar has consumed the token (melody; harmony derives its
    /// own from the stream, drums take none).
    pub fn feed_with(
        &mut self,
        token: u32,
        condition: impl FnOnce(&Grammar) -> (u32, u32),
    ) -> Result<(), MuseError> {
        self.feed_computing(token, condition, Logits::All)
    }

    /// [`ExpertSession::feed_with`], computing `logits` of the head.
    fn feed_computing(
        &mut self,
        token: u32,
        condition: impl FnOnce(&Grammar) -> (u32, u32),
        logits: Logits,
    ) -> Result<(), MuseError> {
        self.grammar
            .advance(token)
            .map_err(|e| MuseError::InvalidArgument(format!("{}: {e}", self.expert.name())))?;
        let (chord, key) = if self.expert == ExpertKind::Harmony {
            self.grammar.stream_condition()
        } else {
            condition(&self.grammar)
        };
        check_conditioning(chord, key)?;
        let panels = match logits {
            Logits::All => Panels::ALL,
            Logits::Allowed => {
                self.masks.allowed_mask(&self.grammar, &mut self.mask);
                Panels::of(&self.mask)
            }
            Logits::Skipped => Panels(0),
        };
        self.run_step_for(token, chord, key, panels)
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
        self.masks.allowed_mask(&self.grammar, &mut self.mask);
        self.sampler
            .sample(
                &self.logits,
                &self.mask,
                &self.options,
                &mut XorShiftRng(rng_state),
            )
            .ok_or_else(|| {
                MuseError::InvalidArgument("the grammar allows no token here (stream ended)".into())
            })
    }

    /// Like [`ExpertSession::load`], with sampling options (checked).
    pub fn load_with_options(path: &Path, options: SamplingOptions) -> Result<Self, MuseError> {
        options.validate()?;
        let mut session = Self::load(path)?;
        session.options = options;
        Ok(session)
    }

    /// Feeds `context`, then samples the next token at `temperature` (the
    /// session's other options apply). `condition` is melody's (chord, key)
    /// for every fed token; `None` means no chord, key 0.
    ///
    /// All or nothing: every id, the conditioning and the whole sequence's
    /// grammar are checked before anything is fed, and should a step still
    /// fail, state, grammar and logits are put back; `rng_state` only
    /// advances on success.
    pub fn generate_next(
        &mut self,
        context: &[u32],
        condition: Option<(u32, u32)>,
        temperature: f32,
        rng_state: &mut u64,
    ) -> Result<u32, MuseError> {
        let (chord, key) = self.check_generate(context, condition, temperature)?;
        self.save_step();
        let mut rng = *rng_state;
        // Only the last token's logits are sampled, and only where the
        // grammar allows: the head is skipped for the rest.
        let last = context.len().saturating_sub(1);
        let result = context
            .iter()
            .enumerate()
            .try_for_each(|(i, t)| {
                let logits = if i == last {
                    Logits::Allowed
                } else {
                    Logits::Skipped
                };
                self.feed_computing(*t, |_| (chord, key), logits)
            })
            .and_then(|()| self.sample_at(temperature, &mut rng));
        match result {
            Ok(token) => {
                *rng_state = rng;
                Ok(token)
            }
            Err(e) => {
                self.restore_step();
                Err(e)
            }
        }
    }

    /// Everything `generate_next` can check before feeding; the (chord,
    /// key) ids to feed with.
    fn check_generate(
        &mut self,
        context: &[u32],
        condition: Option<(u32, u32)>,
        temperature: f32,
    ) -> Result<(u32, u32), MuseError> {
        SamplingOptions {
            temperature,
            ..self.options
        }
        .validate()?;
        let (chord, key) = match condition {
            Some(_) if self.expert != ExpertKind::Melody => {
                return Err(MuseError::WrongExpert {
                    expected: "melody".into(),
                    found: self.expert.name().into(),
                })
            }
            Some(ids) => ids,
            None => (ChordLabel::NONE.dense_index(), 0),
        };
        check_conditioning(chord, key)?;
        let before = self.grammar.checkpoint();
        let checked = context.iter().enumerate().try_for_each(|(i, t)| {
            self.grammar.advance(*t).map_err(|e| {
                MuseError::InvalidArgument(format!(
                    "{}: context token {i} (id {t}): {e}",
                    self.expert.name()
                ))
            })
        });
        self.grammar.rollback(before);
        checked?;
        if context.is_empty() && !self.has_logits {
            return Err(MuseError::InvalidArgument(
                "nothing fed yet: feed at least BOS before sampling".into(),
            ));
        }
        Ok((chord, key))
    }

    fn sample_at(&mut self, temperature: f32, rng_state: &mut u64) -> Result<u32, MuseError> {
        let options = self.options;
        self.options.temperature = temperature;
        let token = self.sample(rng_state);
        self.options = options;
        token
    }

    fn save_step(&mut self) {
        self.saved.hidden.copy_from_slice(&self.hidden);
        self.saved.logits.copy_from_slice(&self.logits);
        self.saved.has_logits = self.has_logits;
        self.saved.grammar = Some(self.grammar.checkpoint());
    }

    fn restore_step(&mut self) {
        self.hidden.copy_from_slice(&self.saved.hidden);
        self.logits.copy_from_slice(&self.saved.logits);
        self.has_logits = self.saved.has_logits;
        if let Some(g) = self.saved.grammar.take() {
            self.grammar.rollback(g);
        }
    }

    /// The logits after the last fed token; after
    /// [`ExpertSession::generate_next`] only those of the tokens the
    /// grammar allows next are current (it skips the rest of the head).
    pub fn last_logits(&self) -> Option<&[f32]> {
        self.has_logits.then_some(self.logits.as_slice())
    }
}

/// Conditioning ids inside the chord and key tables.
fn check_conditioning(chord: u32, key: u32) -> Result<(), MuseError> {
    if chord >= ChordLabel::DENSE_COUNT || key >= Key::DENSE_COUNT {
        return Err(MuseError::InvalidArgument(format!(
            "conditioning ids out of range: chord {chord} (0..{}), key {key} (0..{})",
            ChordLabel::DENSE_COUNT,
            Key::DENSE_COUNT
        )));
    }
    Ok(())
}

/// The band drives the graph directly (it keeps its own grammar per part);
/// the session's own grammar is only for the per-token C ABI.
impl super::StepModel for ExpertSession {
    fn expert(&self) -> ExpertKind {
        self.expert
    }

    fn reset(&mut self) {
        ExpertSession::reset(self)
    }

    fn step(&mut self, token: u32, chord: u32, key: u32) -> Result<(), MuseError> {
        check_conditioning(chord, key)?;
        self.run_step(token, chord, key)
    }

    fn step_for(
        &mut self,
        token: u32,
        chord: u32,
        key: u32,
        wanted: &[bool],
    ) -> Result<(), MuseError> {
        check_conditioning(chord, key)?;
        self.run_step_for(token, chord, key, Panels::of(wanted))
    }

    fn logits(&self) -> &[f32] {
        &self.logits
    }

    fn state_len(&self) -> usize {
        self.hidden.len()
    }

    fn save_state(&self, out: &mut [f32]) {
        out.copy_from_slice(&self.hidden);
    }

    fn load_state(&mut self, state: &[f32]) {
        self.hidden.copy_from_slice(state);
    }
}
