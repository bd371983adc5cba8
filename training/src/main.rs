//! `training`: the Nomad Muse pipeline from the command line.
//!
//! With no subcommand it runs the demo on the embedded default corpus; the
//! design seed's flags (`--midi_dir --out --config --expert --epochs
//! --prepare_only --eval_only`) work on the bare command too.
//!
//! Every multi-word flag is spelled snake_case (the documented form) and
//! accepts the kebab-case form too; every output flag names what it writes
//! (`--artifacts_dir`, `--prepared_dir`, `--onnx_file`, `--midi_file` …),
//! with the seed's `--out` kept as a hidden alias where it was documented.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use nomad_muse::tokenizers::ExpertKind;
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
    /// Compute threads for training and scoring (default: the count measured
    /// fastest for these small models, see `training::compute`).
    #[arg(long, global = true)]
    threads: Option<usize>,
}

/// The design seed's flags for the bare command.
#[derive(Args, Clone, Default)]
struct SeedFlags {
    /// Only convert MIDI to NSF and tokens (seed: `--prepare_only`).
    #[arg(long = "prepare_only", visible_alias = "prepare-only")]
    prepare_only: bool,
    /// Only evaluate trained experts (seed: `--eval_only`).
    #[arg(long = "eval_only", visible_alias = "eval-only")]
    eval_only: bool,
    #[command(flatten)]
    common: CommonFlags,
}

#[derive(Args, Clone, Default)]
struct CommonFlags {
    /// Folder of MIDI files (default: the generated corpus in <out>/corpus).
    #[arg(long = "midi_dir", visible_alias = "midi-dir")]
    midi_dir: Option<PathBuf>,
    /// Artifacts folder (corpus/, prepared/, checkpoints/, logs/, onnx/ …).
    #[arg(
        long = "artifacts_dir",
        visible_alias = "artifacts-dir",
        alias = "out",
        default_value = "artifacts"
    )]
    out: PathBuf,
    /// YAML config (default: the built-in config_multi_expert.yaml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// drums, harmony, melody, conductor or all.
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
    #[arg(long = "keep_declared_metre", visible_alias = "keep-declared-metre")]
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
        /// Folder the MIDI files and corpus_manifest.json are written to.
        #[arg(long = "corpus_dir", visible_alias = "corpus-dir", alias = "out")]
        out: PathBuf,
        #[arg(long, default_value_t = 120)]
        songs: usize,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// MIDI folder → NSF JSON, token files, vocabularies, manifest.
    Prepare {
        #[arg(long = "midi_dir", visible_alias = "midi-dir")]
        midi_dir: PathBuf,
        /// Folder for the NSF files, tokens, vocabularies and manifest.json.
        #[arg(long = "prepared_dir", visible_alias = "prepared-dir", alias = "out")]
        out: PathBuf,
        #[arg(long)]
        quiet: bool,
        /// Keep the files' declared metre (see `train --help`).
        #[arg(long = "keep_declared_metre", visible_alias = "keep-declared-metre")]
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
        /// The .onnx file written from --ckpt (default: <artifacts_dir>/onnx/<expert>.onnx).
        #[arg(
            long = "onnx_file",
            visible_alias = "onnx-file",
            alias = "out",
            requires = "ckpt"
        )]
        onnx_file: Option<PathBuf>,
        /// Folder for <expert>.onnx of every chosen expert (default: <artifacts_dir>/onnx).
        #[arg(long = "onnx_dir", visible_alias = "onnx-dir", conflicts_with = "ckpt")]
        onnx_dir: Option<PathBuf>,
        #[arg(long, default_value = "all")]
        expert: String,
        /// Artifacts folder whose checkpoints/ are exported.
        #[arg(
            long = "artifacts_dir",
            visible_alias = "artifacts-dir",
            alias = "artifacts",
            default_value = "artifacts"
        )]
        artifacts: PathBuf,
    },
    /// Export untrained experts (test fixtures, benchmarks).
    ExportRandom {
        /// Folder for drums.onnx, harmony.onnx, melody.onnx.
        #[arg(long = "onnx_dir", visible_alias = "onnx-dir", alias = "out")]
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
        /// Folder the hostile .onnx files are written to.
        #[arg(long = "crafted_dir", visible_alias = "crafted-dir", alias = "out")]
        out: PathBuf,
    },
    /// Generate bars with exported experts and write a MIDI file.
    Sketch {
        /// Folder with drums.onnx, harmony.onnx, melody.onnx.
        #[arg(
            long = "onnx_dir",
            visible_alias = "onnx-dir",
            default_value = "artifacts/onnx"
        )]
        onnx_dir: PathBuf,
        /// The MIDI file written.
        #[arg(
            long = "midi_file",
            visible_alias = "midi-file",
            alias = "out",
            default_value = "artifacts/sketch.mid"
        )]
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
    training::compute::configure(cli.threads)?;
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
            onnx_file,
            onnx_dir,
            expert,
            artifacts,
        }) => {
            pipeline::export(
                ckpt.as_deref(),
                onnx_file.or(onnx_dir).as_deref(),
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
    if ExpertKind::ALL.iter().all(|e| experts.kinds.contains(e)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("training").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn the_flag_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn documented_snake_case_and_kebab_case_spellings_both_parse() {
        for onnx in ["--onnx_dir", "--onnx-dir"] {
            for midi in ["--midi_file", "--midi-file", "--out"] {
                match parse(&["sketch", onnx, "o", midi, "s.mid"]).command {
                    Some(Command::Sketch { onnx_dir, out, .. }) => {
                        assert_eq!((onnx_dir, out), ("o".into(), "s.mid".into()))
                    }
                    _ => panic!("not a sketch"),
                }
            }
        }
        for artifacts in ["--artifacts_dir", "--artifacts-dir", "--out"] {
            let cli = parse(&["--midi_dir", "m", artifacts, "a", "--eval_only"]);
            assert_eq!(cli.seed_flags.common.out, PathBuf::from("a"));
            assert_eq!(cli.seed_flags.common.midi_dir, Some("m".into()));
            assert!(cli.seed_flags.eval_only);
        }
        let cli = parse(&["train", "--midi-dir", "m", "--threads", "2"]);
        assert_eq!(cli.threads, Some(2));
    }

    #[test]
    fn export_names_a_file_for_one_checkpoint_and_a_folder_for_all() {
        match parse(&["export", "--ckpt", "c.safetensors", "--onnx_file", "d.onnx"]).command {
            Some(Command::Export { onnx_file, .. }) => assert_eq!(onnx_file, Some("d.onnx".into())),
            _ => panic!("not an export"),
        }
        // A file without a checkpoint, or a folder with one, is refused.
        assert!(Cli::try_parse_from(["training", "export", "--onnx_file", "d.onnx"]).is_err());
        assert!(
            Cli::try_parse_from(["training", "export", "--ckpt", "c", "--onnx_dir", "o"]).is_err()
        );
    }
}
