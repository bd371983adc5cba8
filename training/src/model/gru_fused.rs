//! The GRU recurrence over a whole sequence as one candle op, with a
//! hand-written backward pass (backpropagation through time).
//!
//! The composed form in `gru.rs` builds about fifteen small tensors per time
//! step, each a node of the autograd graph; at these sizes (hidden 64–128,
//! batches of 8–32) the bookkeeping costs more than the arithmetic. Here the
//! forward pass is one matrix product per step for the recurrence (all three
//! gates at once) plus one loop of gate arithmetic, and the backward pass
//! recomputes the gates with a single product over all steps, walks back
//! through time with one product per step, and forms the weight gradient
//! with one product at the end. The composed form stays as the reference the
//! tests check this against.
//!
//! Inputs: `xp` [B, T, 3H] (the input projection x·Wihᵀ + b_ih, computed by
//! candle so its gradient flows on), `h0` [B, H] and `w_aug` [3H, H + 1]
//! (weight_hh with bias_hh as its last column). Output: every hidden state
//! [B, T, H]. Gate blocks z, r, n; ONNX `GRU` with `linear_before_reset = 1`.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Device, Layout, Result, Shape, Tensor};
use gemm::Parallelism;

/// The custom op (see the module comment). One instance per application:
/// it keeps the gates its forward pass computed for its backward pass.
pub(crate) struct GruSequence {
    saved: Mutex<Option<Gates>>,
}

impl GruSequence {
    /// All hidden states [B, T, H] of the recurrence over `xp` from `h0`.
    pub(crate) fn apply(xp: &Tensor, h0: &Tensor, w_aug: &Tensor) -> Result<Tensor> {
        let op = GruSequence {
            saved: Mutex::new(None),
        };
        xp.contiguous()?
            .apply_op3(&h0.contiguous()?, &w_aug.contiguous()?, op)
    }
}

/// What the forward pass computed that the backward pass needs, per row
/// (batch × time): z, r, n [3H] and the recurrent n pre-activation
/// h·Rnᵀ + bRn [H].
struct Gates {
    zrn: Vec<f32>,
    hp_n: Vec<f32>,
}

/// Sizes of one call: batch, time, hidden.
#[derive(Clone, Copy)]
struct Dims {
    b: usize,
    t: usize,
    h: usize,
}

impl Dims {
    fn of(xp: &[usize], h0: &[usize], w: &[usize]) -> Result<Self> {
        let (b, t, g) = match xp {
            [b, t, g] => (*b, *t, *g),
            _ => candle_core::bail!("gru_sequence: xp must be [B, T, 3H], got {xp:?}"),
        };
        let h = g / 3;
        if g != 3 * h || h0 != [b, h] || w != [3 * h, h + 1] {
            candle_core::bail!(
                "gru_sequence: shapes xp {xp:?}, h0 {h0:?}, w_aug {w:?} do not fit [B,T,3H], [B,H], [3H,H+1]"
            );
        }
        Ok(Dims { b, t, h })
    }
}

fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&s.as_slice::<f32>()?[start..end]),
        None => candle_core::bail!("gru_sequence: inputs must be contiguous"),
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// tanh through one `exp` (libm's `tanhf` costs several times more; the
/// difference is within f32 rounding of the composed reference).
fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

fn parallelism() -> Parallelism {
    match candle_core::utils::get_num_threads() {
        0 | 1 => Parallelism::None,
        n => Parallelism::Rayon(n),
    }
}

/// A strided row-major matrix view: element (i, j) at `ptr[i * rs + j * cs]`.
#[derive(Clone, Copy)]
struct View {
    ptr: *const f32,
    rs: isize,
    cs: isize,
}

/// `dst[m × n] (+)= lhs[m × k] · rhs[k × n]`, dst row-major with row stride `dst_rs`.
/// Safety: every view must address valid memory for its shape.
#[allow(clippy::too_many_arguments)]
unsafe fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: View,
    rhs: View,
) {
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_rs as isize,
        accumulate,
        lhs.ptr,
        lhs.cs,
        lhs.rs,
        rhs.ptr,
        rhs.cs,
        rhs.rs,
        1.0,
        1.0,
        false,
        false,
        false,
        parallelism(),
    )
}

/// `rows` [count, H] · weight_hhᵀ + bias_hh → [count, 3H], rows `rows_rs` apart.
fn recurrent_projection(
    rows: &[f32],
    rows_rs: usize,
    count: usize,
    w_aug: &[f32],
    h: usize,
    out: &mut [f32],
) {
    let g = 3 * h;
    assert!(out.len() >= count * g && rows.len() >= (count.max(1) - 1) * rows_rs + h);
    for row in out.chunks_exact_mut(g).take(count) {
        for (j, o) in row.iter_mut().enumerate() {
            *o = w_aug[j * (h + 1) + h];
        }
    }
    // Safety: `out` holds count × 3H, `rows` count rows of H `rows_rs` apart
    // (asserted), `w_aug` is [3H, H + 1]; rhs(k, n) = W[n][k].
    unsafe {
        matmul(
            count,
            g,
            h,
            out.as_mut_ptr(),
            g,
            true,
            View {
                ptr: rows.as_ptr(),
                rs: rows_rs as isize,
                cs: 1,
            },
            View {
                ptr: w_aug.as_ptr(),
                rs: 1,
                cs: (h + 1) as isize,
            },
        )
    }
}

/// Forward: every hidden state [B, T, H], and the gates for the backward pass.
fn forward(xp: &[f32], h0: &[f32], w_aug: &[f32], d: Dims) -> (Vec<f32>, Gates) {
    let Dims { b, t, h } = d;
    let g = 3 * h;
    let mut hs = vec![0f32; b * t * h];
    let mut gates = Gates {
        zrn: vec![0f32; b * t * g],
        hp_n: vec![0f32; b * t * h],
    };
    let mut state = h0.to_vec();
    let mut hp = vec![0f32; b * g];
    for step in 0..t {
        recurrent_projection(&state, h, b, w_aug, h, &mut hp);
        for bi in 0..b {
            let at = bi * t + step;
            let x = &xp[at * g..][..g];
            let p = &hp[bi * g..][..g];
            let s = &mut state[bi * h..][..h];
            let zrn = &mut gates.zrn[at * g..][..g];
            gates.hp_n[at * h..][..h].copy_from_slice(&p[2 * h..]);
            for j in 0..h {
                let z = sigmoid(x[j] + p[j]);
                let r = sigmoid(x[h + j] + p[h + j]);
                let n = tanh(x[2 * h + j] + r * p[2 * h + j]);
                s[j] = n + z * (s[j] - n);
                (zrn[j], zrn[h + j], zrn[2 * h + j]) = (z, r, n);
            }
            hs[at * h..][..h].copy_from_slice(s);
        }
    }
    (hs, gates)
}

/// Gradients of one call: input projection, initial state, w_aug.
struct Grads {
    xp: Vec<f32>,
    h0: Vec<f32>,
    w_aug: Vec<f32>,
}

/// Backpropagation through time given the forward's output `hs`, its
/// gates, and the loss gradient `grad` with respect to `hs`.
fn backward(h0: &[f32], w_aug: &[f32], hs: &[f32], gates: &Gates, grad: &[f32], d: Dims) -> Grads {
    let Dims { b, t, h } = d;
    let g = 3 * h;
    let rows = b * t;
    // The state each step started from (for dz and the weight gradient).
    let mut prev = vec![0f32; rows * h];
    for bi in 0..b {
        for step in 0..t {
            let src = if step == 0 {
                &h0[bi * h..][..h]
            } else {
                &hs[(bi * t + step - 1) * h..][..h]
            };
            prev[(bi * t + step) * h..][..h].copy_from_slice(src);
        }
    }
    let mut d_xp = vec![0f32; rows * g];
    let mut d_hp = vec![0f32; rows * g];
    let mut carry = vec![0f32; b * h];
    for step in (0..t).rev() {
        for bi in 0..b {
            let at = bi * t + step;
            let (zrn, hp_n, hprev) = (
                &gates.zrn[at * g..][..g],
                &gates.hp_n[at * h..][..h],
                &prev[at * h..][..h],
            );
            let (dx, dp) = (&mut d_xp[at * g..][..g], &mut d_hp[at * g..][..g]);
            let c = &mut carry[bi * h..][..h];
            for j in 0..h {
                let (z, r, n) = (zrn[j], zrn[h + j], zrn[2 * h + j]);
                let dh = grad[at * h + j] + c[j];
                let dn = dh * (1.0 - z) * (1.0 - n * n);
                let dz = dh * (hprev[j] - n) * z * (1.0 - z);
                let dr = dn * hp_n[j] * r * (1.0 - r);
                dx[j] = dz;
                dx[h + j] = dr;
                dx[2 * h + j] = dn;
                dp[j] = dz;
                dp[h + j] = dr;
                dp[2 * h + j] = dn * r;
                // The direct path h' = … + z ⊙ h; the recurrent one is added below.
                c[j] = dh * z;
            }
        }
        // carry += d_hp[:, step] · weight_hh: rows T·3H apart.
        // Safety: B rows of 3H at stride T·3H lie inside d_hp; w_aug is [3H, H + 1].
        unsafe {
            matmul(
                b,
                h,
                g,
                carry.as_mut_ptr(),
                h,
                true,
                View {
                    ptr: d_hp[step * g..].as_ptr(),
                    rs: (t * g) as isize,
                    cs: 1,
                },
                View {
                    ptr: w_aug.as_ptr(),
                    rs: (h + 1) as isize,
                    cs: 1,
                },
            )
        }
    }
    // d weight_hh = d_hpᵀ · prev (one product over all steps); d bias_hh = Σ rows.
    let mut d_w = vec![0f32; g * (h + 1)];
    // Safety: d_hp is [rows, 3H] (read transposed), prev [rows, H], d_w [3H, H + 1].
    unsafe {
        matmul(
            g,
            h,
            rows,
            d_w.as_mut_ptr(),
            h + 1,
            false,
            View {
                ptr: d_hp.as_ptr(),
                rs: 1,
                cs: g as isize,
            },
            View {
                ptr: prev.as_ptr(),
                rs: h as isize,
                cs: 1,
            },
        )
    }
    for row in d_hp.chunks_exact(g) {
        for (j, v) in row.iter().enumerate() {
            d_w[j * (h + 1) + h] += v;
        }
    }
    Grads {
        xp: d_xp,
        h0: carry,
        w_aug: d_w,
    }
}

fn to_vec(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

impl CustomOp3 for GruSequence {
    fn name(&self) -> &'static str {
        "gru_sequence"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = Dims::of(l1.dims(), l2.dims(), l3.dims())?;
        let (hs, gates) = forward(
            contiguous_f32(s1, l1)?,
            contiguous_f32(s2, l2)?,
            contiguous_f32(s3, l3)?,
            d,
        );
        if let Ok(mut saved) = self.saved.lock() {
            *saved = Some(gates);
        }
        Ok((CpuStorage::F32(hs), Shape::from((d.b, d.t, d.h))))
    }

    fn bwd(
        &self,
        xp: &Tensor,
        h0: &Tensor,
        w_aug: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = Dims::of(xp.dims(), h0.dims(), w_aug.dims())?;
        let (h0_v, w_v) = (to_vec(h0)?, to_vec(w_aug)?);
        // The forward's gates (taken: a backward pass runs once per forward);
        // recomputed if they are gone.
        let saved = self.saved.lock().ok().and_then(|mut s| s.take());
        let (hs, gates) = match saved {
            Some(gates) => (to_vec(res)?, gates),
            None => forward(&to_vec(xp)?, &h0_v, &w_v, d),
        };
        let grads = backward(&h0_v, &w_v, &hs, &gates, &to_vec(grad_res)?, d);
        let dev = Device::Cpu;
        Ok((
            Some(Tensor::from_vec(grads.xp, xp.dims(), &dev)?),
            Some(Tensor::from_vec(grads.h0, h0.dims(), &dev)?),
            Some(Tensor::from_vec(grads.w_aug, w_aug.dims(), &dev)?),
        ))
    }
}
