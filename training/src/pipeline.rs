//! The stages the CLI and the demo chain: default corpus, prepare, train,
//! export, with their summaries printed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::config::Config;
use crate::eval::{run_eval, EvalOptions, ReportCard};
use crate::export::{export_checkpoint, ExportReport};
use crate::model::{ExpertModel, ExpertModelConfig};
use crate::prepare::{load_prepared, prepare, Manifest, PrepareOptions, PreparedCorpus};
use crate::train::{checkpoint_path, train_expert, TrainOptions, TrainReport};
use nomad_muse::runtime::{Band, ExpertSession, Part, PartControls, SamplingOptions};
use nomad_muse::tokenizers::ExpertKind;

/// `--expert drums|harmony|melody|conductor|all`.
pub struct ExpertChoice {
    pub kinds: Vec<ExpertKind>,
    /// `all`: an expert the folder has no data (or checkpoint) for is
    /// skipped with its reason; one named expert must run or fail.
    pub every: bool,
}

impl ExpertChoice {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        if s == "all" {
            return Ok(ExpertChoice {
                kinds: ExpertKind::WITH_CONDUCTOR.to_vec(),
                every: true,
            });
        }
        match ExpertKind::from_name(s) {
            Some(e) => Ok(Self::only(&[e])),
            None => bail!("unknown expert {s:?}: use drums, harmony, melody, conductor or all"),
        }
    }

    /// Exactly these experts, none skippable.
    pub fn only(kinds: &[ExpertKind]) -> Self {
        ExpertChoice {
            kinds: kinds.to_vec(),
            every: false,
        }
    }
}

/// An expert left out of an `--expert all` run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub expert: ExpertKind,
    pub reason: String,
}

/// Why `corpus` cannot train or score `expert`, if it cannot: the split
/// needs one training and one validation song.
pub fn data_gap(corpus: &PreparedCorpus, expert: ExpertKind) -> Option<String> {
    let part = match expert {
        ExpertKind::Drums => "a drums part",
        ExpertKind::Harmony => "sounding harmony (chords played)",
        ExpertKind::Melody => "a melody part",
        ExpertKind::Conductor => "form data (prepare it again: older folders have none)",
    };
    match corpus.sequences(expert).len() {
        0 => Some(format!("no file has {part}")),
        1 => Some(format!(
            "only 1 song has {part}: 2 are needed to split train/validation"
        )),
        _ => None,
    }
}

/// Splits the chosen experts into those that can run and those skipped
/// (`gap` gives the reason). A named expert that cannot run, or `all` with
/// none that can, is an error listing every reason.
pub fn plan(
    experts: &ExpertChoice,
    action: &str,
    gap: impl Fn(ExpertKind) -> Option<String>,
) -> anyhow::Result<(Vec<ExpertKind>, Vec<Skipped>)> {
    let mut run = Vec::new();
    let mut skipped = Vec::new();
    for &e in &experts.kinds {
        match gap(e) {
            None => run.push(e),
            Some(reason) => skipped.push(Skipped { expert: e, reason }),
        }
    }
    let reasons = || {
        skipped
            .iter()
            .map(|s| format!("{}: {}", s.expert.name(), s.reason))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if !experts.every && !skipped.is_empty() {
        bail!("cannot {action} {}", reasons());
    }
    if run.is_empty() {
        bail!("no expert to {action}: {}", reasons());
    }
    for s in &skipped {
        println!("skipped {} ({action}): {}", s.expert.name(), s.reason);
    }
    Ok((run, skipped))
}

pub fn print_prepare(m: &Manifest, out: &Path) {
    println!(
        "prepared {} files ({} skipped) in {:.2} s = {:.1} files/s -> {}",
        m.files.len(),
        m.skipped.len(),
        m.elapsed_seconds,
        m.files_per_second,
        out.display()
    );
    for e in ExpertKind::WITH_CONDUCTOR {
        println!(
            "  {:<9} {:>8} tokens, {:.1} tokens/bar",
            e.name(),
            m.total_tokens.get(e.name()).unwrap_or(&0),
            m.tokens_per_bar(e)
        );
    }
    if m.metre_inferred_files > 0 {
        println!(
            "  metre: bar lines from the music in {} files (declared bars under two quarters, or contradicted by the music; see manifest.json, --keep_declared_metre keeps the files')",
            m.metre_inferred_files
        );
    }
    for s in &m.skipped {
        println!("  skipped {}: {}", s.path, s.reason);
    }
}

/// Prepares `midi_dir`, or without one the generated default corpus
/// (written to `<out>/corpus`), into `<out>/prepared`.
pub fn prepare_default_or(
    midi_dir: &Option<PathBuf>,
    out: &Path,
    songs: usize,
    seed: u64,
    quiet: bool,
) -> anyhow::Result<PreparedCorpus> {
    let opts = PrepareOptions {
        quiet,
        ..Default::default()
    };
    prepare_default_or_with(midi_dir, out, songs, seed, &opts)
}

/// [`prepare_default_or`] with all the prepare options.
pub fn prepare_default_or_with(
    midi_dir: &Option<PathBuf>,
    out: &Path,
    songs: usize,
    seed: u64,
    opts: &PrepareOptions,
) -> anyhow::Result<PreparedCorpus> {
    let dir = match midi_dir {
        Some(d) => d.clone(),
        None => {
            let d = out.join("corpus");
            let n = crate::corpus::generate_corpus(&d, songs, seed)?.len();
            println!("generated {n} songs (seed {seed}) -> {}", d.display());
            d
        }
    };
    let prepared = out.join("prepared");
    let manifest = prepare(&dir, &prepared, opts)?;
    print_prepare(&manifest, &prepared);
    load_prepared(&prepared)
}

pub fn train(
    corpus: &PreparedCorpus,
    cfg: &Config,
    experts: &ExpertChoice,
    out: &Path,
    epochs: Option<usize>,
    quiet: bool,
) -> anyhow::Result<Vec<TrainReport>> {
    let (kinds, _) = plan(experts, "train", |e| data_gap(corpus, e))?;
    let mut reports = Vec::new();
    for e in &kinds {
        let r = train_expert(
            *e,
            corpus.sequences(*e),
            cfg,
            out,
            &TrainOptions { epochs, quiet },
        )?;
        reports.push(r);
    }
    println!(
        "{:<8} {:>9} {:>7} {:>9} {:>11} {:>10} {:>8}",
        "expert", "params", "epochs", "val ppl", "unigram ppl", "tok/s", "wall s"
    );
    for r in &reports {
        println!(
            "{:<8} {:>9} {:>7} {:>9.3} {:>11.3} {:>10.0} {:>8.1}",
            r.expert.name(),
            r.param_count,
            r.epochs_run,
            r.val_perplexity,
            r.unigram_val_perplexity,
            r.tokens_per_second,
            r.wall_seconds
        );
        println!("         checkpoint {}", r.checkpoint.display());
    }
    std::fs::write(
        out.join("train_report.json"),
        serde_json::to_string_pretty(&reports)?,
    )?;
    Ok(reports)
}

/// The corpus to evaluate on: `midi_dir` prepared again when given, else
/// what `<out>/prepared` holds from training, else the generated default.
pub fn corpus_for_eval(
    midi_dir: &Option<PathBuf>,
    out: &Path,
    songs: usize,
    seed: u64,
    opts: &PrepareOptions,
) -> anyhow::Result<PreparedCorpus> {
    let prepared = out.join("prepared");
    if midi_dir.is_none() && prepared.join("manifest.json").exists() {
        println!(
            "evaluating on the corpus prepared in {}",
            prepared.display()
        );
        return load_prepared(&prepared);
    }
    prepare_default_or_with(midi_dir, out, songs, seed, opts)
}

/// Runs the report card for the chosen experts and prints it.
pub fn evaluate(
    out: &Path,
    corpus: &PreparedCorpus,
    cfg: &Config,
    experts: &ExpertChoice,
    opts: &EvalOptions,
) -> anyhow::Result<ReportCard> {
    let (kinds, _) = plan(experts, "evaluate", |e| {
        data_gap(corpus, e).or_else(|| {
            (!checkpoint_path(out, e).exists()).then(|| "no checkpoint: not trained".to_string())
        })
    })?;
    let card = run_eval(out, corpus, cfg, &kinds, opts)?;
    println!("{}", card.to_markdown());
    println!(
        "report card -> {} and {}; samples -> {}",
        out.join("report_card.json").display(),
        out.join("report_card.md").display(),
        out.join("samples").display()
    );
    Ok(card)
}

/// Exports one checkpoint (`ckpt` → `out`) or every chosen expert's
/// `<artifacts>/checkpoints/<expert>_best.safetensors` to `<out or artifacts/onnx>/<expert>.onnx`.
pub fn export(
    ckpt: Option<&Path>,
    out: Option<&Path>,
    experts: &ExpertChoice,
    artifacts: &Path,
) -> anyhow::Result<Vec<ExportReport>> {
    let jobs: Vec<(PathBuf, PathBuf)> = match ckpt {
        Some(c) => {
            let stem = c
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("model")
                .trim_end_matches("_best")
                .to_string();
            let target = out
                .map(Path::to_path_buf)
                .unwrap_or_else(|| artifacts.join("onnx").join(format!("{stem}.onnx")));
            vec![(c.to_path_buf(), target)]
        }
        None => {
            let dir = out
                .map(Path::to_path_buf)
                .unwrap_or_else(|| artifacts.join("onnx"));
            let (kinds, _) = plan(experts, "export", |e| {
                (!checkpoint_path(artifacts, e).exists())
                    .then(|| "no checkpoint: not trained".to_string())
            })?;
            kinds
                .iter()
                .map(|e| {
                    (
                        checkpoint_path(artifacts, *e),
                        dir.join(format!("{}.onnx", e.name())),
                    )
                })
                .collect()
        }
    };
    let mut reports = Vec::new();
    for (c, o) in jobs {
        if !c.exists() {
            bail!(
                "checkpoint {} not found: train first (cargo run --release -p training -- train)",
                c.display()
            );
        }
        reports.push(export_checkpoint(&c, &o)?);
    }
    print_export(&reports);
    Ok(reports)
}

pub fn print_export(reports: &[ExportReport]) {
    println!(
        "{:<8} {:>11} {:>15} {:>14} {:>17} {:>17} {:>19}",
        "expert",
        "fp32 bytes",
        "quantized bytes",
        "fp32 max diff",
        "(free-running)",
        "int8 top-1 (gen)",
        "int8 top-1 (random)"
    );
    for r in reports {
        println!(
            "{:<8} {:>11} {:>15} {:>14.2e} {:>17.2e} {:>16.1}% {:>18.1}%",
            r.expert.name(),
            r.fp32_bytes,
            r.quantized_bytes,
            r.parity.fp32_max_abs_diff,
            r.parity.fp32_free_running_max_abs_diff,
            r.parity.quantized_top1_agreement * 100.0,
            r.parity.quantized_top1_agreement_random_tokens * 100.0
        );
        println!(
            "         {} / {}",
            r.fp32_path.display(),
            r.quantized_path.display()
        );
    }
}

/// Untrained experts with the configured shapes, exported to `out_dir`:
/// fixtures for the C++ tests and the latency benchmark.
pub fn export_random(out_dir: &Path, cfg: &Config, seed: u64) -> anyhow::Result<Vec<ExportReport>> {
    std::fs::create_dir_all(out_dir)?;
    let mut reports = Vec::new();
    for e in ExpertKind::WITH_CONDUCTOR {
        let model = ExpertModel::new(ExpertModelConfig::from_config(e, cfg), seed ^ e as u64)?;
        let ckpt = out_dir.join(format!("{}_random.safetensors", e.name()));
        model.save(&ckpt, "untrained")?;
        reports.push(export_checkpoint(
            &ckpt,
            &out_dir.join(format!("{}.onnx", e.name())),
        )?);
    }
    Ok(reports)
}

/// Generates `bars` bars with the three exported experts in `onnx_dir` and
/// writes them to `out` as MIDI.
pub fn sketch(
    onnx_dir: &Path,
    out: &Path,
    bars: u32,
    seed: u64,
    temperature: f32,
) -> anyhow::Result<usize> {
    // Whichever experts were exported: a folder without drums trains none.
    let load = |name: &str| -> anyhow::Result<Option<ExpertSession>> {
        let path = onnx_dir.join(format!("{name}.onnx"));
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(
            ExpertSession::load(&path).with_context(|| format!("loading {}", path.display()))?,
        ))
    };
    let (harmony, melody, drums) = (load("harmony")?, load("melody")?, load("drums")?);
    if harmony.is_none() && melody.is_none() && drums.is_none() {
        bail!(
            "{} holds none of drums.onnx, harmony.onnx, melody.onnx: export first",
            onnx_dir.display()
        );
    }
    let mut band = Band::new(harmony, melody, drums, seed, bars.max(1) as usize)?;
    // With a Conductor beside them, it plans the form.
    let conductor = onnx_dir.join("conductor.onnx");
    if conductor.is_file() {
        band.set_conductor(Some(ExpertSession::load(&conductor)?))?;
    }
    for part in Part::ALL {
        let controls = PartControls {
            sampling: SamplingOptions {
                temperature,
                top_k: 0,
                top_p: 0.95,
            },
            ..band.controls(part)
        };
        band.set_controls(part, controls)?;
    }
    for _ in 0..bars {
        band.next_bar()?;
    }
    std::fs::write(out, band.midi_bytes_at(110.0)?)?;
    Ok(band.notes().count())
}
