//! The MIDI reader and NSF converter never panic: 12,000 mutated, truncated
//! and spliced variants of valid files must each give `Ok` or `Err`.

use nomad_muse::midi::{write_smf, MidiNote, MidiSongSpec, MidiTrackSpec};
use nomad_muse::nsf::midi_to_nsf;

/// xorshift64*: a seeded byte stream for reproducible mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seed_files() -> Vec<Vec<u8>> {
    [(96u16, 3u8), (480, 4), (960, 6)]
        .iter()
        .map(|(ppq, num)| {
            let q = *ppq as u64;
            let notes = |ch: u8, base: u8| -> Vec<MidiNote> {
                (0..24)
                    .map(|i| MidiNote {
                        tick: i * q / 2,
                        duration: q,
                        pitch: base + (i % 7) as u8,
                        velocity: 90,
                        channel: ch,
                    })
                    .collect()
            };
            write_smf(&MidiSongSpec {
                ppq: *ppq,
                tempo_changes: vec![(0, 120.0), (4 * q, 90.0)],
                time_signatures: vec![(0, *num, 4)],
                tracks: vec![
                    MidiTrackSpec {
                        name: "Drums".into(),
                        channel: 9,
                        program: None,
                        notes: notes(9, 36),
                    },
                    MidiTrackSpec {
                        name: "Bass".into(),
                        channel: 1,
                        program: Some(33),
                        notes: notes(1, 36),
                    },
                    MidiTrackSpec {
                        name: "Lead".into(),
                        channel: 0,
                        program: Some(73),
                        notes: notes(0, 72),
                    },
                ],
            })
            .expect("seed file")
        })
        .chain(std::iter::once(type_0_running_status()))
        .collect()
}

/// A hand-made type-0 file mixing a drum and a piano channel, written with
/// running status, so mutations also exercise those reader paths.
fn type_0_running_status() -> Vec<u8> {
    let mut track = vec![0x00, 0xff, 0x51, 0x03, 0x07, 0xa1, 0x20]; // tempo 120
    track.extend_from_slice(&[0x00, 0xff, 0x58, 0x04, 0x03, 0x02, 24, 8]); // 3/4
    for i in 0..12u8 {
        track.extend_from_slice(&[0x00, 0x99, 36 + i % 3, 100]); // drum on
        track.extend_from_slice(&[0x00, 0x90, 60 + i % 5, 80]); // piano on
        track.extend_from_slice(&[0x30, 60 + i % 5, 0]); // running status: off
        track.extend_from_slice(&[0x00, 0x89, 36 + i % 3, 0]);
    }
    track.extend_from_slice(&[0x00, 0xff, 0x2f, 0x00]);
    let mut bytes = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk".to_vec();
    bytes.extend_from_slice(&(track.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&track);
    bytes
}

#[test]
fn reader_never_panics_on_mutated_files() {
    let seeds = seed_files();
    for s in &seeds {
        assert!(
            midi_to_nsf(s, "seed.mid").is_ok(),
            "seed files must convert"
        );
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut err) = (0usize, 0usize);
    for case in 0..12_000 {
        let mut bytes = seeds[case % seeds.len()].clone();
        match rng.below(5) {
            // Flip a few bytes.
            0 => {
                for _ in 0..1 + rng.below(8) {
                    let i = rng.below(bytes.len());
                    bytes[i] = rng.next() as u8;
                }
            }
            // Truncate.
            1 => bytes.truncate(rng.below(bytes.len())),
            // Insert random bytes.
            2 => {
                let i = rng.below(bytes.len());
                let extra: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect();
                bytes.splice(i..i, extra);
            }
            // Splice the tail of another seed in at a random point.
            3 => {
                let other = &seeds[rng.below(seeds.len())];
                let (i, j) = (rng.below(bytes.len()), rng.below(other.len()));
                bytes.truncate(i);
                bytes.extend_from_slice(&other[j..]);
            }
            // Overwrite a byte with an extreme value (lengths, deltas, statuses).
            _ => {
                let i = rng.below(bytes.len());
                bytes[i] = [0x00, 0x7f, 0x80, 0xff, 0xf0, 0xf7][rng.below(6)];
            }
        }
        let converted = std::panic::catch_unwind(|| midi_to_nsf(&bytes, "fuzz.mid").is_ok());
        match converted {
            Ok(true) => ok += 1,
            Ok(false) => err += 1,
            Err(_) => panic!(
                "case {case} panicked on {} bytes: {bytes:02x?}",
                bytes.len()
            ),
        }
    }
    println!("12000 mutated files: {ok} converted, {err} rejected with an error, 0 panics");
    // Both outcomes must occur, or the mutations are not reaching the parser.
    assert!(err > 0, "mutations must produce some rejected files");
    assert!(ok > 0, "some mutated files must still convert");
}
