//! The band on a deterministic toy model (logits a hash of the history):
//! the song context, primers, controls, re-roll and real-time behaviour.

use super::*;
use crate::runtime::realtime_alloc::thread_counters;
use crate::runtime::{MuseError, StepModel};
use crate::theory::{ChordLabel, ChordQuality, Key, Mode};
use crate::tokenizers::{ExpertKind, Vocabulary};

/// Logits drawn from a hash of every token fed so far, closing a bar less
/// likely than going on (so bars have notes).
pub(super) struct ToyModel {
    expert: ExpertKind,
    history: f32,
    logits: Vec<f32>,
    closes: Vec<bool>,
    /// Added to the logits of the tokens that close a bar.
    close_bias: f32,
    /// Spread of the hashed logits (0: every token alike but the closing ones).
    spread: f32,
}

impl ToyModel {
    pub(super) fn new(expert: ExpertKind) -> Self {
        let vocab = Vocabulary::for_expert(expert);
        let closes = vocab
            .tokens()
            .iter()
            .map(|t| {
                matches!(
                    t,
                    crate::tokenizers::Token::Bar(_) | crate::tokenizers::Token::Eos
                )
            })
            .collect();
        ToyModel {
            expert,
            history: 0.0,
            logits: vec![0.0; vocab.len()],
            closes,
            close_bias: -4.0,
            spread: 4.0,
        }
    }

    /// A model with no preference among the tokens that go on: what the
    /// band's own biases do shows undiluted.
    pub(super) fn flat(expert: ExpertKind) -> Self {
        ToyModel {
            spread: 0.0,
            ..Self::new(expert)
        }
    }

    /// A model that would rather close every bar at once (a silent intro).
    pub(super) fn silent(expert: ExpertKind) -> Self {
        ToyModel {
            close_bias: 20.0,
            ..Self::new(expert)
        }
    }
}

impl StepModel for ToyModel {
    fn expert(&self) -> ExpertKind {
        self.expert
    }
    fn reset(&mut self) {
        self.history = 0.0;
    }
    fn step(&mut self, token: u32, chord: u32, key: u32) -> Result<(), MuseError> {
        let h =
            (self.history as u64 * 31 + token as u64 * 7 + chord as u64 + key as u64) % 1_000_003;
        self.history = h as f32;
        for (i, l) in self.logits.iter_mut().enumerate() {
            let x = (h.wrapping_mul(2_654_435_761) ^ (i as u64).wrapping_mul(40_503)) % 1000;
            *l = x as f32 / 1000.0 * self.spread
                + if self.closes[i] { self.close_bias } else { 0.0 };
        }
        Ok(())
    }
    fn logits(&self) -> &[f32] {
        &self.logits
    }
    fn state_len(&self) -> usize {
        1
    }
    fn save_state(&self, out: &mut [f32]) {
        out[0] = self.history;
    }
    fn load_state(&mut self, state: &[f32]) {
        self.history = state[0];
    }
}

fn band(seed: u64) -> Band<ToyModel> {
    Band::new(
        Some(ToyModel::new(ExpertKind::Harmony)),
        Some(ToyModel::new(ExpertKind::Melody)),
        Some(ToyModel::new(ExpertKind::Drums)),
        seed,
        64,
    )
    .unwrap()
}

fn three_four() -> TimeSignature {
    TimeSignature::new(3, 4).unwrap()
}

/// C major, 3/4, "C G Am F" two bars each, looped.
fn follow_song(b: &mut Band<ToyModel>) {
    let metre = three_four();
    b.set_song(SongContext {
        key: Some(Key::new(0, Mode::Major)),
        time_signature: metre,
        bpm: 96.0,
        chords: ChordTrack::from_symbols("C G Am F", 2, true, metre).unwrap(),
    })
    .unwrap();
}

fn primer_notes() -> Vec<PrimerNote> {
    [
        (0, 64),
        (480, 67),
        (960, 72),
        (1440, 71),
        (1920, 67),
        (2400, 62),
    ]
    .iter()
    .map(|&(tick, pitch)| PrimerNote {
        tick,
        duration: 400,
        pitch,
        velocity: 90,
    })
    .collect()
}

fn generate(b: &mut Band<ToyModel>, bars: u32) -> Vec<Vec<BandNote>> {
    (0..bars).map(|_| b.next_bar().unwrap().collect()).collect()
}

fn on(notes: &[BandNote], channel: u8) -> Vec<BandNote> {
    notes
        .iter()
        .filter(|n| n.channel == channel)
        .copied()
        .collect()
}

#[test]
fn the_band_plays_the_hosts_chords_metre_and_primer() {
    let mut b = band(3);
    follow_song(&mut b);
    let primer = Primer::from_notes(Part::Melody, &primer_notes(), 2, three_four()).unwrap();
    b.set_primer(Part::Melody, primer).unwrap();
    let bars = generate(&mut b, 16);
    let progression = ["C", "G", "Am", "F"].map(|s| ChordLabel::from_symbol(s).unwrap());
    for (i, notes) in bars.iter().enumerate() {
        let start = i as u32 * 1440;
        assert!(
            notes
                .iter()
                .all(|n| n.tick >= start && n.tick < start + 1440),
            "bar {i}"
        );
        let chord = on(notes, CHORDS_CHANNEL);
        let mut want = voice_chord(progression[(i / 2) % 4]);
        want.sort();
        assert_eq!(
            chord.iter().map(|n| n.pitch).collect::<Vec<_>>(),
            want,
            "bar {i}"
        );
        assert!(chord.iter().all(|n| n.tick == start && n.duration == 1440));
    }
    let melody: Vec<(u32, u8)> = bars[..2]
        .iter()
        .flat_map(|b| on(b, MELODY_CHANNEL))
        .map(|n| (n.tick, n.pitch))
        .collect();
    let primed: Vec<(u32, u8)> = primer_notes().iter().map(|n| (n.tick, n.pitch)).collect();
    assert_eq!(melody, primed);
    // After the primer every note is in C major (chord tones on the
    // downbeats are a lean, tested below).
    let c_major = Key::new(0, Mode::Major);
    for (i, notes) in bars.iter().enumerate().skip(2) {
        for n in on(notes, MELODY_CHANNEL) {
            assert!(c_major.contains_pitch_class(n.pitch % 12), "bar {i}: {n:?}");
        }
    }
    let song = crate::midi::read_midi(&b.midi_bytes().unwrap()).unwrap();
    assert_eq!(
        song.time_signatures.first().map(|t| (t.1, t.2)),
        Some((3, 4))
    );
}

#[test]
fn rerolling_a_bar_keeps_the_others_and_changes_it() {
    let mut b = band(11);
    follow_song(&mut b);
    let before = generate(&mut b, 16);
    b.reroll(8, 99, Reroll::Bar).unwrap();
    assert_eq!(b.bars_generated(), 16);
    let after: Vec<Vec<BandNote>> = (0..16).map(|i| b.bar_notes(i).unwrap().collect()).collect();
    for i in (0..16).filter(|i| *i != 8) {
        assert_eq!(before[i], after[i], "bar {i}");
    }
    assert_ne!(
        on(&before[8], MELODY_CHANNEL),
        on(&after[8], MELODY_CHANNEL)
    );
    assert_eq!(
        on(&before[8], CHORDS_CHANNEL),
        on(&after[8], CHORDS_CHANNEL)
    );
    // The same re-roll again gives the same bar: snapshots restore exactly.
    b.reroll(8, 99, Reroll::Bar).unwrap();
    assert_eq!(b.bar_notes(8).unwrap().collect::<Vec<_>>(), after[8]);
    // From bar 12 on, with the drums locked: bars 12.. regenerate, drums kept.
    let locked = PartControls {
        lock: true,
        ..b.controls(Part::Drums)
    };
    b.set_controls(Part::Drums, locked).unwrap();
    b.reroll(12, 5, Reroll::FromBar).unwrap();
    assert_eq!(b.bars_generated(), 12);
    let again = generate(&mut b, 4);
    for (k, notes) in again.iter().enumerate() {
        assert_eq!(on(notes, DRUMS_CHANNEL), on(&after[12 + k], DRUMS_CHANNEL));
    }
    assert!(b.reroll(16, 1, Reroll::Bar).is_err());
}

#[test]
fn same_seed_same_song_and_no_allocation_after_the_first_bar() {
    let run = |seed| {
        let mut b = band(seed);
        follow_song(&mut b);
        generate(&mut b, 8)
    };
    assert_eq!(run(4), run(4));
    assert_ne!(run(4), run(5));
    let mut b = band(4);
    follow_song(&mut b);
    b.next_bar().unwrap();
    let (system_before, _) = thread_counters();
    for _ in 0..12 {
        b.next_bar().unwrap();
    }
    b.reroll(6, 8, Reroll::Bar).unwrap();
    let (system_after, _) = thread_counters();
    assert_eq!(
        system_after - system_before,
        0,
        "allocations after the first bar"
    );
}

#[test]
fn controls_act_on_the_next_bars() {
    let mut b = band(21);
    let quiet = PartControls {
        mute: true,
        ..Default::default()
    };
    b.set_controls(Part::Melody, quiet).unwrap();
    let range = PartControls {
        fill_amount: 0.0,
        intensity: 1.0,
        swing: 1.0,
        ..Default::default()
    };
    b.set_controls(Part::Drums, range).unwrap();
    let bars = generate(&mut b, 8);
    assert!(bars.iter().all(|n| on(n, MELODY_CHANNEL).is_empty()));
    let drums = b.part_tokens(Part::Drums);
    let vocab = Vocabulary::for_expert(ExpertKind::Drums);
    let fill = vocab.id(crate::tokenizers::Token::FillStart).unwrap();
    assert!(!drums.contains(&fill));
    // Swung 8ths: no drum hit lands on a straight off-beat 8th (tick 240).
    assert!(bars
        .iter()
        .flat_map(|n| on(n, DRUMS_CHANNEL))
        .all(|n| n.tick % 480 != 240));
    let mut b = band(21);
    let narrow = PartControls {
        lowest_pitch: 60,
        highest_pitch: 72,
        ..Default::default()
    };
    b.set_controls(Part::Melody, narrow).unwrap();
    let melody: Vec<BandNote> = generate(&mut b, 8)
        .iter()
        .flat_map(|n| on(n, MELODY_CHANNEL))
        .collect();
    assert!(!melody.is_empty());
    assert!(melody.iter().all(|n| (60..=72).contains(&n.pitch)));
    let bad = PartControls {
        lowest_pitch: 60,
        highest_pitch: 65,
        ..Default::default()
    };
    assert!(b.set_controls(Part::Melody, bad).is_err());
    assert_eq!(b.controls(Part::Melody), narrow);
}

#[test]
fn gaps_are_filled_in_the_key_and_bad_input_changes_nothing() {
    let mut b = band(8);
    let metre = TimeSignature::new(6, 8).unwrap();
    let am = ChordLabel::new(9, ChordQuality::Min);
    let changes = vec![
        ChordChange {
            bar: 0,
            beat: 0,
            chord: Some(am),
        },
        ChordChange {
            bar: 1,
            beat: 0,
            chord: None,
        },
    ];
    let song = SongContext {
        key: Some(Key::new(9, Mode::Minor)),
        time_signature: metre,
        bpm: 120.0,
        chords: ChordTrack::new(changes, 2, true, metre).unwrap(),
    };
    b.set_song(song.clone()).unwrap();
    let bars = generate(&mut b, 6);
    let a_minor = Key::new(9, Mode::Minor);
    for (i, notes) in bars.iter().enumerate() {
        assert!(notes.iter().all(|n| n.tick / 1440 == i as u32));
        let pcs: Vec<u8> = on(notes, CHORDS_CHANNEL)
            .iter()
            .map(|n| n.pitch % 12)
            .collect();
        assert!(!pcs.is_empty());
        assert!(
            pcs.iter()
                .all(|pc| a_minor.contains_pitch_class(*pc) || *pc == 8),
            "bar {i}: {pcs:?}"
        );
    }
    // After the first bar the metre is fixed; a failed call changes nothing.
    let four = SongContext {
        time_signature: TimeSignature::FOUR_FOUR,
        ..song.clone()
    };
    assert!(b.set_song(four).is_err());
    assert_eq!(b.song(), &song);
    assert!(Primer::from_midi(Part::Melody, b"MThd\x00\x00\x00\x06\x00\x01", metre).is_err());
    let off = PrimerNote {
        tick: 1440 * 3,
        duration: 100,
        pitch: 60,
        velocity: 80,
    };
    assert!(Primer::from_notes(Part::Melody, &[off], 2, metre).is_err());
    assert!(matches!(
        Band::new(Some(ToyModel::new(ExpertKind::Drums)), None, None, 1, 8),
        Err(MuseError::WrongExpert { .. })
    ));
}

#[test]
fn a_primer_from_midi_continues_in_the_songs_metre() {
    use crate::midi::{write_smf, MidiNote, MidiSongSpec, MidiTrackSpec};
    let notes: Vec<MidiNote> = primer_notes()
        .iter()
        .map(|n| MidiNote {
            tick: n.tick as u64,
            duration: n.duration as u64,
            pitch: n.pitch,
            velocity: n.velocity,
            channel: 0,
        })
        .collect();
    let spec = |num| MidiSongSpec {
        ppq: 480,
        tempo_changes: vec![(0, 100.0)],
        time_signatures: vec![(0, num, 4)],
        tracks: vec![MidiTrackSpec {
            name: "lead".into(),
            channel: 0,
            program: Some(73),
            notes: notes.clone(),
        }],
    };
    let bytes = write_smf(&spec(3)).unwrap();
    let primer = Primer::from_midi(Part::Melody, &bytes, three_four()).unwrap();
    assert_eq!(primer.bars.len(), 2);
    let wrong = write_smf(&spec(4)).unwrap();
    assert!(Primer::from_midi(Part::Melody, &wrong, three_four()).is_err());
    let mut b = band(2);
    follow_song(&mut b);
    b.set_primer(Part::Melody, primer).unwrap();
    let first: Vec<BandNote> = b.next_bar().unwrap().collect();
    let pitches: Vec<u8> = on(&first, MELODY_CHANNEL).iter().map(|n| n.pitch).collect();
    assert_eq!(pitches, vec![64, 67, 72]);
}

/// A band of a toy harmony and `melody` (no drums) on `follow_song`, the
/// melody following it or not.
fn harmony_and_melody(melody: ToyModel, seed: u64, bars: usize, follow: bool) -> Band<ToyModel> {
    let mut b = Band::new(
        Some(ToyModel::new(ExpertKind::Harmony)),
        Some(melody),
        None,
        seed,
        bars,
    )
    .unwrap();
    follow_song(&mut b);
    let controls = PartControls {
        follow_harmony: follow,
        ..b.controls(Part::Melody)
    };
    b.set_controls(Part::Melody, controls).unwrap();
    b
}

#[test]
fn a_melody_following_the_song_enters_in_its_first_bar() {
    let melody_notes = |follow: bool| {
        let mut b = harmony_and_melody(ToyModel::silent(ExpertKind::Melody), 5, 8, follow);
        generate(&mut b, 2)
            .iter()
            .map(|bar| on(bar, Part::Melody.channel()).len())
            .collect::<Vec<_>>()
    };
    let following = melody_notes(true);
    assert!(following[0] >= 1, "{following:?}");
    // The silent model left alone stays silent: the rule is what enters.
    assert_eq!(melody_notes(false)[0], 0);
}

/// Share of melody notes on a downbeat (3/4: the strong beat) that are
/// tones of "C G Am F" (two bars each), over 48 bars from each of 4 seeds.
fn downbeat_chord_tone_share(follow: bool) -> f64 {
    let progression = ["C", "G", "Am", "F"].map(|s| ChordLabel::from_symbol(s).unwrap());
    let (mut tones, mut all) = (0, 0);
    for seed in 1..=4 {
        let mut b = harmony_and_melody(ToyModel::flat(ExpertKind::Melody), seed, 64, follow);
        for (i, notes) in generate(&mut b, 48).iter().enumerate() {
            for n in on(notes, MELODY_CHANNEL)
                .iter()
                .filter(|n| n.tick % 1440 == 0)
            {
                all += 1;
                tones += progression[(i / 2) % 4].contains_pitch_class(n.pitch % 12) as u32;
            }
        }
    }
    assert!(all >= 30, "{all} downbeat notes");
    tones as f64 / all as f64
}

#[test]
fn a_melody_following_the_song_leans_to_chord_tones_on_strong_beats() {
    let (following, free) = (
        downbeat_chord_tone_share(true),
        downbeat_chord_tone_share(false),
    );
    // A bias, not a mask (real pop: 0.71 of strong-beat notes are chord tones).
    assert!(following >= 0.7, "following {following}, free {free}");
    assert!(
        following >= free + 0.2,
        "following {following}, free {free}"
    );
}
