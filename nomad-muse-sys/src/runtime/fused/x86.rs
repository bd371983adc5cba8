//! x86-64 matrix-vector kernels with explicit vector registers: the plain
//! loops in `kernels` vectorise, but the compiler keeps their panel-wide
//! accumulators on the stack (measured: a store-forwarding chain per FMA).
//! Here every accumulator is a register: per panel, rows four at a time,
//! eight independent FMA chains.

use std::arch::x86_64::*;

use super::kernels::{sigmoid, tanh, write_panel, Panelled, PANEL};

/// Loading 16 (AVX-512) or 8 (AVX2) weights as f32 lanes.
pub trait Lanes: Copy {
    /// # Safety
    /// 16 readable weights at `p`; the CPU has AVX-512F.
    unsafe fn load16(p: *const Self) -> __m512;
    /// # Safety
    /// 8 readable weights at `p`; the CPU has AVX2.
    unsafe fn load8(p: *const Self) -> __m256;
}

impl Lanes for f32 {
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load16(p: *const f32) -> __m512 {
        _mm512_loadu_ps(p)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load8(p: *const f32) -> __m256 {
        _mm256_loadu_ps(p)
    }
}

impl Lanes for i8 {
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load16(p: *const i8) -> __m512 {
        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p.cast())))
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load8(p: *const i8) -> __m256 {
        _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(p.cast())))
    }
}

const _: () = assert!(PANEL == 32);

/// # Safety
/// The CPU has AVX-512F; `x.len() ≥ rows`, `y` and `bias` ≥ `cols`.
#[target_feature(enable = "avx512f")]
pub unsafe fn matvec_avx512<W: Lanes>(w: &Panelled<W>, bias: &[f32], x: &[f32], y: &mut [f32]) {
    let rows = w.rows;
    let x = &x[..rows];
    for (p, panel) in w.data.chunks_exact(rows * PANEL).enumerate() {
        let base = panel.as_ptr();
        let mut acc = [_mm512_setzero_ps(); 8];
        let mut r = 0;
        while r + 4 <= rows {
            for u in 0..4 {
                let xv = _mm512_set1_ps(x[r + u]);
                let wp = base.add((r + u) * PANEL);
                acc[2 * u] = _mm512_fmadd_ps(xv, W::load16(wp), acc[2 * u]);
                acc[2 * u + 1] = _mm512_fmadd_ps(xv, W::load16(wp.add(16)), acc[2 * u + 1]);
            }
            r += 4;
        }
        while r < rows {
            let xv = _mm512_set1_ps(x[r]);
            let wp = base.add(r * PANEL);
            acc[0] = _mm512_fmadd_ps(xv, W::load16(wp), acc[0]);
            acc[1] = _mm512_fmadd_ps(xv, W::load16(wp.add(16)), acc[1]);
            r += 1;
        }
        let lo = _mm512_add_ps(_mm512_add_ps(acc[0], acc[2]), _mm512_add_ps(acc[4], acc[6]));
        let hi = _mm512_add_ps(_mm512_add_ps(acc[1], acc[3]), _mm512_add_ps(acc[5], acc[7]));
        let mut sums = [0f32; PANEL];
        _mm512_storeu_ps(sums.as_mut_ptr(), lo);
        _mm512_storeu_ps(sums.as_mut_ptr().add(16), hi);
        write_panel::<W, false>(w, p, &sums, bias, y);
    }
}

/// # Safety
/// The CPU has AVX2 and FMA; `x.len() ≥ rows`, `y` and `bias` ≥ `cols`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn matvec_avx2<W: Lanes>(w: &Panelled<W>, bias: &[f32], x: &[f32], y: &mut [f32]) {
    let rows = w.rows;
    let x = &x[..rows];
    for (p, panel) in w.data.chunks_exact(rows * PANEL).enumerate() {
        let base = panel.as_ptr();
        let mut acc = [_mm256_setzero_ps(); 8];
        let mut r = 0;
        while r + 2 <= rows {
            for u in 0..2 {
                let xv = _mm256_set1_ps(x[r + u]);
                let wp = base.add((r + u) * PANEL);
                for q in 0..4 {
                    acc[4 * u + q] = _mm256_fmadd_ps(xv, W::load8(wp.add(8 * q)), acc[4 * u + q]);
                }
            }
            r += 2;
        }
        if r < rows {
            let xv = _mm256_set1_ps(x[r]);
            let wp = base.add(r * PANEL);
            for (q, a) in acc.iter_mut().take(4).enumerate() {
                *a = _mm256_fmadd_ps(xv, W::load8(wp.add(8 * q)), *a);
            }
        }
        let mut sums = [0f32; PANEL];
        let (first, second) = acc.split_at(4);
        for (q, (a, b)) in first.iter().zip(second).enumerate() {
            _mm256_storeu_ps(sums.as_mut_ptr().add(8 * q), _mm256_add_ps(*a, *b));
        }
        write_panel::<W, false>(w, p, &sums, bias, y);
    }
}

/// `kernels::exp_approx` on 16 lanes (the same Cephes polynomial).
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn exp16(x: __m512) -> __m512 {
    let c = _mm512_set1_ps;
    let x = _mm512_min_ps(_mm512_max_ps(x, c(-87.0)), c(88.0));
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(_mm512_fmadd_ps(
        x,
        c(std::f32::consts::LOG2_E),
        c(0.5),
    ));
    let r = _mm512_fmadd_ps(n, c(2.121_944_4e-4), _mm512_fnmadd_ps(n, c(0.693_359_4), x));
    let mut p = c(1.987_569_1e-4);
    for k in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ] {
        p = _mm512_fmadd_ps(p, r, c(k));
    }
    let e = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, c(1.0)));
    let biased = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    _mm512_mul_ps(e, _mm512_castsi512_ps(_mm512_slli_epi32::<23>(biased)))
}

#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn sigmoid16(x: __m512) -> __m512 {
    let one = _mm512_set1_ps(1.0);
    _mm512_div_ps(
        one,
        _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))),
    )
}

/// The GRU update of one layer (`kernels::gates_body`), 16 units at a time.
///
/// # Safety
/// The CPU has AVX-512F; `gx` and `gh` hold at least `3 · h.len()` values.
#[target_feature(enable = "avx512f")]
pub unsafe fn gates_avx512(gx: &[f32], gh: &[f32], h: &mut [f32]) {
    let n = h.len();
    let (gx, gh) = (&gx[..3 * n], &gh[..3 * n]);
    let load = |v: &[f32], at: usize| _mm512_loadu_ps(v.as_ptr().add(at));
    let (one, two) = (_mm512_set1_ps(1.0), _mm512_set1_ps(2.0));
    let mut j = 0;
    while j + 16 <= n {
        let z = sigmoid16(_mm512_add_ps(load(gx, j), load(gh, j)));
        let r = sigmoid16(_mm512_add_ps(load(gx, n + j), load(gh, n + j)));
        let pre = _mm512_fmadd_ps(r, load(gh, 2 * n + j), load(gx, 2 * n + j));
        // tanh(v) = 2 / (1 + e^(-2v)) - 1
        let minus_two_v = _mm512_mul_ps(pre, _mm512_set1_ps(-2.0));
        let cand = _mm512_sub_ps(
            _mm512_div_ps(two, _mm512_add_ps(one, exp16(minus_two_v))),
            one,
        );
        let old = load(h, j);
        let new = _mm512_fmadd_ps(z, _mm512_sub_ps(old, cand), cand);
        _mm512_storeu_ps(h.as_mut_ptr().add(j), new);
        j += 16;
    }
    for j in j..n {
        let z = sigmoid(gx[j] + gh[j]);
        let r = sigmoid(gx[n + j] + gh[n + j]);
        let cand = tanh(gx[2 * n + j] + r * gh[2 * n + j]);
        h[j] = cand + z * (h[j] - cand);
    }
}
