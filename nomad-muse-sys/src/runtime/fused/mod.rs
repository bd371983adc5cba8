//! The fused GRU step: the expert's weights, read out of the ONNX graph
//! tract has validated, run by a handful of vectorised loops instead of a
//! graph walk. Per layer one panelled matrix-vector product for the three
//! input gates and one for the three recurrent gates (biases folded in),
//! then the gate update; no per-op tensor, no allocation per step.
//!
//! Trust: the weights are found by the exporter's names ([`extract`]); the
//! session then runs a few steps through both this and tract ([`parity`])
//! and refuses a file where they disagree, so a graph that names its
//! weights like ours but wires them differently cannot be served wrongly.

mod digits;
pub use digits::IntegerProducts;
mod extract;
pub mod kernels;
pub mod parity;
#[cfg(target_arch = "x86_64")]
mod x86;

use tract_onnx::pb::ModelProto;

use kernels::{gru_gates, matvec, matvec_panels, padded, Isa, Panels, Weights};

/// One GRU layer: `[in, 3H]` input gates, `[H, 3H]` recurrent gates (z, r,
/// n side by side) and their biases (z and r folded into `bias_x`).
#[derive(Debug, Clone)]
struct Layer {
    input: Weights,
    recurrent: Weights,
    /// `[bz, br, bWn]`, padded to the panel width.
    bias_x: Vec<f32>,
    /// `[0, 0, bRn]`: n's recurrent bias stays inside `r ⊙ (…)`.
    bias_h: Vec<f32>,
}

/// An embedding table `[rows, width]`.
#[derive(Debug, Clone)]
struct Table {
    rows: usize,
    values: Vec<f32>,
}

#[derive(Debug, Clone)]
pub struct FusedGru {
    isa: Isa,
    hidden_size: usize,
    vocab_size: usize,
    embed_dim: usize,
    embed: Table,
    chord: Option<Table>,
    key: Option<Table>,
    layers: Vec<Layer>,
    head: Weights,
    head_bias: Vec<f32>,
    /// Per-step scratch: the layer input, and both gate pre-activations.
    input: Vec<f32>,
    gates_x: Vec<f32>,
    gates_h: Vec<f32>,
    /// The load-time parity check's largest difference, once run.
    pub parity_difference: Option<f32>,
}

fn padded_copy(v: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; padded(v.len())];
    out[..v.len()].copy_from_slice(v);
    out
}

impl FusedGru {
    /// The fused form of an exported expert of `layers` × `hidden_size` over
    /// `vocab_size` tokens; `None` if the graph's weights are not laid out
    /// as the exporter writes them (the caller keeps tract then).
    pub fn from_graph(
        proto: &ModelProto,
        layers: usize,
        hidden_size: usize,
        vocab_size: usize,
    ) -> Option<FusedGru> {
        let graph = proto.graph.as_ref()?;
        let h = hidden_size;
        let (rows, embed_dim, embed) = extract::table(graph, "embed.weight", None)?;
        if rows != vocab_size {
            return None;
        }
        let optional_table = |name: &str| {
            extract::table(graph, name, Some(embed_dim))
                .map(|(rows, _, values)| Table { rows, values })
        };
        let mut fused_layers = Vec::with_capacity(layers);
        for l in 0..layers {
            let in_dim = if l == 0 { embed_dim } else { h };
            let names = |kind: char| -> Vec<String> {
                ["z", "r", "n"]
                    .iter()
                    .map(|g| format!("gru.{l}.{kind}{g}"))
                    .collect()
            };
            let input = extract::fused_matrix(graph, &names('W'), in_dim, h)?;
            let recurrent = extract::fused_matrix(graph, &names('R'), h, h)?;
            let bias = |name: &str| extract::vector(graph, &format!("gru.{l}.{name}"), h);
            let bias_x = [bias("bz")?, bias("br")?, bias("bWn")?].concat();
            let bias_h = [vec![0.0; 2 * h], bias("bRn")?].concat();
            fused_layers.push(Layer {
                input: input.for_cpu(),
                recurrent: recurrent.for_cpu(),
                bias_x: padded_copy(&bias_x),
                bias_h: padded_copy(&bias_h),
            });
        }
        let head =
            extract::fused_matrix(graph, &["head.weight".to_string()], h, vocab_size)?.for_cpu();
        let head_bias = padded_copy(&extract::vector(graph, "head.bias", vocab_size)?);
        let widest = padded(3 * h).max(padded(vocab_size));
        Some(FusedGru {
            isa: Isa::detect(),
            hidden_size: h,
            vocab_size,
            embed_dim,
            embed: Table {
                rows,
                values: embed,
            },
            chord: optional_table("chord_embed.weight"),
            key: optional_table("key_embed.weight"),
            layers: fused_layers,
            head,
            head_bias,
            input: vec![0.0; embed_dim.max(h)],
            gates_x: vec![0.0; widest],
            gates_h: vec![0.0; widest],
            parity_difference: None,
        })
    }

    /// The kernels' instruction set (detected at load).
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Whether the GRU matrices are int8.
    pub fn is_int8(&self) -> bool {
        self.layers
            .first()
            .is_some_and(|l| matches!(l.input, Weights::I8(_) | Weights::I8Digits(_)))
    }

    /// The integer products the int8 matrices run as, if relaid for them.
    pub fn integer_products(&self) -> Option<IntegerProducts> {
        self.layers
            .first()
            .filter(|l| matches!(l.input, Weights::I8Digits(_)))
            .map(|_| kernels::integer_products(self.isa))
    }

    /// Bytes of weights held.
    pub fn weight_bytes(&self) -> usize {
        let tables = [Some(&self.embed), self.chord.as_ref(), self.key.as_ref()]
            .into_iter()
            .flatten()
            .map(|t| t.values.len() * 4)
            .sum::<usize>();
        let layers: usize = self
            .layers
            .iter()
            .map(|l| l.input.bytes() + l.recurrent.bytes() + 8 * l.bias_x.len())
            .sum();
        tables + layers + self.head.bytes() + 4 * self.head_bias.len()
    }

    /// One step: `hidden` (`layers × H`) is read and updated in place, the
    /// next-token logits written into `logits` (`vocab_size`). Ids beyond a
    /// table are an error and change nothing.
    pub fn step(
        &mut self,
        token: u32,
        chord: u32,
        key: u32,
        hidden: &mut [f32],
        logits: &mut [f32],
    ) -> Result<(), String> {
        self.step_for(token, chord, key, hidden, logits, Panels::ALL)
    }

    /// [`FusedGru::step`] computing only the logits in `wanted` panels of
    /// 32 tokens (the rest of `logits` is unspecified): a sampler reads
    /// only what the grammar allows, 21–51 % of the head's panels per
    /// sample in a band's bar.
    pub fn step_for(
        &mut self,
        token: u32,
        chord: u32,
        key: u32,
        hidden: &mut [f32],
        logits: &mut [f32],
        wanted: Panels,
    ) -> Result<(), String> {
        let (h, e) = (self.hidden_size, self.embed_dim);
        if hidden.len() != self.layers.len() * h || logits.len() != self.vocab_size {
            return Err("state or logits buffer of the wrong size".into());
        }
        let row = |t: &Table, id: u32, what: &str| -> Result<usize, String> {
            let id = id as usize;
            (id < t.rows)
                .then_some(id * e)
                .ok_or_else(|| format!("{what} id {id} out of range (0..{})", t.rows))
        };
        let at = row(&self.embed, token, "token")?;
        let chord_at = self
            .chord
            .as_ref()
            .map(|t| row(t, chord, "chord"))
            .transpose()?;
        let key_at = self.key.as_ref().map(|t| row(t, key, "key")).transpose()?;
        let input = &mut self.input[..e];
        input.copy_from_slice(&self.embed.values[at..at + e]);
        for (table, at) in [(&self.chord, chord_at), (&self.key, key_at)] {
            if let (Some(t), Some(at)) = (table, at) {
                for (x, c) in input.iter_mut().zip(&t.values[at..at + e]) {
                    *x += c;
                }
            }
        }
        let mut in_dim = e;
        for (layer, state) in self.layers.iter().zip(hidden.chunks_exact_mut(h)) {
            let x = &self.input[..in_dim];
            matvec(self.isa, &layer.input, &layer.bias_x, x, &mut self.gates_x);
            matvec(
                self.isa,
                &layer.recurrent,
                &layer.bias_h,
                state,
                &mut self.gates_h,
            );
            gru_gates(
                self.isa,
                &self.gates_x[..3 * h],
                &self.gates_h[..3 * h],
                state,
            );
            self.input[..h].copy_from_slice(state);
            in_dim = h;
        }
        matvec_panels(
            self.isa,
            &self.head,
            &self.head_bias,
            &self.input[..h],
            &mut self.gates_x,
            wanted,
        );
        logits.copy_from_slice(&self.gates_x[..self.vocab_size]);
        Ok(())
    }
}
