//! Parity between the candle model and its exported ONNX graphs, run
//! through tract-onnx: same random token / condition stream, hidden state
//! carried from step to step.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use tract_onnx::prelude::*;

use crate::corpus::SplitMix64;
use crate::model::{ExpertModel, CHORD_CONDITIONS, KEY_CONDITIONS};
use nomad_muse::runtime::{sample_masked, SamplingOptions, XorShiftRng};
use nomad_muse::theory::ChordLabel;
use nomad_muse::tokenizers::{ExpertKind, Grammar, Token, BOS_ID, EOS_ID};

#[derive(Debug, Clone, Serialize)]
pub struct ParityReport {
    pub steps: usize,
    /// Max |candle − tract| over logits and hidden states, fp32 graph,
    /// each step run from candle's state: the graph's own error.
    pub fp32_max_abs_diff: f32,
    /// The same with the graph on its own state for all the steps, as a host
    /// runs it: rounding differences carried through the recurrence (grows
    /// with the size of the trained logits).
    pub fp32_free_running_max_abs_diff: f32,
    /// Share of steps where the quantized graph's top-1 token equals
    /// candle's, on a generation stream: tokens sampled from the candle model
    /// under the grammar, conditioning taken from the stream (real use).
    pub quantized_top1_agreement: f64,
    /// The same on uniformly random tokens and conditions (out of
    /// distribution: near-ties make it a harsher, noisier figure).
    pub quantized_top1_agreement_random_tokens: f64,
    pub quantized_max_abs_diff: f32,
}

type Plan = std::sync::Arc<TypedRunnableModel>;

fn load(path: &Path) -> anyhow::Result<Plan> {
    tract_onnx::onnx()
        .model_for_path(path)
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .with_context(|| format!("tract cannot load {}", path.display()))
}

/// One tract step; returns (logits, hidden_out flattened).
fn run(
    plan: &Plan,
    expert: ExpertKind,
    token: u32,
    chord: u32,
    key: u32,
    hidden: &Tensor,
) -> anyhow::Result<(Vec<f32>, Tensor)> {
    let mut inputs: TVec<TValue> = tvec!(tensor1(&[token as i64]).into(), hidden.clone().into());
    if expert.is_conditioned() {
        inputs.push(tensor1(&[chord as i64]).into());
        inputs.push(tensor1(&[key as i64]).into());
    }
    let out = plan.run(inputs)?;
    let logits = out[0]
        .to_plain_array_view::<f32>()?
        .iter()
        .copied()
        .collect();
    Ok((logits, out[1].clone().into_tensor()))
}

fn argmax(x: &[f32]) -> usize {
    x.iter()
        .enumerate()
        .fold(
            (0, f32::MIN),
            |a, (i, v)| if *v > a.1 { (i, *v) } else { a },
        )
        .0
}

/// Runs `steps` steps through candle and both graphs twice: uniformly random
/// tokens, then a sampled generation stream.
pub fn check(
    model: &ExpertModel,
    fp32: &Path,
    quantized: &Path,
    steps: usize,
    seed: u64,
) -> anyhow::Result<ParityReport> {
    let plans = [load(fp32)?, load(quantized)?];
    let random = compare(
        model,
        &plans,
        &mut RandomStream(SplitMix64::new(seed)),
        steps,
    )?;
    let mut sampled = SampledStream::new(model.config.expert, seed);
    let generated = compare(model, &plans, &mut sampled, steps)?;
    Ok(ParityReport {
        steps,
        fp32_max_abs_diff: random.fp32.max(generated.fp32),
        fp32_free_running_max_abs_diff: random.fp32_free.max(generated.fp32_free),
        quantized_top1_agreement: generated.top1,
        quantized_top1_agreement_random_tokens: random.top1,
        quantized_max_abs_diff: random.quantized.max(generated.quantized),
    })
}

/// Where the (token, chord, key) of each step come from.
trait StepSource {
    /// The next step's inputs, given candle's logits for the previous step.
    fn next(
        &mut self,
        vocab_size: usize,
        logits: Option<&[f32]>,
    ) -> anyhow::Result<(u32, u32, u32)>;
}

struct RandomStream(SplitMix64);

impl StepSource for RandomStream {
    fn next(&mut self, vocab_size: usize, _: Option<&[f32]>) -> anyhow::Result<(u32, u32, u32)> {
        Ok((
            self.0.below(vocab_size) as u32,
            self.0.below(CHORD_CONDITIONS) as u32,
            self.0.below(KEY_CONDITIONS) as u32,
        ))
    }
}

/// Tokens sampled from candle's logits under the grammar (EOS masked so the
/// stream runs on); conditioning read from the stream's own key and chord
/// tokens, as the runtime does.
struct SampledStream {
    grammar: Grammar,
    rng_state: u64,
    chord: u32,
    key: u32,
    mask: Vec<bool>,
    scratch: Vec<(f32, u32)>,
}

impl SampledStream {
    fn new(expert: ExpertKind, seed: u64) -> Self {
        SampledStream {
            grammar: Grammar::new(expert).with_bar_steps(16),
            rng_state: seed | 1,
            chord: ChordLabel::NONE.dense_index(),
            key: 0,
            mask: vec![],
            scratch: vec![],
        }
    }
}

impl StepSource for SampledStream {
    fn next(
        &mut self,
        vocab_size: usize,
        logits: Option<&[f32]>,
    ) -> anyhow::Result<(u32, u32, u32)> {
        let token = match logits {
            None => BOS_ID,
            Some(l) => {
                self.mask.resize(vocab_size, false);
                self.grammar.allowed_mask(&mut self.mask);
                self.mask[EOS_ID as usize] = false;
                sample_masked(
                    l,
                    &self.mask,
                    &SamplingOptions::default(),
                    &mut XorShiftRng(&mut self.rng_state),
                    &mut self.scratch,
                )
                .context("the grammar allows no token")?
            }
        };
        self.grammar.advance(token)?;
        match self.grammar.vocabulary().token(token) {
            Some(Token::ConditionKey(k)) => self.key = k.dense_index(),
            Some(Token::ConditionChord(c)) => self.chord = c.dense_index(),
            _ => {}
        }
        if self.grammar.expert() == ExpertKind::Harmony {
            (self.chord, self.key) = self.grammar.stream_condition();
        }
        Ok((token, self.chord, self.key))
    }
}

/// Max abs diffs and the quantized graph's top-1 agreement over one stream.
struct StreamParity {
    fp32: f32,
    fp32_free: f32,
    quantized: f32,
    top1: f64,
}

fn max_abs_diff(want: &[f32], want_hidden: &[f32], got: &[f32], h: &Tensor) -> anyhow::Result<f32> {
    let got_hidden = h.to_plain_array_view::<f32>()?;
    Ok(want
        .iter()
        .zip(got)
        .chain(want_hidden.iter().zip(got_hidden.iter()))
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max))
}

fn compare(
    model: &ExpertModel,
    plans: &[Plan; 2],
    source: &mut dyn StepSource,
    steps: usize,
) -> anyhow::Result<StreamParity> {
    let cfg = &model.config;
    let expert = cfg.expert;
    let shape = [cfg.num_layers, 1, cfg.hidden_size];
    let zeros = || Tensor::zero::<f32>(&shape);
    // fp32 on its own state, quantized on its own state.
    let mut own = [zeros()?, zeros()?];
    let mut candle_hidden: Vec<Vec<f32>> = vec![];
    let mut out = StreamParity {
        fp32: 0.0,
        fp32_free: 0.0,
        quantized: 0.0,
        top1: 0.0,
    };
    let mut agree = 0usize;
    let mut last: Option<Vec<f32>> = None;
    for _ in 0..steps {
        let (token, chord, key) = source.next(cfg.vocab_size, last.as_deref())?;
        let candle_state = if candle_hidden.is_empty() {
            zeros()?
        } else {
            Tensor::from_shape(&shape, &candle_hidden.concat())?
        };
        let (want, new_hidden) = model.step(token, chord, key, &candle_hidden)?;
        candle_hidden = new_hidden;
        let want_hidden: Vec<f32> = candle_hidden.concat();

        let (got, h) = run(&plans[0], expert, token, chord, key, &candle_state)?;
        out.fp32 = out.fp32.max(max_abs_diff(&want, &want_hidden, &got, &h)?);
        let (got, h) = run(&plans[0], expert, token, chord, key, &own[0])?;
        out.fp32_free = out
            .fp32_free
            .max(max_abs_diff(&want, &want_hidden, &got, &h)?);
        own[0] = h;
        let (got, h) = run(&plans[1], expert, token, chord, key, &own[1])?;
        out.quantized = out
            .quantized
            .max(max_abs_diff(&want, &want_hidden, &got, &h)?);
        agree += (argmax(&got) == argmax(&want)) as usize;
        own[1] = h;
        last = Some(want);
    }
    out.top1 = agree as f64 / steps.max(1) as f64;
    Ok(out)
}
