//! Dev tool: how close the fused step's matrix-vector kernels run to what
//! the CPU's vector ports allow. Times `kernels::matvec` on a melody-sized
//! matrix (128 inputs × 384 outputs, all in cache) for fp32 weights, int8
//! widened to f32 and int8 as integer products, interleaved, and measures
//! the core clock (a chain of dependent vector adds, one per cycle) and the
//! throughput of the instructions the integer kernel is built from, so a
//! figure in MAC per cycle can be set against the port bound.
//!
//! ```sh
//! target/release/examples/kernel_probe
//! ```

use std::time::Instant;

use nomad_muse::runtime::fused::kernels::{matvec, padded, Isa, Panelled, Weights};

const ROWS: usize = 128;
const COLS: usize = 384;
const CALLS: usize = 20_000;
const ROUNDS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Deterministic values in [-1, 1).
fn noise(i: usize) -> f32 {
    let h = (i as u32).wrapping_mul(2_654_435_761) >> 8;
    h as f32 / (1u32 << 23) as f32 - 1.0
}

fn kernels() -> Vec<(&'static str, Weights)> {
    let int8 = Panelled {
        scale: vec![1.0 / 127.0; padded(COLS)],
        ..Panelled::from_fn(ROWS, COLS, |r, c| (noise(r * COLS + c) * 127.0) as i8)
    };
    let fp32 = Panelled::from_fn(ROWS, COLS, |r, c| noise(r * COLS + c));
    let products = Weights::I8(int8.clone()).for_cpu();
    let mut out = vec![
        ("fp32", Weights::F32(fp32)),
        ("int8 widened", Weights::I8(int8)),
    ];
    if matches!(products, Weights::I8Digits(_)) {
        out.push(("int8 integer products", products));
    }
    out
}

fn main() {
    let isa = Isa::detect();
    let weights = kernels();
    let x: Vec<f32> = (0..ROWS).map(|i| noise(i + 7)).collect();
    let bias = vec![0.0; padded(COLS)];
    let mut y = vec![0.0; padded(COLS)];
    let mut times = vec![Vec::new(); weights.len()];
    for _ in 0..ROUNDS {
        for ((_, w), t) in weights.iter().zip(&mut times) {
            let start = Instant::now();
            for _ in 0..CALLS {
                matvec(isa, w, &bias, std::hint::black_box(&x), &mut y);
            }
            t.push(start.elapsed().as_secs_f64() / CALLS as f64);
        }
    }
    let clock = ports::clock_hz();
    println!(
        "kernels: {}; core clock {:.2} GHz (dependent vector adds)",
        isa.name(),
        clock.map_or(f64::NAN, |c| c / 1e9)
    );
    for ((name, _), t) in weights.iter().zip(times) {
        let seconds = median(t);
        let macs = (ROWS * COLS) as f64 / seconds;
        let per_cycle = clock.map_or(f64::NAN, |c| macs / c);
        println!(
            "{name:<22} {:6.2} µs per {ROWS}×{COLS} product, {:5.1} GMAC/s, {per_cycle:4.1} MAC per cycle",
            seconds * 1e6,
            macs / 1e9
        );
    }
    for (name, per_cycle) in ports::throughputs() {
        println!("{name:<32} {per_cycle:4.2} per cycle");
    }
}

#[cfg(target_arch = "x86_64")]
mod ports {
    use std::arch::asm;
    use std::time::Instant;

    const LOOPS: u64 = 50_000_000;

    /// Seconds per loop of `body` (each loop issues `per_loop` instructions).
    fn time(body: unsafe fn(u64)) -> f64 {
        // SAFETY: called only where the CPU has AVX2 (checked by the caller).
        let run = || unsafe { body(LOOPS) };
        run();
        let start = Instant::now();
        run();
        start.elapsed().as_secs_f64() / LOOPS as f64
    }

    /// A loop of four vector instructions, writing ymm0–ymm3 from ymm14/15.
    macro_rules! four {
        ($name:ident, $a:literal, $b:literal, $c:literal, $d:literal) => {
            #[target_feature(enable = "avx2")]
            unsafe fn $name(n: u64) {
                for _ in 0..n {
                    asm!(
                        $a, $b, $c, $d,
                        out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
                        out("ymm14") _, out("ymm15") _,
                        options(nomem, nostack),
                    );
                }
            }
        };
    }
    // Each add waits for the one before: one per cycle, whatever the ports.
    four!(
        dependent_adds,
        "vpaddd ymm0, ymm0, ymm14",
        "vpaddd ymm0, ymm0, ymm14",
        "vpaddd ymm0, ymm0, ymm14",
        "vpaddd ymm0, ymm0, ymm14"
    );
    four!(
        madds,
        "vpmaddwd ymm0, ymm14, ymm15",
        "vpmaddwd ymm1, ymm14, ymm15",
        "vpmaddwd ymm2, ymm14, ymm15",
        "vpmaddwd ymm3, ymm14, ymm15"
    );
    four!(
        adds,
        "vpaddd ymm0, ymm14, ymm15",
        "vpaddd ymm1, ymm14, ymm15",
        "vpaddd ymm2, ymm14, ymm15",
        "vpaddd ymm3, ymm14, ymm15"
    );
    four!(
        sign_extends,
        "vpmovsxbw ymm0, xmm14",
        "vpmovsxbw ymm1, xmm14",
        "vpmovsxbw ymm2, xmm14",
        "vpmovsxbw ymm3, xmm14"
    );

    fn avx2() -> bool {
        std::arch::is_x86_feature_detected!("avx2")
    }

    /// Cycles per second, from a chain of dependent 1-cycle adds.
    pub fn clock_hz() -> Option<f64> {
        avx2().then(|| 4.0 / time(dependent_adds))
    }

    /// Instructions per cycle, four independent ones per loop.
    pub fn throughputs() -> Vec<(&'static str, f64)> {
        let Some(clock) = clock_hz() else {
            return Vec::new();
        };
        let per_cycle = |body: unsafe fn(u64)| 4.0 / (time(body) * clock);
        vec![
            ("vpmaddwd (integer products)", per_cycle(madds)),
            ("vpmovsxbw (int8 to 16-bit)", per_cycle(sign_extends)),
            ("vpaddd (accumulate)", per_cycle(adds)),
        ]
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod ports {
    pub fn clock_hz() -> Option<f64> {
        None
    }
    pub fn throughputs() -> Vec<(&'static str, f64)> {
        Vec::new()
    }
}
