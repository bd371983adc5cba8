//! int8 matrices by integer products. Widening i8 weights to f32 costs
//! three instructions per 8 or 16 weights (sign-extend, convert,
//! multiply-add), so widened int8 ran at 0.84–0.95× fp32. Here the input
//! vector becomes integers (one scale per vector) that meet the weights in
//! integer multiply-adds; the sums are exact and recombine in f32, so the
//! result is the widened product's to about f32 rounding, which the
//! load-time parity check (1e-4 against tract) confirms for every file.
//!
//! - AVX-512 VNNI: the input as a 22-bit integer in three byte digits;
//!   each digit meets four weights per lane in one `vpdpbusd` (u8 × i8,
//!   summed in i32, no saturation): 64 weights per instruction.
//! - AVX2: the input as two 16-bit words (a high word and the residual);
//!   `vpmaddwd` on sign-extended weights. One word alone was 1.4× faster
//!   but drifted 1.2e-4 from tract on a drums expert, over the check's
//!   bound.

use super::kernels::{integer_products, Isa, Panelled, Panels, PANEL};

/// Rows are taken four at a time (one `vpdpbusd` lane sums four products).
pub const QUAD: usize = 4;
/// Largest input served (digits live on the stack: 3 × 1 KB).
pub const MAX_ROWS: usize = 1024;
/// The input's integer range: ±(2^22 − 1), so adding 1.5 × 2^23 rounds it
/// to an integer in the float's mantissa (no float-to-int cast).
pub const RANGE: f32 = 4_194_303.0;
pub const ROUNDER: f32 = 12_582_912.0;
/// The top digit is biased by 128 into u8; `offset` takes it back out.
pub const TOP_BIAS: i32 = 128;
/// The input's range as 16-bit words (AVX2 without VNNI).
pub const WORD_RANGE: f32 = 32_767.0;
/// Steps of the low word per unit of the high word: the residual (at most
/// ½) times this fits a word, and the pair holds the input to 2^-31.
pub const LOW_STEPS: f32 = 32_768.0;

/// An int8 matrix laid out for `vpdpbusd`: per panel of 32 columns, per
/// quad of rows, 32 columns × 4 rows (the four rows of a column adjacent).
#[derive(Debug, Clone)]
pub struct QuadPanelled {
    pub rows: usize,
    pub cols: usize,
    pub quads: usize,
    pub data: Vec<i8>,
    /// Per output column (padded): the weight scale.
    pub scale: Vec<f32>,
    /// Per output column (padded): `TOP_BIAS · Σ_r w[r, c]`.
    pub offset: Vec<i32>,
}

impl QuadPanelled {
    /// The same matrix relaid; `None` past [`MAX_ROWS`].
    pub fn from_panelled(w: &Panelled<i8>) -> Option<QuadPanelled> {
        if w.rows > MAX_ROWS || w.rows == 0 {
            return None;
        }
        let quads = w.rows.div_ceil(QUAD);
        let panels = w.data.len() / (w.rows * PANEL);
        let at = |r: usize, c: usize| w.data[((c / PANEL) * w.rows + r) * PANEL + c % PANEL];
        let mut data = vec![0i8; panels * quads * PANEL * QUAD];
        let mut offset = vec![0i32; panels * PANEL];
        for (c, column_offset) in offset.iter_mut().enumerate() {
            let (p, k) = (c / PANEL, c % PANEL);
            for r in 0..w.rows {
                let (q, lane) = (r / QUAD, r % QUAD);
                data[((p * quads + q) * PANEL + k) * QUAD + lane] = at(r, c);
                *column_offset += TOP_BIAS * i32::from(at(r, c));
            }
        }
        Some(QuadPanelled {
            rows: w.rows,
            cols: w.cols,
            quads,
            data,
            scale: w.scale.clone(),
            offset,
        })
    }

    pub fn bytes(&self) -> usize {
        self.data.len() + self.scale.len() * 4 + self.offset.len() * 4
    }
}

/// `x` as three digit planes (top + 128, middle, low byte of the 22-bit
/// integer), four rows packed per `u32`, and the scale back to `x`;
/// `None` when `x` is all zeros or not finite.
#[inline(always)]
pub fn digitize(x: &[f32], planes: &mut [[u32; MAX_ROWS / QUAD]; 3]) -> Option<f32> {
    let max = x
        .iter()
        .fold(0f32, |m, v| if v.abs() > m { v.abs() } else { m });
    if max == 0.0 || !max.is_finite() || x.iter().any(|v| v.is_nan()) {
        return None;
    }
    let inv = RANGE / max;
    for plane in planes.iter_mut() {
        plane[..x.len().div_ceil(QUAD)].fill(0);
    }
    for (r, v) in x.iter().enumerate() {
        let q = v.mul_add(inv, ROUNDER).to_bits() as i32 - ROUNDER.to_bits() as i32;
        let shift = 8 * (r % QUAD);
        let digits = [(q >> 16) + TOP_BIAS, (q >> 8) & 255, q & 255];
        for (plane, d) in planes.iter_mut().zip(digits) {
            plane[r / QUAD] |= (d as u32) << shift;
        }
    }
    Some(max / RANGE)
}

/// Recombines one column's digit sums: `Σ_r x[r]·w[r, c]`, unscaled by
/// the weight's scale.
#[inline(always)]
pub fn recombine(top: i32, mid: i32, low: i32, offset: i32, x_scale: f32) -> f32 {
    let whole = ((top - offset) as f32).mul_add(65_536.0, (mid as f32).mul_add(256.0, low as f32));
    whole * x_scale
}

/// `y` for an input `digitize` refused: the bias for all zeros, NaN for a
/// non-finite input (both kernels end here, without digitizing again).
pub fn matvec_undigitized(w: &QuadPanelled, bias: &[f32], x: &[f32], y: &mut [f32]) {
    if x[..w.rows].iter().all(|v| v.is_finite()) {
        y[..w.cols].copy_from_slice(&bias[..w.cols]);
    } else {
        y[..w.cols].fill(f32::NAN);
    }
}

/// Which integer products the CPU runs on [`QuadPanelled`] weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegerProducts {
    /// Three byte digits of a 22-bit input (AVX-512 VNNI).
    Digits,
    /// Two 16-bit words of the input, a high and a residual one (`vpmaddwd`,
    /// AVX2).
    Words,
}

impl IntegerProducts {
    /// The kind this CPU runs, if any beats widening to f32: the kernels'
    /// own choice for the detected instruction set.
    pub fn detect() -> Option<IntegerProducts> {
        match Isa::detect() {
            Isa::Baseline => None,
            isa => Some(integer_products(isa)),
        }
    }
}

/// `v · inv` as a rounded high word and the residual in [`LOW_STEPS`]ths.
#[inline(always)]
pub fn split_word(v: f32, inv: f32) -> (i16, i16) {
    let scaled = v * inv;
    let high = scaled.round_ties_even();
    (
        high as i16,
        ((scaled - high) * LOW_STEPS).round_ties_even() as i16,
    )
}

/// `x` as high and low 16-bit words (`x · 32767 / max|x|` and its
/// residual) and the scale back to `x`; `None` when `x` is all zeros or
/// not finite.
#[cfg(test)]
pub fn quantize_words(x: &[f32], high: &mut [i16], low: &mut [i16]) -> Option<f32> {
    let max = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if max == 0.0 || !max.is_finite() || x.iter().any(|v| v.is_nan()) {
        return None;
    }
    let inv = WORD_RANGE / max;
    for ((h, l), v) in high.iter_mut().zip(low.iter_mut()).zip(x) {
        (*h, *l) = split_word(*v, inv);
    }
    Some(max / WORD_RANGE)
}

/// `y = x · w (· scale) + bias` with `x` as two 16-bit words, in plain
/// integer loops: the reference `x86::matvec_words_avx2` is tested against.
#[cfg(test)]
pub fn matvec_words(w: &QuadPanelled, bias: &[f32], x: &[f32], y: &mut [f32], panels: Panels) {
    let (mut high, mut low) = ([0i16; MAX_ROWS], [0i16; MAX_ROWS]);
    let Some(x_scale) = quantize_words(&x[..w.rows], &mut high, &mut low) else {
        return matvec_undigitized(w, bias, x, y);
    };
    for (c, o) in y[..w.cols].iter_mut().enumerate() {
        let (p, k) = (c / PANEL, c % PANEL);
        if !panels.has(p) {
            continue;
        }
        let (mut hi, mut lo) = (0i32, 0i32);
        for q in 0..w.quads {
            let base = ((p * w.quads + q) * PANEL + k) * QUAD;
            for lane in 0..QUAD {
                let weight = i32::from(w.data[base + lane]);
                hi += i32::from(high[QUAD * q + lane]) * weight;
                lo += i32::from(low[QUAD * q + lane]) * weight;
            }
        }
        let whole = (lo as f32).mul_add(1.0 / LOW_STEPS, hi as f32);
        *o = whole * (x_scale * w.scale[c]) + bias[c];
    }
}

/// `y = x · w (· scale) + bias` in plain integer loops: the reference the
/// vector kernel is tested against, and the path when the kernel is not
/// built for this CPU (the weights are relaid only where VNNI runs them).
pub fn matvec_plain(w: &QuadPanelled, bias: &[f32], x: &[f32], y: &mut [f32], panels: Panels) {
    let mut planes = [[0u32; MAX_ROWS / QUAD]; 3];
    let Some(x_scale) = digitize(&x[..w.rows], &mut planes) else {
        return matvec_undigitized(w, bias, x, y);
    };
    for (c, o) in y[..w.cols].iter_mut().enumerate() {
        let (p, k) = (c / PANEL, c % PANEL);
        if !panels.has(p) {
            continue;
        }
        let mut sums = [0i32; 3];
        for q in 0..w.quads {
            let base = ((p * w.quads + q) * PANEL + k) * QUAD;
            for lane in 0..QUAD {
                let weight = i32::from(w.data[base + lane]);
                for (s, plane) in sums.iter_mut().zip(&planes) {
                    *s += ((plane[q] >> (8 * lane)) & 255) as i32 * weight;
                }
            }
        }
        let dot = recombine(sums[0], sums[1], sums[2], w.offset[c], x_scale);
        *o = dot.mul_add(w.scale[c], bias[c]);
    }
}

#[cfg(test)]
mod tests {
    use super::super::kernels::{matvec, padded, Weights};
    use super::*;

    fn weights(rows: usize, cols: usize) -> (Panelled<i8>, Weights) {
        let code = |r: usize, c: usize| ((r * 37 + c * 11) % 255) as i32 as i8;
        let mut w = Panelled::from_fn(rows, cols, code);
        w.scale = (0..padded(cols)).map(|c| 0.01 + c as f32 * 1e-3).collect();
        let digits = QuadPanelled::from_panelled(&w).map(Weights::I8Digits);
        (w, digits.expect("rows within MAX_ROWS"))
    }

    #[test]
    fn integer_products_keep_f32_precision_over_a_wide_range() {
        for (rows, cols) in [(3, 5), (64, 96), (129, 40)] {
            let (w, digits) = weights(rows, cols);
            // Magnitudes from 1e-3 to 50, both signs, and -128 weights.
            let x = wide_input(rows);
            let bias: Vec<f32> = (0..cols).map(|c| c as f32 * 0.5 - 3.0).collect();
            let at = |r: usize, c: usize| w.data[((c / PANEL) * rows + r) * PANEL + c % PANEL];
            for isa in isas() {
                let mut y = vec![f32::NAN; cols];
                matvec(isa, &digits, &bias, &x, &mut y);
                for (c, got) in y.iter().enumerate() {
                    let (exact, magnitude) = (0..rows).fold((0f64, 0f64), |(s, m), r| {
                        let p = f64::from(x[r]) * f64::from(at(r, c)) * f64::from(w.scale[c]);
                        (s + p, m + p.abs())
                    });
                    let err = (f64::from(*got) - exact - f64::from(bias[c])).abs();
                    assert!(
                        err <= 1e-6 * (magnitude + 1.0),
                        "{isa:?} {rows}x{cols} col {c}: {got} vs {exact}"
                    );
                }
            }
        }
    }

    /// Every kernel this CPU can run on relaid weights.
    fn isas() -> Vec<Isa> {
        let mut all = vec![Isa::Baseline, Isa::detect()];
        #[cfg(target_arch = "x86_64")]
        if Isa::detect() == Isa::Avx512 {
            all.push(Isa::Avx2Fma);
        }
        all
    }

    /// Inputs over five decades, both signs, for `rows`.
    fn wide_input(rows: usize) -> Vec<f32> {
        (0..rows)
            .map(|r| (r as f32 * 0.91).sin() * 10f32.powi(r as i32 % 5 - 3) * 5.0)
            .collect()
    }

    #[test]
    fn two_words_hold_the_input_to_f32_precision() {
        let x = wide_input(200);
        let (mut high, mut low) = ([0i16; 200], [0i16; 200]);
        let scale = quantize_words(&x, &mut high, &mut low).expect("finite, nonzero");
        let max = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (r, v) in x.iter().enumerate() {
            let back =
                (f64::from(high[r]) + f64::from(low[r]) / f64::from(LOW_STEPS)) * f64::from(scale);
            let err = (back - f64::from(*v)).abs();
            // f32 rounding of `v · inv` (2^-24 of 2^15) dominates 2^-31.
            assert!(err <= 1e-7 * f64::from(max), "x[{r}] = {v}: {back}");
        }
        assert_eq!(quantize_words(&[0.0; 4], &mut high, &mut low), None);
        assert_eq!(quantize_words(&[1.0, f32::NAN], &mut high, &mut low), None);
        assert_eq!(
            quantize_words(&[1.0, f32::INFINITY], &mut high, &mut low),
            None
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_word_kernel_equals_its_plain_loops_bit_for_bit() {
        let Some(IntegerProducts::Words | IntegerProducts::Digits) = IntegerProducts::detect()
        else {
            return; // no AVX2 here: nothing to compare
        };
        // Rows: under one vector, a vector and a quad's tail, 129; columns
        // inside one panel and across a ragged last one.
        for (rows, cols) in [(3, 5), (13, 40), (64, 96), (129, 70)] {
            let (_, digits) = weights(rows, cols);
            let Weights::I8Digits(w) = &digits else {
                unreachable!("weights() relays")
            };
            let x = wide_input(rows);
            let bias: Vec<f32> = (0..cols).map(|c| c as f32 * 0.25 - 1.0).collect();
            let (mut plain, mut vector) = (vec![f32::NAN; cols], vec![f32::NAN; cols]);
            matvec_words(w, &bias, &x, &mut plain, Panels::ALL);
            matvec(Isa::Avx2Fma, &digits, &bias, &x, &mut vector);
            assert_eq!(plain, vector, "{rows}x{cols}");
        }
    }

    #[test]
    fn a_zero_input_gives_the_bias_and_a_nan_gives_nan() {
        let (_, digits) = weights(20, 40);
        let bias: Vec<f32> = (0..40).map(|c| c as f32).collect();
        for isa in isas() {
            let mut y = vec![f32::NAN; 40];
            matvec(isa, &digits, &bias, &[0.0; 20], &mut y);
            assert_eq!(y, bias, "{isa:?}");
            let mut x = [0.5f32; 20];
            x[7] = f32::NAN;
            matvec(isa, &digits, &bias, &x, &mut y);
            assert!(y.iter().all(|v| v.is_nan()), "{isa:?}");
        }
    }
}
