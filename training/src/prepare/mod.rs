//! `prepare`: a folder of MIDI files → NSF JSON per file, token files per
//! expert, vocabularies and a manifest. Corrupt files are reported and
//! skipped; every other file is still written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use nomad_muse::nsf::{midi_to_nsf_with, ConvertOptions, MetreInfo, Nsf};

mod walk;
use nomad_muse::tokenizers::{
    ConductorTokenizer, DrumsTokenizer, EncodedSequence, ExpertKind, HarmonyTokenizer,
    MelodyTokenizer, Vocabulary,
};
pub use walk::{read_midi_file, walk_midi_folder, MidiFile, Walk, MAX_MIDI_BYTES};

/// A sequence with no more than BOS/EOS (and the key) says nothing.
const MIN_TOKENS: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct PrepareOptions {
    /// Hide the progress bar (tests, CI logs).
    pub quiet: bool,
    /// Bar lines from the files' declared time signatures even where the
    /// music contradicts them (default: the music's metre there).
    pub keep_declared_metre: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub bars: u32,
    pub key: String,
    /// Notes per track type.
    pub notes: BTreeMap<String, usize>,
    /// Tokens per expert (0 where the song has no such part).
    pub tokens: BTreeMap<String, usize>,
    /// Declared and used metre, and the music's evidence.
    #[serde(default)]
    pub metre: MetreInfo,
    /// Experts this song gave no sequence to, with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_parts: Vec<MissingPart>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MissingPart {
    pub expert: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

/// `manifest.json`: what `prepare` converted and skipped.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub files: Vec<FileEntry>,
    pub skipped: Vec<SkippedFile>,
    pub total_bars: u64,
    /// Files whose bar lines come from the music, not the declared metre.
    #[serde(default)]
    pub metre_inferred_files: usize,
    /// Tokens per expert over all files.
    pub total_tokens: BTreeMap<String, usize>,
    pub elapsed_seconds: f64,
    pub files_per_second: f64,
}

/// What `prepare` returns: the manifest it wrote.
pub type PrepareReport = Manifest;

impl Manifest {
    /// Mean tokens per bar for `expert` over the songs that have that part.
    pub fn tokens_per_bar(&self, expert: ExpertKind) -> f64 {
        let (tokens, bars) = self
            .files
            .iter()
            .filter_map(|f| {
                f.tokens
                    .get(expert.name())
                    .filter(|t| **t > 0)
                    .map(|t| (*t, f.bars as usize))
            })
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
    /// Empty for folders prepared before the form analysis.
    pub conductor: Vec<(String, EncodedSequence)>,
}

impl PreparedCorpus {
    pub fn sequences(&self, expert: ExpertKind) -> &[(String, EncodedSequence)] {
        match expert {
            ExpertKind::Drums => &self.drums,
            ExpertKind::Harmony => &self.harmony,
            ExpertKind::Melody => &self.melody,
            ExpertKind::Conductor => &self.conductor,
        }
    }
}

/// Every .mid/.midi below `dir`, sorted (see [`walk_midi_folder`] for what
/// is skipped and why).
pub fn find_midi_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        bail!(
            "MIDI folder {} does not exist or is not a folder",
            dir.display()
        );
    }
    Ok(walk_midi_folder(dir)
        .files
        .into_iter()
        .map(|f| f.path)
        .collect())
}

struct Converted {
    rel: String,
    sha256: String,
    nsf: Nsf,
    sequences: [EncodedSequence; 4],
}

fn convert_one(path: &Path, rel: &str, options: &ConvertOptions) -> Result<Converted, String> {
    let bytes = read_midi_file(path)?;
    let nsf = midi_to_nsf_with(&bytes, rel, options).map_err(|e| e.to_string())?;
    let sequences = [
        DrumsTokenizer::new().encode(&nsf),
        HarmonyTokenizer::new().encode(&nsf),
        MelodyTokenizer::new().encode(&nsf),
        ConductorTokenizer::new().encode(&nsf),
    ];
    Ok(Converted {
        rel: rel.to_string(),
        sha256: format!("{:x}", Sha256::digest(&bytes)),
        nsf,
        sequences,
    })
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

/// Files converted in parallel at a time: each chunk is written out before
/// the next is read, so memory stays bounded whatever the folder's size.
const CHUNK_FILES: usize = 64;

/// Converts every MIDI file under `midi_dir` into `out_dir`, writing each
/// NSF and token line as its chunk of files is done.
pub fn prepare(
    midi_dir: &Path,
    out_dir: &Path,
    opts: &PrepareOptions,
) -> anyhow::Result<PrepareReport> {
    let start = Instant::now();
    if !midi_dir.is_dir() {
        bail!(
            "MIDI folder {} does not exist or is not a folder",
            midi_dir.display()
        );
    }
    let walk = walk_midi_folder(midi_dir);
    for sub in ["nsf", "tokens", "vocab"] {
        std::fs::create_dir_all(out_dir.join(sub))
            .with_context(|| format!("creating {}", out_dir.display()))?;
    }
    let mut manifest = Manifest {
        files: vec![],
        skipped: walk.skipped.clone(),
        total_bars: 0,
        metre_inferred_files: 0,
        total_tokens: Default::default(),
        elapsed_seconds: 0.0,
        files_per_second: 0.0,
    };
    for s in &walk.skipped {
        eprintln!("warning: skipped {}: {}", s.path, s.reason);
    }
    let mut token_files = TokenWriters::create(out_dir)?;
    let bar = progress(walk.files.len(), opts.quiet, "prepare");
    let convert = ConvertOptions {
        keep_declared_metre: opts.keep_declared_metre,
        ..Default::default()
    };
    for chunk in walk.files.chunks(CHUNK_FILES) {
        let results: Vec<Result<Converted, SkippedFile>> = chunk
            .par_iter()
            .map(|f| {
                let r = convert_one(&f.path, &f.name, &convert).map_err(|reason| SkippedFile {
                    path: f.name.clone(),
                    reason,
                });
                bar.inc(1);
                r
            })
            .collect();
        for r in results {
            match r {
                Ok(c) => write_converted(c, out_dir, &mut manifest, &mut token_files)?,
                Err(skipped) => {
                    eprintln!("warning: skipped {}: {}", skipped.path, skipped.reason);
                    manifest.skipped.push(skipped);
                }
            }
        }
    }
    bar.finish_and_clear();
    token_files.finish()?;
    for expert in ExpertKind::WITH_CONDUCTOR {
        std::fs::write(
            out_dir
                .join("vocab")
                .join(format!("{}.json", expert.name())),
            Vocabulary::for_expert(expert).to_json(),
        )?;
    }
    manifest.elapsed_seconds = start.elapsed().as_secs_f64();
    manifest.files_per_second = walk.files.len() as f64 / manifest.elapsed_seconds.max(1e-9);
    std::fs::write(
        out_dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    if manifest.files.is_empty() {
        bail!(
            "no usable MIDI file in {} ({} skipped)",
            midi_dir.display(),
            manifest.skipped.len()
        );
    }
    Ok(manifest)
}

/// `tokens/<expert>.jsonl`, one line per song, written as songs are done.
struct TokenWriters {
    files: Vec<std::io::BufWriter<std::fs::File>>,
}

impl TokenWriters {
    fn create(out_dir: &Path) -> anyhow::Result<Self> {
        let files = ExpertKind::WITH_CONDUCTOR
            .iter()
            .map(|e| {
                let path = out_dir.join("tokens").join(format!("{}.jsonl", e.name()));
                std::fs::File::create(&path)
                    .map(std::io::BufWriter::new)
                    .with_context(|| format!("creating {}", path.display()))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(TokenWriters { files })
    }

    fn write_line(&mut self, expert: usize, line: &TokenLine) -> anyhow::Result<()> {
        use std::io::Write;
        serde_json::to_writer(&mut self.files[expert], line)?;
        self.files[expert].write_all(b"\n")?;
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        use std::io::Write;
        for mut f in self.files {
            f.flush()?;
        }
        Ok(())
    }
}

/// Writes one converted song's NSF and token lines and adds it to the manifest.
fn write_converted(
    c: Converted,
    out_dir: &Path,
    manifest: &mut Manifest,
    token_files: &mut TokenWriters,
) -> anyhow::Result<()> {
    let nsf_path = out_dir.join("nsf").join(format!("{}.json", c.rel));
    if let Some(parent) = nsf_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&nsf_path, c.nsf.to_json()?)
        .with_context(|| format!("writing {}", nsf_path.display()))?;
    let mut notes = BTreeMap::new();
    for t in &c.nsf.tracks {
        let kind = serde_json::to_value(t.classification.kind)?
            .as_str()
            .unwrap_or("other")
            .to_string();
        *notes.entry(kind).or_insert(0) += t.events.len();
    }
    let mut tokens = BTreeMap::new();
    let mut missing_parts = Vec::new();
    for (i, expert) in ExpertKind::WITH_CONDUCTOR.iter().enumerate() {
        let seq = &c.sequences[i];
        let n = if seq.tokens.len() >= MIN_TOKENS {
            seq.tokens.len()
        } else {
            0
        };
        if n == 0 {
            missing_parts.push(MissingPart {
                expert: expert.name().to_string(),
                reason: missing_reason(*expert, &c.nsf, seq.tokens.len()),
            });
        }
        tokens.insert(expert.name().to_string(), n);
        *manifest
            .total_tokens
            .entry(expert.name().to_string())
            .or_insert(0) += n;
        if n > 0 {
            let line = TokenLine {
                song: c.rel.clone(),
                sequence: seq.clone(),
            };
            token_files.write_line(i, &line)?;
        }
    }
    let bars = c.nsf.global.bar_count();
    manifest.total_bars += bars as u64;
    manifest.metre_inferred_files += usize::from(c.nsf.metadata.metre.inferred);
    manifest.files.push(FileEntry {
        path: c.rel,
        sha256: c.sha256,
        bars,
        key: c.nsf.key.key().token_name(),
        notes,
        tokens,
        metre: c.nsf.metadata.metre.clone(),
        missing_parts,
    });
    Ok(())
}

/// Why a song gave an expert no sequence.
fn missing_reason(expert: ExpertKind, nsf: &Nsf, tokens: usize) -> String {
    if expert == ExpertKind::Harmony && !nsf.metadata.harmony_sounds {
        return "no harmony part: a single line (no two pitch classes sound together)".into();
    }
    if expert == ExpertKind::Conductor {
        return "no form: no bars, or longer than the form analysis takes".into();
    }
    format!("no {} part ({} tokens)", expert.name(), tokens)
}

/// Reads a prepared folder back.
pub fn load_prepared(out_dir: &Path) -> anyhow::Result<PreparedCorpus> {
    let manifest_path = out_dir.join("manifest.json");
    let manifest: Manifest = serde_json::from_str(
        &std::fs::read_to_string(&manifest_path)
            .with_context(|| format!("reading {}", manifest_path.display()))?,
    )
    .with_context(|| format!("parsing {}", manifest_path.display()))?;
    let read = |expert: ExpertKind| -> anyhow::Result<Vec<(String, EncodedSequence)>> {
        let path = out_dir
            .join("tokens")
            .join(format!("{}.jsonl", expert.name()));
        // Folders prepared before the Conductor have no form tokens.
        if expert == ExpertKind::Conductor && !path.exists() {
            return Ok(Vec::new());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let vocab = Vocabulary::for_expert(expert).len() as u32;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(n, l)| {
                let line: TokenLine = serde_json::from_str(l)
                    .with_context(|| format!("{} line {}", path.display(), n + 1))?;
                if line.sequence.tokens.iter().any(|t| *t >= vocab) {
                    bail!(
                        "{} line {}: token id outside the {} vocabulary",
                        path.display(),
                        n + 1,
                        expert.name()
                    );
                }
                Ok((line.song, line.sequence))
            })
            .collect()
    };
    Ok(PreparedCorpus {
        drums: read(ExpertKind::Drums)?,
        harmony: read(ExpertKind::Harmony)?,
        melody: read(ExpertKind::Melody)?,
        conductor: read(ExpertKind::Conductor)?,
        manifest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nomad_muse::midi::{write_smf, MidiNote, MidiSongSpec, MidiTrackSpec};

    /// Four bars at 480 ppq: kick/snare, a I–IV–V–I pad, a root bass line and
    /// a stepwise lead, transposed by `shift`.
    fn small_song(shift: u8) -> Vec<u8> {
        let note = |tick: u64, duration: u64, pitch: u8, channel: u8| MidiNote {
            tick,
            duration,
            pitch,
            velocity: 90,
            channel,
        };
        let roots = [0u8, 5, 7, 0];
        let part =
            |name: &str, channel: u8, program: Option<u8>, notes: Vec<MidiNote>| MidiTrackSpec {
                name: name.into(),
                channel,
                program,
                notes,
            };
        let drums = (0..16)
            .map(|i| note(i * 480, 120, if i % 2 == 0 { 36 } else { 38 }, 9))
            .collect();
        let pad = (0..4u64)
            .flat_map(|b| {
                [0u8, 4, 7].map(|i| note(b * 1920, 1920, 60 + shift + roots[b as usize] + i, 2))
            })
            .collect();
        let bass = (0..4u64)
            .map(|b| note(b * 1920, 1920, 36 + shift + roots[b as usize], 1))
            .collect();
        let lead = (0..16u64)
            .map(|i| note(i * 480, 480, 72 + shift + [0, 2, 4, 5][i as usize % 4], 0))
            .collect();
        write_smf(&MidiSongSpec {
            ppq: 480,
            tempo_changes: vec![(0, 110.0)],
            time_signatures: vec![(0, 4, 4)],
            tracks: vec![
                part("Drums", 9, None, drums),
                part("Pad", 2, Some(89), pad),
                part("Bass", 1, Some(33), bass),
                part("Lead", 0, Some(73), lead),
            ],
        })
        .expect("test song serialises")
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nomad_prepare_{name}_{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        dir
    }

    #[test]
    fn corrupt_and_empty_files_are_skipped_and_the_rest_written() {
        let dir = temp_dir("mixed");
        let midi = dir.join("midi");
        std::fs::create_dir_all(midi.join("nested")).unwrap();
        std::fs::write(midi.join("a.mid"), small_song(0)).unwrap();
        std::fs::write(midi.join("nested/b.MID"), small_song(2)).unwrap();
        std::fs::write(midi.join("nested/c.midi"), small_song(7)).unwrap();
        let good = small_song(4);
        std::fs::write(midi.join("truncated.mid"), &good[..good.len() / 3]).unwrap();
        std::fs::write(midi.join("empty.MIDI"), b"").unwrap();
        std::fs::write(midi.join("notes.txt"), b"not a MIDI file").unwrap();
        let out = dir.join("out");
        let manifest = prepare(
            &midi,
            &out,
            &PrepareOptions {
                quiet: true,
                ..Default::default()
            },
        )
        .unwrap();

        let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["a.mid", "nested/b.MID", "nested/c.midi"]);
        let skipped: Vec<(&str, &str)> = manifest
            .skipped
            .iter()
            .map(|s| (s.path.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(
            skipped[0].0 == "empty.MIDI" && skipped[0].1.contains("empty"),
            "{skipped:?}"
        );
        assert!(
            skipped[1].0 == "truncated.mid" && skipped[1].1.contains("truncated"),
            "{skipped:?}"
        );

        let a = &manifest.files[0];
        assert_eq!(a.bars, 4);
        assert_eq!(a.key, "C_major");
        assert_eq!(a.notes.get("drums"), Some(&16));
        assert_eq!(a.notes.get("melody"), Some(&16));
        assert_eq!(a.sha256.len(), 64);
        assert!(a.missing_parts.is_empty(), "{:?}", a.missing_parts);
        assert!(out.join("nsf/nested/b.MID.json").is_file());
        let nsf =
            Nsf::from_json(&std::fs::read_to_string(out.join("nsf/a.mid.json")).unwrap()).unwrap();
        assert_eq!(nsf.metadata.source_file, "a.mid");
        for e in ExpertKind::ALL {
            assert!(out.join(format!("vocab/{}.json", e.name())).is_file());
        }

        let loaded = load_prepared(&out).unwrap();
        for e in ExpertKind::ALL {
            let songs: Vec<&str> = loaded
                .sequences(e)
                .iter()
                .map(|(s, _)| s.as_str())
                .collect();
            assert_eq!(songs, paths, "{e:?}");
            assert_eq!(
                manifest.total_tokens[e.name()],
                loaded
                    .sequences(e)
                    .iter()
                    .map(|(_, q)| q.tokens.len())
                    .sum::<usize>()
            );
        }
        let melody = &loaded.melody[0].1;
        assert_eq!(melody.chord_cond.len(), melody.tokens.len());
        assert_eq!(melody.key_cond.len(), melody.tokens.len());
        assert!(manifest.tokens_per_bar(ExpertKind::Drums) > 10.0);

        // A second run writes the same token files.
        let first = std::fs::read(out.join("tokens/melody.jsonl")).unwrap();
        prepare(
            &midi,
            &out,
            &PrepareOptions {
                quiet: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            std::fs::read(out.join("tokens/melody.jsonl")).unwrap(),
            first
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_song_without_drums_is_recorded_as_missing_that_part() {
        let dir = temp_dir("nodrums");
        let midi = dir.join("midi");
        std::fs::create_dir_all(&midi).unwrap();
        let mut song = nomad_muse::midi::read_midi(&small_song(0)).unwrap();
        song.tracks.retain(|t| t.channel != 9);
        // Rebuild the file without its drum track.
        let spec = MidiSongSpec {
            ppq: song.ppq,
            tempo_changes: song.tempo_changes.clone(),
            time_signatures: song.time_signatures.clone(),
            tracks: song
                .tracks
                .iter()
                .map(|t| MidiTrackSpec {
                    name: t.name.clone(),
                    channel: t.channel,
                    program: t.program,
                    notes: t
                        .notes
                        .iter()
                        .map(|n| MidiNote {
                            tick: n.start_tick,
                            duration: n.end_tick - n.start_tick,
                            pitch: n.pitch,
                            velocity: n.velocity,
                            channel: n.channel,
                        })
                        .collect(),
                })
                .collect(),
        };
        std::fs::write(midi.join("no_drums.mid"), write_smf(&spec).unwrap()).unwrap();
        let manifest = prepare(
            &midi,
            &dir.join("out"),
            &PrepareOptions {
                quiet: true,
                ..Default::default()
            },
        )
        .unwrap();
        let entry = &manifest.files[0];
        assert_eq!(entry.tokens["drums"], 0);
        assert_eq!(entry.missing_parts.len(), 1);
        assert_eq!(entry.missing_parts[0].expert, "drums");
        let loaded = load_prepared(&dir.join("out")).unwrap();
        assert!(loaded.drums.is_empty());
        assert_eq!(loaded.harmony.len(), 1);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn missing_folder_is_a_clear_error() {
        let err = prepare(
            Path::new("/nonexistent/midi"),
            Path::new("/tmp/x"),
            &PrepareOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("does not exist"));
    }

    #[test]
    fn a_folder_of_only_bad_files_is_an_error_but_still_has_a_manifest() {
        let dir = temp_dir("allbad");
        let midi = dir.join("midi");
        std::fs::create_dir_all(&midi).unwrap();
        std::fs::write(midi.join("x.mid"), b"MThd\0\0").unwrap();
        let err = prepare(
            &midi,
            &dir.join("out"),
            &PrepareOptions {
                quiet: true,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("no usable MIDI file"), "{err}");
        let manifest: Manifest =
            serde_json::from_str(&std::fs::read_to_string(dir.join("out/manifest.json")).unwrap())
                .unwrap();
        assert_eq!(manifest.skipped.len(), 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}
