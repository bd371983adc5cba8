//! x86-64 matrix-vector kernels with explicit vector registers: the plain
//! loops in `kernels` vectorise, but the compiler keeps their panel-wide
//! accumulators on the stack (measured: a store-forwarding chain per FMA).
//! Here every accumulator is a register: per panel, rows four at a time,
//! eight independent FMA chains.

use std::arch::x86_64::*;

use super::kernels::{write_panel, Panelled, PANEL};

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
