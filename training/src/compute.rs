//! Process-wide compute settings for training and scoring: how many threads,
//! and how the allocator treats candle's short-lived tensors.
//!
//! candle's CPU kernels (gemm and the element-wise ops) split work over
//! rayon's global pool and size their splits from `RAYON_NUM_THREADS`. These
//! experts are small (hidden 64–128, batches of 8–32 rows): a second thread
//! bought at most 7% (`target/release/train_bench --contenders fused
//! --threads 1,2`, README "Training speed") while taking the other core from
//! everything else, so the default is one thread, not rayon's one per core.

/// The measured default (see the module comment).
pub const DEFAULT_THREADS: usize = 1;

/// Sets the compute thread count for the whole process (call it once, before
/// any training or scoring): `threads` or [`DEFAULT_THREADS`], and keeps
/// freed tensor memory in the process. Returns the thread count used.
pub fn configure(threads: Option<usize>) -> anyhow::Result<usize> {
    keep_freed_memory();
    let n = threads.unwrap_or(DEFAULT_THREADS);
    if n == 0 {
        anyhow::bail!("--threads must be at least 1");
    }
    // candle reads the variable for its gemm splits; rayon for its pool.
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    // Already built (a second call, or a library user's own pool): keep it.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
    Ok(n)
}

/// Every training step allocates and frees tensors of a few hundred KB.
/// glibc serves those from fresh `mmap`s and returns them on free, so each
/// step page-faults its memory in again (a quarter of a step's CPU time in
/// `perf`). Keeping freed memory in the heap makes the next step reuse it.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // Safety: mallopt only changes allocator thresholds; it is called before
    // the process starts its compute threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
