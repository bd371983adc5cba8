//! Parity between the candle model and its exported ONNX graphs, run
//! through tract-onnx: same random token / condition stream, hidden state
//! carried from step to step.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use tract_onnx::prelude::*;

use crate::corpus::SplitMix64;
use crate::model::{ExpertModel, CHORD_CONDITIONS, KEY_CONDITIONS};
use nomad_muse::tokenizers::ExpertKind;

#[derive(Debug, Clone, Serialize)]
pub struct ParityReport {
    pub steps: usize,
    /// Max |candle − tract| over logits and hidden states, fp32 graph.
    pub fp32_max_abs_diff: f32,
    /// Share of steps where the quantized graph's top-1 token equals candle's.
    pub quantized_top1_agreement: f64,
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

/// Runs `steps` random steps through candle and both graphs.
pub fn check(
    model: &ExpertModel,
    fp32: &Path,
    quantized: &Path,
    steps: usize,
    seed: u64,
) -> anyhow::Result<ParityReport> {
    let cfg = &model.config;
    let expert = cfg.expert;
    let plans = [load(fp32)?, load(quantized)?];
    let zeros = || Tensor::zero::<f32>(&[cfg.num_layers, 1, cfg.hidden_size]);
    let mut hidden = [zeros()?, zeros()?];
    let mut candle_hidden: Vec<Vec<f32>> = vec![];
    let mut rng = SplitMix64::new(seed);
    let (mut fp32_diff, mut q_diff, mut agree) = (0f32, 0f32, 0usize);
    for _ in 0..steps {
        let token = rng.below(cfg.vocab_size) as u32;
        let chord = rng.below(CHORD_CONDITIONS) as u32;
        let key = rng.below(KEY_CONDITIONS) as u32;
        let (want, new_hidden) = model.step(token, chord, key, &candle_hidden)?;
        candle_hidden = new_hidden;
        let want_hidden: Vec<f32> = candle_hidden.concat();
        for (i, plan) in plans.iter().enumerate() {
            let (got, h) = run(plan, expert, token, chord, key, &hidden[i])?;
            let got_hidden: Vec<f32> = h.to_plain_array_view::<f32>()?.iter().copied().collect();
            let diff = want
                .iter()
                .zip(&got)
                .chain(want_hidden.iter().zip(&got_hidden))
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            if i == 0 {
                fp32_diff = fp32_diff.max(diff);
                // Keep the fp32 graph on candle's trajectory.
                hidden[0] = h;
            } else {
                q_diff = q_diff.max(diff);
                agree += (argmax(&got) == argmax(&want)) as usize;
                hidden[1] = h;
            }
        }
    }
    Ok(ParityReport {
        steps,
        fp32_max_abs_diff: fp32_diff,
        quantized_top1_agreement: agree as f64 / steps.max(1) as f64,
        quantized_max_abs_diff: q_diff,
    })
}
