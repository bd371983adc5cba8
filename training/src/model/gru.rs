//! A GRU layer written out in candle so that its equations are exactly the
//! ONNX `GRU` operator's with `linear_before_reset = 1` (PyTorch's form),
//! gate blocks stacked z, r, n:
//!
//! z = σ(x·Wzᵀ + bWz + h·Rzᵀ + bRz)
//! r = σ(x·Wrᵀ + bWr + h·Rrᵀ + bRr)
//! n = tanh(x·Wnᵀ + bWn + r ⊙ (h·Rnᵀ + bRn))
//! h' = (1 − z) ⊙ n + z ⊙ h
//!
//! Training and sampling run the recurrence as one fused op
//! (`gru_fused.rs`, hand-written backward); the composed candle form here is
//! the reference it is tested against and can be selected with
//! [`GruKernel::Composed`].

use candle_core::{Result, Tensor, Var, D};

use super::gru_fused::GruSequence;

/// How a GRU layer runs its recurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GruKernel {
    /// One custom op over the whole sequence (forward and BPTT by hand).
    #[default]
    Fused,
    /// Candle ops step by step (autograd through every step): the reference.
    Composed,
}

#[derive(Debug, Clone)]
pub struct GruLayer {
    /// [3H, I]
    pub weight_ih: Var,
    /// [3H, H]
    pub weight_hh: Var,
    /// [3H]
    pub bias_ih: Var,
    /// [3H]
    pub bias_hh: Var,
    pub hidden: usize,
}

impl GruLayer {
    /// Runs the layer over `x` [B, T, I] from `h0` [B, H]; returns all
    /// hidden states [B, T, H] and the last one [B, H].
    pub fn forward(&self, x: &Tensor, h0: &Tensor, kernel: GruKernel) -> Result<(Tensor, Tensor)> {
        let (b, t, i) = x.dims3()?;
        let h = self.hidden;
        // The input projection of every step in one matmul; only the
        // recurrent part has to loop over time.
        let xp = x
            .reshape((b * t, i))?
            .matmul(&self.weight_ih.t()?)?
            .broadcast_add(&self.bias_ih)?
            .reshape((b, t, 3 * h))?;
        let all = match kernel {
            GruKernel::Fused => {
                let w_aug = Tensor::cat(
                    &[self.weight_hh.as_tensor(), &self.bias_hh.unsqueeze(1)?],
                    1,
                )?;
                GruSequence::apply(&xp, h0, &w_aug)?
            }
            GruKernel::Composed => self.recurrence_composed(&xp, h0)?,
        };
        let last = all.narrow(1, t.saturating_sub(1), t.min(1))?.squeeze(1)?;
        Ok((all, last))
    }

    /// The recurrence in candle ops, one step at a time (the reference).
    fn recurrence_composed(&self, xp: &Tensor, h0: &Tensor) -> Result<Tensor> {
        let t = xp.dim(1)?;
        let xp = xp.transpose(0, 1)?.contiguous()?;
        let w_hh_t = self.weight_hh.t()?;
        let mut state = h0.clone();
        let mut outputs = Vec::with_capacity(t);
        for step in 0..t {
            let xp_t = xp.get(step)?;
            state = self.cell(&xp_t, &state, &w_hh_t)?;
            outputs.push(state.clone());
        }
        Tensor::stack(&outputs, 1)
    }

    /// One step given the projected input `xp` [B, 3H].
    fn cell(&self, xp: &Tensor, h: &Tensor, w_hh_t: &Tensor) -> Result<Tensor> {
        let hd = self.hidden;
        let hp = h.matmul(w_hh_t)?.broadcast_add(&self.bias_hh)?;
        let zr = candle_nn::ops::sigmoid(
            &(xp.narrow(D::Minus1, 0, 2 * hd)? + hp.narrow(D::Minus1, 0, 2 * hd)?)?,
        )?;
        let z = zr.narrow(D::Minus1, 0, hd)?;
        let r = zr.narrow(D::Minus1, hd, hd)?;
        let n = (xp.narrow(D::Minus1, 2 * hd, hd)? + (r * hp.narrow(D::Minus1, 2 * hd, hd)?)?)?
            .tanh()?;
        // (1 − z) ⊙ n + z ⊙ h  ==  n + z ⊙ (h − n)
        &n + (z * (h - &n)?)?
    }

    pub fn param_count(&self) -> usize {
        [
            &self.weight_ih,
            &self.weight_hh,
            &self.bias_ih,
            &self.bias_hh,
        ]
        .iter()
        .map(|v| v.elem_count())
        .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::SplitMix64;
    use crate::model::init::{normal, uniform};
    use candle_core::Device;

    fn layer(rng: &mut SplitMix64, input: usize, h: usize) -> GruLayer {
        let k = 1.0 / (h as f64).sqrt();
        GruLayer {
            weight_ih: uniform(rng, &[3 * h, input], k).unwrap(),
            weight_hh: uniform(rng, &[3 * h, h], k).unwrap(),
            bias_ih: uniform(rng, &[3 * h], k).unwrap(),
            bias_hh: uniform(rng, &[3 * h], k).unwrap(),
            hidden: h,
        }
    }

    /// A scalar loss that weighs every hidden state differently, so every
    /// gradient path is exercised: Σ hs ⊙ probe + Σ last ⊙ probe_last.
    fn loss(l: &GruLayer, x: &Tensor, h0: &Tensor, probe: &Tensor, kernel: GruKernel) -> Tensor {
        let (all, last) = l.forward(x, h0, kernel).unwrap();
        // The last state weighed by the first step's probe row.
        let probe_last = probe.narrow(1, 0, 1).unwrap().squeeze(1).unwrap();
        let tail = (last * probe_last).unwrap();
        ((all * probe).unwrap().sum_all().unwrap() + tail.sum_all().unwrap()).unwrap()
    }

    struct Case {
        layer: GruLayer,
        x: Var,
        h0: Var,
        probe: Tensor,
    }

    fn case(seed: u64, b: usize, t: usize, i: usize, h: usize) -> Case {
        let mut rng = SplitMix64::new(seed);
        Case {
            layer: layer(&mut rng, i, h),
            x: normal(&mut rng, &[b, t, i], 1.0).unwrap(),
            h0: normal(&mut rng, &[b, h], 0.5).unwrap(),
            probe: normal(&mut rng, &[b, t, h], 1.0)
                .unwrap()
                .as_tensor()
                .clone(),
        }
    }

    fn vars(c: &Case) -> Vec<(&'static str, &Var)> {
        vec![
            ("x", &c.x),
            ("h0", &c.h0),
            ("weight_ih", &c.layer.weight_ih),
            ("weight_hh", &c.layer.weight_hh),
            ("bias_ih", &c.layer.bias_ih),
            ("bias_hh", &c.layer.bias_hh),
        ]
    }

    fn grads(c: &Case, kernel: GruKernel) -> Vec<Vec<f32>> {
        let g = loss(&c.layer, &c.x, &c.h0, &c.probe, kernel)
            .backward()
            .unwrap();
        vars(c)
            .iter()
            .map(|(name, v)| {
                let grad = g.get(v).unwrap_or_else(|| panic!("no gradient for {name}"));
                grad.flatten_all().unwrap().to_vec1::<f32>().unwrap()
            })
            .collect()
    }

    #[test]
    fn fused_forward_matches_the_composed_reference() {
        for (b, t, i, h) in [(1, 1, 3, 2), (3, 7, 5, 4), (4, 20, 16, 24)] {
            let c = case(11, b, t, i, h);
            let run = |k| {
                let (all, last) = c.layer.forward(&c.x, &c.h0, k).unwrap();
                let all = all.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                (all, last.flatten_all().unwrap().to_vec1::<f32>().unwrap())
            };
            let (fused, composed) = (run(GruKernel::Fused), run(GruKernel::Composed));
            assert_eq!(fused.0.len(), b * t * h);
            for (a, r) in fused
                .0
                .iter()
                .chain(&fused.1)
                .zip(composed.0.iter().chain(&composed.1))
            {
                assert!(
                    (a - r).abs() <= 1e-5,
                    "{b}x{t}x{i}x{h}: fused {a} vs composed {r}"
                );
            }
        }
    }

    #[test]
    fn fused_gradients_match_the_composed_reference() {
        for (b, t, i, h) in [(1, 1, 3, 2), (2, 5, 4, 3), (4, 16, 8, 12)] {
            let c = case(5, b, t, i, h);
            let (fused, composed) = (grads(&c, GruKernel::Fused), grads(&c, GruKernel::Composed));
            for ((name, _), (f, r)) in vars(&c).iter().zip(fused.iter().zip(&composed)) {
                let scale = r.iter().fold(1.0f32, |m, v| m.max(v.abs()));
                for (a, e) in f.iter().zip(r) {
                    assert!(
                        (a - e).abs() <= 2e-5 * scale,
                        "{b}x{t}x{i}x{h} d{name}: fused {a} vs composed {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn fused_gradients_match_finite_differences() {
        let c = case(9, 2, 4, 3, 3);
        let fused = grads(&c, GruKernel::Fused);
        let eps = 1e-2f32;
        for ((name, var), analytic) in vars(&c).iter().zip(&fused) {
            let base = var.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for idx in 0..base.len() {
                let at = |delta: f32| {
                    let mut moved = base.clone();
                    moved[idx] += delta;
                    var.set(&Tensor::from_vec(moved, var.dims(), &Device::Cpu).unwrap())
                        .unwrap();
                    let l = loss(&c.layer, &c.x, &c.h0, &c.probe, GruKernel::Fused);
                    l.to_scalar::<f32>().unwrap()
                };
                let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
                var.set(&Tensor::from_vec(base.clone(), var.dims(), &Device::Cpu).unwrap())
                    .unwrap();
                let a = analytic[idx];
                assert!(
                    (a - numeric).abs() <= 2e-3 + 1e-2 * numeric.abs(),
                    "d{name}[{idx}]: analytic {a} vs finite difference {numeric}"
                );
            }
        }
    }
}
