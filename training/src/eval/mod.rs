//! The Muse Student Report Card (`training eval`, seed flag `--eval_only`).
//!
//! For each expert it samples pieces from the trained checkpoint and from a
//! random-token baseline (uniform over what the grammar allows), cuts the
//! held-out validation songs to the same length, and scores all three sets
//! with the same metrics ([`metrics`]): real vs generated vs random side by
//! side, the overlap area of each per-piece metric's distribution, and
//! memorization against the training songs. The split is the training split
//! (same seed, same songs), checked against the checkpoint's fingerprint.

pub mod calibration;
pub mod conductor;
pub mod metrics;
pub mod midi_out;
pub mod report;
pub mod sampling;
pub mod windows;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::corpus::SplitMix64;
use crate::fingerprint::data_hash;
use crate::model::ExpertModel;
use crate::prepare::PreparedCorpus;
use crate::train::{checkpoint_path, fingerprint_path, split_by_song};
use metrics::*;
use nomad_muse::runtime::SamplingOptions;
use nomad_muse::runtime::{StepModel, TimeSignature};
use nomad_muse::theory::{ChordLabel, Key, Mode};
use nomad_muse::tokenizers::{
    ConductorBar, ConductorTokenizer, DrumHit, DrumsTokenizer, EncodedSequence, ExpertKind,
    HarmonyDecoded, HarmonyTokenizer, MelodyNote, MelodyTokenizer, Vocabulary, EOS_ID,
};
pub use report::{Check, DistributionRow, ExpertCard, MetricRow, ReportCard, Verdict};
use sampling::{sample_piece, CandleStepper, PieceContext, RandomTokens};

/// What `run_eval` samples.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub samples: usize,
    pub bars: u32,
    pub seed: u64,
    pub quiet: bool,
}

/// A piece decoded for scoring. Melody carries the harmony it sounds over.
#[derive(Debug, Clone)]
pub enum Decoded {
    Drums(Vec<DrumHit>),
    Harmony(HarmonyDecoded),
    Melody {
        notes: Vec<MelodyNote>,
        harmony: HarmonyDecoded,
    },
    /// The Conductor's plan, bar by bar.
    Conductor(Vec<ConductorBar>),
}

/// Bars of a Conductor piece (real ones: a song's first bars): a form needs
/// room for sections to come back, whatever `--bars` the note experts use.
pub const CONDUCTOR_EVAL_BARS: u32 = 64;

/// The bars `expert`'s pieces span on the card.
pub fn piece_bars(expert: ExpertKind, bars: u32) -> u32 {
    if expert == ExpertKind::Conductor {
        bars.max(CONDUCTOR_EVAL_BARS)
    } else {
        bars
    }
}

/// One piece: its token ids, what they decode to, and its length and metre
/// (per-bar metrics are normalised to bars of four beats with them).
#[derive(Debug, Clone)]
pub struct Piece {
    pub tokens: Vec<u32>,
    pub decoded: Decoded,
    pub bars: u32,
    pub metre: TimeSignature,
}

impl Piece {
    /// Bars of four quarter beats the piece lasts: the unit of every
    /// "per 4 beats" metric, so a 3/4 song is not read as sparse.
    pub fn four_beat_bars(&self) -> f64 {
        (self.bars.max(1) * self.metre.beats_per_bar()) as f64 / 4.0
    }

    /// Whether the part plays in at least half of the piece's bars (a real
    /// window where it rests — an intro without melody — says nothing of how
    /// the part sounds).
    pub fn part_mostly_plays(&self) -> bool {
        let played: std::collections::BTreeSet<u32> = match &self.decoded {
            Decoded::Drums(hits) => hits.iter().map(|h| h.bar).collect(),
            Decoded::Harmony(h) => h
                .chords
                .iter()
                .filter(|c| !c.chord.is_none())
                .map(|c| c.bar)
                .collect(),
            Decoded::Melody { notes, .. } => notes.iter().map(|n| n.bar).collect(),
            // A plan has every bar (silent ones too).
            Decoded::Conductor(plan) => (0..plan.len() as u32).collect(),
        };
        2 * played.len() as u32 >= self.bars.max(1)
    }
}

/// Everything measured on one set of pieces (real, generated or random).
#[derive(Debug, Clone, Default)]
pub struct SetScores {
    /// Per-piece values of each scalar metric, in a fixed order.
    pub per_piece: Vec<(&'static str, Vec<f64>)>,
    /// Pooled normalised histograms.
    pub distributions: Vec<(&'static str, Vec<f64>)>,
    /// Distinct 4-grams ÷ all 4-grams over the set.
    pub distinct_4: f64,
}

impl SetScores {
    pub fn values(&self, name: &str) -> &[f64] {
        self.per_piece
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(&[], |(_, v)| v.as_slice())
    }

    pub fn mean(&self, name: &str) -> f64 {
        let v = self.values(name);
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    }
}

/// Shared context for scoring: the training side of the split.
pub struct Reference {
    pub training_tokens: NgramIndex,
    pub training_minhashes: Vec<Vec<u64>>,
    pub chord_bigrams: ChordBigrams,
}

impl Reference {
    pub fn new(training: &[Vec<u32>], training_harmony: &[HarmonyDecoded]) -> Self {
        let changes: Vec<Vec<ChordLabel>> = training_harmony
            .iter()
            .map(|h| chord_changes(&h.chords))
            .collect();
        Reference {
            training_tokens: NgramIndex::new(training),
            training_minhashes: training.iter().map(|s| minhash(s)).collect(),
            chord_bigrams: ChordBigrams::fit(&changes, 0.1),
        }
    }
}

/// Musical metrics of the expert's domain, per piece. Counts are per bar
/// of four beats ([`Piece::four_beat_bars`]).
fn musical_metrics(piece: &Piece, reference: &Reference) -> Vec<(&'static str, f64)> {
    let per_4_beats = |count: f64| count / piece.four_beat_bars();
    match &piece.decoded {
        Decoded::Drums(hits) => {
            let density = hit_density(hits, 1);
            let d = |c: &str| per_4_beats(density.get(c).copied().unwrap_or(0.0));
            vec![
                ("groove consistency", groove_consistency(hits, piece.bars)),
                (
                    "bars repeating previous",
                    repetition_share(hits, piece.bars),
                ),
                (
                    "fills per 32 beats",
                    8.0 * per_4_beats(fills_per_8_bars(hits, 8)),
                ),
                ("kick hits per 4 beats", d("kick")),
                ("snare hits per 4 beats", d("snare")),
                ("hats hits per 4 beats", d("hats")),
                ("toms hits per 4 beats", d("toms")),
                ("cymbal hits per 4 beats", d("cymbals")),
            ]
        }
        Decoded::Harmony(h) => {
            let key = h.key.unwrap_or(Key::new(0, Mode::Major));
            let changes = chord_changes(&h.chords);
            vec![
                (
                    "bigram log-likelihood",
                    reference.chord_bigrams.mean_log_likelihood(&changes),
                ),
                (
                    "common progression share",
                    common_progression_share(&changes, key),
                ),
                ("key consistency", key_consistency(&h.chords, key)),
                (
                    "chord changes per 4 beats",
                    per_4_beats(changes.len() as f64),
                ),
            ]
        }
        Decoded::Melody { notes, harmony } => {
            let chord_at = |bar: u32, step: u32| harmony.chord_at(bar, step / 4);
            let key = harmony.key.unwrap_or(Key::new(0, Mode::Major));
            vec![
                (
                    "chord-tone ratio",
                    chord_tone_ratio(notes, piece.metre.steps_per_bar(), chord_at),
                ),
                (
                    "strong-beat chord tones",
                    strong_beat_chord_tone_share(notes, piece.metre, chord_at).unwrap_or(0.0),
                ),
                ("in-key share", in_key_share(notes, key, chord_at)),
                ("step share", step_share(notes)),
                ("pitch range", pitch_range(notes)),
                ("motif repetition", motif_repetition(notes)),
                ("notes per 4 beats", per_4_beats(notes.len() as f64)),
            ]
        }
        Decoded::Conductor(plan) => vec![
            ("section repetition", conductor::section_repetition(plan)),
            ("energy arc", conductor::energy_arc(plan)),
            ("energy range", conductor::energy_range(plan)),
            (
                "sections/16 bars",
                conductor::sections_per_16_bars(plan, piece.bars),
            ),
            (
                "fills per 8 bars",
                conductor::fills_per_8_bars(plan, piece.bars),
            ),
        ],
    }
}

fn distributions(pieces: &[Piece]) -> Vec<(&'static str, Vec<f64>)> {
    let pooled = |hists: Vec<Vec<f64>>| {
        let n = hists.len().max(1) as f64;
        let len = hists.first().map_or(0, Vec::len);
        (0..len)
            .map(|i| hists.iter().map(|h| h[i]).sum::<f64>() / n)
            .collect::<Vec<f64>>()
    };
    match pieces.first().map(|p| &p.decoded) {
        Some(Decoded::Harmony(_)) => vec![(
            "harmonic rhythm (beats 1..8)",
            pooled(
                pieces
                    .iter()
                    .filter_map(|p| match &p.decoded {
                        Decoded::Harmony(h) => Some(harmonic_rhythm(&h.chords)),
                        _ => None,
                    })
                    .collect(),
            ),
        )],
        Some(Decoded::Melody { .. }) => vec![(
            "interval histogram (-12..12)",
            pooled(
                pieces
                    .iter()
                    .filter_map(|p| match &p.decoded {
                        Decoded::Melody { notes, .. } => Some(interval_histogram(notes)),
                        _ => None,
                    })
                    .collect(),
            ),
        )],
        Some(Decoded::Conductor(_)) => vec![(
            "part density (drums, bass, melody, harmony × 0..3)",
            pooled(
                pieces
                    .iter()
                    .filter_map(|p| match &p.decoded {
                        Decoded::Conductor(plan) => Some(conductor::part_density_histogram(plan)),
                        _ => None,
                    })
                    .collect(),
            ),
        )],
        _ => vec![],
    }
}

/// The real side keeps up to this many windows per sample (at least
/// [`MIN_REAL_WINDOWS`]): more real pieces, a steadier reference.
const REAL_WINDOWS_PER_SAMPLE: usize = 4;
const MIN_REAL_WINDOWS: usize = 64;

/// Memorization metric names (per piece).
pub const COPIED_8GRAMS: &str = "8-grams found in training";
pub const LONGEST_COMMON: &str = "longest common n-gram";
pub const NEAREST_JACCARD: &str = "nearest MinHash Jaccard";

/// Scores a set of pieces.
pub fn score_set(pieces: &[Piece], reference: &mut Reference) -> SetScores {
    let mut per_piece: Vec<(&'static str, Vec<f64>)> = Vec::new();
    for piece in pieces {
        let mut row = musical_metrics(piece, reference);
        let sig = minhash(&piece.tokens);
        let nearest = reference
            .training_minhashes
            .iter()
            .map(|t| minhash_jaccard(&sig, t))
            .fold(0.0, f64::max);
        row.push((
            COPIED_8GRAMS,
            reference.training_tokens.copied_share(&piece.tokens, 8),
        ));
        row.push((
            LONGEST_COMMON,
            reference.training_tokens.longest_common(&piece.tokens) as f64,
        ));
        row.push((NEAREST_JACCARD, nearest));
        for (name, v) in row {
            match per_piece.iter_mut().find(|(n, _)| *n == name) {
                Some((_, vals)) => vals.push(v),
                None => per_piece.push((name, vec![v])),
            }
        }
    }
    let tokens: Vec<Vec<u32>> = pieces.iter().map(|p| p.tokens.clone()).collect();
    SetScores {
        per_piece,
        distributions: distributions(pieces),
        distinct_4: distinct_n(&tokens, 4),
    }
}

/// The first `bars` bars of a token stream (EOS appended).
pub fn cut_to_bars(tokens: &[u32], vocab: &Vocabulary, bars: u32) -> Vec<u32> {
    windows::window_of_bars(tokens, vocab, 0, bars).unwrap_or_else(|| vec![EOS_ID])
}

fn decode_harmony(tokens: &[u32]) -> anyhow::Result<HarmonyDecoded> {
    HarmonyTokenizer::new()
        .decode(tokens)
        .map_err(|e| anyhow::anyhow!("harmony tokens do not decode: {e}"))
}

/// Decodes a piece of `expert`; melody needs the harmony it was written
/// over, and every expert takes its metre from the harmony (its own, for
/// harmony).
pub fn decode_piece(
    expert: ExpertKind,
    tokens: Vec<u32>,
    harmony: Option<&HarmonyDecoded>,
) -> anyhow::Result<Piece> {
    let decoded = match expert {
        ExpertKind::Drums => Decoded::Drums(
            DrumsTokenizer::new()
                .decode(&tokens)
                .map_err(|e| anyhow::anyhow!("drum tokens do not decode: {e}"))?,
        ),
        ExpertKind::Harmony => Decoded::Harmony(decode_harmony(&tokens)?),
        ExpertKind::Melody => Decoded::Melody {
            notes: MelodyTokenizer::new()
                .decode(&tokens)
                .map_err(|e| anyhow::anyhow!("melody tokens do not decode: {e}"))?,
            harmony: harmony.cloned().unwrap_or(HarmonyDecoded {
                key: None,
                chords: vec![],
            }),
        },
        ExpertKind::Conductor => Decoded::Conductor(
            ConductorTokenizer::new()
                .decode(&tokens)
                .map_err(|e| anyhow::anyhow!("conductor tokens do not decode: {e}"))?,
        ),
    };
    let metre = match &decoded {
        Decoded::Harmony(h) => windows::metre_of(Some(h)),
        _ => windows::metre_of(harmony),
    };
    let bars = windows::bar_count(&tokens, &Vocabulary::for_expert(expert));
    Ok(Piece {
        tokens,
        decoded,
        bars,
        metre,
    })
}

/// Chord-tone ratio of `pieces` with every pitch redrawn from the training
/// melodies' pitch unigram (rhythm and chords kept): what chance gives.
pub fn unigram_chord_tone_baseline(pieces: &[Piece], training_pitches: &[u8], seed: u64) -> f64 {
    if training_pitches.is_empty() {
        return 0.0;
    }
    let mut rng = SplitMix64::new(seed);
    let ratios: Vec<f64> = pieces
        .iter()
        .filter_map(|p| match &p.decoded {
            Decoded::Melody { notes, harmony } => {
                let redrawn: Vec<MelodyNote> = notes
                    .iter()
                    .map(|n| MelodyNote {
                        pitch: training_pitches[rng.below(training_pitches.len())],
                        ..*n
                    })
                    .collect();
                Some(chord_tone_ratio(
                    &redrawn,
                    p.metre.steps_per_bar(),
                    |bar, step| harmony.chord_at(bar, step / 4),
                ))
            }
            _ => None,
        })
        .collect();
    ratios.iter().sum::<f64>() / ratios.len().max(1) as f64
}

/// Checks that the checkpoint has its own fingerprint beside it, that the
/// fingerprint is the one the checkpoint was saved with, and that it was
/// trained on this corpus (so the train/validation split matches). A
/// checkpoint without one is refused: its split cannot be known.
fn check_trained_on(
    out: &Path,
    expert: ExpertKind,
    checkpoint_meta: &HashMap<String, String>,
    songs: &[(String, EncodedSequence)],
) -> anyhow::Result<()> {
    let fp_path = fingerprint_path(out, expert);
    let text = std::fs::read_to_string(&fp_path).with_context(|| {
        format!(
            "{}: the checkpoint's fingerprint {} cannot be read, so the data it was trained \
             on is unknown; train it again",
            expert.name(),
            fp_path.display()
        )
    })?;
    let fp: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", fp_path.display()))?;
    let field = |name: &str| fp.get(name).and_then(|v| v.as_str()).unwrap_or("");
    let saved_with = checkpoint_meta
        .get("nomad.fingerprint")
        .map(String::as_str)
        .unwrap_or("");
    if field("hash").is_empty() || field("hash") != saved_with {
        bail!(
            "{}: {} does not belong to the checkpoint beside it (fingerprint {:?}, checkpoint \
             saved with {:?}); train it again",
            expert.name(),
            fp_path.display(),
            field("hash"),
            saved_with
        );
    }
    if field("data_sha256") != data_hash(songs) {
        bail!(
            "{}: the checkpoint was trained on other data than {} holds (data hash differs); \
             evaluate with the --midi_dir it was trained on",
            expert.name(),
            out.join("prepared").display()
        );
    }
    Ok(())
}

/// What a sampled piece stands beside: a real window's harmony (melody is
/// played over it, harmony may be given its key) and metre (every expert).
#[derive(Debug, Clone)]
pub struct WindowContext {
    pub harmony: Option<HarmonyDecoded>,
    pub metre: TimeSignature,
    /// The real window's bars (a Conductor plan is as long as the song it
    /// stands beside, when that is shorter than the card's length).
    pub bars: u32,
}

impl WindowContext {
    fn of(window: &windows::RealWindow) -> Self {
        WindowContext {
            harmony: window.harmony.clone(),
            metre: window.piece.metre,
            bars: window.piece.bars,
        }
    }
}

/// Samples `n` pieces from `model`, decoding each; piece `i` stands beside
/// context `i` (cycling).
#[allow(clippy::too_many_arguments)]
fn sample_set(
    expert: ExpertKind,
    model: &mut dyn StepModel,
    n: usize,
    bars: u32,
    opts: &SamplingOptions,
    seed: u64,
    contexts: &[WindowContext],
    give_key: bool,
    progress: &ProgressBar,
) -> anyhow::Result<Vec<Piece>> {
    let mut pieces = Vec::with_capacity(n);
    for i in 0..n {
        let piece_seed = seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        // Spread over all the windows when there are more than samples.
        let len = contexts.len();
        let window = (len > 0).then(|| &contexts[if len > n { i * len / n } else { i % len }]);
        let harmony = window.and_then(|w| w.harmony.as_ref());
        let metre = window.map_or(TimeSignature::FOUR_FOUR, |w| w.metre);
        let key = harmony.map(|h| h.key.unwrap_or(Key::new(0, Mode::Major)));
        let context = match expert {
            ExpertKind::Melody => PieceContext {
                key,
                harmony,
                metre,
            },
            ExpertKind::Harmony if give_key => PieceContext {
                key,
                harmony: None,
                metre,
            },
            _ => PieceContext {
                key: None,
                harmony: None,
                metre,
            },
        };
        let piece_bars = match (expert, window) {
            (ExpertKind::Conductor, Some(w)) if w.bars > 0 => w.bars.min(bars),
            _ => bars,
        };
        let tokens = sample_piece(expert, model, piece_bars, opts, piece_seed, &context)?;
        let decoded = decode_piece(expert, tokens, harmony)
            .with_context(|| format!("{} sample {i}", expert.name()))?;
        pieces.push(Piece { metre, ..decoded });
        progress.inc(1);
    }
    Ok(pieces)
}

/// The card's real side of one expert: the training half of the split (the
/// memorization and plausibility reference) and windows of the validation
/// songs.
pub struct RealSide {
    pub train_songs: usize,
    pub reference: Reference,
    pub windows: Vec<windows::RealWindow>,
    /// Melody: every pitch of the training melodies (the chance baseline).
    pub training_pitches: Vec<u8>,
}

impl RealSide {
    /// Splits `expert`'s songs as training did (same fraction and seed).
    pub fn build(
        corpus: &PreparedCorpus,
        cfg: &Config,
        expert: ExpertKind,
        opts: &EvalOptions,
    ) -> anyhow::Result<Self> {
        let songs = corpus.sequences(expert);
        if songs.len() < 2 {
            bail!(
                "{}: need at least 2 songs with a {} part, got {}",
                expert.name(),
                expert.name(),
                songs.len()
            );
        }
        let (train, val) = split_by_song(songs, cfg.training.val_fraction, cfg.training.seed);
        // Each song's harmony tokens, borrowed: the training songs' decoded
        // for the bigram reference, the validation windows' cut from them.
        let harmony_tokens: BTreeMap<&str, &[u32]> = corpus
            .harmony
            .iter()
            .map(|(name, seq)| (name.as_str(), seq.tokens.as_slice()))
            .collect();
        let training_tokens: Vec<Vec<u32>> = train.iter().map(|(_, s)| s.tokens.clone()).collect();
        let training_harmony: Vec<HarmonyDecoded> = train
            .iter()
            .filter_map(|(n, _)| harmony_tokens.get(n.as_str()))
            .filter_map(|tokens| decode_harmony(tokens).ok())
            .collect();
        let cap = (REAL_WINDOWS_PER_SAMPLE * opts.samples).max(MIN_REAL_WINDOWS);
        let bars = piece_bars(expert, opts.bars);
        let windows = windows::real_windows(expert, &val, &harmony_tokens, bars, cap);
        if windows.is_empty() {
            bail!(
                "{}: no validation song has a window where the part plays",
                expert.name()
            );
        }
        let training_pitches = match expert {
            ExpertKind::Melody => train
                .iter()
                .filter_map(|(_, s)| MelodyTokenizer::new().decode(&s.tokens).ok())
                .flat_map(|notes| notes.into_iter().map(|n| n.pitch))
                .collect(),
            _ => vec![],
        };
        Ok(RealSide {
            train_songs: train.len(),
            reference: Reference::new(&training_tokens, &training_harmony),
            windows,
            training_pitches,
        })
    }

    /// The card's checks on real music alone (see [`calibration`]).
    pub fn calibrate(
        &mut self,
        expert: ExpertKind,
        cfg: &Config,
        seed: u64,
    ) -> Option<calibration::RealSplit> {
        calibration::real_split(
            expert,
            &self.windows,
            &mut self.reference,
            &self.training_pitches,
            &cfg.eval,
            seed,
        )
    }
}

/// The seed of one expert's sampling (and its chance baseline).
fn expert_seed(opts: &EvalOptions, expert: ExpertKind) -> u64 {
    opts.seed ^ (expert as u64).wrapping_mul(0x1000_0001)
}

/// Samples, scores and judges one expert against its real side; writes its
/// samples as MIDI into `samples_dir`.
fn expert_report(
    expert: ExpertKind,
    model: &ExpertModel,
    mut real_side: RealSide,
    cfg: &Config,
    opts: &EvalOptions,
    samples_dir: &Path,
    progress: &ProgressBar,
) -> anyhow::Result<ExpertCard> {
    let sampling = SamplingOptions {
        temperature: cfg.eval.temperature,
        top_k: 0,
        top_p: cfg.eval.top_p,
    };
    let give_key = expert == ExpertKind::Harmony && !cfg.harmony.include_keys;
    let seed = expert_seed(opts, expert);
    let contexts: Vec<WindowContext> = real_side.windows.iter().map(WindowContext::of).collect();
    // The trained model and the random-token baseline sample under the
    // same seeds, contexts and grammar.
    let sample_from = |model: &mut dyn StepModel| {
        sample_set(
            expert,
            model,
            opts.samples,
            piece_bars(expert, opts.bars),
            &sampling,
            seed,
            &contexts,
            give_key,
            progress,
        )
    };
    let generated = sample_from(&mut CandleStepper::new(model))?;
    let random = sample_from(&mut RandomTokens::new(expert))?;
    let mut sample_files = Vec::new();
    for (i, p) in generated.iter().enumerate() {
        // A Conductor piece is a plan, not notes: written as JSON.
        let (path, bytes) = match &p.decoded {
            Decoded::Conductor(plan) => (
                samples_dir.join(format!("{}_{i:02}.json", expert.name())),
                serde_json::to_vec_pretty(plan)?,
            ),
            _ => (
                samples_dir.join(format!("{}_{i:02}.mid", expert.name())),
                midi_out::piece_midi(p)?,
            ),
        };
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        sample_files.push(path.display().to_string());
    }
    let real: Vec<Piece> = real_side.windows.iter().map(|w| w.piece.clone()).collect();
    let reference = &mut real_side.reference;
    let scores = [
        score_set(&real, reference),
        score_set(&generated, reference),
        score_set(&random, reference),
    ];
    let baseline = (expert == ExpertKind::Melody)
        .then(|| unigram_chord_tone_baseline(&generated, &real_side.training_pitches, seed));
    let sizes = report::SetSizes {
        train_songs: real_side.train_songs,
        val_pieces: real.len(),
        samples: generated.len(),
        bars: piece_bars(expert, opts.bars),
    };
    let mut card = report::expert_card(expert, &scores, baseline, &cfg.eval, sizes, sample_files);
    card.real_split = real_side.calibrate(expert, cfg, seed);
    Ok(card)
}

/// Builds the report card of every expert in `experts`, writing the card
/// (`report_card.json`, `report_card.md`) and the samples (`samples/*.mid`)
/// under `out`.
pub fn run_eval(
    out: &Path,
    corpus: &PreparedCorpus,
    cfg: &Config,
    experts: &[ExpertKind],
    opts: &EvalOptions,
) -> anyhow::Result<ReportCard> {
    cfg.validate()?;
    let progress = if opts.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new((experts.len() * opts.samples * 2) as u64)
    };
    progress.set_style(
        ProgressStyle::with_template("{prefix:>16} [{bar:25}] {pos}/{len} pieces {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    progress.set_prefix("sampling");
    let samples_dir = out.join("samples");
    std::fs::create_dir_all(&samples_dir)
        .with_context(|| format!("creating {}", samples_dir.display()))?;

    let mut cards = Vec::new();
    for &expert in experts {
        let real_side = RealSide::build(corpus, cfg, expert, opts)?;
        let ckpt = checkpoint_path(out, expert);
        if !ckpt.exists() {
            bail!(
                "checkpoint {} not found: train first (cargo run --release -p training -- train)",
                ckpt.display()
            );
        }
        let (model, checkpoint_meta) = ExpertModel::load(&ckpt)?;
        check_trained_on(out, expert, &checkpoint_meta, corpus.sequences(expert))?;
        progress.set_message(expert.name());
        cards.push(expert_report(
            expert,
            &model,
            real_side,
            cfg,
            opts,
            &samples_dir,
            &progress,
        )?);
    }
    progress.finish_and_clear();
    let card = ReportCard {
        seed: opts.seed,
        samples: opts.samples,
        bars: opts.bars,
        temperature: cfg.eval.temperature,
        top_p: cfg.eval.top_p,
        experts: cards,
    };
    card.write(out)?;
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::report::health_checks;
    use super::*;
    use crate::config::EvalConfig;
    use nomad_muse::nsf::midi_to_nsf;
    use nomad_muse::tokenizers::{DrumsTokenizer, HarmonyTokenizer, MelodyTokenizer};

    /// (drums, harmony, melody) token streams of generated songs.
    fn songs(n: usize, seed: u64) -> Vec<[Vec<u32>; 3]> {
        (0..n)
            .map(|i| {
                let song = crate::corpus::generate_song(i, seed).unwrap();
                let nsf = midi_to_nsf(&song.midi_bytes, &song.file_name).unwrap();
                [
                    DrumsTokenizer::new().encode(&nsf).tokens,
                    HarmonyTokenizer::new().encode(&nsf).tokens,
                    MelodyTokenizer::new().encode(&nsf).tokens,
                ]
            })
            .collect()
    }

    fn pieces(expert: ExpertKind, streams: &[[Vec<u32>; 3]], bars: u32) -> Vec<Piece> {
        let vocab = Vocabulary::for_expert(expert);
        streams
            .iter()
            .map(|s| {
                let harmony = decode_harmony(&s[1]).unwrap();
                decode_piece(
                    expert,
                    cut_to_bars(&s[expert as usize], &vocab, bars),
                    Some(&harmony),
                )
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn cut_keeps_exactly_the_first_bars() {
        let s = &songs(1, 3)[0];
        let full = DrumsTokenizer::new().decode(&s[0]).unwrap();
        let cut = cut_to_bars(&s[0], &Vocabulary::for_expert(ExpertKind::Drums), 4);
        let hits = DrumsTokenizer::new().decode(&cut).unwrap();
        let want: Vec<DrumHit> = full.into_iter().filter(|h| h.bar < 4).collect();
        assert!(!want.is_empty());
        assert_eq!(hits, want);
    }

    #[test]
    fn random_baseline_pieces_always_decode_with_the_asked_bars() {
        let s = &songs(1, 5)[0];
        let harmony = decode_harmony(&s[1]).unwrap();
        let opts = SamplingOptions {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
        };
        for expert in ExpertKind::WITH_CONDUCTOR {
            let mut model = RandomTokens::new(expert);
            let set = sample_set(
                expert,
                &mut model,
                6,
                4,
                &opts,
                11,
                &[WindowContext {
                    harmony: Some(harmony.clone()),
                    metre: TimeSignature::FOUR_FOUR,
                    bars: 4,
                }],
                false,
                &ProgressBar::hidden(),
            )
            .unwrap();
            assert_eq!(set.len(), 6);
            for p in &set {
                match &p.decoded {
                    Decoded::Drums(hits) => assert!(hits.iter().all(|h| h.bar < 4)),
                    Decoded::Harmony(h) => {
                        let beats: u32 = h.chords.iter().map(|c| c.hold_beats).sum();
                        assert_eq!(beats, 16, "4 bars of 4/4 fully covered");
                    }
                    Decoded::Melody { notes, harmony: h } => {
                        assert!(notes.iter().all(|n| n.bar < 4));
                        // Through the band, even random tokens stay in the key
                        // (the lean to chord tones: the band's own tests).
                        let key = h.key.unwrap_or(Key::new(0, Mode::Major));
                        assert!(
                            notes.is_empty()
                                || in_key_share(notes, key, |b, s| h.chord_at(b, s / 4)) == 1.0
                        );
                        assert_eq!(h.key, harmony.key, "melody keeps its conditioning harmony");
                    }
                    Decoded::Conductor(plan) => assert_eq!(plan.len(), 4),
                }
            }
        }
    }

    #[test]
    fn copied_training_pieces_are_flagged_as_memorized() {
        let all = songs(10, 8);
        let (train, held_out) = all.split_at(7);
        let cfg = EvalConfig::default();
        for expert in ExpertKind::ALL {
            let training_tokens: Vec<Vec<u32>> =
                train.iter().map(|s| s[expert as usize].clone()).collect();
            let harmony: Vec<HarmonyDecoded> = train
                .iter()
                .map(|s| decode_harmony(&s[1]).unwrap())
                .collect();
            let mut reference = Reference::new(&training_tokens, &harmony);
            let real = score_set(&pieces(expert, held_out, 8), &mut reference);
            let copies = score_set(&pieces(expert, train, 8), &mut reference);
            let verdict = |set: &SetScores| {
                health_checks(expert, &real, set, Some(0.0), &cfg)
                    .into_iter()
                    .find(|c| c.0 == "memorization")
                    .unwrap()
                    .3
            };
            assert_eq!(
                verdict(&copies),
                Verdict::Fail,
                "{}: copies of training songs",
                expert.name()
            );
            assert_eq!(
                verdict(&real),
                Verdict::Pass,
                "{}: held-out songs",
                expert.name()
            );
            // Real music against itself: the fidelity check passes.
            let fidelity = health_checks(expert, &real, &real, Some(0.0), &cfg)[0].clone();
            assert_eq!(fidelity.3, Verdict::Pass, "{}: {fidelity:?}", expert.name());
        }
    }

    #[test]
    fn the_unigram_baseline_is_chance_and_chord_tones_beat_it() {
        let all = songs(6, 9);
        let real = pieces(ExpertKind::Melody, &all, 16);
        let pitches: Vec<u8> = real
            .iter()
            .flat_map(|p| match &p.decoded {
                Decoded::Melody { notes, .. } => notes.iter().map(|n| n.pitch).collect(),
                _ => vec![],
            })
            .collect();
        let baseline = unigram_chord_tone_baseline(&real, &pitches, 1);
        let mut reference = Reference::new(&[], &[]);
        let ratio = score_set(&real, &mut reference).mean("chord-tone ratio");
        // Triads cover 3 of 12 pitch classes; the corpus melodies are chord-tone led.
        assert!(baseline > 0.15 && baseline < 0.6, "baseline {baseline}");
        assert!(
            ratio > baseline + 0.2,
            "real {ratio} vs baseline {baseline}"
        );
    }
}
