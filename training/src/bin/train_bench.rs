//! Training throughput: each expert trained for a fixed number of steps on
//! random tokens of its real shapes (config sizes, batch, sequence length,
//! conditioning; AdamW), fused GRU op vs composed candle ops, at each thread
//! count asked for. Contenders run interleaved (A, B, A, B …) and the median
//! of the rounds is printed, so a busy machine slows every contender alike.
//!
//! `target/release/train_bench [--expert all] [--steps 20] [--rounds 5]
//!  [--contenders fused,composed] [--threads 1,2] [--batch N] [--json]`
//!
//! `scripts/dev/torch_train_bench.py` runs this binary and PyTorch in turn
//! on the same shapes.

use std::time::Instant;

use anyhow::{bail, Context};
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use nomad_muse::tokenizers::ExpertKind;
use training::config::Config;
use training::corpus::SplitMix64;
use training::model::{
    masked_cross_entropy, ExpertModel, ExpertModelConfig, GruKernel, CHORD_CONDITIONS,
    KEY_CONDITIONS,
};

struct Options {
    experts: Vec<ExpertKind>,
    steps: usize,
    rounds: usize,
    kernels: Vec<GruKernel>,
    threads: Vec<usize>,
    batch: Option<usize>,
    json: bool,
}

fn list<T>(s: &str, item: impl Fn(&str) -> anyhow::Result<T>) -> anyhow::Result<Vec<T>> {
    s.split(',').map(|x| item(x.trim())).collect()
}

fn parse_args() -> anyhow::Result<Options> {
    let mut o = Options {
        experts: ExpertKind::ALL.to_vec(),
        steps: 20,
        rounds: 5,
        kernels: vec![GruKernel::Fused, GruKernel::Composed],
        threads: vec![1],
        batch: None,
        json: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).context("a flag needs a value");
        match args[i].as_str() {
            "--json" => {
                o.json = true;
                i += 1;
                continue;
            }
            "--bench" => {} // passed by `cargo bench`
            "--expert" => {
                o.experts = match value()?.as_str() {
                    "all" => ExpertKind::ALL.to_vec(),
                    v => list(v, |e| ExpertKind::from_name(e).context("unknown expert"))?,
                }
            }
            "--steps" => o.steps = value()?.parse()?,
            "--rounds" => o.rounds = value()?.parse()?,
            "--batch" => o.batch = Some(value()?.parse()?),
            "--threads" => o.threads = list(value()?, |t| Ok(t.parse::<usize>()?))?,
            "--contenders" => {
                o.kernels = list(value()?, |k| match k {
                    "fused" => Ok(GruKernel::Fused),
                    "composed" => Ok(GruKernel::Composed),
                    _ => bail!("contenders are fused and composed"),
                })?
            }
            other => bail!("unknown flag {other}"),
        }
        i += 2;
    }
    if o.steps == 0 || o.rounds == 0 || o.threads.contains(&0) {
        bail!("--steps, --rounds and --threads must be at least 1");
    }
    Ok(o)
}

/// One training batch of random ids in range: (tokens, chord, key, targets, mask).
fn random_batch(
    rng: &mut SplitMix64,
    cfg: &ExpertModelConfig,
    b: usize,
    t: usize,
) -> anyhow::Result<[Tensor; 5]> {
    let mut ids = |n: usize| -> anyhow::Result<Tensor> {
        let v: Vec<u32> = (0..b * t).map(|_| rng.below(n) as u32).collect();
        Ok(Tensor::from_vec(v, (b, t), &Device::Cpu)?)
    };
    Ok([
        ids(cfg.vocab_size)?,
        ids(CHORD_CONDITIONS)?,
        ids(KEY_CONDITIONS)?,
        ids(cfg.vocab_size)?,
        Tensor::ones((b, t), DType::F32, &Device::Cpu)?,
    ])
}

/// Tokens per second of `steps` AdamW steps (after one untimed step).
fn run(
    expert: ExpertKind,
    kernel: GruKernel,
    b: usize,
    steps: usize,
    seed: u64,
) -> anyhow::Result<f64> {
    let cfg = Config::default();
    let t = cfg.seq_len(expert);
    let model_cfg = ExpertModelConfig::from_config(expert, &cfg);
    let mut model = ExpertModel::new(model_cfg.clone(), seed)?;
    model.set_gru_kernel(kernel);
    let mut opt = AdamW::new(
        model.vars(),
        ParamsAdamW {
            lr: 1e-3,
            weight_decay: 0.01,
            ..Default::default()
        },
    )?;
    let mut rng = SplitMix64::new(seed);
    let batches = (0..=steps)
        .map(|_| random_batch(&mut rng, &model_cfg, b, t))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut started = Instant::now();
    for (i, [tokens, chord, key, targets, mask]) in batches.iter().enumerate() {
        if i == 1 {
            started = Instant::now();
        }
        let out = model.forward(tokens, Some(chord), Some(key), None)?;
        let loss = masked_cross_entropy(&out.logits, targets, mask)?;
        opt.step(&loss.backward()?)?;
    }
    Ok((steps * b * t) as f64 / started.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn kernel_name(k: GruKernel) -> &'static str {
    match k {
        GruKernel::Fused => "fused",
        GruKernel::Composed => "composed",
    }
}

fn main() -> anyhow::Result<()> {
    let o = parse_args()?;
    let max_threads = o.threads.iter().copied().max().unwrap_or(1);
    training::compute::configure(Some(max_threads))?;
    let cfg = Config::default();
    let contenders: Vec<(GruKernel, usize)> = o
        .kernels
        .iter()
        .flat_map(|k| o.threads.iter().map(move |t| (*k, *t)))
        .collect();
    if !o.json {
        println!(
            "training throughput, {} steps x {} rounds interleaved, median tokens/s",
            o.steps, o.rounds
        );
        println!(
            "{:<8} {:>5} {:>5} {:>9} {:>8} {:>12}",
            "expert", "batch", "seq", "gru", "threads", "tokens/s"
        );
    }
    for &expert in &o.experts {
        let b = o.batch.unwrap_or(cfg.batch_size(expert));
        let m = ExpertModelConfig::from_config(expert, &cfg);
        let mut rates = vec![Vec::new(); contenders.len()];
        for round in 0..o.rounds {
            for (c, &(kernel, threads)) in contenders.iter().enumerate() {
                // candle sizes its gemm splits from this on every call.
                std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
                rates[c].push(run(expert, kernel, b, o.steps, 7 + round as u64)?);
            }
        }
        for ((kernel, threads), r) in contenders.iter().zip(rates) {
            let rate = median(r);
            if o.json {
                println!(
                    "{}",
                    serde_json::json!({"expert": expert.name(), "gru": kernel_name(*kernel),
                        "threads": threads, "batch": b, "seq_len": cfg.seq_len(expert),
                        "steps": o.steps, "tokens_per_s": rate, "vocab": m.vocab_size,
                        "embed_dim": m.embed_dim, "hidden": m.hidden_size, "layers": m.num_layers,
                        "conditioned": expert.is_conditioned(),
                        "chord_conditions": CHORD_CONDITIONS, "key_conditions": KEY_CONDITIONS})
                );
            } else {
                println!(
                    "{:<8} {:>5} {:>5} {:>9} {:>8} {:>12.0}",
                    expert.name(),
                    b,
                    cfg.seq_len(expert),
                    kernel_name(*kernel),
                    threads,
                    rate
                );
            }
        }
    }
    Ok(())
}
