//! Per-token latency of each expert through the C ABI (fp32 and int8),
//! heap allocations per token after warm-up (system heap, and tract's
//! temporaries served by the session arena), this process's peak RSS, and the
//! same steps through onnxruntime (Python) on the same files, in one run.
//!
//!   cargo bench -p nomad-muse-sys --bench latency -- <onnx_dir>
//!
//! (default <onnx_dir>: artifacts/onnx). Timings are medians and p99s over
//! many steps; compare ratios within one run, the machine is shared.

use std::ffi::CString;
use std::time::Instant;

use nomad_muse::ffi::*;
use nomad_muse::runtime::realtime_alloc::thread_counters;

const STEPS: usize = 2000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Feeds a grammar-valid stream (the session's own samples) and times each
/// `muse_generate_next` call (one model step + masked sampling).
struct Figures {
    median_us: f64,
    p99_us: f64,
    system_allocs_per_token: f64,
    arena_allocs_per_token: f64,
}

fn bench_file(path: &std::path::Path) -> Option<Figures> {
    let c = CString::new(path.to_str()?).ok()?;
    let mut s: *mut MuseSession = std::ptr::null_mut();
    let opts = MuseSessionOptions {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        seed: 1,
    };
    // SAFETY: valid C string and out pointer.
    if unsafe { muse_session_new(c.as_ptr(), &opts, &mut s) } != MuseStatus::MuseOk {
        eprintln!("skip {}: cannot load", path.display());
        return None;
    }
    let mut kind = MuseExpertKind::MuseExpertDrums;
    unsafe { muse_expert_kind(s, &mut kind) };
    let melody = kind == MuseExpertKind::MuseExpertMelody;
    let mut rng = 5u64;
    let mut times = Vec::with_capacity(STEPS);
    let (mut system, mut arena, mut counted) = (0u64, 0u64, 0u64);
    let mut token: i32 = 1;
    let mut fed_bos = false;
    let mut i = 0;
    while times.len() < STEPS {
        let ctx = if fed_bos { token } else { 1 };
        let before = thread_counters();
        let t0 = Instant::now();
        let st = unsafe {
            if melody {
                muse_generate_next_conditioned(s, &ctx, 1, 0, 0, 1.0, &mut rng, &mut token)
            } else {
                muse_generate_next(s, &ctx, 1, 1.0, &mut rng, &mut token)
            }
        };
        let dt = t0.elapsed().as_secs_f64() * 1e6;
        let after = thread_counters();
        fed_bos = true;
        if st != MuseStatus::MuseOk {
            // The stream ended (EOS): start a new one.
            unsafe { muse_session_reset(s) };
            fed_bos = false;
            continue;
        }
        i += 1;
        if i > 20 {
            times.push(dt);
            system += after.0 - before.0;
            arena += after.1 - before.1;
            counted += 1;
        }
    }
    unsafe { muse_session_free(s) };
    times.sort_by(|a, b| a.total_cmp(b));
    let per_token = |n: u64| n as f64 / counted.max(1) as f64;
    Some(Figures {
        median_us: percentile(&times, 0.5),
        p99_us: percentile(&times, 0.99),
        system_allocs_per_token: per_token(system),
        arena_allocs_per_token: per_token(arena),
    })
}

fn peak_rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l[6..].trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(-1)
}

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../artifacts/onnx"))
        });
    println!(
        "libnomad_muse C ABI, {STEPS} steps per model, files in {}",
        dir.display()
    );
    println!(
        "{:<28} {:>10} {:>10} {:>20} {:>20}",
        "model", "median µs", "p99 µs", "system allocs/token", "arena allocs/token"
    );
    // Total file size: [fp32, quantized].
    let mut total_bytes = [0u64; 2];
    for expert in ["drums", "harmony", "melody"] {
        for suffix in ["", "_quantized"] {
            let path = dir.join(format!("{expert}{suffix}.onnx"));
            if !path.exists() {
                eprintln!("missing {}", path.display());
                continue;
            }
            total_bytes[usize::from(!suffix.is_empty())] +=
                std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if let Some(f) = bench_file(&path) {
                println!(
                    "{:<28} {:>10.1} {:>10.1} {:>20.2} {:>20.1}",
                    format!("{expert}{suffix}.onnx"),
                    f.median_us,
                    f.p99_us,
                    f.system_allocs_per_token,
                    f.arena_allocs_per_token
                );
            }
        }
    }
    println!(
        "total ONNX size: fp32 {:.2} MB, quantized {:.2} MB",
        total_bytes[0] as f64 / 1e6,
        total_bytes[1] as f64 / 1e6
    );
    println!(
        "peak RSS of this process (3 models loaded in turn): {} KiB",
        peak_rss_kib()
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/python/check_onnxruntime.py"
    );
    match std::process::Command::new("python3")
        .arg(script)
        .arg(&dir)
        .args(["--steps", "500"])
        .output()
    {
        Ok(out) if out.status.success() => print!("{}", String::from_utf8_lossy(&out.stdout)),
        Ok(out) => println!(
            "onnxruntime comparison unavailable: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => println!("onnxruntime comparison unavailable: {e}"),
    }
}
