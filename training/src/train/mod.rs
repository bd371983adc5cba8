//! Training one expert: song-level split, windowing, AdamW with warmup +
//! cosine decay, gradient clipping, early stopping, checkpoints, logs and a
//! fingerprint.

mod batches;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use candle_core::{Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::config::Config;
use crate::corpus::SplitMix64;
use crate::fingerprint::{data_hash, Fingerprint};
use crate::model::{ExpertModel, ExpertModelConfig};
use batches::{make_windows, Batch, Songs, Window};
use nomad_muse::tokenizers::{transpose, EncodedSequence, ExpertKind, Token, Vocabulary};

pub use batches::split_by_song;

#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Overrides `training.epochs`.
    pub epochs: Option<usize>,
    /// Hide progress bars and the summary line.
    pub quiet: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub expert: ExpertKind,
    pub param_count: usize,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub best_val_loss: f64,
    pub val_perplexity: f64,
    /// Perplexity of a unigram model fitted on the training split.
    pub unigram_val_perplexity: f64,
    pub train_songs: usize,
    pub val_songs: usize,
    pub train_tokens_per_epoch: usize,
    pub tokens_per_second: f64,
    pub wall_seconds: f64,
    pub checkpoint: PathBuf,
    pub fingerprint: String,
}

/// Checkpoint path of `expert` under `out_dir`.
pub fn checkpoint_path(out_dir: &Path, expert: ExpertKind) -> PathBuf {
    out_dir
        .join("checkpoints")
        .join(format!("{}_best.safetensors", expert.name()))
}

/// The fingerprint of `expert`'s checkpoint, beside it (one per expert).
pub fn fingerprint_path(out_dir: &Path, expert: ExpertKind) -> PathBuf {
    checkpoint_path(out_dir, expert).with_file_name(format!("{}_fingerprint.json", expert.name()))
}

/// (epochs, steps per epoch) within `budget` training tokens: fewer epochs
/// when the configured ones would exceed it, and, when even one full epoch
/// would, epochs of a random part of the windows.
fn budgeted_schedule(
    epochs: usize,
    full_steps: usize,
    tokens_per_epoch: usize,
    budget: Option<usize>,
) -> (usize, usize) {
    let Some(budget) = budget.filter(|_| tokens_per_epoch > 0 && full_steps > 0) else {
        return (epochs, full_steps);
    };
    if epochs * tokens_per_epoch <= budget {
        return (epochs, full_steps);
    }
    let fitting = budget / tokens_per_epoch;
    if fitting >= 1 {
        return (fitting.min(epochs), full_steps);
    }
    let tokens_per_step = tokens_per_epoch.div_ceil(full_steps);
    (1, (budget / tokens_per_step).clamp(1, full_steps))
}

fn lr_at(step: usize, total: usize, warmup: usize, base: f64) -> f64 {
    if step < warmup {
        return base * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    base * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos()))
}

/// Mean masked loss terms of one batch: (token cross-entropy, groove BCE).
fn batch_loss(
    model: &ExpertModel,
    batch: &Batch,
    rng: Option<&mut SplitMix64>,
) -> candle_core::Result<(Tensor, Option<Tensor>)> {
    let out = model.forward(&batch.inputs, Some(&batch.chord), Some(&batch.key), rng)?;
    let ce = crate::model::masked_cross_entropy(&out.logits, &batch.targets, &batch.mask)?;
    let groove = match (&out.groove, &batch.groove) {
        (Some(x), Some(y)) => {
            // Numerically stable BCE with logits: max(x,0) − x·y + log(1 + e^−|x|).
            let per = ((x.relu()? - (x * y)?)? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
            let count = batch.input_mask.sum_all()?.clamp(1.0, f64::MAX)?;
            Some((per * &batch.input_mask)?.sum_all()?.div(&count)?)
        }
        _ => None,
    };
    Ok((ce, groove))
}

/// Mean token cross-entropy over all windows (each target counted once).
fn evaluate(
    model: &ExpertModel,
    windows: &[Window],
    batch_size: usize,
    expert: ExpertKind,
) -> anyhow::Result<f64> {
    let (mut total, mut count) = (0.0, 0.0);
    for chunk in windows.chunks(batch_size) {
        let batch = Batch::new(chunk, expert)?;
        let n = batch.mask.sum_all()?.to_scalar::<f32>()? as f64;
        let (ce, _) = batch_loss(model, &batch, None)?;
        total += ce.to_scalar::<f32>()? as f64 * n;
        count += n;
    }
    Ok(if count > 0.0 { total / count } else { f64::NAN })
}

/// Perplexity on `val` of an add-one unigram model fitted on `train`.
fn unigram_perplexity(train: &[Window], val: &[Window], vocab: usize) -> f64 {
    let mut counts = vec![1.0f64; vocab];
    for w in train {
        for (t, m) in w.targets().iter().zip(w.target_mask()) {
            if m > 0.0 {
                counts[*t as usize] += 1.0;
            }
        }
    }
    let total: f64 = counts.iter().sum();
    let (mut nll, mut n) = (0.0f64, 0.0f64);
    for w in val {
        for (t, m) in w.targets().iter().zip(w.target_mask()) {
            if m > 0.0 {
                nll -= (counts[*t as usize] / total).ln();
                n += 1.0;
            }
        }
    }
    (nll / n.max(1.0)).exp()
}

fn clip_gradients(
    grads: &mut candle_core::backprop::GradStore,
    vars: &[Var],
    max_norm: f64,
) -> candle_core::Result<f64> {
    let mut sq = 0.0f64;
    for v in vars {
        if let Some(g) = grads.get(v) {
            sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
    }
    let norm = sq.sqrt();
    if norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for v in vars {
            if let Some(g) = grads.get(v) {
                let scaled = (g * scale)?;
                grads.insert(v, scaled);
            }
        }
    }
    Ok(norm)
}

/// Trains `expert` on `songs` and writes its best checkpoint, config,
/// vocabulary, fingerprint and a JSONL metrics log under `out_dir`.
pub fn train_expert(
    expert: ExpertKind,
    songs: &[(String, EncodedSequence)],
    cfg: &Config,
    out_dir: &Path,
    opts: &TrainOptions,
) -> anyhow::Result<TrainReport> {
    let started = Instant::now();
    cfg.validate()?;
    let t = &cfg.training;
    if songs.len() < 2 {
        bail!(
            "{}: need at least 2 songs with a {} part to split train/validation, got {}",
            expert.name(),
            expert.name(),
            songs.len()
        );
    }
    let model_cfg = ExpertModelConfig::from_config(expert, cfg);
    let vocab = Vocabulary::for_expert(expert);
    let (train_songs, val_songs) = split_by_song(songs, t.val_fraction, t.seed);
    let key_ids: Vec<u32> = vocab
        .tokens()
        .iter()
        .enumerate()
        .filter(|(_, t)| matches!(t, Token::Key(_)))
        .map(|(i, _)| i as u32)
        .collect();
    // Without include_keys the harmony expert is given the key, not asked for it.
    let unscored: &[u32] = if expert == ExpertKind::Harmony && !cfg.harmony.include_keys {
        &key_ids
    } else {
        &[]
    };
    let seq_len = cfg.seq_len(expert);
    let mut train = make_windows(&train_songs, expert, seq_len, seq_len / 2, unscored);
    let augment = cfg.model(expert).transpose_augment && expert != ExpertKind::Drums;
    let val = make_windows(&val_songs, expert, seq_len, seq_len, unscored);
    if train.is_empty() || val.is_empty() {
        bail!(
            "{}: not enough tokens to form training and validation windows",
            expert.name()
        );
    }
    // Report-card thresholds do not change what is trained: keep them out of the hash.
    let mut trained_cfg = cfg.clone();
    trained_cfg.eval = Default::default();
    let config_json = serde_json::to_string(&(&trained_cfg, &model_cfg))?;
    let fingerprint = Fingerprint::new(&config_json, data_hash(songs), &vocab.to_json(), t.seed);

    let model = ExpertModel::new(model_cfg.clone(), t.seed ^ expert as u64)?;
    let vars = model.vars();
    let mut opt = AdamW::new(
        vars.clone(),
        ParamsAdamW {
            lr: t.learning_rate,
            weight_decay: t.weight_decay,
            ..Default::default()
        },
    )?;
    let train_tokens: usize = train
        .iter()
        .map(|w| w.target_mask().iter().filter(|m| **m > 0.0).count())
        .sum();
    let batch_size = cfg.batch_size(expert);
    let full_steps = train.len().div_ceil(batch_size);
    let (epochs, steps_per_epoch) = match opts.epochs {
        Some(e) => (e.max(1), full_steps),
        None => budgeted_schedule(
            cfg.epochs(expert).max(1),
            full_steps,
            train_tokens,
            t.max_train_tokens,
        ),
    };
    // The budget only ever shortens the configured schedule.
    let budgeted = (epochs, steps_per_epoch) != (cfg.epochs(expert).max(1), full_steps)
        && opts.epochs.is_none();
    let total_steps = steps_per_epoch * epochs;
    // Small corpora (harmony has few tokens a bar) get few steps an epoch.
    let warmup = t.warmup_steps.min(total_steps / 5);
    let unigram = unigram_perplexity(&train, &val, vocab.len());

    let ckpt = checkpoint_path(out_dir, expert);
    let ckpt_dir = ckpt.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::create_dir_all(&ckpt_dir)?;
    std::fs::create_dir_all(out_dir.join("logs"))?;
    let log_path = out_dir.join("logs").join(format!(
        "{}_{}.jsonl",
        expert.name(),
        &fingerprint.hash[..12]
    ));
    let mut log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    std::fs::write(
        ckpt_dir.join(format!("{}_config.json", expert.name())),
        serde_json::to_string_pretty(&model_cfg)?,
    )?;
    std::fs::write(
        ckpt_dir.join(format!("{}_vocab.json", expert.name())),
        vocab.to_json(),
    )?;
    std::fs::write(
        fingerprint_path(out_dir, expert),
        serde_json::to_string_pretty(&fingerprint)?,
    )?;

    if !opts.quiet {
        eprintln!(
            "{}: {} parameters, {} train / {} val songs, {} windows, unigram val ppl {:.2}; \
             {epochs} epochs of {steps_per_epoch} steps{}",
            expert.name(),
            model.param_count(),
            train_songs.len(),
            val_songs.len(),
            train.len(),
            unigram,
            if budgeted {
                " (within training.max_train_tokens)"
            } else {
                ""
            }
        );
    }
    let mut rng = SplitMix64::new(t.seed.wrapping_mul(31).wrapping_add(expert as u64));
    let (mut best, mut best_epoch, mut since_best, mut step) = (f64::INFINITY, 0, 0, 0);
    let (mut train_time, mut epochs_run) = (0.0f64, 0);
    for epoch in 1..=epochs {
        let epoch_start = Instant::now();
        let bar = if opts.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(steps_per_epoch as u64)
        };
        bar.set_style(
            ProgressStyle::with_template("{prefix:>16} [{bar:25}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{} epoch {epoch}", expert.name()));
        if augment && epoch > 1 {
            // Lengths do not change, so the windows (and steps) stay the same.
            let moved: Songs = train_songs
                .iter()
                .map(|(n, s)| (n.clone(), transpose(expert, s, rng.below(12) as i32 - 5)))
                .collect();
            train = make_windows(&moved, expert, seq_len, seq_len / 2, unscored);
        }
        let mut order: Vec<usize> = (0..train.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let (mut loss_sum, mut loss_n, mut tokens) = (0.0, 0.0, 0usize);
        // Under a token budget an epoch may see a random part of the windows.
        for chunk in order.chunks(batch_size).take(steps_per_epoch) {
            let windows: Vec<Window> = chunk.iter().map(|i| train[*i].clone()).collect();
            let batch = Batch::new(&windows, expert)?;
            let (ce, groove) = batch_loss(&model, &batch, Some(&mut rng))?;
            let loss = match &groove {
                Some(g) => (&ce + (g * t.groove_loss_weight)?)?,
                None => ce.clone(),
            };
            let mut grads = loss.backward()?;
            clip_gradients(&mut grads, &vars, t.grad_clip)?;
            opt.set_learning_rate(lr_at(step, total_steps, warmup, t.learning_rate));
            opt.step(&grads)?;
            step += 1;
            loss_sum += ce.to_scalar::<f32>()? as f64;
            loss_n += 1.0;
            tokens += batch.mask.sum_all()?.to_scalar::<f32>()? as usize;
            let rate = tokens as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("loss {:.3}  {:.0} tok/s", loss_sum / loss_n, rate));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let epoch_secs = epoch_start.elapsed().as_secs_f64();
        train_time += epoch_secs;
        epochs_run = epoch;
        let val_loss = evaluate(&model, &val, batch_size, expert)?;
        let record = serde_json::json!({
            "epoch": epoch, "train_loss": loss_sum / loss_n.max(1.0), "val_loss": val_loss,
            "val_ppl": val_loss.exp(), "lr": lr_at(step, total_steps, warmup, t.learning_rate),
            "tokens_per_s": tokens as f64 / epoch_secs.max(1e-9), "elapsed_s": started.elapsed().as_secs_f64(),
        });
        writeln!(log, "{record}")?;
        if !opts.quiet {
            eprintln!(
                "{} epoch {epoch}: train {:.4}  val {:.4} (ppl {:.2})  {:.0} tok/s",
                expert.name(),
                loss_sum / loss_n.max(1.0),
                val_loss,
                val_loss.exp(),
                tokens as f64 / epoch_secs.max(1e-9)
            );
        }
        if val_loss < best {
            best = val_loss;
            best_epoch = epoch;
            since_best = 0;
            model.save(&ckpt, &fingerprint.hash)?;
        } else {
            since_best += 1;
            if since_best >= cfg.patience(expert) {
                break;
            }
        }
    }
    Ok(TrainReport {
        expert,
        param_count: model.param_count(),
        epochs_run,
        best_epoch,
        best_val_loss: best,
        val_perplexity: best.exp(),
        unigram_val_perplexity: unigram,
        train_songs: train_songs.len(),
        val_songs: val_songs.len(),
        train_tokens_per_epoch: train_tokens,
        tokens_per_second: train_tokens as f64 * epochs_run as f64 / train_time.max(1e-9),
        wall_seconds: started.elapsed().as_secs_f64(),
        checkpoint: ckpt,
        fingerprint: fingerprint.hash,
    })
}

#[cfg(test)]
mod tests {
    use super::budgeted_schedule;

    #[test]
    fn the_token_budget_shortens_big_folders_only() {
        // Small corpus: the configured schedule.
        assert_eq!(
            budgeted_schedule(12, 100, 100_000, Some(4_000_000)),
            (12, 100)
        );
        assert_eq!(budgeted_schedule(12, 100, 100_000, None), (12, 100));
        // Big corpus: fewer full epochs …
        assert_eq!(
            budgeted_schedule(150, 5_000, 420_000, Some(4_000_000)),
            (9, 5_000)
        );
        // … or one epoch of part of the windows.
        assert_eq!(
            budgeted_schedule(12, 10_000, 8_000_000, Some(4_000_000)),
            (1, 5_000)
        );
    }
}
