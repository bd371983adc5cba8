//! `config_multi_expert.yaml`: model sizes per expert, expert options and
//! training hyper-parameters. Unknown keys and impossible values are errors
//! naming the key.

use std::path::Path;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use nomad_muse::tokenizers::ExpertKind;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    #[serde(default = "default_embed")]
    pub embed_dim: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub dropout: f64,
    /// Overrides `training.batch_size` for this expert: experts with few
    /// tokens a bar (harmony) need smaller batches to get enough updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Overrides `training.epochs` for this expert (the command line's
    /// `--epochs` overrides both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// Overrides `training.patience` for this expert: a long schedule at a
    /// high learning rate has noisy validation loss for many epochs before
    /// it settles (harmony), and would stop on the first bump.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// Each epoch after the first, move every training song by a random
    /// interval (−5..=+6 semitones), so progressions are seen in many keys
    /// (harmony: a few songs per key otherwise). No effect on drums.
    #[serde(default)]
    pub transpose_augment: bool,
    /// Overrides `training.seq_len` for this expert: harmony sets the key
    /// only at the start of a song, so its windows must hold whole songs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq_len: Option<usize>,
}

fn default_embed() -> usize {
    32
}

/// The seed's size class for the Conductor (one GRU layer of 32–64).
fn default_conductor_model() -> ModelConfig {
    ModelConfig {
        embed_dim: 16,
        hidden_size: 48,
        num_layers: 1,
        dropout: 0.1,
        batch_size: Some(8),
        epochs: None,
        patience: None,
        transpose_augment: false,
        seq_len: Some(256),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrumsOptions {
    pub time_signature: [u8; 2],
    pub max_bars: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarmonyOptions {
    /// Keep the `KEY_*` token at the start of harmony sequences.
    pub include_keys: bool,
}

/// Which harmony context the melody expert sees at every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conditioning {
    None,
    Chord,
    Key,
    Both,
}

impl Conditioning {
    pub fn uses_chord(self) -> bool {
        matches!(self, Conditioning::Chord | Conditioning::Both)
    }
    pub fn uses_key(self) -> bool {
        matches!(self, Conditioning::Key | Conditioning::Both)
    }
    pub fn name(self) -> &'static str {
        match self {
            Conditioning::None => "none",
            Conditioning::Chord => "chord",
            Conditioning::Key => "key",
            Conditioning::Both => "both",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MelodyOptions {
    pub conditioning: Conditioning,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingOptions {
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub seq_len: usize,
    pub epochs: usize,
    pub patience: usize,
    pub grad_clip: f64,
    pub warmup_steps: usize,
    pub val_fraction: f64,
    pub seed: u64,
    pub groove_loss_weight: f64,
    /// Tokens an expert trains on at most, over all its epochs: a big
    /// folder gets fewer passes (each already holds more music), so the main
    /// job stays minutes, not hours. An explicit `--epochs` is not capped.
    #[serde(default)]
    pub max_train_tokens: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub drums_model: ModelConfig,
    pub harmony_model: ModelConfig,
    pub melody_model: ModelConfig,
    /// Absent in configs written before the Conductor: its defaults.
    #[serde(default = "default_conductor_model")]
    pub conductor_model: ModelConfig,
    pub drums: DrumsOptions,
    pub harmony: HarmonyOptions,
    pub melody: MelodyOptions,
    pub training: TrainingOptions,
    /// Report-card settings and verdict thresholds (`training eval`).
    #[serde(default)]
    pub eval: EvalConfig,
}

/// How the report card samples and where its verdicts draw the line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Pieces sampled per expert.
    pub samples: usize,
    /// Bars per sampled piece (real pieces are cut to the same length).
    pub bars: u32,
    pub temperature: f32,
    pub top_p: f32,
    /// Mean overlap area (generated vs real) at or above which fidelity passes …
    pub overlap_pass: f64,
    /// … and below which it fails (warn in between).
    pub overlap_fail: f64,
    /// Generated 8-grams found in training: fail above max(this, r +
    /// `copy_gap_share` × (1 − r)), r = the share of the real validation
    /// pieces: a set of pieces that has gone this part of the way from real
    /// held-out music to a verbatim copy. (A fixed margin over r failed real
    /// pop against real pop: which songs fall in the halves moves r by 0.1.)
    pub max_copied_8gram_share: f64,
    pub copy_gap_share: f64,
    /// Also fail when the mean longest run shared with training exceeds this
    /// many times that of the real validation pieces (catches copies where
    /// real music shares most 8-grams anyway, e.g. drum grooves).
    pub max_longest_common_ratio: f64,
    /// Melody chord-tone ratio must beat the unigram-pitch baseline by this
    /// much to pass (below the baseline fails).
    pub chord_tone_margin: f64,
    /// Harmony key consistency below this fails.
    pub min_key_consistency: f64,
    /// Generated distinct-4 below this fraction of the real one warns (collapse).
    pub min_distinct_ratio: f64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            samples: 16,
            bars: 16,
            temperature: 1.0,
            top_p: 0.95,
            overlap_pass: 0.5,
            overlap_fail: 0.25,
            max_copied_8gram_share: 0.2,
            copy_gap_share: 1.0 / 3.0,
            max_longest_common_ratio: 2.0,
            chord_tone_margin: 0.05,
            min_key_consistency: 0.7,
            min_distinct_ratio: 0.5,
        }
    }
}

/// The repository's `config_multi_expert.yaml`, built in.
pub const DEFAULT_CONFIG_YAML: &str = include_str!("../../config_multi_expert.yaml");

impl Default for Config {
    fn default() -> Self {
        Config::from_yaml(DEFAULT_CONFIG_YAML).expect("the built-in config is valid")
    }
}

impl Config {
    pub fn from_yaml(text: &str) -> anyhow::Result<Self> {
        let cfg: Config =
            serde_yaml::from_str(text).map_err(|e| anyhow::anyhow!("invalid config: {e}"))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        Self::from_yaml(&text).with_context(|| format!("config {}", path.display()))
    }

    pub fn model(&self, expert: ExpertKind) -> &ModelConfig {
        match expert {
            ExpertKind::Drums => &self.drums_model,
            ExpertKind::Harmony => &self.harmony_model,
            ExpertKind::Melody => &self.melody_model,
            ExpertKind::Conductor => &self.conductor_model,
        }
    }

    /// The batch size `expert` trains with.
    pub fn batch_size(&self, expert: ExpertKind) -> usize {
        self.model(expert)
            .batch_size
            .unwrap_or(self.training.batch_size)
    }

    /// The epochs `expert` trains for.
    pub fn epochs(&self, expert: ExpertKind) -> usize {
        self.model(expert).epochs.unwrap_or(self.training.epochs)
    }

    /// Epochs without a better validation loss before `expert` stops.
    pub fn patience(&self, expert: ExpertKind) -> usize {
        self.model(expert)
            .patience
            .unwrap_or(self.training.patience)
    }

    /// The window length `expert` trains with.
    pub fn seq_len(&self, expert: ExpertKind) -> usize {
        self.model(expert).seq_len.unwrap_or(self.training.seq_len)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        for e in ExpertKind::WITH_CONDUCTOR {
            let m = self.model(e);
            let key = format!("{}_model", e.name());
            if m.hidden_size == 0 || m.hidden_size > 4096 {
                bail!(
                    "{key}.hidden_size must be in 1..=4096, got {}",
                    m.hidden_size
                );
            }
            if m.num_layers == 0 || m.num_layers > 8 {
                bail!("{key}.num_layers must be in 1..=8, got {}", m.num_layers);
            }
            if m.embed_dim == 0 || m.embed_dim > 4096 {
                bail!("{key}.embed_dim must be in 1..=4096, got {}", m.embed_dim);
            }
            if m.batch_size == Some(0) {
                bail!("{key}.batch_size must be >= 1");
            }
            if m.epochs == Some(0) {
                bail!("{key}.epochs must be >= 1");
            }
            if m.seq_len.is_some_and(|n| n < 2) {
                bail!("{key}.seq_len must be >= 2");
            }
            if !(0.0..1.0).contains(&m.dropout) {
                bail!("{key}.dropout must be in [0, 1), got {}", m.dropout);
            }
        }
        let t = &self.training;
        if !(t.learning_rate > 0.0 && t.learning_rate.is_finite()) {
            bail!(
                "training.learning_rate must be > 0, got {}",
                t.learning_rate
            );
        }
        if t.weight_decay < 0.0 {
            bail!("training.weight_decay must be >= 0, got {}", t.weight_decay);
        }
        if t.batch_size == 0 || t.seq_len < 2 || t.epochs == 0 {
            bail!("training.batch_size, training.epochs must be >= 1 and training.seq_len >= 2");
        }
        if !(t.val_fraction > 0.0 && t.val_fraction < 1.0) {
            bail!(
                "training.val_fraction must be in (0, 1), got {}",
                t.val_fraction
            );
        }
        if t.grad_clip <= 0.0 {
            bail!("training.grad_clip must be > 0, got {}", t.grad_clip);
        }
        let [num, den] = self.drums.time_signature;
        if num == 0 || !den.is_power_of_two() {
            bail!("drums.time_signature {num}/{den} is not a time signature");
        }
        if self.drums.max_bars == 0 {
            bail!("drums.max_bars must be >= 1");
        }
        let e = &self.eval;
        if e.samples == 0 || e.bars == 0 {
            bail!("eval.samples and eval.bars must be >= 1");
        }
        if !(e.temperature > 0.0 && e.temperature.is_finite() && e.top_p > 0.0 && e.top_p <= 1.0) {
            bail!("eval.temperature must be > 0 and eval.top_p in (0, 1]");
        }
        for (name, v) in [
            ("overlap_pass", e.overlap_pass),
            ("overlap_fail", e.overlap_fail),
            ("max_copied_8gram_share", e.max_copied_8gram_share),
            ("copy_gap_share", e.copy_gap_share),
            ("chord_tone_margin", e.chord_tone_margin),
            ("min_key_consistency", e.min_key_consistency),
            ("min_distinct_ratio", e.min_distinct_ratio),
        ] {
            if !(0.0..=1.0).contains(&v) {
                bail!("eval.{name} must be in [0, 1], got {v}");
            }
        }
        if !(e.max_longest_common_ratio >= 1.0 && e.max_longest_common_ratio.is_finite()) {
            bail!(
                "eval.max_longest_common_ratio must be >= 1, got {}",
                e.max_longest_common_ratio
            );
        }
        if e.overlap_fail > e.overlap_pass {
            bail!("eval.overlap_fail must not exceed eval.overlap_pass");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_parses_with_seed_sizes() {
        let c = Config::default();
        assert_eq!(
            (c.drums_model.hidden_size, c.drums_model.num_layers),
            (64, 2)
        );
        assert_eq!(
            (c.harmony_model.hidden_size, c.harmony_model.num_layers),
            (96, 3)
        );
        assert_eq!(
            (c.melody_model.hidden_size, c.melody_model.num_layers),
            (128, 3)
        );
        assert_eq!(c.melody.conditioning, Conditioning::Both);
    }

    #[test]
    fn per_expert_overrides_fall_back_to_training_section() {
        let c = Config::default();
        assert_eq!(c.patience(ExpertKind::Harmony), 25);
        assert_eq!(c.patience(ExpertKind::Drums), c.training.patience);
        assert_eq!(c.epochs(ExpertKind::Harmony), 150);
        assert_eq!(c.epochs(ExpertKind::Melody), c.training.epochs);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let unknown = DEFAULT_CONFIG_YAML.replace("max_bars: 16", "max_bars: 16\n  swing: 0.6");
        let e = Config::from_yaml(&unknown).unwrap_err().to_string();
        assert!(e.contains("swing"), "{e}");
        let negative = DEFAULT_CONFIG_YAML.replacen("hidden_size: 96", "hidden_size: -3", 1);
        assert!(Config::from_yaml(&negative).is_err());
        let zero = DEFAULT_CONFIG_YAML.replacen("hidden_size: 96", "hidden_size: 0", 1);
        let e = Config::from_yaml(&zero).unwrap_err().to_string();
        assert!(e.contains("harmony_model.hidden_size"), "{e}");
        let dropout = DEFAULT_CONFIG_YAML.replacen("dropout: 0.2", "dropout: 1.5", 1);
        assert!(Config::from_yaml(&dropout)
            .unwrap_err()
            .to_string()
            .contains("drums_model.dropout"));
        let cond = DEFAULT_CONFIG_YAML.replace("conditioning: both", "conditioning: lyrics");
        assert!(Config::from_yaml(&cond).is_err());
    }
}
