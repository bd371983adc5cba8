//! Dev tool: µs per model step alone (no grammar, no sampling) of each
//! ONNX file given, fp32 and int8 side by side: rounds of 2,000 steps
//! interleaved across the files (A, B, A, B …), median per file.
//!
//! ```sh
//! target/release/examples/step_probe melody.onnx melody_quantized.onnx
//! ```

use std::path::Path;
use std::time::Instant;

use nomad_muse::runtime::{ExpertSession, MuseError, StepModel};

const ROUNDS: usize = 15;
const STEPS: usize = 2000;

fn main() -> Result<(), MuseError> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let mut sessions = files
        .iter()
        .map(|f| ExpertSession::load(Path::new(f)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut times = vec![Vec::with_capacity(ROUNDS); files.len()];
    for _ in 0..ROUNDS {
        for (session, t) in sessions.iter_mut().zip(&mut times) {
            let start = Instant::now();
            for i in 0..STEPS {
                // Any in-vocabulary ids: the step's cost does not depend on them.
                session.step((i % 50) as u32 + 4, 1, 1)?;
            }
            t.push(start.elapsed().as_secs_f64() * 1e6 / STEPS as f64);
        }
    }
    for ((file, session), t) in files.iter().zip(&sessions).zip(&mut times) {
        t.sort_by(f64::total_cmp);
        println!(
            "{file}: {}, {:.2} µs per step (median), parity with tract {:e}",
            session.engine_name(),
            t[ROUNDS / 2],
            session.parity_difference().unwrap_or(f32::NAN)
        );
    }
    Ok(())
}
