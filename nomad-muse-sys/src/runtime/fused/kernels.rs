//! The fused step's inner loops: panelled matrix-vector products (fp32 and
//! int8 weights), the GRU gate update and a vectorisable `exp`. The gate
//! update and softmax are plain loops compiled three times (AVX-512,
//! AVX2+FMA and the target's baseline: SSE2 on x86-64, NEON on aarch64);
//! the products use explicit registers on x86-64 (`x86`) and the plain
//! loops elsewhere. The variant is picked once at load by runtime feature
//! detection ([`Isa::detect`]).

/// Output columns per panel: weights are stored `[panel][input][PANEL]`, so
/// one panel's accumulators stay in registers while its weights stream by.
pub const PANEL: usize = 32;

/// The instruction set the kernels run with, chosen at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2Fma,
    Baseline,
}

impl Isa {
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx2Fma;
            }
        }
        Isa::Baseline
    }

    pub fn name(self) -> &'static str {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "avx512",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => "avx2+fma",
            Isa::Baseline => "baseline",
        }
    }
}

/// A matrix `[rows (inputs), cols (outputs)]` stored panel by panel, with
/// its columns padded to a whole number of panels (the padding is zero).
#[derive(Debug, Clone)]
pub struct Panelled<W> {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<W>,
    /// int8 only: one scale per output column (padded with zeros).
    pub scale: Vec<f32>,
}

pub fn padded(cols: usize) -> usize {
    cols.div_ceil(PANEL) * PANEL
}

impl<W: Copy + Default> Panelled<W> {
    /// From a row-major `[rows, cols]` matrix (`at(r, c)` gives an entry).
    pub fn from_fn(rows: usize, cols: usize, at: impl Fn(usize, usize) -> W) -> Self {
        let panels = padded(cols) / PANEL;
        let mut data = vec![W::default(); panels * rows * PANEL];
        for p in 0..panels {
            for r in 0..rows {
                for k in 0..PANEL {
                    let c = p * PANEL + k;
                    if c < cols {
                        data[(p * rows + r) * PANEL + k] = at(r, c);
                    }
                }
            }
        }
        Panelled {
            rows,
            cols,
            data,
            scale: Vec::new(),
        }
    }

    pub fn bytes(&self) -> usize {
        self.data.len() * std::mem::size_of::<W>() + self.scale.len() * 4
    }
}

use super::digits::{matvec_plain, IntegerProducts, QuadPanelled};

/// Weights as stored in the file: fp32, or int8 with per-column scales
/// (widened to f32, or relaid for integer products where the CPU has them).
#[derive(Debug, Clone)]
pub enum Weights {
    F32(Panelled<f32>),
    I8(Panelled<i8>),
    I8Digits(QuadPanelled),
}

impl Weights {
    pub fn rows(&self) -> usize {
        match self {
            Weights::F32(w) => w.rows,
            Weights::I8(w) => w.rows,
            Weights::I8Digits(w) => w.rows,
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            Weights::F32(w) => w.cols,
            Weights::I8(w) => w.cols,
            Weights::I8Digits(w) => w.cols,
        }
    }

    pub fn bytes(&self) -> usize {
        match self {
            Weights::F32(w) => w.bytes(),
            Weights::I8(w) => w.bytes(),
            Weights::I8Digits(w) => w.bytes(),
        }
    }

    /// int8 weights relaid for integer products when the CPU has them
    /// (AVX-512 VNNI or AVX2; `NOMAD_MUSE_WIDEN_INT8` set keeps them
    /// widened: the bench's comparison); anything else unchanged.
    pub fn for_cpu(self) -> Weights {
        match self {
            Weights::I8(w)
                if IntegerProducts::detect().is_some()
                    && std::env::var_os("NOMAD_MUSE_WIDEN_INT8").is_none() =>
            {
                QuadPanelled::from_panelled(&w).map_or(Weights::I8(w), Weights::I8Digits)
            }
            other => other,
        }
    }
}

/// Whether the CPU multiplies bytes into 32-bit sums (AVX-512 VNNI); std
/// caches the answer, so the per-call check is a load.
pub fn cpu_has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The integer products [`matvec`] runs for relaid int8 weights under
/// `isa`: byte digits with VNNI or in plain loops, 16-bit words on AVX2.
pub fn integer_products(isa: Isa) -> IntegerProducts {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if cpu_has_vnni() => IntegerProducts::Digits,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 | Isa::Avx2Fma => IntegerProducts::Words,
        Isa::Baseline => IntegerProducts::Digits,
    }
}

/// A weight entry widened to f32.
trait Widen: Copy {
    fn widen(self) -> f32;
}

impl Widen for f32 {
    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
}

impl Widen for i8 {
    #[inline(always)]
    fn widen(self) -> f32 {
        f32::from(self)
    }
}

/// `a * b + c`, fused where the variant has FMA (`mul_add` elsewhere would
/// be a library call).
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `y[c] = Σ_r x[r]·w[r, c] (· scale[c]) + bias[c]` for every column
/// (`y.len() ≥ cols`, `bias.len() ≥ cols`).
#[inline(always)]
fn matvec_body<W: Widen, const FMA: bool>(
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
        // Two accumulator sets (even and odd inputs): enough independent
        // chains to hide the FMA latency.
        let mut even = [0f32; PANEL];
        let mut odd = [0f32; PANEL];
        let mut pairs = panel.chunks_exact(2 * PANEL);
        let mut xs = x.chunks_exact(2);
        for (wpair, xpair) in (&mut pairs).zip(&mut xs) {
            let (w0, w1) = wpair.split_at(PANEL);
            for k in 0..PANEL {
                even[k] = madd::<FMA>(xpair[0], w0[k].widen(), even[k]);
                odd[k] = madd::<FMA>(xpair[1], w1[k].widen(), odd[k]);
            }
        }
        if let (Some(wlast), Some(xlast)) = (pairs.remainder().get(..PANEL), xs.remainder().first())
        {
            for k in 0..PANEL {
                even[k] = madd::<FMA>(*xlast, wlast[k].widen(), even[k]);
            }
        }
        let sums: [f32; PANEL] = std::array::from_fn(|k| even[k] + odd[k]);
        write_panel::<W, FMA>(w, p, &sums, bias, y);
    }
}

/// Writes panel `p`'s sums into `y`, scaled (int8) and with the bias added
/// (the plain loops here and the register kernels in `x86` share it).
#[inline(always)]
pub(super) fn write_panel<W, const FMA: bool>(
    w: &Panelled<W>,
    p: usize,
    sums: &[f32; PANEL],
    bias: &[f32],
    y: &mut [f32],
) {
    let start = p * PANEL;
    let end = (start + PANEL).min(w.cols);
    let (out, bias) = (&mut y[start..end], &bias[start..end]);
    if w.scale.is_empty() {
        for (k, o) in out.iter_mut().enumerate() {
            *o = sums[k] + bias[k];
        }
    } else {
        let scale = &w.scale[start..end];
        for (k, o) in out.iter_mut().enumerate() {
            *o = madd::<FMA>(sums[k], scale[k], bias[k]);
        }
    }
}

/// e^x to about 2e-7 relative error for x in [-87, 88] (Cephes `expf`),
/// in plain arithmetic so it vectorises.
#[inline(always)]
pub fn exp_approx(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // 2^n from the bits of n + 127 + 2^23 (an exact integer-valued float):
    // no float-to-int cast, whose saturation keeps the loops scalar.
    let biased = (n + (127.0 + 8_388_608.0)).to_bits() - 0x4B00_0000;
    e * f32::from_bits(biased << 23)
}

#[inline(always)]
pub(super) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp_approx(-x))
}

#[inline(always)]
pub(super) fn tanh(x: f32) -> f32 {
    2.0 / (1.0 + exp_approx(-2.0 * x)) - 1.0
}

/// The GRU update (`linear_before_reset = 1`) of one layer, in place on `h`:
/// `gx = x·Wx + bx` and `gh = h·Wh + bh`, gates z, r, n in that order.
#[inline(always)]
fn gates_body(gx: &[f32], gh: &[f32], h: &mut [f32]) {
    let n = h.len();
    let (xz, rest) = gx.split_at(n);
    let (xr, xn) = rest.split_at(n);
    let (hz, rest) = gh.split_at(n);
    let (hr, hn) = rest.split_at(n);
    for j in 0..n {
        let z = sigmoid(xz[j] + hz[j]);
        let r = sigmoid(xr[j] + hr[j]);
        let cand = tanh(xn[j] + r * hn[j]);
        h[j] = cand + z * (h[j] - cand);
    }
}

/// `out[i] = exp((v[i] - max) · inv_t)` where `keep[i]`, else 0; returns Σ out.
/// The sum runs in 16 lanes: a running scalar sum is a chain the compiler
/// may not reorder, and it kept the whole loop scalar (18 % of a bar, perf).
#[inline(always)]
fn softmax_body(v: &[f32], keep: &[bool], max: f32, inv_t: f32, out: &mut [f32]) -> f32 {
    const LANES: usize = 16;
    for ((o, x), k) in out.iter_mut().zip(v).zip(keep) {
        let e = exp_approx((x - max) * inv_t);
        *o = if *k { e } else { 0.0 };
    }
    let n = out.len().min(v.len()).min(keep.len());
    let mut lanes = [0f32; LANES];
    let mut chunks = out[..n].chunks_exact(LANES);
    for chunk in &mut chunks {
        for (l, x) in lanes.iter_mut().zip(chunk) {
            *l += x;
        }
    }
    lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

macro_rules! variants {
    ($($name:ident: $body:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty [$($gen:ty),*];)*) => {$(
        pub fn $name(isa: Isa, $($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                fn avx512($($arg: $ty),*) -> $ret {
                    $body::<$($gen,)* true>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) -> $ret {
                    $body::<$($gen,)* true>($($arg),*)
                }
                match isa {
                    // SAFETY: `Isa::detect` chose the variant from the CPU's features.
                    Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    Isa::Avx2Fma => return unsafe { avx2($($arg),*) },
                    Isa::Baseline => {}
                }
            }
            let _ = isa;
            $body::<$($gen,)* false>($($arg),*)
        }
    )*};
}

/// Uniform const-generic shape for the bodies without a weight type.
#[inline(always)]
fn gates_any<const FMA: bool>(gx: &[f32], gh: &[f32], h: &mut [f32]) {
    gates_body(gx, gh, h)
}

#[inline(always)]
fn softmax_any<const FMA: bool>(
    v: &[f32],
    keep: &[bool],
    max: f32,
    inv_t: f32,
    out: &mut [f32],
) -> f32 {
    softmax_body(v, keep, max, inv_t, out)
}

variants! {
    gates_portable: gates_any(gx: &[f32], gh: &[f32], h: &mut [f32]) -> () [];
    masked_softmax: softmax_any(v: &[f32], keep: &[bool], max: f32, inv_t: f32, out: &mut [f32]) -> f32 [];
}

/// The GRU update of one layer (see `gates_body`), in place on `h`. It was
/// 18 % of an int8 melody step (perf), mostly scalar: the exponent's
/// float-to-int cast kept the loop from vectorising. `exp_approx` now
/// builds 2^n from bits, and AVX-512 and AVX2 have their own kernels (the
/// portable loop compiled for AVX2 still took 13 % of an int8 bar).
pub fn gru_gates(isa: Isa, gx: &[f32], gh: &[f32], h: &mut [f32]) {
    let n = h.len();
    assert!(gx.len() >= 3 * n && gh.len() >= 3 * n);
    #[cfg(target_arch = "x86_64")]
    match isa {
        // SAFETY: `Isa::detect` found the features; lengths checked above.
        Isa::Avx512 => return unsafe { super::x86::gates_avx512(gx, gh, h) },
        Isa::Avx2Fma => return unsafe { super::x86::gates_avx2(gx, gh, h) },
        Isa::Baseline => {}
    }
    gates_portable(isa, gx, gh, h)
}

/// Which panels of a product's output are wanted: bit `p` for panel `p`;
/// panels from 64 on are always computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panels(pub u64);

impl Panels {
    pub const ALL: Panels = Panels(u64::MAX);

    /// The panels holding any entry `wanted` marks.
    pub fn of(wanted: &[bool]) -> Panels {
        let mut bits = 0u64;
        for (p, chunk) in wanted.chunks(PANEL).enumerate().take(64) {
            if chunk.iter().any(|w| *w) {
                bits |= 1 << p;
            }
        }
        if wanted.len() > 64 * PANEL {
            bits = u64::MAX;
        }
        Panels(bits)
    }

    #[inline(always)]
    pub fn has(self, p: usize) -> bool {
        p >= 64 || self.0 >> p & 1 != 0
    }
}

/// `y = x · w + bias` for either weight type (`x.len() ≥ rows`, `y` and
/// `bias` at least `cols`, else a panic: callers size them at load).
pub fn matvec(isa: Isa, w: &Weights, bias: &[f32], x: &[f32], y: &mut [f32]) {
    matvec_panels(isa, w, bias, x, y, Panels::ALL)
}

/// [`matvec`] for the wanted panels of `y` (the others are unspecified:
/// kept, or overwritten).
pub fn matvec_panels(
    isa: Isa,
    w: &Weights,
    bias: &[f32],
    x: &[f32],
    y: &mut [f32],
    panels: Panels,
) {
    assert!(x.len() >= w.rows() && y.len() >= w.cols() && bias.len() >= w.cols());
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `Isa::detect` chose the variant from the CPU's features; the
    // lengths are checked above.
    unsafe {
        use super::x86::{matvec_avx2, matvec_avx512, matvec_vnni, matvec_words_avx2};
        match (isa, w) {
            (Isa::Avx512, Weights::I8Digits(w)) if cpu_has_vnni() => {
                return matvec_vnni(w, bias, x, y, panels)
            }
            (Isa::Avx512 | Isa::Avx2Fma, Weights::I8Digits(w)) => {
                return matvec_words_avx2(w, bias, x, y, panels)
            }
            (Isa::Baseline, Weights::I8Digits(w)) => return matvec_plain(w, bias, x, y, panels),
            (Isa::Avx512, Weights::F32(w)) => return matvec_avx512(w, bias, x, y, panels),
            (Isa::Avx512, Weights::I8(w)) => return matvec_avx512(w, bias, x, y, panels),
            (Isa::Avx2Fma, Weights::F32(w)) => return matvec_avx2(w, bias, x, y, panels),
            (Isa::Avx2Fma, Weights::I8(w)) => return matvec_avx2(w, bias, x, y, panels),
            (Isa::Baseline, _) => {}
        }
    }
    let _ = isa;
    match w {
        Weights::F32(w) => matvec_body::<f32, false>(w, bias, x, y, panels),
        Weights::I8(w) => matvec_body::<i8, false>(w, bias, x, y, panels),
        Weights::I8Digits(w) => matvec_plain(w, bias, x, y, panels),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn isas() -> Vec<Isa> {
        let mut all = vec![Isa::Baseline];
        if Isa::detect() != Isa::Baseline {
            all.push(Isa::detect());
        }
        #[cfg(target_arch = "x86_64")]
        if Isa::detect() == Isa::Avx512 {
            all.push(Isa::Avx2Fma);
        }
        all
    }

    #[test]
    fn panels_hold_exactly_the_wanted_entries() {
        let mut wanted = vec![false; 332];
        assert_eq!(Panels::of(&wanted), Panels(0));
        wanted[0] = true;
        wanted[95] = true;
        wanted[331] = true;
        let p = Panels::of(&wanted);
        assert_eq!(p, Panels(1 | 1 << 2 | 1 << 10));
        assert!(p.has(2) && !p.has(1) && p.has(64));
        // Past 64 panels every panel is computed.
        assert_eq!(Panels::of(&vec![false; 64 * PANEL + 1]), Panels::ALL);
    }

    #[test]
    fn matvec_panels_computes_the_wanted_panels_as_matvec_does() {
        let (rows, cols) = (40, 150);
        let at = |r: usize, c: usize| ((r * 13 + c * 7) % 17) as f32 - 8.0;
        let w = Weights::F32(Panelled::from_fn(rows, cols, at));
        let x: Vec<f32> = (0..rows).map(|r| (r as f32 * 0.3).cos()).collect();
        let bias = vec![0.5; padded(cols)];
        for isa in isas() {
            let mut full = vec![0.0; padded(cols)];
            matvec(isa, &w, &bias, &x, &mut full);
            let mut some = vec![f32::NAN; padded(cols)];
            matvec_panels(isa, &w, &bias, &x, &mut some, Panels(0b1_0010));
            for c in (32..64).chain(128..cols) {
                assert_eq!(some[c].to_bits(), full[c].to_bits(), "{isa:?} col {c}");
            }
            assert!(
                some[..32].iter().all(|v| v.is_nan()),
                "{isa:?}: panel 0 skipped"
            );
        }
    }

    #[test]
    fn exp_approx_follows_std_exp() {
        for i in -8000..8000 {
            let x = i as f32 * 0.01;
            let (a, b) = (exp_approx(x), x.exp());
            assert!((a - b).abs() <= 4e-7 * b, "exp({x}): {a} vs {b}");
        }
    }

    #[test]
    fn gru_gates_match_the_plain_update_for_every_variant_and_a_tail() {
        for n in [1, 16, 37, 128] {
            let gx: Vec<f32> = (0..3 * n).map(|i| (i as f32 * 0.71).sin() * 6.0).collect();
            let gh: Vec<f32> = (0..3 * n).map(|i| (i as f32 * 1.37).cos() * 5.0).collect();
            let h0: Vec<f32> = (0..n).map(|i| (i as f32 * 0.13).sin()).collect();
            let mut expect = h0.clone();
            for j in 0..n {
                let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
                let z = sig(gx[j] + gh[j]);
                let r = sig(gx[n + j] + gh[n + j]);
                let cand = (gx[2 * n + j] + r * gh[2 * n + j]).tanh();
                expect[j] = (1.0 - z) * cand + z * h0[j];
            }
            for isa in isas() {
                let mut h = h0.clone();
                gru_gates(isa, &gx, &gh, &mut h);
                for (a, b) in h.iter().zip(&expect) {
                    assert!((a - b).abs() < 2e-6, "{isa:?} n={n}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn matvec_matches_a_plain_loop_for_every_variant_and_odd_shapes() {
        for (rows, cols) in [(1, 1), (7, 33), (64, 192), (33, 100), (130, 70)] {
            let code = |r: usize, c: usize| ((r * 31 + c * 17) % 23) as i8 - 11;
            let at = |r: usize, c: usize| f32::from(code(r, c)) / 7.0;
            let x: Vec<f32> = (0..rows).map(|r| (r as f32 * 0.37).sin()).collect();
            let expect: Vec<f32> = (0..cols)
                .map(|c| (0..rows).map(|r| x[r] * at(r, c)).sum())
                .collect();
            let w = Weights::F32(Panelled::from_fn(rows, cols, at));
            let mut q = Panelled::from_fn(rows, cols, code);
            q.scale = vec![1.0 / 7.0; padded(cols)];
            let digits = QuadPanelled::from_panelled(&q).map(Weights::I8Digits);
            let q = Weights::I8(q);
            for isa in isas() {
                for w in [Some(&w), Some(&q), digits.as_ref()].into_iter().flatten() {
                    let mut y = vec![f32::NAN; cols];
                    matvec(isa, w, &vec![0.0; cols], &x, &mut y);
                    for (a, b) in y.iter().zip(&expect) {
                        assert!((a - b).abs() < 1e-4, "{isa:?} {rows}x{cols}: {a} vs {b}");
                    }
                }
            }
        }
    }
}
