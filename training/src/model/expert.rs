//! One expert network and its checkpoint format (safetensors + metadata).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};
use candle_core::{DType, Device, Tensor, Var, D};
use serde::{Deserialize, Serialize};

use super::gru::{GruKernel, GruLayer};
use super::init::{dropout_mask, normal, uniform};
use crate::config::{Conditioning, Config};
use crate::corpus::SplitMix64;
use nomad_muse::theory::{ChordLabel, Key};
use nomad_muse::tokenizers::{ExpertKind, Vocabulary};

/// Sizes of the melody conditioning tables (dense chord / key ids).
pub const CHORD_CONDITIONS: usize = ChordLabel::DENSE_COUNT as usize;
pub const KEY_CONDITIONS: usize = Key::DENSE_COUNT as usize;

/// Everything needed to rebuild an expert's network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpertModelConfig {
    pub expert: ExpertKind,
    pub vocab_size: usize,
    pub embed_dim: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub dropout: f64,
    pub conditioning: Conditioning,
}

impl ExpertModelConfig {
    pub fn from_config(expert: ExpertKind, cfg: &Config) -> Self {
        let m = cfg.model(expert);
        ExpertModelConfig {
            expert,
            vocab_size: Vocabulary::for_expert(expert).len(),
            embed_dim: m.embed_dim,
            hidden_size: m.hidden_size,
            num_layers: m.num_layers,
            dropout: m.dropout,
            conditioning: match expert {
                ExpertKind::Melody => cfg.melody.conditioning,
                // Its own key and current chord (seed: "key + chord embeddings").
                ExpertKind::Harmony => Conditioning::Both,
                ExpertKind::Drums | ExpertKind::Conductor => Conditioning::None,
            },
        }
    }

    /// Exact parameter count, from the shapes alone.
    pub fn param_count(&self) -> usize {
        let (v, e, h) = (self.vocab_size, self.embed_dim, self.hidden_size);
        let mut n = v * e;
        if self.expert.is_conditioned() {
            n += (CHORD_CONDITIONS + KEY_CONDITIONS) * e;
        }
        for l in 0..self.num_layers {
            let i = if l == 0 { e } else { h };
            n += 3 * h * (i + h) + 6 * h;
        }
        n += v * h + v;
        if self.expert == ExpertKind::Drums {
            n += h + 1;
        }
        n
    }
}

/// A tensor as `(name, shape, row-major data)`.
pub type NamedWeight = (String, Vec<usize>, Vec<f32>);

/// Output of a training forward pass.
pub struct ForwardOutput {
    /// [B, T, V]
    pub logits: Tensor,
    /// Drums: [B, T] groove logits.
    pub groove: Option<Tensor>,
}

#[derive(Debug, Clone)]
pub struct ExpertModel {
    pub config: ExpertModelConfig,
    embed: Var,
    chord_embed: Option<Var>,
    key_embed: Option<Var>,
    layers: Vec<GruLayer>,
    head_weight: Var,
    head_bias: Var,
    groove: Option<(Var, Var)>,
    /// How the GRU layers run (fused by default; composed is the reference).
    kernel: GruKernel,
}

impl ExpertModel {
    /// Selects how the GRU layers run their recurrence.
    pub fn set_gru_kernel(&mut self, kernel: GruKernel) {
        self.kernel = kernel;
    }

    /// A freshly initialised network (PyTorch's schemes, from `seed`).
    pub fn new(config: ExpertModelConfig, seed: u64) -> candle_core::Result<Self> {
        let mut rng = SplitMix64::new(seed);
        let (v, e, h) = (config.vocab_size, config.embed_dim, config.hidden_size);
        let k = 1.0 / (h as f64).sqrt();
        let embed = normal(&mut rng, &[v, e], 1.0)?;
        let (chord_embed, key_embed) = if config.expert.is_conditioned() {
            (
                Some(normal(&mut rng, &[CHORD_CONDITIONS, e], 1.0)?),
                Some(normal(&mut rng, &[KEY_CONDITIONS, e], 1.0)?),
            )
        } else {
            (None, None)
        };
        let mut layers = Vec::with_capacity(config.num_layers);
        for l in 0..config.num_layers {
            let i = if l == 0 { e } else { h };
            layers.push(GruLayer {
                weight_ih: uniform(&mut rng, &[3 * h, i], k)?,
                weight_hh: uniform(&mut rng, &[3 * h, h], k)?,
                bias_ih: uniform(&mut rng, &[3 * h], k)?,
                bias_hh: uniform(&mut rng, &[3 * h], k)?,
                hidden: h,
            });
        }
        let head_weight = uniform(&mut rng, &[v, h], k)?;
        let head_bias = uniform(&mut rng, &[v], k)?;
        let groove = if config.expert == ExpertKind::Drums {
            Some((uniform(&mut rng, &[1, h], k)?, uniform(&mut rng, &[1], k)?))
        } else {
            None
        };
        Ok(ExpertModel {
            config,
            embed,
            chord_embed,
            key_embed,
            layers,
            head_weight,
            head_bias,
            groove,
            kernel: GruKernel::default(),
        })
    }

    /// Tensors by their checkpoint / ONNX contract names.
    pub fn named_vars(&self) -> Vec<(String, &Var)> {
        let mut out = vec![("embed.weight".to_string(), &self.embed)];
        if let (Some(c), Some(k)) = (&self.chord_embed, &self.key_embed) {
            out.push(("chord_embed.weight".into(), c));
            out.push(("key_embed.weight".into(), k));
        }
        for (l, layer) in self.layers.iter().enumerate() {
            out.push((format!("gru.{l}.weight_ih"), &layer.weight_ih));
            out.push((format!("gru.{l}.weight_hh"), &layer.weight_hh));
            out.push((format!("gru.{l}.bias_ih"), &layer.bias_ih));
            out.push((format!("gru.{l}.bias_hh"), &layer.bias_hh));
        }
        out.push(("head.weight".into(), &self.head_weight));
        out.push(("head.bias".into(), &self.head_bias));
        if let Some((w, b)) = &self.groove {
            out.push(("groove_head.weight".into(), w));
            out.push(("groove_head.bias".into(), b));
        }
        out
    }

    pub fn vars(&self) -> Vec<Var> {
        self.named_vars()
            .into_iter()
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn param_count(&self) -> usize {
        self.named_vars().iter().map(|(_, v)| v.elem_count()).sum()
    }

    /// `(name, shape, row-major data)` of every tensor, for the exporter.
    pub fn weights_f32(&self) -> candle_core::Result<Vec<NamedWeight>> {
        self.named_vars()
            .into_iter()
            .map(|(n, v)| Ok((n, v.dims().to_vec(), v.flatten_all()?.to_vec1::<f32>()?)))
            .collect()
    }

    /// Embedded input [B, T, E] (token + the conditioning the config asks for).
    fn embed(
        &self,
        tokens: &Tensor,
        chord: Option<&Tensor>,
        key: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let (b, t) = tokens.dims2()?;
        let lookup = |table: &Var, ids: &Tensor| -> candle_core::Result<Tensor> {
            table
                .index_select(&ids.flatten_all()?, 0)?
                .reshape((b, t, self.config.embed_dim))
        };
        let mut x = lookup(&self.embed, tokens)?;
        if let (Some(table), Some(ids)) = (&self.chord_embed, chord) {
            if self.config.conditioning.uses_chord() {
                x = (x + lookup(table, ids)?)?;
            }
        }
        if let (Some(table), Some(ids)) = (&self.key_embed, key) {
            if self.config.conditioning.uses_key() {
                x = (x + lookup(table, ids)?)?;
            }
        }
        Ok(x)
    }

    /// Teacher-forced pass over `tokens` [B, T] (u32). With `dropout_rng`,
    /// dropout is applied (training); hidden states start at zero.
    pub fn forward(
        &self,
        tokens: &Tensor,
        chord: Option<&Tensor>,
        key: Option<&Tensor>,
        mut dropout_rng: Option<&mut SplitMix64>,
    ) -> candle_core::Result<ForwardOutput> {
        let (b, t) = tokens.dims2()?;
        let p = self.config.dropout;
        let mut x = self.embed(tokens, chord, key)?;
        for layer in &self.layers {
            if let Some(rng) = dropout_rng.as_deref_mut().filter(|_| p > 0.0) {
                x = (&x * dropout_mask(rng, x.dims(), p)?)?;
            }
            let h0 = Tensor::zeros((b, layer.hidden), DType::F32, &Device::Cpu)?;
            x = layer.forward(&x, &h0, self.kernel)?.0;
        }
        if let Some(rng) = dropout_rng.filter(|_| p > 0.0) {
            x = (&x * dropout_mask(rng, x.dims(), p)?)?;
        }
        let h = self.config.hidden_size;
        let flat = x.reshape((b * t, h))?;
        let logits = flat
            .matmul(&self.head_weight.t()?)?
            .broadcast_add(&self.head_bias)?
            .reshape((b, t, self.config.vocab_size))?;
        let groove = match &self.groove {
            Some((w, bias)) => Some(flat.matmul(&w.t()?)?.broadcast_add(bias)?.reshape((b, t))?),
            None => None,
        };
        Ok(ForwardOutput { logits, groove })
    }

    /// One inference step from `hidden` (one [H] vector per layer; empty =
    /// zeros): returns the logits and the new hidden state. Used for sampling
    /// and for ONNX parity checks.
    pub fn step(
        &self,
        token: u32,
        chord: u32,
        key: u32,
        hidden: &[Vec<f32>],
    ) -> candle_core::Result<(Vec<f32>, Vec<Vec<f32>>)> {
        let dev = Device::Cpu;
        let ids = |v: u32| Tensor::new(&[[v]], &dev);
        let (chord_t, key_t) = (ids(chord)?, ids(key)?);
        let mut x = self.embed(&ids(token)?, Some(&chord_t), Some(&key_t))?;
        let mut new_hidden = Vec::with_capacity(self.layers.len());
        for (l, layer) in self.layers.iter().enumerate() {
            let h0 = match hidden.get(l) {
                Some(h) => Tensor::from_slice(h, (1, layer.hidden), &dev)?,
                None => Tensor::zeros((1, layer.hidden), DType::F32, &dev)?,
            };
            let (out, last) = layer.forward(&x, &h0, self.kernel)?;
            new_hidden.push(last.flatten_all()?.to_vec1::<f32>()?);
            x = out;
        }
        let h = x.reshape((1, self.config.hidden_size))?;
        let logits = h
            .matmul(&self.head_weight.t()?)?
            .broadcast_add(&self.head_bias)?;
        Ok((logits.flatten_all()?.to_vec1::<f32>()?, new_hidden))
    }

    /// Writes the checkpoint with its metadata ("nomad.expert", "nomad.config",
    /// "nomad.vocab", "nomad.fingerprint").
    pub fn save(&self, path: &Path, fingerprint: &str) -> anyhow::Result<()> {
        let weights = self.weights_f32()?;
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = weights
            .into_iter()
            .map(|(n, s, d)| (n, s, d.iter().flat_map(|x| x.to_le_bytes()).collect()))
            .collect();
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = bytes
            .iter()
            .map(|(n, s, d)| {
                Ok((
                    n.clone(),
                    safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d)?,
                ))
            })
            .collect::<Result<_, safetensors::SafeTensorError>>()?;
        let mut meta = HashMap::new();
        meta.insert(
            "nomad.expert".to_string(),
            self.config.expert.name().to_string(),
        );
        meta.insert(
            "nomad.config".to_string(),
            serde_json::to_string(&self.config)?,
        );
        meta.insert(
            "nomad.vocab".to_string(),
            Vocabulary::for_expert(self.config.expert).to_json(),
        );
        meta.insert("nomad.fingerprint".to_string(), fingerprint.to_string());
        safetensors::serialize_to_file(views, Some(meta), path)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Reads a checkpoint written by [`ExpertModel::save`]; returns the model
    /// and the checkpoint's metadata.
    pub fn load(path: &Path) -> anyhow::Result<(Self, HashMap<String, String>)> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read checkpoint {}", path.display()))?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .with_context(|| format!("{} is not a safetensors checkpoint", path.display()))?;
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)?;
        let meta = header.metadata().clone().unwrap_or_default();
        let config: ExpertModelConfig = serde_json::from_str(
            meta.get("nomad.config")
                .with_context(|| format!("{}: no nomad.config metadata", path.display()))?,
        )
        .with_context(|| format!("{}: bad nomad.config", path.display()))?;
        if config.vocab_size != Vocabulary::for_expert(config.expert).len() {
            bail!(
                "{}: vocabulary size {} does not match this build",
                path.display(),
                config.vocab_size
            );
        }
        let model = ExpertModel::new(config, 0)?;
        for (name, var) in model.named_vars() {
            let view = st
                .tensor(&name)
                .with_context(|| format!("{}: missing tensor {name}", path.display()))?;
            if view.dtype() != safetensors::Dtype::F32 || view.shape() != var.dims() {
                bail!(
                    "{}: tensor {name} has shape {:?}, expected {:?}",
                    path.display(),
                    view.shape(),
                    var.dims()
                );
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            var.set(&Tensor::from_vec(data, var.dims(), &Device::Cpu)?)?;
        }
        Ok((model, meta))
    }
}

/// Masked mean cross-entropy of `logits` [B, T, V] against `targets` [B, T]
/// (u32) where `mask` [B, T] is 1.
pub fn masked_cross_entropy(
    logits: &Tensor,
    targets: &Tensor,
    mask: &Tensor,
) -> candle_core::Result<Tensor> {
    let (b, t, v) = logits.dims3()?;
    let logp = candle_nn::ops::log_softmax(&logits.reshape((b * t, v))?, D::Minus1)?;
    let picked = logp
        .gather(&targets.reshape((b * t, 1))?, 1)?
        .reshape((b, t))?;
    let total = (picked * mask)?.sum_all()?;
    let count = mask.sum_all()?.clamp(1.0, f64::MAX)?;
    total.neg()?.div(&count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(expert: ExpertKind) -> ExpertModelConfig {
        ExpertModelConfig {
            expert,
            vocab_size: Vocabulary::for_expert(expert).len(),
            embed_dim: 8,
            hidden_size: 12,
            num_layers: 2,
            dropout: 0.1,
            conditioning: Conditioning::Both,
        }
    }

    #[test]
    fn shapes_and_parameter_counts() {
        for e in ExpertKind::ALL {
            let m = ExpertModel::new(tiny(e), 1).unwrap();
            assert_eq!(m.param_count(), m.config.param_count());
            let tokens = Tensor::new(&[[1u32, 5, 6], [1, 7, 8]], &Device::Cpu).unwrap();
            let cond = Tensor::new(&[[0u32, 3, 3], [1, 1, 2]], &Device::Cpu).unwrap();
            let out = m.forward(&tokens, Some(&cond), Some(&cond), None).unwrap();
            assert_eq!(out.logits.dims(), &[2, 3, m.config.vocab_size]);
            assert_eq!(out.groove.is_some(), e == ExpertKind::Drums);
        }
        let c = Config::default();
        let counts: Vec<usize> = ExpertKind::ALL
            .iter()
            .map(|e| ExpertModelConfig::from_config(*e, &c).param_count())
            .collect();
        println!("default parameter counts (drums, harmony, melody): {counts:?}");
    }

    #[test]
    fn step_matches_sequence_forward() {
        let m = ExpertModel::new(tiny(ExpertKind::Melody), 3).unwrap();
        let seq = [1u32, 40, 50, 60, 70];
        let chords = [132u32, 0, 0, 7, 7];
        let keys = [3u32; 5];
        let t = |v: &[u32]| Tensor::new(v, &Device::Cpu).unwrap().unsqueeze(0).unwrap();
        let full = m
            .forward(&t(&seq), Some(&t(&chords)), Some(&t(&keys)), None)
            .unwrap()
            .logits;
        let mut hidden = vec![];
        for i in 0..seq.len() {
            let (logits, h) = m.step(seq[i], chords[i], keys[i], &hidden).unwrap();
            hidden = h;
            let expected = full
                .get(0)
                .unwrap()
                .get(i)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let diff = logits
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(diff < 1e-5, "step {i}: {diff}");
        }
    }

    #[test]
    fn melody_logits_follow_the_chord_condition() {
        let m = ExpertModel::new(tiny(ExpertKind::Melody), 5).unwrap();
        let (a, _) = m.step(10, 0, 0, &[]).unwrap();
        let (b, _) = m.step(10, 50, 0, &[]).unwrap();
        assert!(a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-4));
        let mut none = tiny(ExpertKind::Melody);
        none.conditioning = Conditioning::None;
        let m = ExpertModel::new(none, 5).unwrap();
        assert_eq!(
            m.step(10, 0, 0, &[]).unwrap().0,
            m.step(10, 50, 0, &[]).unwrap().0
        );
    }

    #[test]
    fn checkpoints_round_trip_and_bad_files_are_errors() {
        let dir = std::env::temp_dir().join(format!("nomad_ckpt_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let m = ExpertModel::new(tiny(ExpertKind::Drums), 9).unwrap();
        let path = dir.join("drums_best.safetensors");
        m.save(&path, "abc").unwrap();
        let (back, meta) = ExpertModel::load(&path).unwrap();
        assert_eq!(meta["nomad.fingerprint"], "abc");
        assert_eq!(back.weights_f32().unwrap(), m.weights_f32().unwrap());
        std::fs::write(dir.join("bad.safetensors"), b"not a checkpoint").unwrap();
        assert!(ExpertModel::load(&dir.join("bad.safetensors")).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
