//! x86-64 matrix-vector kernels with explicit vector registers: the plain
//! loops in `kernels` vectorise, but the compiler keeps their panel-wide
//! accumulators on the stack (measured: a store-forwarding chain per FMA).
//! Here every accumulator is a register: per panel, rows four at a time,
//! eight independent FMA chains.

use std::arch::x86_64::*;

use super::digits::{
    matvec_undigitized, split_word, QuadPanelled, LOW_STEPS, MAX_ROWS, QUAD, RANGE, ROUNDER,
    TOP_BIAS, WORD_RANGE,
};
use super::kernels::{sigmoid, tanh, write_panel, Panelled, Panels, PANEL};

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
pub unsafe fn matvec_avx512<W: Lanes>(
    w: &Panelled<W>,
    bias: &[f32],
    x: &[f32],
    y: &mut [f32],
    panels: Panels,
) {
    let rows = w.rows;
    let x = &x[..rows];
    for (p, panel) in w.data.chunks_exact(rows * PANEL).enumerate() {
        if !panels.has(p) {
            continue;
        }
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
pub unsafe fn matvec_avx2<W: Lanes>(
    w: &Panelled<W>,
    bias: &[f32],
    x: &[f32],
    y: &mut [f32],
    panels: Panels,
) {
    let rows = w.rows;
    let x = &x[..rows];
    for (p, panel) in w.data.chunks_exact(rows * PANEL).enumerate() {
        if !panels.has(p) {
            continue;
        }
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

/// The GRU gate update at one vector width: `kernels::exp_approx` (the
/// same Cephes polynomial), a sigmoid, and the update of one layer
/// (`kernels::gates_body`), written once for AVX-512 and AVX2.
macro_rules! gate_kernels {
    (
        $gates:ident, $exp:ident, $sigmoid:ident, $feature:literal, $lanes:literal, $v:ty,
        floor: $floor:expr,
        ops: $set1:ident $add:ident $sub:ident $mul:ident $div:ident $fmadd:ident $fnmadd:ident
            $min:ident $max:ident $setzero:ident $loadu:ident $storeu:ident
            $cvt_epi32:ident $add_epi32:ident $set1_epi32:ident $slli_epi32:ident $cast_ps:ident
    ) => {
        #[inline]
        #[target_feature(enable = $feature)]
        unsafe fn $exp(x: $v) -> $v {
            let c = |v: f32| $set1(v);
            let x = $min($max(x, c(-87.0)), c(88.0));
            let n = $floor($fmadd(x, c(std::f32::consts::LOG2_E), c(0.5)));
            let r = $fmadd(n, c(2.121_944_4e-4), $fnmadd(n, c(0.693_359_4), x));
            let mut p = c(1.987_569_1e-4);
            for k in [
                1.398_199_9e-3,
                8.333_452e-3,
                4.166_579_6e-2,
                1.666_666_5e-1,
                0.5,
            ] {
                p = $fmadd(p, r, c(k));
            }
            let e = $fmadd($mul(p, r), r, $add(r, c(1.0)));
            let biased = $add_epi32($cvt_epi32(n), $set1_epi32(127));
            $mul(e, $cast_ps($slli_epi32::<23>(biased)))
        }

        #[inline]
        #[target_feature(enable = $feature)]
        unsafe fn $sigmoid(x: $v) -> $v {
            let one = $set1(1.0);
            $div(one, $add(one, $exp($sub($setzero(), x))))
        }

        /// The GRU update of one layer (`kernels::gates_body`), a vector
        /// of units at a time.
        ///
        /// # Safety
        /// The CPU has the kernel's features; `gx` and `gh` hold at least
        /// `3 · h.len()` values.
        #[target_feature(enable = $feature)]
        pub unsafe fn $gates(gx: &[f32], gh: &[f32], h: &mut [f32]) {
            let n = h.len();
            let (gx, gh) = (&gx[..3 * n], &gh[..3 * n]);
            let load = |v: &[f32], at: usize| $loadu(v.as_ptr().add(at));
            let (one, two) = ($set1(1.0), $set1(2.0));
            let mut j = 0;
            while j + $lanes <= n {
                let z = $sigmoid($add(load(gx, j), load(gh, j)));
                let r = $sigmoid($add(load(gx, n + j), load(gh, n + j)));
                let pre = $fmadd(r, load(gh, 2 * n + j), load(gx, 2 * n + j));
                // tanh(v) = 2 / (1 + e^(-2v)) - 1
                let minus_two_v = $mul(pre, $set1(-2.0));
                let cand = $sub($div(two, $add(one, $exp(minus_two_v))), one);
                let old = load(h, j);
                let new = $fmadd(z, $sub(old, cand), cand);
                $storeu(h.as_mut_ptr().add(j), new);
                j += $lanes;
            }
            for j in j..n {
                let z = sigmoid(gx[j] + gh[j]);
                let r = sigmoid(gx[n + j] + gh[n + j]);
                let cand = tanh(gx[2 * n + j] + r * gh[2 * n + j]);
                h[j] = cand + z * (h[j] - cand);
            }
        }
    };
}

gate_kernels!(
    gates_avx512, exp16, sigmoid16, "avx512f", 16, __m512,
    floor: _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>,
    ops: _mm512_set1_ps _mm512_add_ps _mm512_sub_ps _mm512_mul_ps _mm512_div_ps
        _mm512_fmadd_ps _mm512_fnmadd_ps _mm512_min_ps _mm512_max_ps _mm512_setzero_ps
        _mm512_loadu_ps _mm512_storeu_ps _mm512_cvtps_epi32 _mm512_add_epi32
        _mm512_set1_epi32 _mm512_slli_epi32 _mm512_castsi512_ps
);

// The portable loop compiled for AVX2 stayed partly scalar (13 % of an int8
// bar on an AVX2-only CPU, perf).
gate_kernels!(
    gates_avx2, exp8, sigmoid8, "avx2,fma", 8, __m256,
    floor: _mm256_floor_ps,
    ops: _mm256_set1_ps _mm256_add_ps _mm256_sub_ps _mm256_mul_ps _mm256_div_ps
        _mm256_fmadd_ps _mm256_fnmadd_ps _mm256_min_ps _mm256_max_ps _mm256_setzero_ps
        _mm256_loadu_ps _mm256_storeu_ps _mm256_cvtps_epi32 _mm256_add_epi32
        _mm256_set1_epi32 _mm256_slli_epi32 _mm256_castsi256_ps
);

/// `digits::digitize` on 16 lanes: the three digit planes as one byte per
/// row (so four rows' digits are one little-endian `u32`), written for the
/// rows rounded up to 16 (the rows past `x` read as zero). `None` when `x`
/// is all zeros or not finite.
///
/// # Safety
/// The CPU has AVX-512F; `planes` holds `3 × MAX_ROWS` bytes and
/// `x.len() ≤ MAX_ROWS`.
#[target_feature(enable = "avx512f")]
unsafe fn digitize_avx512(x: &[f32], planes: *mut u8) -> Option<f32> {
    let chunks = x.len().div_ceil(16);
    let load = |c: usize| {
        let left = x.len() - 16 * c;
        let mask: __mmask16 = if left >= 16 {
            0xFFFF
        } else {
            (1u16 << left) - 1
        };
        _mm512_maskz_loadu_ps(mask, x.as_ptr().add(16 * c))
    };
    let mut max = _mm512_setzero_ps();
    let mut unordered: __mmask16 = 0;
    for c in 0..chunks {
        let v = load(c);
        unordered |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
        max = _mm512_max_ps(max, _mm512_abs_ps(v));
    }
    let max = _mm512_reduce_max_ps(max);
    if max == 0.0 || !max.is_finite() || unordered != 0 {
        return None;
    }
    let inv = _mm512_set1_ps(RANGE / max);
    let rounder = _mm512_set1_ps(ROUNDER);
    let (bias, byte) = (_mm512_set1_epi32(TOP_BIAS), _mm512_set1_epi32(255));
    for c in 0..chunks {
        let rounded = _mm512_castps_si512(_mm512_fmadd_ps(load(c), inv, rounder));
        let q = _mm512_sub_epi32(rounded, _mm512_castps_si512(rounder));
        let digits = [
            _mm512_add_epi32(_mm512_srai_epi32::<16>(q), bias),
            _mm512_and_si512(_mm512_srai_epi32::<8>(q), byte),
            _mm512_and_si512(q, byte),
        ];
        for (d, v) in digits.into_iter().enumerate() {
            let at = planes.add(d * MAX_ROWS + 16 * c);
            _mm_storeu_si128(at.cast(), _mm512_cvtepi32_epi8(v));
        }
    }
    Some(max / RANGE)
}

/// `digits::matvec_plain` with `vpdpbusd`: per panel of 32 columns, six
/// accumulators (three digit planes × two halves), one quad of rows per
/// iteration.
///
/// # Safety
/// The CPU has AVX-512F and AVX-512 VNNI; `x.len() ≥ rows`, `y` and `bias`
/// ≥ `cols`.
#[target_feature(enable = "avx512f,avx512vnni")]
pub unsafe fn matvec_vnni(
    w: &QuadPanelled,
    bias: &[f32],
    x: &[f32],
    y: &mut [f32],
    panels: Panels,
) {
    // Written before it is read: `digitize_avx512` covers every quad.
    let mut planes = std::mem::MaybeUninit::<[u8; 3 * MAX_ROWS]>::uninit();
    let base = planes.as_mut_ptr().cast::<u8>();
    let Some(x_scale) = digitize_avx512(&x[..w.rows], base) else {
        return matvec_undigitized(w, bias, x, y);
    };
    let digit = |d: usize, q: usize| {
        _mm512_set1_epi32(std::ptr::read_unaligned(
            base.add(d * MAX_ROWS + QUAD * q).cast::<i32>(),
        ))
    };
    let panel_bytes = w.quads * PANEL * QUAD;
    for (p, panel) in w.data.chunks_exact(panel_bytes).enumerate() {
        if !panels.has(p) {
            continue;
        }
        let (mut top, mut mid, mut low) = (
            [_mm512_setzero_si512(); 2],
            [_mm512_setzero_si512(); 2],
            [_mm512_setzero_si512(); 2],
        );
        for q in 0..w.quads {
            let at = panel.as_ptr().add(q * PANEL * QUAD);
            let weights = [
                _mm512_loadu_si512(at.cast()),
                _mm512_loadu_si512(at.add(64).cast()),
            ];
            let (dt, dm, dl) = (digit(0, q), digit(1, q), digit(2, q));
            for h in 0..2 {
                top[h] = _mm512_dpbusd_epi32(top[h], dt, weights[h]);
                mid[h] = _mm512_dpbusd_epi32(mid[h], dm, weights[h]);
                low[h] = _mm512_dpbusd_epi32(low[h], dl, weights[h]);
            }
        }
        let start = p * PANEL;
        let mut out = [_mm512_setzero_ps(); 2];
        for h in 0..2 {
            let at = start + 16 * h;
            let top =
                _mm512_sub_epi32(top[h], _mm512_loadu_si512(w.offset.as_ptr().add(at).cast()));
            let whole = _mm512_fmadd_ps(
                _mm512_cvtepi32_ps(top),
                _mm512_set1_ps(65_536.0),
                _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(mid[h]),
                    _mm512_set1_ps(256.0),
                    _mm512_cvtepi32_ps(low[h]),
                ),
            );
            let scale = _mm512_mul_ps(
                _mm512_set1_ps(x_scale),
                _mm512_loadu_ps(w.scale.as_ptr().add(at)),
            );
            out[h] = _mm512_mul_ps(whole, scale);
        }
        if start + PANEL <= y.len().min(bias.len()) {
            for (h, o) in out.iter().enumerate() {
                let at = start + 16 * h;
                _mm512_storeu_ps(
                    y.as_mut_ptr().add(at),
                    _mm512_add_ps(*o, _mm512_loadu_ps(bias.as_ptr().add(at))),
                );
            }
        } else {
            let mut sums = [0f32; PANEL];
            _mm512_storeu_ps(sums.as_mut_ptr(), out[0]);
            _mm512_storeu_ps(sums.as_mut_ptr().add(16), out[1]);
            for c in start..(start + PANEL).min(w.cols) {
                y[c] = sums[c - start] + bias[c];
            }
        }
    }
}

/// `digits::quantize_words` on 8 lanes: `x` as a 16-bit integer and a
/// 16-bit residual, written for the rows rounded up to a quad (the rows
/// past `x` read as zero). `None` when `x` is all zeros or not finite.
///
/// # Safety
/// The CPU has AVX2; `high` and `low` hold `MAX_ROWS` values each and
/// `x.len() ≤ MAX_ROWS`.
#[target_feature(enable = "avx2,fma")]
unsafe fn quantize_words_avx2(x: &[f32], high: *mut i16, low: *mut i16) -> Option<f32> {
    let chunks = x.len() / 8;
    let load = |c: usize| _mm256_loadu_ps(x.as_ptr().add(8 * c));
    let abs = _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX));
    let (mut max, mut unordered) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    for c in 0..chunks {
        let v = load(c);
        unordered = _mm256_or_ps(unordered, _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v));
        max = _mm256_max_ps(max, _mm256_and_ps(v, abs));
    }
    let mut lanes = [0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), max);
    let tail = &x[8 * chunks..];
    let max = tail
        .iter()
        .fold(lanes.iter().fold(0f32, |m, v| m.max(*v)), |m, v| {
            m.max(v.abs())
        });
    if max == 0.0
        || !max.is_finite()
        || _mm256_movemask_ps(unordered) != 0
        || tail.iter().any(|v| v.is_nan())
    {
        return None;
    }
    let inv = WORD_RANGE / max;
    let (inv8, step8) = (_mm256_set1_ps(inv), _mm256_set1_ps(LOW_STEPS));
    let to_words = |v: __m256| {
        let packed = _mm256_packs_epi32(_mm256_cvtps_epi32(v), _mm256_setzero_si256());
        _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b11_01_10_00>(packed))
    };
    for c in 0..chunks {
        let v = _mm256_mul_ps(load(c), inv8);
        let rounded = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v);
        let residual = _mm256_mul_ps(_mm256_sub_ps(v, rounded), step8);
        _mm_storeu_si128(high.add(8 * c).cast(), to_words(rounded));
        _mm_storeu_si128(low.add(8 * c).cast(), to_words(residual));
    }
    for (r, v) in tail.iter().enumerate() {
        let (h, l) = split_word(*v, inv);
        *high.add(8 * chunks + r) = h;
        *low.add(8 * chunks + r) = l;
    }
    for r in x.len()..x.len().next_multiple_of(QUAD) {
        *high.add(r) = 0;
        *low.add(r) = 0;
    }
    Some(max / WORD_RANGE)
}

/// `digits::matvec_words` with `vpmaddwd`, for AVX2 CPUs without VNNI:
/// the quad layout's 16 bytes (four columns × four rows) sign-extend to
/// 16 words and meet the quad's four high and four low input words, giving
/// each column two 32-bit partial sums of each. Half a panel at a time, so
/// that the eight accumulators stay in registers.
///
/// # Safety
/// The CPU has AVX2 and FMA; `x.len() ≥ rows`, `y` and `bias` ≥ `cols`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn matvec_words_avx2(
    w: &QuadPanelled,
    bias: &[f32],
    x: &[f32],
    y: &mut [f32],
    panels: Panels,
) {
    // Written before they are read: `quantize_words_avx2` covers every quad.
    let mut high = std::mem::MaybeUninit::<[i16; MAX_ROWS]>::uninit();
    let mut low = std::mem::MaybeUninit::<[i16; MAX_ROWS]>::uninit();
    let (high, low) = (
        high.as_mut_ptr().cast::<i16>(),
        low.as_mut_ptr().cast::<i16>(),
    );
    let Some(x_scale) = quantize_words_avx2(&x[..w.rows], high, low) else {
        return matvec_undigitized(w, bias, x, y);
    };
    let quad_words = |v: *const i16, q: usize| {
        _mm256_set1_epi64x(std::ptr::read_unaligned(v.add(QUAD * q).cast::<i64>()))
    };
    let panel_bytes = w.quads * PANEL * QUAD;
    for (p, panel) in w.data.chunks_exact(panel_bytes).enumerate() {
        if !panels.has(p) {
            continue;
        }
        let start = p * PANEL;
        let mut sums = [0f32; PANEL];
        for half in 0..2 {
            let (mut hi, mut lo) = ([_mm256_setzero_si256(); 4], [_mm256_setzero_si256(); 4]);
            for q in 0..w.quads {
                let (xh, xl) = (quad_words(high, q), quad_words(low, q));
                let at = panel.as_ptr().add(q * PANEL * QUAD + 64 * half);
                for k in 0..4 {
                    let wk = _mm256_cvtepi8_epi16(_mm_loadu_si128(at.add(16 * k).cast()));
                    hi[k] = _mm256_add_epi32(hi[k], _mm256_madd_epi16(wk, xh));
                    lo[k] = _mm256_add_epi32(lo[k], _mm256_madd_epi16(wk, xl));
                }
            }
            for h in 0..2 {
                // hi[2h]: 4 columns as (c, c, c+1, c+1 | c+2, c+2, c+3, c+3),
                // hi[2h+1] the next 4; hadd then a 64-bit reorder gives the
                // eight columns in order.
                let columns = |a: &[__m256i; 4]| {
                    let pairs = _mm256_hadd_epi32(a[2 * h], a[2 * h + 1]);
                    _mm256_cvtepi32_ps(_mm256_permute4x64_epi64::<0b11_01_10_00>(pairs))
                };
                let whole =
                    _mm256_fmadd_ps(columns(&lo), _mm256_set1_ps(1.0 / LOW_STEPS), columns(&hi));
                let at = start + 16 * half + 8 * h;
                let scale = _mm256_mul_ps(
                    _mm256_set1_ps(x_scale),
                    _mm256_loadu_ps(w.scale.as_ptr().add(at)),
                );
                _mm256_storeu_ps(
                    sums.as_mut_ptr().add(at - start),
                    _mm256_mul_ps(whole, scale),
                );
            }
        }
        for c in start..(start + PANEL).min(w.cols) {
            y[c] = sums[c - start] + bias[c];
        }
    }
}
