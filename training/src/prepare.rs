//! `prepare`: a folder of MIDI files → NSF JSON per file, token files per
//! expert, vocabularies and a manifest. Corrupt files are reported and
//! skipped; every other file is still written.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use nomad_muse::nsf::{midi_to_nsf, Nsf};
use nomad_muse::tokenizers::{
    DrumsTokenizer, EncodedSequence, ExpertKind, HarmonyTokenizer, MelodyTokenizer, Vocabulary,
};

/// A sequence with no more than BOS/EOS (and the key) says nothing.
const MIN_TOKENS: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct PrepareOptions {
    /// Hide the progress bar (tests, CI logs).
    pub quiet: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub bars: u32,
    pub key: String,
    /// Notes per track type.
    pub notes: std::collections::BTreeMap<String, usize>,
    /// Tokens per expert (0 where the song has no such part).
    pub tokens: std::collections::BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub files: Vec<FileEntry>,
    pub skipped: Vec<SkippedFile>,
    pub total_bars: u64,
    /// Tokens per expert over all files.
    pub total_tokens: std::collections::BTreeMap<String, usize>,
    pub elapsed_seconds: f64,
    pub files_per_second: f64,
}

impl Manifest {
    /// Mean tokens per bar for `expert` over the songs that have that part.
    pub fn tokens_per_bar(&self, expert: ExpertKind) -> f64 {
        let (tokens, bars) = self
            .files
            .iter()
            .filter_map(|f| f.tokens.get(expert.name()).filter(|t| **t > 0).map(|t| (*t, f.bars as usize)))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        if bars == 0 {
            0.0
        } else {
            tokens as f64 / bars as f64
        }
    }
}

/// One song's line in `tokens/<expert>.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenLine {
    pub song: String,
    #[serde(flatten)]
    pub sequence: EncodedSequence,
}

/// What `load_prepared` reads back.
#[derive(Debug, Clone)]
pub struct PreparedCorpus {
    pub manifest: Manifest,
    pub drums: Vec<(String, EncodedSequence)>,
    pub harmony: Vec<(String, EncodedSequence)>,
    pub melody: Vec<(String, EncodedSequence)>,
}

impl PreparedCorpus {
    pub fn sequences(&self, expert: ExpertKind) -> &[(String, EncodedSequence)] {
        match expert {
            ExpertKind::Drums => &self.drums,
            ExpertKind::Harmony => &self.harmony,
            ExpertKind::Melody => &self.melody,
        }
    }
}

/// Every .mid/.midi below `dir`, sorted.
pub fn find_midi_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        bail!("MIDI folder {} does not exist or is not a folder", dir.display());
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("mid") || e.eq_ignore_ascii_case("midi"))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

struct Converted {
    rel: String,
    sha256: String,
    nsf: Nsf,
    sequences: [EncodedSequence; 3],
}

fn convert_one(path: &Path, rel: &str) -> Result<Converted, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let nsf = midi_to_nsf(&bytes, rel).map_err(|e| e.to_string())?;
    let sequences =
        [DrumsTokenizer::new().encode(&nsf), HarmonyTokenizer::new().encode(&nsf), MelodyTokenizer::new().encode(&nsf)];
    Ok(Converted { rel: rel.to_string(), sha256: format!("{:x}", Sha256::digest(&bytes)), nsf, sequences })
}

fn progress(len: usize, quiet: bool, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Converts every MIDI file under `midi_dir` into `out_dir`.
pub fn prepare(midi_dir: &Path, out_dir: &Path, opts: &PrepareOptions) -> anyhow::Result<Manifest> {
    let start = Instant::now();
    let files = find_midi_files(midi_dir)?;
    for sub in ["nsf", "tokens", "vocab"] {
        std::fs::create_dir_all(out_dir.join(sub)).with_context(|| format!("creating {}", out_dir.display()))?;
    }
    let bar = progress(files.len(), opts.quiet, "prepare");
    let results: Vec<Result<Converted, SkippedFile>> = files
        .par_iter()
        .map(|path| {
            let rel = path.strip_prefix(midi_dir).unwrap_or(path).to_string_lossy().replace('\\', "/");
            let r = convert_one(path, &rel).map_err(|reason| SkippedFile { path: rel, reason });
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();

    let mut manifest = Manifest {
        files: vec![],
        skipped: vec![],
        total_bars: 0,
        total_tokens: Default::default(),
        elapsed_seconds: 0.0,
        files_per_second: 0.0,
    };
    let mut lines: [Vec<String>; 3] = Default::default();
    for r in results {
        let c = match r {
            Ok(c) => c,
            Err(skipped) => {
                eprintln!("warning: skipped {}: {}", skipped.path, skipped.reason);
                manifest.skipped.push(skipped);
                continue;
            }
        };
        let nsf_path = out_dir.join("nsf").join(format!("{}.json", c.rel));
        if let Some(parent) = nsf_path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&nsf_path, c.nsf.to_json()?).with_context(|| format!("writing {}", nsf_path.display()))?;
        let mut notes = std::collections::BTreeMap::new();
        for t in &c.nsf.tracks {
            let kind = serde_json::to_value(t.classification.kind)?.as_str().unwrap_or("other").to_string();
            *notes.entry(kind).or_insert(0) += t.events.len();
        }
        let mut tokens = std::collections::BTreeMap::new();
        for (i, expert) in ExpertKind::ALL.iter().enumerate() {
            let seq = &c.sequences[i];
            let n = if seq.tokens.len() >= MIN_TOKENS { seq.tokens.len() } else { 0 };
            tokens.insert(expert.name().to_string(), n);
            *manifest.total_tokens.entry(expert.name().to_string()).or_insert(0) += n;
            if n > 0 {
                let line = TokenLine { song: c.rel.clone(), sequence: seq.clone() };
                lines[i].push(serde_json::to_string(&line)?);
            }
        }
        let bars = c.nsf.global.bar_count();
        manifest.total_bars += bars as u64;
        manifest.files.push(FileEntry {
            path: c.rel,
            sha256: c.sha256,
            bars,
            key: c.nsf.key.key().token_name(),
            notes,
            tokens,
        });
    }
    for (i, expert) in ExpertKind::ALL.iter().enumerate() {
        let mut text = lines[i].join("\n");
        text.push('\n');
        std::fs::write(out_dir.join("tokens").join(format!("{}.jsonl", expert.name())), text)?;
        std::fs::write(
            out_dir.join("vocab").join(format!("{}.json", expert.name())),
            Vocabulary::for_expert(*expert).to_json(),
        )?;
    }
    manifest.elapsed_seconds = start.elapsed().as_secs_f64();
    manifest.files_per_second = files.len() as f64 / manifest.elapsed_seconds.max(1e-9);
    std::fs::write(out_dir.join("manifest.json"), serde_json::to_string_pretty(&manifest)?)?;
    if manifest.files.is_empty() {
        bail!("no usable MIDI file in {} ({} skipped)", midi_dir.display(), manifest.skipped.len());
    }
    Ok(manifest)
}

/// Reads a prepared folder back.
pub fn load_prepared(out_dir: &Path) -> anyhow::Result<PreparedCorpus> {
    let manifest_path = out_dir.join("manifest.json");
    let manifest: Manifest = serde_json::from_str(
        &std::fs::read_to_string(&manifest_path).with_context(|| format!("reading {}", manifest_path.display()))?,
    )
    .with_context(|| format!("parsing {}", manifest_path.display()))?;
    let read = |expert: ExpertKind| -> anyhow::Result<Vec<(String, EncodedSequence)>> {
        let path = out_dir.join("tokens").join(format!("{}.jsonl", expert.name()));
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let vocab = Vocabulary::for_expert(expert).len() as u32;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(n, l)| {
                let line: TokenLine =
                    serde_json::from_str(l).with_context(|| format!("{} line {}", path.display(), n + 1))?;
                if line.sequence.tokens.iter().any(|t| *t >= vocab) {
                    bail!("{} line {}: token id outside the {} vocabulary", path.display(), n + 1, expert.name());
                }
                Ok((line.song, line.sequence))
            })
            .collect()
    };
    Ok(PreparedCorpus {
        drums: read(ExpertKind::Drums)?,
        harmony: read(ExpertKind::Harmony)?,
        melody: read(ExpertKind::Melody)?,
        manifest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::generate_corpus;

    #[test]
    fn corrupt_and_empty_files_are_skipped_and_the_rest_written() {
        let dir = std::env::temp_dir().join(format!("nomad_prepare_{}", std::process::id()));
        let midi = dir.join("midi");
        let sub = midi.join("nested");
        generate_corpus(&sub, 3, 11).unwrap();
        let good = std::fs::read(sub.join(std::fs::read_dir(&sub).unwrap().flatten().find(|e| e.path().extension().is_some_and(|x| x == "mid")).unwrap().file_name())).unwrap();
        std::fs::write(midi.join("truncated.mid"), &good[..good.len() / 3]).unwrap();
        std::fs::write(midi.join("empty.MIDI"), b"").unwrap();
        let out = dir.join("out");
        let manifest = prepare(&midi, &out, &PrepareOptions { quiet: true }).unwrap();
        assert_eq!(manifest.files.len(), 3);
        assert_eq!(manifest.skipped.len(), 2);
        assert!(manifest.skipped.iter().any(|s| s.path == "empty.MIDI" && s.reason.contains("empty")));
        assert!(manifest.skipped.iter().any(|s| s.path == "truncated.mid" && !s.reason.is_empty()));
        let loaded = load_prepared(&out).unwrap();
        for e in ExpertKind::ALL {
            assert_eq!(loaded.sequences(e).len(), 3, "{e:?}");
        }
        assert!(out.join("nsf/nested").read_dir().unwrap().count() == 3);
        assert!(manifest.tokens_per_bar(ExpertKind::Drums) > 10.0);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn missing_folder_is_a_clear_error() {
        let err = prepare(Path::new("/nonexistent/midi"), Path::new("/tmp/x"), &PrepareOptions::default()).unwrap_err();
        assert!(err.to_string().contains("does not exist"));
    }
}
