//! Dev tool for profiling (`perf record`): one band plays N bars through
//! the C ABI (starting over every 64, as the latency bench does, unless
//! NORESET is set: one long song) and prints µs per bar, notes per bar by
//! part and the minor page faults after the first bar. Figures to compare come from the
//! latency bench, which interleaves its contenders.
//!
//! ```sh
//! target/release/examples/bar_probe <onnx_dir> [_quantized] [bars]
//! ```

use std::path::Path;
use std::time::Instant;

use nomad_muse::ffi::*;

#[path = "../benches/support/band.rs"]
mod band;
use band::{note_buffer, open_band, thread_minor_faults};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(
        args.get(1)
            .ok_or("usage: bar_probe <onnx_dir> [suffix] [bars]")?,
    );
    let suffix = args.get(2).map_or("", String::as_str);
    let bars: usize = args
        .get(3)
        .map_or(Ok(2000), |v| v.parse())
        .map_err(|e| format!("bars: {e}"))?;
    let band = open_band(dir, suffix).ok_or("the three experts did not load")?;
    let mut events = note_buffer();
    let (mut count, mut per_channel) = (0usize, [0usize; 16]);
    let t0 = Instant::now();
    let mut faults = 0;
    for bar in 0..bars {
        let f0 = thread_minor_faults();
        // SAFETY: a live band; `events` has room for its length.
        unsafe {
            if bar % 64 == 0 && std::env::var_os("NORESET").is_none() {
                muse_band_reset(band);
            }
            muse_band_next_bar(band, events.as_mut_ptr(), events.len(), &mut count);
        }
        if bar > 0 {
            faults += thread_minor_faults() - f0;
        }
        for e in &events[..count] {
            per_channel[usize::from(e.channel & 15)] += 1;
        }
    }
    let per_bar = |c: usize| per_channel[c] as f64 / bars.max(1) as f64;
    println!(
        "{:.1} µs per bar; notes per bar: drums {:.1}, chords {:.1}, melody {:.1}; {faults} minor page faults after the first bar",
        t0.elapsed().as_secs_f64() * 1e6 / bars.max(1) as f64,
        per_bar(9),
        per_bar(1),
        per_bar(0)
    );
    // SAFETY: a live band, freed once.
    unsafe { muse_band_free(band) };
    Ok(())
}
