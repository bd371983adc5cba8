//! The stages the CLI and the demo chain: default corpus, prepare, train,
//! export, with their summaries printed.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::config::Config;
use crate::prepare::{load_prepared, prepare, Manifest, PrepareOptions, PreparedCorpus};
use crate::train::{train_expert, TrainOptions, TrainReport};
use nomad_muse::tokenizers::ExpertKind;

/// `--expert drums|harmony|melody|all`.
pub struct ExpertChoice(pub Vec<ExpertKind>);

impl ExpertChoice {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        if s == "all" {
            return Ok(ExpertChoice(ExpertKind::ALL.to_vec()));
        }
        match ExpertKind::from_name(s) {
            Some(e) => Ok(ExpertChoice(vec![e])),
            None => bail!("unknown expert {s:?}: use drums, harmony, melody or all"),
        }
    }
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
    for e in ExpertKind::ALL {
        println!("  {:<8} {:>8} tokens, {:.1} tokens/bar", e.name(), m.total_tokens.get(e.name()).unwrap_or(&0), m.tokens_per_bar(e));
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
    let manifest = prepare(&dir, &prepared, &PrepareOptions { quiet })?;
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
    let mut reports = Vec::new();
    for e in &experts.0 {
        let r = train_expert(*e, corpus.sequences(*e), cfg, out, &TrainOptions { epochs, quiet })?;
        reports.push(r);
    }
    println!("{:<8} {:>9} {:>7} {:>9} {:>11} {:>10} {:>8}", "expert", "params", "epochs", "val ppl", "unigram ppl", "tok/s", "wall s");
    for r in &reports {
        println!(
            "{:<8} {:>9} {:>7} {:>9.3} {:>11.3} {:>10.0} {:>8.1}",
            r.expert.name(), r.param_count, r.epochs_run, r.val_perplexity, r.unigram_val_perplexity, r.tokens_per_second, r.wall_seconds
        );
        println!("         checkpoint {}", r.checkpoint.display());
    }
    std::fs::write(out.join("train_report.json"), serde_json::to_string_pretty(&reports)?)?;
    Ok(reports)
}

pub fn export(_ckpt: Option<&Path>, _out: Option<&Path>, _experts: &ExpertChoice, _artifacts: &Path) -> anyhow::Result<()> {
    bail!("export is not wired yet")
}
