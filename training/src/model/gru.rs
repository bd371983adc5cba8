//! A GRU layer written out in candle so that its equations are exactly the
//! ONNX `GRU` operator's with `linear_before_reset = 1` (PyTorch's form),
//! gate blocks stacked z, r, n:
//!
//! z = σ(x·Wzᵀ + bWz + h·Rzᵀ + bRz)
//! r = σ(x·Wrᵀ + bWr + h·Rrᵀ + bRr)
//! n = tanh(x·Wnᵀ + bWn + r ⊙ (h·Rnᵀ + bRn))
//! h' = (1 − z) ⊙ n + z ⊙ h

use candle_core::{Result, Tensor, Var, D};

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
    pub fn forward(&self, x: &Tensor, h0: &Tensor) -> Result<(Tensor, Tensor)> {
        let (b, t, i) = x.dims3()?;
        let h = self.hidden;
        // The input projection of every step in one matmul; only the
        // recurrent part has to loop over time.
        let xp = x
            .reshape((b * t, i))?
            .matmul(&self.weight_ih.t()?)?
            .broadcast_add(&self.bias_ih)?
            .reshape((b, t, 3 * h))?
            .transpose(0, 1)?
            .contiguous()?;
        let w_hh_t = self.weight_hh.t()?;
        let mut state = h0.clone();
        let mut outputs = Vec::with_capacity(t);
        for step in 0..t {
            let xp_t = xp.get(step)?;
            state = self.cell(&xp_t, &state, &w_hh_t)?;
            outputs.push(state.clone());
        }
        Ok((Tensor::stack(&outputs, 1)?, state))
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
