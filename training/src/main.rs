//! `training`: the Nomad Muse pipeline from the command line.
//!
//! With no subcommand it runs the demo on the embedded default corpus; the
//! design seed's flags (`--midi_dir --out --config --expert --epochs
//! --prepare_only --eval_only`) work on the bare command too.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use training::config::Config;
use training::eval::EvalOptions;
use training::pipeline::{self, ExpertChoice};
use training::prepare::PrepareOptions;

#[derive(Parser)]
#[command(
    name = "training",
    version,
    about = "Nomad Muse: prepare, train, eval, export"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    seed_flags: SeedFlags,
}

/// The design seed's flags for the bare command.
#[derive(Args, Clone, Default)]
struct SeedFlags {
    /// Only convert MIDI to NSF and tokens (seed: `--prepare_only`).
    #[arg(long = "prepare_only", alias = "prepare-only")]
    prepare_only: bool,
    /// Only evaluate trained experts (seed: `--eval_only`).
    #[arg(long = "eval_only", alias = "eval-only")]
    eval_only: bool,
    #[command(flatten)]
    common: CommonFlags,
}

#[derive(Args, Clone, Default)]
struct CommonFlags {
    /// Folder of MIDI files (default: the generated corpus in <out>/corpus).
    #[arg(long = "midi_dir", alias = "midi-dir")]
    midi_dir: Option<PathBuf>,
    /// Artifacts folder.
    #[arg(long, default_value = "artifacts")]
    out: PathBuf,
    /// YAML config (default: the built-in config_multi_expert.yaml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// drums, harmony, melody or all.
    #[arg(long, default_value = "all")]
    expert: String,
    /// Overrides training.epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Songs in the generated default corpus.
    #[arg(long, default_value_t = 120)]
    songs: usize,
    /// Seed of the generated corpus and of sampling (training uses training.seed).
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
    /// Bar lines from the files' declared time signatures even where the
    /// music's periodicity contradicts them (e.g. a 1/4 that makes every
    /// beat a bar).
    #[arg(long = "keep_declared_metre", alias = "keep-declared-metre")]
    keep_declared_metre: bool,
}

impl CommonFlags {
    fn prepare_options(&self) -> PrepareOptions {
        PrepareOptions {
            quiet: self.quiet,
            keep_declared_metre: self.keep_declared_metre,
        }
    }

    fn prepare(&self) -> anyhow::Result<training::prepare::PreparedCorpus> {
        pipeline::prepare_default_or_with(
            &self.midi_dir,
            &self.out,
            self.songs,
            self.seed,
            &self.prepare_options(),
        )
    }
}

#[derive(Args, Clone, Default)]
struct EvalFlags {
    #[command(flatten)]
    common: CommonFlags,
    /// Pieces sampled per expert (default: eval.samples of the config).
    #[arg(long)]
    samples: Option<usize>,
    /// Bars per piece (default: eval.bars of the config).
    #[arg(long)]
    bars: Option<u32>,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the synthetic multi-track corpus.
    GenCorpus {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 120)]
        songs: usize,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// MIDI folder → NSF JSON, token files, vocabularies, manifest.
    Prepare {
        #[arg(long = "midi_dir", alias = "midi-dir")]
        midi_dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        quiet: bool,
        /// Keep the files' declared metre (see `train --help`).
        #[arg(long = "keep_declared_metre", alias = "keep-declared-metre")]
        keep_declared_metre: bool,
    },
    /// Train experts (prepares the data first).
    Train(CommonFlags),
    /// Score trained experts: the report card (seed: `--eval_only`).
    Eval(EvalFlags),
    /// Export checkpoints to ONNX (fp32 + quantized).
    Export {
        /// One checkpoint (`<expert>_best.safetensors`); default: all in <out>/checkpoints.
        #[arg(long)]
        ckpt: Option<PathBuf>,
        /// Output .onnx file (with --ckpt) or folder.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, default_value = "all")]
        expert: String,
        #[arg(long, default_value = "artifacts")]
        artifacts: PathBuf,
    },
    /// Export untrained experts (test fixtures, benchmarks).
    ExportRandom {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Write hostile variants of an exported expert (C ABI test fixtures:
    /// every one must be refused by the library).
    ExportCrafted {
        /// A valid exported expert to start from.
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Generate bars with exported experts and write a MIDI file.
    Sketch {
        /// Folder with drums.onnx, harmony.onnx, melody.onnx.
        #[arg(long, default_value = "artifacts/onnx")]
        onnx_dir: PathBuf,
        #[arg(long, default_value = "artifacts/sketch.mid")]
        out: PathBuf,
        #[arg(long, default_value_t = 16)]
        bars: u32,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        #[arg(long, default_value_t = 0.9)]
        temperature: f32,
    },
    /// Generate the corpus, prepare, train, export and write a 16-bar sketch.
    Demo(CommonFlags),
}

fn load_config(path: &Option<PathBuf>) -> anyhow::Result<Config> {
    match path {
        Some(p) => Config::load(p),
        None => Ok(Config::default()),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::GenCorpus { out, songs, seed }) => {
            let generated = training::corpus::generate_corpus(&out, songs, seed)?;
            println!(
                "wrote {} songs and corpus_manifest.json to {}",
                generated.len(),
                out.display()
            );
        }
        Some(Command::Prepare {
            midi_dir,
            out,
            quiet,
            keep_declared_metre,
        }) => {
            pipeline::print_prepare(
                &training::prepare::prepare(
                    &midi_dir,
                    &out,
                    &PrepareOptions {
                        quiet,
                        keep_declared_metre,
                    },
                )?,
                &out,
            );
        }
        Some(Command::Train(flags)) => {
            let cfg = load_config(&flags.config)?;
            let experts = ExpertChoice::parse(&flags.expert)?;
            let corpus = flags.prepare()?;
            pipeline::train(
                &corpus,
                &cfg,
                &experts,
                &flags.out,
                flags.epochs,
                flags.quiet,
            )?;
        }
        Some(Command::Eval(flags)) => eval(&flags)?,
        Some(Command::Export {
            ckpt,
            out,
            expert,
            artifacts,
        }) => {
            pipeline::export(
                ckpt.as_deref(),
                out.as_deref(),
                &ExpertChoice::parse(&expert)?,
                &artifacts,
            )?;
        }
        Some(Command::ExportRandom { out, seed }) => {
            let reports = pipeline::export_random(&out, &Config::default(), seed)?;
            pipeline::print_export(&reports);
        }
        Some(Command::ExportCrafted { from, out }) => {
            for path in training::export::crafted::write_crafted_models(&from, &out)? {
                println!("wrote {}", path.display());
            }
        }
        Some(Command::Sketch {
            onnx_dir,
            out,
            bars,
            seed,
            temperature,
        }) => {
            let notes = pipeline::sketch(&onnx_dir, &out, bars, seed, temperature)?;
            println!("wrote {bars} bars ({notes} notes) -> {}", out.display());
        }
        Some(Command::Demo(flags)) => demo(&flags)?,
        None => {
            let f = cli.seed_flags;
            if f.prepare_only && f.eval_only {
                bail!("--prepare_only and --eval_only exclude each other");
            }
            if f.prepare_only {
                f.common.prepare()?;
            } else if f.eval_only {
                eval(&EvalFlags {
                    common: f.common,
                    ..Default::default()
                })?;
            } else {
                demo(&f.common)?;
            }
        }
    }
    Ok(())
}

fn eval_options(
    cfg: &Config,
    flags: &CommonFlags,
    samples: Option<usize>,
    bars: Option<u32>,
) -> EvalOptions {
    EvalOptions {
        samples: samples.unwrap_or(cfg.eval.samples).max(1),
        bars: bars.unwrap_or(cfg.eval.bars).max(1),
        seed: flags.seed,
        quiet: flags.quiet,
    }
}

fn eval(flags: &EvalFlags) -> anyhow::Result<()> {
    let c = &flags.common;
    let cfg = load_config(&c.config)?;
    let experts = ExpertChoice::parse(&c.expert)?;
    let corpus =
        pipeline::corpus_for_eval(&c.midi_dir, &c.out, c.songs, c.seed, &c.prepare_options())?;
    let opts = eval_options(&cfg, c, flags.samples, flags.bars);
    pipeline::evaluate(&c.out, &corpus, &cfg, &experts, &opts)?;
    Ok(())
}

fn demo(flags: &CommonFlags) -> anyhow::Result<()> {
    let cfg = load_config(&flags.config)?;
    let experts = ExpertChoice::parse(&flags.expert)?;
    let corpus = flags.prepare()?;
    let reports = pipeline::train(
        &corpus,
        &cfg,
        &experts,
        &flags.out,
        flags.epochs,
        flags.quiet,
    )
    .context("training")?;
    // Evaluate and export what was trained (an `all` run may skip experts).
    let trained: Vec<_> = reports.iter().map(|r| r.expert).collect();
    let experts = ExpertChoice::only(&trained);
    let card = pipeline::evaluate(
        &flags.out,
        &corpus,
        &cfg,
        &experts,
        &eval_options(&cfg, flags, None, None),
    )
    .context("report card")?;
    println!("report card: {}", card.summary());
    let onnx = flags.out.join("onnx");
    pipeline::export(None, Some(&onnx), &experts, &flags.out).context("export")?;
    if experts.kinds.len() == 3 {
        let sketch = flags.out.join("sketch.mid");
        let notes = pipeline::sketch(&onnx, &sketch, 16, flags.seed, 0.9).context("sketch")?;
        println!("16-bar sketch ({notes} notes) -> {}", sketch.display());
    }
    println!(
        "artifacts: {}/{{corpus,prepared,checkpoints,logs,onnx,samples}}, train_report.json, report_card.{{json,md}}, sketch.mid",
        flags.out.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
