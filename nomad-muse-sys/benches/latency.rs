//! The real-time figures of issue 12, in one run on one machine:
//!
//! - per expert, µs per token (one model step + grammar-masked sampling),
//!   median over interleaved rounds (A, B, C, D, A, B, …) of: the C ABI
//!   (`muse_generate_next`, fp32 and int8 files), tract's graph (the
//!   reference engine) and a plain hand-written GRU step of the same shapes
//!   kept in this file (embedding + conditioning add, L layers with
//!   `linear_before_reset = 1`, head, softmax sampling);
//! - top-1 agreement int8 vs fp32 along generation streams;
//! - a whole bar of all three experts through `muse_band_next_bar` (median
//!   µs per bar, system allocations per bar after the first);
//! - peak RSS of a host process that loads the band and plays 16 bars;
//! - the shared library's size;
//! - onnxruntime (Python child, 1 thread, same files, with sampling, timed
//!   inside the child) in the same interleaved rounds, when installed.
//!
//!   cargo bench --workspace --bench latency -- <onnx_dir>
//!
//! (default <onnx_dir>: artifacts/onnx). The machine is shared: compare
//! ratios within one run.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nomad_muse::ffi::*;
use nomad_muse::runtime::fused::kernels::Isa;
use nomad_muse::runtime::realtime_alloc::thread_counters;
use nomad_muse::runtime::{EngineChoice, ExpertSession, StepModel};
use nomad_muse::tokenizers::{BOS_ID, EOS_ID};

#[path = "support/band.rs"]
mod band;
#[path = "support/reference.rs"]
mod reference;
use band::{note_buffer, open_band, thread_minor_faults};
use reference::ReferenceGru;

const ROUNDS: usize = 15;
const BLOCK: usize = 200;
const EXPERTS: [&str; 3] = ["drums", "harmony", "melody"];

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Something that makes tokens.
trait Contender {
    fn token(&mut self);
    /// µs per token over `n` tokens.
    fn block(&mut self, n: usize) -> f64 {
        let t0 = Instant::now();
        for _ in 0..n {
            self.token();
        }
        t0.elapsed().as_secs_f64() * 1e6 / n as f64
    }
}

/// onnxruntime in a Python child (`onnxruntime_bench.py --serve`), which
/// times each block itself: the pipe is not counted.
struct OrtSession {
    child: std::process::Child,
    reply: std::io::BufReader<std::process::ChildStdout>,
}

impl OrtSession {
    fn open(path: &Path) -> Option<OrtSession> {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/dev/onnxruntime_bench.py"
        );
        let python = std::env::var("NOMAD_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(python)
            .arg(script)
            .arg("--serve")
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut reply = std::io::BufReader::new(child.stdout.take()?);
        let mut line = String::new();
        reply.read_line(&mut line).ok()?;
        (line.trim() == "ready").then_some(OrtSession { child, reply })
    }
}

impl Contender for OrtSession {
    fn token(&mut self) {
        self.block(1);
    }
    fn block(&mut self, n: usize) -> f64 {
        use std::io::{BufRead, Write};
        let mut line = String::new();
        let asked = self
            .child
            .stdin
            .as_mut()
            .is_some_and(|stdin| writeln!(stdin, "{n}").and_then(|_| stdin.flush()).is_ok());
        if !asked || self.reply.read_line(&mut line).is_err() {
            return f64::NAN;
        }
        line.trim().parse().unwrap_or(f64::NAN)
    }
}

impl Drop for OrtSession {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A session behind the C ABI, generating its own stream.
struct CSession {
    handle: *mut MuseSession,
    melody: bool,
    rng: u64,
    token: i32,
    fed_bos: bool,
}

impl CSession {
    fn open(path: &Path) -> Option<CSession> {
        let c = CString::new(path.to_str()?).ok()?;
        let mut handle: *mut MuseSession = std::ptr::null_mut();
        let opts = MuseSessionOptions {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            seed: 1,
        };
        // SAFETY: valid C string and out pointer.
        if unsafe { muse_session_new(c.as_ptr(), &opts, &mut handle) } != MuseStatus::MuseOk {
            eprintln!("cannot load {}", path.display());
            return None;
        }
        let mut kind = MuseExpertKind::MuseExpertDrums;
        // SAFETY: a live session and a writable out pointer.
        unsafe { muse_expert_kind(handle, &mut kind) };
        Some(CSession {
            handle,
            melody: kind == MuseExpertKind::MuseExpertMelody,
            rng: 5,
            token: BOS_ID as i32,
            fed_bos: false,
        })
    }
}

impl Contender for CSession {
    fn token(&mut self) {
        let ctx = if self.fed_bos {
            self.token
        } else {
            BOS_ID as i32
        };
        // SAFETY: a live session; one context token; writable outs.
        let st = unsafe {
            if self.melody {
                muse_generate_next_conditioned(
                    self.handle,
                    &ctx,
                    1,
                    0,
                    0,
                    1.0,
                    &mut self.rng,
                    &mut self.token,
                )
            } else {
                muse_generate_next(self.handle, &ctx, 1, 1.0, &mut self.rng, &mut self.token)
            }
        };
        self.fed_bos = st == MuseStatus::MuseOk && self.token != EOS_ID as i32;
        if !self.fed_bos {
            // The stream ended: start a new one.
            unsafe { muse_session_reset(self.handle) };
        }
    }
}

impl Drop for CSession {
    fn drop(&mut self) {
        // SAFETY: a live session, freed once.
        unsafe { muse_session_free(self.handle) };
    }
}

/// The same work through the Rust API on tract's graph.
struct TractSession {
    session: ExpertSession,
    rng: u64,
    token: u32,
}

impl Contender for TractSession {
    fn token(&mut self) {
        let next = self
            .session
            .generate_next(&[self.token], None, 1.0, &mut self.rng);
        match next {
            Ok(t) if t != EOS_ID => self.token = t,
            _ => {
                self.session.reset();
                self.token = BOS_ID;
            }
        }
    }
}

impl Contender for ReferenceGru {
    fn token(&mut self) {
        self.next_token();
    }
}

/// µs per token, median over interleaved rounds, for each contender.
fn interleaved(contenders: &mut [&mut dyn Contender]) -> Vec<f64> {
    let mut times = vec![Vec::with_capacity(ROUNDS); contenders.len()];
    for c in contenders.iter_mut() {
        c.block(BLOCK);
    }
    for _ in 0..ROUNDS {
        for (c, t) in contenders.iter_mut().zip(&mut times) {
            t.push(c.block(BLOCK));
        }
    }
    times.iter_mut().map(|t| median(t)).collect()
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}

/// Share of steps where the int8 and fp32 models' top tokens agree, along
/// streams the fp32 model samples (both fed the same tokens).
fn top1_agreement(fp32: &Path, int8: &Path, steps: usize) -> Option<f64> {
    let mut a = ExpertSession::load(fp32).ok()?;
    let mut b = ExpertSession::load(int8).ok()?;
    let (mut rng, mut token, mut agree) = (11u64, BOS_ID, 0usize);
    for _ in 0..steps {
        a.feed(token, 0, 0).ok()?;
        b.feed(token, 0, 0).ok()?;
        agree += usize::from(argmax(a.logits()) == argmax(b.logits()));
        token = a.sample(&mut rng).unwrap_or(EOS_ID);
        if token == EOS_ID {
            a.reset();
            b.reset();
            token = BOS_ID;
        }
    }
    Some(agree as f64 / steps as f64)
}

fn per_expert(dir: &Path) {
    println!(
        "\nµs per token (step + sampling), median of {ROUNDS} interleaved rounds of {BLOCK} tokens"
    );
    println!(
        "{:<8} {:>8} {:>8} {:>8} {:>9} {:>6} {:>9} {:>8} {:>12} {:>8} {:>8} {:>9} {:>9}",
        "expert",
        "C fp32",
        "C int8",
        "tract",
        "reference",
        "C/ref",
        "int8/fp32",
        "tract/C",
        "top-1 i8=f32",
        "ORT fp32",
        "ORT int8",
        "ORT/C f32",
        "ORT/C i8"
    );
    let mut engines = Vec::new();
    for expert in EXPERTS {
        let fp32 = dir.join(format!("{expert}.onnx"));
        let int8 = dir.join(format!("{expert}_quantized.onnx"));
        let (Some(mut c32), Some(mut c8)) = (CSession::open(&fp32), CSession::open(&int8)) else {
            continue;
        };
        let Ok(session) = ExpertSession::load_with_engine(&fp32, EngineChoice::Tract) else {
            continue;
        };
        let mut tract = TractSession {
            session,
            rng: 5,
            token: BOS_ID,
        };
        let Some(mut reference) = ReferenceGru::like(&fp32) else {
            continue;
        };
        // onnxruntime (Python, one thread) on the same files, in the same
        // rounds, when it is installed.
        let mut ort: Vec<OrtSession> = [&fp32, &int8]
            .into_iter()
            .map_while(|p| OrtSession::open(p))
            .collect();
        let mut contenders: Vec<&mut dyn Contender> =
            vec![&mut c32, &mut c8, &mut tract, &mut reference];
        if ort.len() == 2 {
            contenders.extend(ort.iter_mut().map(|o| o as &mut dyn Contender));
        }
        let mut t = interleaved(&mut contenders);
        t.resize(6, f64::NAN);
        let agreement = top1_agreement(&fp32, &int8, 2000).unwrap_or(f64::NAN);
        let engine = |path: &Path| {
            ExpertSession::load(path).map_or_else(|e| e.to_string(), |s| s.engine_name())
        };
        engines.push(format!("{expert}: {} / {}", engine(&fp32), engine(&int8)));
        println!(
            "{expert:<8} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>6.2} {:>9.2} {:>8.1} {:>11.2}% {:>8.1} {:>8.1} {:>9.1} {:>9.1}",
            t[0],
            t[1],
            t[2],
            t[3],
            t[0] / t[3],
            t[1] / t[0],
            t[2] / t[0],
            agreement * 100.0,
            t[4],
            t[5],
            t[4] / t[0],
            t[5] / t[1]
        );
    }
    println!("engines (fp32 / int8): {}", engines.join("; "));
}

/// Plays `bars` bars (starting over every 64); returns µs per bar after the
/// first, and system allocations per bar after the first.
fn play(band: *mut MuseBand, bars: usize, times: &mut Vec<f64>) -> (f64, f64) {
    let mut events = note_buffer();
    let mut count = 0usize;
    let (mut allocs_after_first, mut faults_after_first) = (0u64, 0u64);
    for bar in 0..bars {
        if bar % 64 == 0 {
            // SAFETY: a live band.
            unsafe { muse_band_reset(band) };
        }
        let (before, faults_before) = (thread_counters().0, thread_minor_faults());
        let t0 = Instant::now();
        // SAFETY: a live band; `events` has room for its length.
        let st = unsafe { muse_band_next_bar(band, events.as_mut_ptr(), events.len(), &mut count) };
        let dt = t0.elapsed().as_secs_f64() * 1e6;
        assert_eq!(st, MuseStatus::MuseOk, "bar {bar}");
        if bar % 64 != 0 {
            times.push(dt);
            allocs_after_first += thread_counters().0 - before;
            faults_after_first += thread_minor_faults() - faults_before;
        }
    }
    let counted = (bars - bars.div_ceil(64)) as f64;
    (
        allocs_after_first as f64 / counted,
        faults_after_first as f64 / counted,
    )
}

fn whole_bars(dir: &Path) {
    let (Some(fp32), Some(int8)) = (open_band(dir, ""), open_band(dir, "_quantized")) else {
        println!("\nband: the three experts did not load");
        return;
    };
    let (mut t32, mut t8) = (Vec::new(), Vec::new());
    let (mut a32, mut a8) = ((0.0, 0.0), (0.0, 0.0));
    for _ in 0..4 {
        a32 = play(fp32, 64, &mut t32);
        a8 = play(int8, 64, &mut t8);
    }
    println!(
        "\nwhole bar of three experts (muse_band_next_bar, 4/4), median of {} bars, interleaved by 64:",
        t32.len()
    );
    println!(
        "  fp32 {:.0} µs/bar, int8 {:.0} µs/bar; per bar after the first: system allocations {:.2} / {:.2}, minor page faults {:.2} / {:.2}",
        median(&mut t32),
        median(&mut t8),
        a32.0,
        a8.0,
        a32.1,
        a8.1
    );
    // SAFETY: live bands, freed once.
    unsafe {
        muse_band_free(fp32);
        muse_band_free(int8);
    }
}

/// A `/proc/self/status` field in KiB (-1 if unreadable).
fn status_kib(field: &str) -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(-1)
}

/// The child half of the RSS figure: load the band, play 16 bars, report.
fn rss_child(dir: &Path, suffix: &str) {
    let Some(band) = open_band(dir, suffix) else {
        return;
    };
    play(band, 17, &mut Vec::new());
    println!(
        "{} KiB (now: {} KiB heap and private, {} KiB file-backed)",
        status_kib("VmHWM"),
        status_kib("RssAnon"),
        status_kib("RssFile")
    );
}

fn rss(dir: &Path) {
    let me = std::env::current_exe().ok();
    let run = |suffix: &str| -> Option<String> {
        let out = std::process::Command::new(me.as_ref()?)
            .arg("--rss-child")
            .arg(suffix)
            .arg(dir)
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    println!(
        "\npeak RSS of a host process that loads the band and plays 16 bars:\n  fp32 {}\n  int8 {}",
        run("fp32").unwrap_or_default(),
        run("int8").unwrap_or_default()
    );
}

fn library_size() {
    let lib = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/release/libnomad_muse.so"
    ));
    let Ok(meta) = std::fs::metadata(&lib) else {
        return;
    };
    let stripped =
        std::env::temp_dir().join(format!("nomad_muse_stripped_{}.so", std::process::id()));
    let ok = std::process::Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(&lib)
        .status()
        .is_ok_and(|s| s.success());
    let size = std::fs::metadata(&stripped).map(|m| m.len()).unwrap_or(0);
    std::fs::remove_file(&stripped).ok();
    println!(
        "\n{}: {:.2} MB, stripped {}",
        lib.display(),
        meta.len() as f64 / 1e6,
        if ok {
            format!("{:.2} MB", size as f64 / 1e6)
        } else {
            "n/a".into()
        }
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--rss-child") {
        let suffix = if args.get(1).map(String::as_str) == Some("int8") {
            "_quantized"
        } else {
            ""
        };
        if let Some(dir) = args.get(2) {
            rss_child(Path::new(dir), suffix);
        }
        return;
    }
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../artifacts/onnx"))
        });
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.to_string())
        })
        .unwrap_or_default();
    println!(
        "files in {}; {}; {} cores; kernels: {}",
        dir.display(),
        cpu.split(':').nth(1).unwrap_or("?").trim(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        Isa::detect().name()
    );
    per_expert(&dir);
    whole_bars(&dir);
    rss(&dir);
    library_size();
}
