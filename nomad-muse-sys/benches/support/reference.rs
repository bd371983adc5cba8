//! A plain hand-written GRU step, the yardstick of the latency bench: the
//! shapes of a given exported expert (random weights: only the time
//! matters), row-major matrices and straight dot products, compiled for
//! AVX2+FMA when the CPU has it. Embedding + conditioning add, L layers
//! with `linear_before_reset = 1`, head, softmax sampling over the whole
//! vocabulary.

use std::path::Path;

use nomad_muse::runtime::fused::kernels::exp_approx;
use nomad_muse::runtime::model_check::read_model_proto;

/// `[3H, in]` and `[3H, H]` matrices, `[3H]` input and recurrent biases.
type Layer = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

pub struct ReferenceGru {
    vocab: usize,
    embed_dim: usize,
    hidden: usize,
    embed: Vec<f32>,
    /// Chord and key tables (conditioned experts), each `[rows, E]`.
    conditioning: Vec<Vec<f32>>,
    layers: Vec<Layer>,
    head: Vec<f32>,
    head_bias: Vec<f32>,
    state: Vec<f32>,
    x: Vec<f32>,
    gx: Vec<f32>,
    gh: Vec<f32>,
    logits: Vec<f32>,
    rng: u64,
    token: usize,
}

fn random(n: usize, rng: &mut u64, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            ((*rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * scale
        })
        .collect()
}

impl ReferenceGru {
    /// A reference of the same shapes as the expert in `path`.
    pub fn like(path: &Path) -> Option<ReferenceGru> {
        let proto = read_model_proto(path).ok()?;
        let meta = |k: &str| -> Option<usize> {
            proto
                .metadata_props
                .iter()
                .find(|p| p.key == k)?
                .value
                .parse()
                .ok()
        };
        let (layer_count, h, v) = (
            meta("nomad.num_layers")?,
            meta("nomad.hidden_size")?,
            meta("nomad.vocab_size")?,
        );
        let graph = proto.graph.as_ref()?;
        let dims = |name: &str| -> Option<Vec<usize>> {
            let t = graph.initializer.iter().find(|t| t.name == name)?;
            Some(t.dims.iter().map(|d| *d as usize).collect())
        };
        let e = *dims("embed.weight")?.get(1)?;
        let mut rng = 99u64;
        let k = 1.0 / (h as f32).sqrt();
        let conditioning = ["chord_embed.weight", "key_embed.weight"]
            .iter()
            .filter_map(|n| dims(n))
            .map(|d| random(d[0] * e, &mut rng, 1.0))
            .collect();
        let layers = (0..layer_count)
            .map(|l| {
                let input = if l == 0 { e } else { h };
                (
                    random(3 * h * input, &mut rng, k),
                    random(3 * h * h, &mut rng, k),
                    random(3 * h, &mut rng, k),
                    random(3 * h, &mut rng, k),
                )
            })
            .collect();
        Some(ReferenceGru {
            vocab: v,
            embed_dim: e,
            hidden: h,
            embed: random(v * e, &mut rng, 1.0),
            conditioning,
            layers,
            head: random(v * h, &mut rng, k),
            head_bias: random(v, &mut rng, k),
            state: vec![0.0; layer_count * h],
            x: vec![0.0; e.max(h)],
            gx: vec![0.0; 3 * h],
            gh: vec![0.0; 3 * h],
            logits: vec![0.0; v],
            rng: 5,
            token: 1,
        })
    }

    /// One step on the last token, then a sampled next token.
    pub fn next_token(&mut self) -> usize {
        // SAFETY: only called when the CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return unsafe { self.next_token_avx2() };
        }
        self.next_token_plain()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn next_token_avx2(&mut self) -> usize {
        self.next_token_plain()
    }

    #[inline(always)]
    fn next_token_plain(&mut self) -> usize {
        let (e, h, v) = (self.embed_dim, self.hidden, self.vocab);
        let t = self.token % v;
        self.x[..e].copy_from_slice(&self.embed[t * e..(t + 1) * e]);
        for table in &self.conditioning {
            let row = (t * 7) % (table.len() / e);
            for (x, c) in self.x[..e].iter_mut().zip(&table[row * e..(row + 1) * e]) {
                *x += c;
            }
        }
        let mut input = e;
        for (l, (wi, wh, bi, bh)) in self.layers.iter().enumerate() {
            let state = &mut self.state[l * h..(l + 1) * h];
            for r in 0..3 * h {
                self.gx[r] = bi[r] + dot(&wi[r * input..(r + 1) * input], &self.x[..input]);
                self.gh[r] = bh[r] + dot(&wh[r * h..(r + 1) * h], state);
            }
            for (j, s) in state.iter_mut().enumerate() {
                let z = 1.0 / (1.0 + exp_approx(-(self.gx[j] + self.gh[j])));
                let r = 1.0 / (1.0 + exp_approx(-(self.gx[h + j] + self.gh[h + j])));
                let pre_n = self.gx[2 * h + j] + r * self.gh[2 * h + j];
                let n = 2.0 / (1.0 + exp_approx(-2.0 * pre_n)) - 1.0;
                *s = n + z * (*s - n);
            }
            self.x[..h].copy_from_slice(state);
            input = h;
        }
        let mut max = f32::NEG_INFINITY;
        for (i, logit) in self.logits.iter_mut().enumerate() {
            *logit = self.head_bias[i] + dot(&self.head[i * h..(i + 1) * h], &self.x[..h]);
            max = max.max(*logit);
        }
        let mut total = 0.0;
        for logit in self.logits.iter_mut() {
            *logit = exp_approx(*logit - max);
            total += *logit;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let mut target = (self.rng >> 40) as f32 / (1u64 << 24) as f32 * total;
        self.token = v - 1;
        for (i, p) in self.logits.iter().enumerate() {
            if target < *p {
                self.token = i;
                break;
            }
            target -= p;
        }
        self.token
    }
}

/// Dot product with eight independent accumulators.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for k in 0..8 {
            acc[k] = x[k].mul_add(y[k], acc[k]);
        }
    }
    acc.iter().sum::<f32>() + tail
}
