//! Track classification from channel, GM program, register, polyphony, note
//! density and name, each piece of evidence recorded as a human-readable
//! reason.

use super::{Classification, NsfTrack, TrackType};
use crate::midi::MidiTrackData;

/// Scores a logical MIDI track as drums, bass, melody, harmony or other.
#[derive(Debug, Clone)]
pub struct TrackClassifier {
    /// Resolution of the file the tracks come from (for notes per bar).
    ppq: u16,
}

impl Default for TrackClassifier {
    fn default() -> Self {
        TrackClassifier { ppq: 480 }
    }
}

/// Per-class evidence scores.
#[derive(Default)]
struct Scores {
    bass: f32,
    melody: f32,
    harmony: f32,
    other: f32,
    reasons: Vec<String>,
}

/// GM percussion channel (channel 10, index 9).
const DRUM_CHANNEL: u8 = 9;
/// Register below which a line reads as bass (G3).
const BASS_MEDIAN_BELOW: u8 = 55;
/// GM drum-map range; a "drums" name only counts when every note lies in it.
const GM_DRUM_KEYS: std::ops::RangeInclusive<u8> = 27..=87;

/// Mean number of notes sounding at each note onset (the note included).
pub fn mean_polyphony(track: &MidiTrackData) -> f32 {
    mean_polyphony_trimmed(track, 0)
}

/// [`mean_polyphony`] with legato overlaps trimmed: a note that ends within
/// `tolerance` ticks after an onset does not count as sounding there (sung
/// lines overlap their neighbours by a few hundredths of a beat).
pub fn mean_polyphony_trimmed(track: &MidiTrackData, tolerance: u64) -> f32 {
    if track.notes.is_empty() {
        return 0.0;
    }
    let mut starts: Vec<u64> = track.notes.iter().map(|n| n.start_tick).collect();
    let mut ends: Vec<u64> = track.notes.iter().map(|n| n.end_tick).collect();
    starts.sort_unstable();
    ends.sort_unstable();
    // Sounding at t = started at or before t minus ended at or before t.
    let total: usize = starts
        .iter()
        .map(|t| {
            let started = starts.partition_point(|s| s <= t);
            started.saturating_sub(ends.partition_point(|e| *e <= t + tolerance))
        })
        .sum();
    total as f32 / track.notes.len() as f32
}

fn median_pitch(track: &MidiTrackData) -> u8 {
    let mut p: Vec<u8> = track.notes.iter().map(|n| n.pitch).collect();
    p.sort_unstable();
    p.get(p.len() / 2).copied().unwrap_or(60)
}

/// Notes per 4/4 bar over the span the track plays.
fn notes_per_bar(track: &MidiTrackData, ppq: u16) -> f32 {
    let first = track.notes.iter().map(|n| n.start_tick).min().unwrap_or(0);
    let last = track.notes.iter().map(|n| n.end_tick).max().unwrap_or(0);
    let bar_ticks = 4 * ppq.max(1) as u64;
    let bars = (last.saturating_sub(first)).div_ceil(bar_ticks).max(1);
    track.notes.len() as f32 / bars as f32
}

impl TrackClassifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `ppq` to measure note density in bars.
    pub fn with_ppq(mut self, ppq: u16) -> Self {
        self.ppq = ppq.max(1);
        self
    }

    pub fn classify(&self, track: &MidiTrackData) -> Classification {
        let name = track.name.to_lowercase();
        if track.channel == DRUM_CHANNEL {
            return Classification {
                kind: TrackType::Drums,
                confidence: 0.95,
                reasons: vec!["GM percussion channel".into()],
            };
        }
        let named_drums = ["drum", "perc", "kit"].iter().find(|h| name.contains(*h));
        if let Some(hint) = named_drums {
            if !track.notes.is_empty()
                && track.notes.iter().all(|n| GM_DRUM_KEYS.contains(&n.pitch))
            {
                return Classification {
                    kind: TrackType::Drums,
                    confidence: 0.6,
                    reasons: vec![
                        format!("name contains \"{hint}\""),
                        "all notes in the GM drum-map range".into(),
                    ],
                };
            }
        }
        let mut s = Scores::default();
        self.score_program(track, &mut s);
        self.score_notes(track, &mut s);
        for (hint, kind) in [
            ("bass", TrackType::Bass),
            ("melody", TrackType::Melody),
            ("lead", TrackType::Melody),
            ("vocal", TrackType::Melody),
            ("voice", TrackType::Melody),
            ("chord", TrackType::Harmony),
            ("pad", TrackType::Harmony),
            ("keys", TrackType::Harmony),
            ("piano", TrackType::Harmony),
            ("comp", TrackType::Harmony),
        ] {
            if name.contains(hint) {
                match kind {
                    TrackType::Bass => s.bass += 1.5,
                    TrackType::Melody => s.melody += 1.5,
                    _ => s.harmony += 1.5,
                }
                s.reasons.push(format!("name contains \"{hint}\""));
            }
        }
        let ranked = [
            (TrackType::Bass, s.bass),
            (TrackType::Melody, s.melody),
            (TrackType::Harmony, s.harmony),
            (TrackType::Other, s.other),
        ];
        let (kind, best) = ranked
            .iter()
            .copied()
            .fold(
                (TrackType::Other, f32::MIN),
                |a, b| if b.1 > a.1 { b } else { a },
            );
        // Softmax share of the winning class.
        let denom: f32 = ranked.iter().map(|(_, v)| (v - best).exp()).sum();
        Classification {
            kind,
            confidence: (1.0 / denom).clamp(0.0, 1.0),
            reasons: s.reasons,
        }
    }

    fn score_program(&self, track: &MidiTrackData, s: &mut Scores) {
        let Some(p) = track.program else { return };
        let family = match p {
            32..=39 => {
                s.bass += 2.0;
                "bass"
            }
            0..=7 | 16..=31 | 48..=55 | 88..=95 => {
                s.harmony += 0.5;
                s.melody += 0.3;
                "keys/organ/guitar/strings/pad"
            }
            56..=87 => {
                s.melody += 1.0;
                "lead instrument"
            }
            112..=127 => {
                s.other += 1.5;
                "percussive/effects"
            }
            _ => return,
        };
        s.reasons.push(format!("GM program {p} ({family})"));
    }

    fn score_notes(&self, track: &MidiTrackData, s: &mut Scores) {
        let median = median_pitch(track);
        if median < BASS_MEDIAN_BELOW {
            s.bass += 1.5;
            s.reasons
                .push(format!("median pitch {median} below {BASS_MEDIAN_BELOW}"));
        } else {
            s.melody += 0.5;
            s.harmony += 0.5;
            s.reasons.push(format!("median pitch {median}"));
        }
        let poly = mean_polyphony_trimmed(track, self.ppq as u64 / 8);
        if poly >= 2.0 {
            s.harmony += 2.0;
            s.bass -= 1.0;
            s.melody -= 1.0;
        } else if poly <= 1.2 {
            s.melody += 1.0;
            s.bass += 0.5;
            s.harmony -= 1.0;
        }
        s.reasons.push(format!("polyphony {poly:.1}"));
        let density = notes_per_bar(track, self.ppq);
        if density < 0.5 {
            // A note every other bar or less: a sound effect or a stray hit.
            s.other += 1.5;
            s.reasons
                .push(format!("sparse: {density:.2} notes per bar"));
        } else if density >= 4.0 && poly <= 1.2 {
            // Busy single lines are tunes or bass lines, rarely comping.
            s.melody += 0.5;
            s.bass += 0.25;
            s.reasons
                .push(format!("density {density:.1} notes per bar"));
        } else {
            s.reasons
                .push(format!("density {density:.1} notes per bar"));
        }
        if track.notes.len() < 4 {
            s.other += 2.0;
            s.reasons.push(format!("only {} notes", track.notes.len()));
        }
    }
}

/// Trimmed polyphony from which a part plays chords.
pub const CHORDAL_POLYPHONY: f32 = 1.5;
/// Trimmed polyphony up to which a track is one line (a voice, a tune).
const LINE_POLYPHONY: f32 = 1.3;
/// A line needs this many notes to take a role.
const LINE_MIN_NOTES: usize = 8;
/// Names that say "this is the tune": a lead, or the top voice of a vocal
/// score, which carries it by convention (Soprano; Cantus, Canto, Superius
/// and Discantus in Renaissance part books, where a Quinto or Sesto may
/// sing as high).
const MELODY_NAMES: [&str; 10] = [
    "melody", "lead", "vocal", "voice", "vox", "soprano", "cantus", "canto", "superius", "discant",
];

/// A single-line track that may carry the melody.
struct Line {
    index: usize,
    mean_pitch: f32,
    /// Bars (of four quarters) in which it plays.
    activity: f32,
    /// Notes per bar played.
    density: f32,
    /// Trimmed polyphony: a sung line is strictly one note at a time, a
    /// counter-line on a keyboard now and then doubles a note.
    polyphony: f32,
    /// Singability: the share of repeated notes (syllables on one pitch) and
    /// the mean interval in semitones between successive notes.
    repeats: f32,
    mean_leap: f32,
    /// Semitones between the 5th and 95th percentile pitch: a sung line
    /// keeps to a voice's range, an instrumental counter-line roams wider.
    range: f32,
    named: bool,
}

impl Line {
    fn measure(index: usize, track: &MidiTrackData, polyphony: f32, ppq: u16) -> Line {
        let notes = track.notes.len().max(1) as f32;
        let activity = bars_played(track, ppq);
        let (repeats, mean_leap) = singability(track);
        Line {
            index,
            mean_pitch: track.notes.iter().map(|n| n.pitch as f32).sum::<f32>() / notes,
            activity,
            density: notes / activity.max(1.0),
            polyphony,
            repeats,
            mean_leap,
            range: pitch_range(track),
            named: named_melody(track),
        }
    }
}

/// Whether the track's name says it carries the tune.
fn named_melody(track: &MidiTrackData) -> bool {
    let name = track.name.to_lowercase();
    MELODY_NAMES.iter().any(|h| name.contains(h))
}

/// Semitones from the 5th to the 95th percentile pitch of a track.
fn pitch_range(track: &MidiTrackData) -> f32 {
    let mut pitches: Vec<u8> = track.notes.iter().map(|n| n.pitch).collect();
    if pitches.is_empty() {
        return 0.0;
    }
    pitches.sort_unstable();
    let at = |q: f32| pitches[((pitches.len() - 1) as f32 * q).round() as usize] as f32;
    at(0.95) - at(0.05)
}

/// Repeated-note share and mean interval of a line's successive notes.
fn singability(track: &MidiTrackData) -> (f32, f32) {
    let pitches: Vec<i32> = track.notes.iter().map(|n| n.pitch as i32).collect();
    let steps: Vec<i32> = pitches.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    if steps.is_empty() {
        return (0.0, 0.0);
    }
    let repeats = steps.iter().filter(|s| **s == 0).count() as f32 / steps.len() as f32;
    let mean = steps.iter().sum::<i32>() as f32 / steps.len() as f32;
    (repeats, mean)
}

/// Song-level roles: the classifier scores each track alone, so in a
/// multi-voice texture (SATB chorale, a pop arrangement) every line looks
/// like a melody. One track becomes the melody (a track named for it, else
/// the top and most active line), the lowest of several lines in the bass
/// register the bass, and the other lines harmony (inner voices), each with
/// the reason recorded.
///
/// `polyphony[i]` is track `i`'s [`mean_polyphony_trimmed`] at an eighth of
/// a beat's tolerance (measured once by the caller).
pub fn assign_part_roles(
    raw: &[MidiTrackData],
    tracks: &mut [NsfTrack],
    polyphony: &[f32],
    ppq: u16,
) {
    let lines: Vec<Line> = raw
        .iter()
        .zip(tracks.iter())
        .zip(polyphony)
        .enumerate()
        .filter(|(_, ((r, t), poly))| {
            !t.is_drum
                && !matches!(t.classification.kind, TrackType::Drums | TrackType::Other)
                && r.notes.len() >= LINE_MIN_NOTES
                && (**poly <= LINE_POLYPHONY || (named_melody(r) && **poly < 2.0))
        })
        .map(|(index, ((r, _), poly))| Line::measure(index, r, *poly, ppq))
        .collect();
    // Over a chordal part the tune is the most singable line; in a texture
    // of voices alone (a chorale) it is the top voice.
    let accompanied = tracks
        .iter()
        .zip(polyphony)
        .any(|(t, poly)| !t.is_drum && *poly >= CHORDAL_POLYPHONY);
    let Some(melody) = pick_melody(&lines, accompanied) else {
        return;
    };
    let lowest = lines
        .iter()
        .min_by(|a, b| a.mean_pitch.total_cmp(&b.mean_pitch))
        .map(|l| l.index);
    let voices = lines.len();
    for line in &lines {
        let c = &mut tracks[line.index].classification;
        if line.index == melody.index {
            c.kind = TrackType::Melody;
            c.confidence = c.confidence.max(0.9);
            c.reasons.push(if line.named {
                "named as the melody".to_string()
            } else {
                format!(
                    "top line of {voices} (mean pitch {:.0}, plays in {:.0} bars)",
                    line.mean_pitch, line.activity
                )
            });
        } else if Some(line.index) == lowest && voices >= 3 && line.mean_pitch < 60.0 {
            c.kind = TrackType::Bass;
            c.reasons.push(format!("lowest line of {voices}"));
        } else if c.kind == TrackType::Melody {
            c.kind = TrackType::Harmony;
            c.reasons.push(format!(
                "inner line (mean pitch {:.0}, plays in {:.0} bars) below the melody",
                line.mean_pitch, line.activity
            ));
        }
    }
}

/// Distinct four-quarter spans in which the track starts a note.
fn bars_played(track: &MidiTrackData, ppq: u16) -> f32 {
    let bar = 4 * ppq.max(1) as u64;
    let mut bars: Vec<u64> = track.notes.iter().map(|n| n.start_tick / bar).collect();
    bars.dedup();
    bars.len() as f32
}

/// Over an accompaniment the sung line is often not the highest (a keyboard
/// counter-line plays above it) but keeps to a voice's range: per semitone
/// of mean pitch and of [`pitch_range`]. POP909 001–809 with track names
/// removed (`ears`), melody found: 1 and 0 (before) 0.962; 0.5 and 1.5
/// 0.984; 0.5 and 2 0.986; 0 and 2 0.990 (kept some register preference,
/// so an inner line does not win in other arrangements).
const ACCOMPANIED_PITCH_WEIGHT: f32 = 0.5;
const ACCOMPANIED_RANGE_WEIGHT: f32 = 2.0;

/// The melody among the lines: a line named for it, else the line scoring
/// best on register and activity (playing in twice as many bars weighs as
/// much as two octaves) and, over an accompaniment, singability (repeated
/// notes, small steps): so a soprano beats the alto, and a sung pop line
/// beats the keyboard counter-line that plays above it (measured on POP909
/// 001–809 with `ears`).
fn pick_melody(lines: &[Line], accompanied: bool) -> Option<&Line> {
    if let Some(named) = lines
        .iter()
        .filter(|l| l.named)
        .max_by(|a, b| a.mean_pitch.total_cmp(&b.mean_pitch))
    {
        return Some(named);
    }
    let most = lines.iter().map(|l| l.activity).fold(0.0, f32::max);
    let busiest = lines.iter().map(|l| l.density).fold(0.0, f32::max);
    let share = |x: f32, of: f32| (x / of.max(1e-3)).max(1e-3).log2();
    let register = if accompanied {
        ACCOMPANIED_PITCH_WEIGHT
    } else {
        1.0
    };
    let score = |l: &Line| {
        register * l.mean_pitch + 24.0 * share(l.activity, most) + 6.0 * share(l.density, busiest)
            - 80.0 * (l.polyphony - 1.0).max(0.0)
            + if accompanied {
                40.0 * l.repeats - 4.0 * l.mean_leap - ACCOMPANIED_RANGE_WEIGHT * l.range
            } else {
                0.0
            }
    };
    lines
        .iter()
        .filter(|l| l.mean_pitch >= 52.0)
        .max_by(|a, b| score(a).total_cmp(&score(b)).then(b.index.cmp(&a.index)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::RawNote;

    fn track(
        name: &str,
        channel: u8,
        program: Option<u8>,
        notes: &[(u64, u64, u8)],
    ) -> MidiTrackData {
        MidiTrackData {
            name: name.into(),
            channel,
            program,
            notes: notes
                .iter()
                .map(|(s, e, p)| RawNote {
                    channel,
                    pitch: *p,
                    velocity: 90,
                    start_tick: *s,
                    end_tick: *e,
                })
                .collect(),
        }
    }

    /// 16 eighth-ish notes a quarter apart (480 ppq) walking up from `base`.
    fn line(base: u8) -> Vec<(u64, u64, u8)> {
        (0..16)
            .map(|i| (i * 480, i * 480 + 400, base + (i % 5) as u8))
            .collect()
    }

    /// One held triad per bar for 8 bars.
    fn block_chords() -> Vec<(u64, u64, u8)> {
        (0..8)
            .flat_map(|i| [60u8, 64, 67].map(|p| (i * 1920, i * 1920 + 1900, p)))
            .collect()
    }

    fn classify(t: &MidiTrackData) -> Classification {
        TrackClassifier::new().with_ppq(480).classify(t)
    }

    #[test]
    fn channel_ten_is_drums() {
        let drums = classify(&track("x", 9, None, &[(0, 10, 36)]));
        assert_eq!(drums.kind, TrackType::Drums);
        assert_eq!(drums.reasons, vec!["GM percussion channel"]);
    }

    #[test]
    fn a_named_kit_on_another_channel_is_drums_only_in_the_drum_range() {
        let kit = classify(&track("Drum Kit", 3, None, &line(36)));
        assert_eq!(kit.kind, TrackType::Drums);
        let not_kit = classify(&track("Drum Kit", 3, None, &line(90)));
        assert_ne!(not_kit.kind, TrackType::Drums);
    }

    #[test]
    fn low_line_with_bass_program_is_bass() {
        let bass = classify(&track("Track 2", 1, Some(33), &line(36)));
        assert_eq!(bass.kind, TrackType::Bass);
        assert!(
            bass.reasons.iter().any(|r| r == "median pitch 38 below 55"),
            "{:?}",
            bass.reasons
        );
        assert!(bass.reasons.iter().any(|r| r == "GM program 33 (bass)"));
        // Without a program, register and the name still decide.
        let named = classify(&track("Synth Bass", 0, None, &line(40)));
        assert_eq!(named.kind, TrackType::Bass);
    }

    #[test]
    fn high_single_line_is_melody() {
        let melody = classify(&track("Track 3", 0, Some(73), &line(72)));
        assert_eq!(melody.kind, TrackType::Melody);
        assert!(
            melody.reasons.iter().any(|r| r == "polyphony 1.0"),
            "{:?}",
            melody.reasons
        );
        assert!(melody.confidence > 0.5);
    }

    #[test]
    fn block_chords_are_harmony() {
        let harmony = classify(&track("Track 4", 2, Some(0), &block_chords()));
        assert_eq!(harmony.kind, TrackType::Harmony);
        assert!(
            harmony.reasons.iter().any(|r| r == "polyphony 3.0"),
            "{:?}",
            harmony.reasons
        );
        assert!(harmony.confidence > 0.5 && harmony.confidence <= 1.0);
    }

    #[test]
    fn a_few_effect_notes_are_other() {
        let fx = classify(&track(
            "Track 5",
            4,
            Some(122),
            &[(0, 100, 60), (19200, 19300, 62)],
        ));
        assert_eq!(fx.kind, TrackType::Other);
        assert!(
            fx.reasons.iter().any(|r| r.starts_with("sparse")),
            "{:?}",
            fx.reasons
        );
        assert!(fx.reasons.iter().any(|r| r == "only 2 notes"));
    }

    #[test]
    fn over_an_accompaniment_the_sung_line_beats_a_higher_wider_counter_line() {
        // POP909 song 001 as the part roles measure it: the keyboard
        // counter-line plays above the vocal and in more bars, but roams
        // two octaves where the voice keeps to one and a half.
        let line = |index, mean_pitch, activity, density, repeats, mean_leap, range| Line {
            index,
            mean_pitch,
            activity,
            density,
            polyphony: 1.0,
            repeats,
            mean_leap,
            range,
            named: false,
        };
        let counter = line(0, 76.0, 53.0, 4.3, 0.06, 3.9, 21.0);
        let sung = line(1, 66.0, 44.0, 4.1, 0.22, 2.4, 14.0);
        let lines = [counter, sung];
        assert_eq!(pick_melody(&lines, true).map(|l| l.index), Some(1));
        // In a texture of voices alone the top voice carries the tune.
        assert_eq!(pick_melody(&lines, false).map(|l| l.index), Some(0));
    }

    #[test]
    fn polyphony_counts_notes_sounding_at_each_onset() {
        // A long note with two short ones inside it, then a lone note.
        let t = track(
            "",
            0,
            None,
            &[(0, 100, 60), (10, 20, 64), (20, 30, 67), (200, 210, 60)],
        );
        // Onsets: 0 → 1, 10 → 2, 20 → 2 (64 ended at 20), 200 → 1.
        assert!((mean_polyphony(&t) - 1.5).abs() < 1e-6);
        assert_eq!(mean_polyphony(&track("", 0, None, &[])), 0.0);
    }
}
