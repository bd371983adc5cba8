//! Dev tool: per POP909 development song, the evidence the key detector can
//! weigh (pitch profiles of all notes, bass and melody; chord time by root
//! and quality; first/last bass; the melody's phrase-final notes) beside the
//! labelled key, one JSON object per line, for choosing the key rule.
//!
//! ```sh
//! target/release/examples/key_features ~/POP909 > /tmp/key_features.jsonl
//! ```
//! Songs 810–909 are held out and refused.

#[path = "../tests/common/ears.rs"]
mod ears;

use std::path::PathBuf;

use nomad_muse::nsf::key::{final_bass, first_bass, KeyDetector};
use nomad_muse::nsf::{midi_to_nsf_with, ConvertOptions, NoteEvent, TrackType};
use serde_json::json;

/// Pitch classes of notes that end a phrase (a rest of at least a beat
/// follows, or the line ends), weighted by duration.
fn phrase_ends(notes: &[NoteEvent]) -> [f64; 12] {
    let mut out = [0.0; 12];
    for (i, n) in notes.iter().enumerate() {
        let end = n.onset_step + n.duration_steps;
        let rest_after = notes
            .get(i + 1)
            .is_none_or(|next| next.onset_step >= end + 4);
        if rest_after {
            out[(n.pitch % 12) as usize] += n.duration_steps as f64;
        }
    }
    out
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: key_features POP909_DIR"),
    );
    let detector = KeyDetector::new();
    for id in 1..=809u32 {
        let Ok(piece) = ears::load_pop909_song(&dir.join(format!("{id:03}"))) else {
            continue;
        };
        let Some(label) = piece.key else { continue };
        let Ok(nsf) = midi_to_nsf_with(&piece.midi, &piece.name, &ConvertOptions::default()) else {
            continue;
        };
        let pitched: Vec<&nomad_muse::nsf::NsfTrack> =
            nsf.tracks.iter().filter(|t| !t.is_drum).collect();
        let all: Vec<NoteEvent> = pitched
            .iter()
            .flat_map(|t| t.events.iter().cloned())
            .collect();
        let bass: Vec<NoteEvent> = all.iter().filter(|n| n.pitch < 55).cloned().collect();
        let melody: Vec<NoteEvent> = pitched
            .iter()
            .filter(|t| t.classification.kind == TrackType::Melody)
            .flat_map(|t| t.events.iter().cloned())
            .collect();
        let chords: Vec<_> = nsf
            .chords
            .iter()
            .filter(|c| !c.chord.label().is_none())
            .map(|c| {
                let l = c.chord.label();
                json!([l.root, c.chord.quality, c.duration_steps, c.step_start])
            })
            .collect();
        let line = json!({
            "id": id,
            "label": [label.tonic, label.mode == nomad_muse::theory::Mode::Minor],
            "ours": [nsf.key.key().tonic, nsf.key.key().mode == nomad_muse::theory::Mode::Minor],
            "profile": detector.profile(&all),
            "bass": detector.profile(&bass),
            "melody": detector.profile(&melody),
            "melody_ends": phrase_ends(&melody),
            "melody_last": melody.last().map(|n| n.pitch % 12),
            "final_bass": final_bass(&all),
            "first_bass": first_bass(&all),
            "chords": chords,
        });
        println!("{line}");
    }
}
