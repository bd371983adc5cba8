//! How the MIDI → NSF analysis scales with the number of notes: synthetic
//! files of 10^4 to 10^6 notes (and, with `--big`, one of about 8.7 million
//! notes, ~50 MB, the size a user's folder once held), each converted once,
//! printing seconds, notes per second and the process's peak RSS.
//!
//! `cargo bench -p nomad-muse-sys --bench analysis_scale [-- --big]`

use std::time::Instant;

use nomad_muse::midi::{write_smf, MidiNote, MidiSongSpec, MidiTrackSpec};
use nomad_muse::nsf::midi_to_nsf;

/// A piano-like part: chords and a running line, `notes` notes over as many
/// bars as fit below the converter's bar limit.
fn song(notes: usize) -> Vec<u8> {
    let ppq = 480u64;
    let bars = 4000u64;
    let per_bar = (notes as u64).div_ceil(bars).max(1);
    let step = (4 * ppq / per_bar).max(1);
    let tracks = (0..4u8)
        .map(|t| MidiTrackSpec {
            name: format!("part {t}"),
            channel: t,
            program: Some(0),
            notes: (0..notes / 4)
                .map(|i| {
                    let i = i as u64;
                    MidiNote {
                        tick: i * step,
                        duration: step * 2,
                        pitch: 40 + t * 7 + [0u8, 4, 7, 9, 12][(i % 5) as usize],
                        velocity: 80,
                        channel: t,
                    }
                })
                .collect(),
        })
        .collect();
    write_smf(&MidiSongSpec {
        ppq: ppq as u16,
        tempo_changes: vec![(0, 120.0)],
        time_signatures: vec![(0, 4, 4)],
        tracks,
    })
    .expect("bench song serialises")
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let big = std::env::args().any(|a| a == "--big");
    let mut sizes = vec![10_000usize, 100_000, 1_000_000];
    if big {
        sizes.push(8_700_000);
    }
    println!("| notes | file MB | seconds | notes/s | peak RSS MB |");
    println!("|---:|---:|---:|---:|---:|");
    for n in sizes {
        let bytes = song(n);
        let start = Instant::now();
        let nsf = midi_to_nsf(&bytes, "bench.mid").expect("bench song converts");
        let secs = start.elapsed().as_secs_f64();
        assert!(!nsf.chords.is_empty());
        println!(
            "| {n} | {:.1} | {secs:.2} | {:.0} | {:.0} |",
            bytes.len() as f64 / 1e6,
            n as f64 / secs,
            peak_rss_mb()
        );
    }
}
