//! C ABI of the host's song on a band: key, metre, tempo, chord track,
//! primers, per-part controls, re-roll, per-bar notes, and Chord ID. Each
//! function converts its arguments, calls one safe function of
//! `runtime::band` and maps the error; a failed call changes nothing.

use std::ffi::{c_char, CStr};

use super::band::{BandHandle, MuseBand, MuseNoteEvent, BANDS};
use super::error::MuseStatus;
use super::guard::{guard, path_arg, slice_arg, slice_mut_arg, Out};
use super::handle::Exclusive;
use crate::runtime::{
    identify_chords, ChordChange, ChordTrack, MuseError, Part, PartControls, Primer, PrimerNote,
    Reroll, SamplingOptions, SongContext, TimeSignature,
};
use crate::theory::{ChordLabel, Key, Mode};

/// The band's three parts.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MusePart {
    MusePartHarmony = 0,
    MusePartMelody = 1,
    MusePartDrums = 2,
}

/// Key mode.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuseMode {
    MuseModeMajor = 0,
    MuseModeMinor = 1,
}

/// What `muse_band_reroll` regenerates.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuseReroll {
    /// Bar N only: the bars after it are kept note for note.
    MuseRerollBar = 0,
    /// Bar N and everything after it: call `muse_band_next_bar` again from N.
    MuseRerollFromBar = 1,
}

/// The host's song. Metre: a whole number of quarter beats, 1 to 8 (2/4,
/// 3/4, 4/4, 5/4, 6/8, 12/8, …; 7/8 is refused).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MuseSong {
    pub time_signature_numerator: u8,
    pub time_signature_denominator: u8,
    /// false: the key comes from the chord track, else the melody primer,
    /// else the harmony expert.
    pub has_key: bool,
    /// Pitch class of the tonic, 0 = C … 11 = B.
    pub key_tonic: u8,
    /// A `MuseMode` value.
    pub key_mode: u32,
    /// Tempo of MIDI output.
    pub bpm: f64,
}

/// One chord-track entry: from `bar`/`beat` (quarter beats, from 0) on,
/// `symbol` sounds ("C", "Am", "G7", "Fmaj7", "Bm7b5", "N" = no chord);
/// NULL `symbol` leaves a gap the harmony expert fills in the key.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MuseChordChange {
    pub bar: u32,
    pub beat: u32,
    pub symbol: *const c_char,
}

/// Per-part controls; `muse_part_controls_default` fills the neutral ones.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MusePartControls {
    /// Complexity: ≤ 0 greedy.
    pub temperature: f32,
    pub top_k: u32,
    pub top_p: f32,
    /// 0..1, 0.5 neutral: velocity ×0.6…×1.4 and fewer…more onsets.
    pub intensity: f32,
    /// Drums, 0..1, 0.5 neutral; 0 = no fills.
    pub fill_amount: f32,
    /// 0 straight … 1 dotted (2/3 = triplet swing).
    pub swing: f32,
    /// 2 = swing 8ths, 1 = swing 16ths.
    pub swing_unit_steps: u32,
    /// Melody range, at least an octave.
    pub lowest_pitch: u8,
    pub highest_pitch: u8,
    pub mute: bool,
    /// Kept when bars are re-rolled.
    pub lock: bool,
    /// Melody: scale (or chord) tones only, chord tones favoured (most on
    /// strong beats).
    pub follow_harmony: bool,
}

/// One chord found by Chord ID.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MuseIdentifiedChord {
    pub bar: u32,
    pub beat: u32,
    pub duration_steps: u32,
    /// NUL-terminated token name: "C_maj", "F#_min7", "N".
    pub symbol: [c_char; 16],
    pub confidence: f32,
}

/// A stretch of a clip in one key, from `bar` on.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MuseKeySegment {
    pub bar: u32,
    pub key_tonic: u8,
    pub key_mode: MuseMode,
    pub confidence: f32,
}

fn part_of(p: MusePart) -> Part {
    match p {
        MusePart::MusePartHarmony => Part::Harmony,
        MusePart::MusePartMelody => Part::Melody,
        MusePart::MusePartDrums => Part::Drums,
    }
}

/// A C enum read from the host: out-of-range values are an error, not UB.
fn part_arg(raw: u32) -> Result<Part, MuseError> {
    match raw {
        0 => Ok(part_of(MusePart::MusePartHarmony)),
        1 => Ok(part_of(MusePart::MusePartMelody)),
        2 => Ok(part_of(MusePart::MusePartDrums)),
        _ => Err(MuseError::InvalidArgument(format!("no part {raw}"))),
    }
}

fn ref_arg<'a, T>(p: *const T, what: &'static str) -> Result<&'a T, MuseError> {
    // SAFETY: non-null pointers are caller-owned and valid for the call.
    unsafe { p.as_ref() }.ok_or(MuseError::NullPointer(what))
}

fn song_of(
    band: &crate::runtime::Band<crate::runtime::ExpertSession>,
    s: &MuseSong,
) -> Result<SongContext, MuseError> {
    let mode = match s.key_mode {
        0 => Mode::Major,
        1 => Mode::Minor,
        m => return Err(MuseError::InvalidArgument(format!("no key mode {m}"))),
    };
    if s.has_key && s.key_tonic > 11 {
        return Err(MuseError::InvalidArgument(format!(
            "key tonic {} not in 0..=11",
            s.key_tonic
        )));
    }
    Ok(SongContext {
        key: s.has_key.then(|| Key::new(s.key_tonic, mode)),
        time_signature: TimeSignature::new(
            s.time_signature_numerator,
            s.time_signature_denominator,
        )?,
        bpm: s.bpm,
        chords: band.song().chords.clone(),
    })
}

fn chord_changes(changes: &[MuseChordChange]) -> Result<Vec<ChordChange>, MuseError> {
    changes
        .iter()
        .map(|c| {
            let chord = if c.symbol.is_null() {
                None
            } else {
                // SAFETY: non-null symbols are NUL-terminated strings.
                let sym = unsafe { CStr::from_ptr(c.symbol) }
                    .to_str()
                    .map_err(|_| MuseError::Utf8)?;
                Some(ChordLabel::from_symbol(sym).ok_or_else(|| {
                    MuseError::InvalidArgument(format!("unknown chord symbol {sym:?}"))
                })?)
            };
            Ok(ChordChange {
                bar: c.bar,
                beat: c.beat,
                chord,
            })
        })
        .collect()
}

fn controls_of(c: &MusePartControls) -> PartControls {
    PartControls {
        sampling: SamplingOptions {
            temperature: c.temperature,
            top_k: c.top_k,
            top_p: c.top_p,
        },
        intensity: c.intensity,
        fill_amount: c.fill_amount,
        swing: c.swing,
        swing_unit_steps: c.swing_unit_steps,
        lowest_pitch: c.lowest_pitch,
        highest_pitch: c.highest_pitch,
        mute: c.mute,
        lock: c.lock,
        follow_harmony: c.follow_harmony,
    }
}

/// The C form of [`PartControls`]: the inverse of [`controls_of`].
fn c_controls_of(c: &PartControls) -> MusePartControls {
    MusePartControls {
        temperature: c.sampling.temperature,
        top_k: c.sampling.top_k,
        top_p: c.sampling.top_p,
        intensity: c.intensity,
        fill_amount: c.fill_amount,
        swing: c.swing,
        swing_unit_steps: c.swing_unit_steps,
        lowest_pitch: c.lowest_pitch,
        highest_pitch: c.highest_pitch,
        mute: c.mute,
        lock: c.lock,
        follow_harmony: c.follow_harmony,
    }
}

/// The band behind a handle, taken for the call (`MUSE_ERR_BUSY` if in use).
fn band_of<'a>(b: *const MuseBand) -> Result<Exclusive<'a, BandHandle>, MuseError> {
    BANDS.exclusive(b.cast())
}

/// Sets key, time signature and tempo (the chord track is kept). Key and
/// time signature only before the first bar (or after `muse_band_reset`);
/// a time signature the experts cannot play is MUSE_ERR_INVALID_ARGUMENT.
/// `part` arguments below are `MusePart` values, `scope` a `MuseReroll`
/// value; others are MUSE_ERR_INVALID_ARGUMENT.
/// Threads: not concurrently with other calls on the same band.
///
/// # Safety
/// `b` from `muse_band_new`; `song` readable.
#[no_mangle]
pub unsafe extern "C" fn muse_band_set_song(b: *mut MuseBand, song: *const MuseSong) -> MuseStatus {
    guard(|| {
        let mut handle = band_of(b)?;
        let band = &mut handle.band;
        let song = song_of(band, ref_arg(song, "song")?)?;
        band.set_song(song)
    })
}

/// Replaces the chord track: `count` changes in order, `length_bars` long,
/// looped over the song when `repeat`. With chords the harmony part plays
/// them (gaps filled in the key) and the melody follows them. Unknown
/// symbols or beats outside the bar: MUSE_ERR_INVALID_ARGUMENT. The band
/// copies what it needs.
///
/// # Safety
/// `changes` points to `count` entries (NULL if 0); symbols NUL-terminated or NULL.
#[no_mangle]
pub unsafe extern "C" fn muse_band_set_chords(
    b: *mut MuseBand,
    changes: *const MuseChordChange,
    count: usize,
    length_bars: u32,
    repeat: bool,
) -> MuseStatus {
    guard(|| {
        let mut handle = band_of(b)?;
        let band = &mut handle.band;
        let changes = chord_changes(slice_arg(changes, count, "changes")?)?;
        let metre = band.song().time_signature;
        band.set_chords(ChordTrack::new(changes, length_bars, repeat, metre)?)
    })
}

/// Primes `part` (melody or drums) with a clip of `count` notes (ticks at
/// 480 per quarter from the clip's start; `channel` ignored), `bars` long
/// (0: up to its last note): the song's first bars are the clip, and
/// generation continues from it. Before the first bar; in the song's metre.
///
/// # Safety
/// `notes` points to `count` events (NULL if 0).
#[no_mangle]
pub unsafe extern "C" fn muse_band_set_primer_notes(
    b: *mut MuseBand,
    part: u32,
    notes: *const MuseNoteEvent,
    count: usize,
    bars: u32,
) -> MuseStatus {
    guard(|| {
        let mut handle = band_of(b)?;
        let band = &mut handle.band;
        let part = part_arg(part)?;
        let notes: Vec<PrimerNote> = slice_arg(notes, count, "notes")?
            .iter()
            .map(|n| PrimerNote {
                tick: n.tick,
                duration: n.duration,
                pitch: n.pitch,
                velocity: n.velocity,
            })
            .collect();
        let primer = Primer::from_notes(part, &notes, bars, band.song().time_signature)?;
        band.set_primer(part, primer)
    })
}

/// Primes `part` from a MIDI file (its drum tracks, or its melody). A broken
/// file, or one in another metre than the song: an error, nothing changes.
///
/// # Safety
/// `path` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn muse_band_set_primer_midi(
    b: *mut MuseBand,
    part: u32,
    path: *const c_char,
) -> MuseStatus {
    guard(|| {
        let mut handle = band_of(b)?;
        let band = &mut handle.band;
        let part = part_arg(part)?;
        let path = path_arg(path, "path")?;
        let bytes = std::fs::read(&path).map_err(|e| MuseError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let primer = Primer::from_midi(part, &bytes, band.song().time_signature)?;
        band.set_primer(part, primer)
    })
}

/// Fills `out` with the neutral controls (those of a new band).
///
/// # Safety
/// `out` writable.
#[no_mangle]
pub unsafe extern "C" fn muse_part_controls_default(out: *mut MusePartControls) -> MuseStatus {
    guard(|| {
        let out = out.as_mut().ok_or(MuseError::NullPointer("out"))?;
        *out = c_controls_of(&PartControls::default());
        Ok(())
    })
}

/// Sets `part`'s controls from the next bar on (values out of range:
/// MUSE_ERR_INVALID_ARGUMENT, nothing changes).
///
/// # Safety
/// `controls` readable.
#[no_mangle]
pub unsafe extern "C" fn muse_band_set_part_controls(
    b: *mut MuseBand,
    part: u32,
    controls: *const MusePartControls,
) -> MuseStatus {
    guard(|| {
        let mut handle = band_of(b)?;
        let band = &mut handle.band;
        let part = part_arg(part)?;
        band.set_controls(part, controls_of(ref_arg(controls, "controls")?))
    })
}

/// Re-rolls bar `bar` (from 0) with `seed`, keeping the bars before it (and
/// after it, for MUSE_REROLL_BAR; read the new bar with
/// `muse_band_bar_notes`). Locked parts keep their bars. MUSE_REROLL_BAR
/// replays the later bars through the models: call it off the audio thread.
///
/// # Safety
/// `b` from `muse_band_new`.
#[no_mangle]
pub unsafe extern "C" fn muse_band_reroll(
    b: *mut MuseBand,
    bar: u32,
    seed: u64,
    scope: u32,
) -> MuseStatus {
    guard(|| {
        let mut handle = band_of(b)?;
        let scope = match scope {
            0 => Reroll::Bar,
            1 => Reroll::FromBar,
            s => return Err(MuseError::InvalidArgument(format!("no re-roll scope {s}"))),
        };
        handle.band.reroll(bar, seed, scope)?;
        handle.pending = None;
        Ok(())
    })
}

/// Copies the notes of generated bar `bar` into `out`; `*out_count` = notes
/// (or needed, with MUSE_ERR_BUFFER_TOO_SMALL). No allocation.
///
/// # Safety
/// `out` has `capacity` writable slots; `out_count` writable.
#[no_mangle]
pub unsafe extern "C" fn muse_band_bar_notes(
    b: *mut MuseBand,
    bar: u32,
    out: *mut MuseNoteEvent,
    capacity: usize,
    out_count: *mut usize,
) -> MuseStatus {
    guard(|| {
        let count = Out::clear(out_count, 0).required("out_count")?;
        let events = slice_mut_arg(out, capacity, "out")?;
        let handle = band_of(b)?;
        let band = &handle.band;
        let notes = band.bar_notes(bar).ok_or_else(|| {
            MuseError::InvalidArgument(format!(
                "bar {bar} is not generated ({} so far)",
                band.bars_generated()
            ))
        })?;
        count.set(notes.len());
        let dst = events
            .get_mut(..notes.len())
            .ok_or(MuseError::BufferTooSmall {
                needed: notes.len(),
                capacity,
            })?;
        for (d, n) in dst.iter_mut().zip(notes) {
            *d = n.into();
        }
        Ok(())
    })
}

/// Bars generated so far.
///
/// # Safety
/// `out` writable.
#[no_mangle]
pub unsafe extern "C" fn muse_band_bars_generated(b: *mut MuseBand, out: *mut u32) -> MuseStatus {
    guard(|| {
        let out = Out::clear(out, 0).required("out")?;
        out.set(band_of(b)?.band.bars_generated());
        Ok(())
    })
}

/// Chord ID: the chords and key segments of a MIDI file, by the analysis
/// `prepare` uses, so a host can fill its chord track. Either buffer may be
/// too small (MUSE_ERR_BUFFER_TOO_SMALL with both counts set: call again).
/// Thread-safe (no shared state).
///
/// # Safety
/// `path` NUL-terminated; buffers hold their capacities; counts writable.
#[no_mangle]
pub unsafe extern "C" fn muse_chord_id_file(
    path: *const c_char,
    chords: *mut MuseIdentifiedChord,
    chord_capacity: usize,
    chord_count: *mut usize,
    keys: *mut MuseKeySegment,
    key_capacity: usize,
    key_count: *mut usize,
) -> MuseStatus {
    guard(|| {
        let _ = (Out::clear(chord_count, 0), Out::clear(key_count, 0));
        let path = path_arg(path, "path")?;
        let bytes = std::fs::read(&path).map_err(|e| MuseError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let a = identify_chords(&bytes)?;
        write_analysis(
            &a,
            (chords, chord_capacity, chord_count),
            (keys, key_capacity, key_count),
        )
    })
}

type OutBuf<T> = (*mut T, usize, *mut usize);

fn write_analysis(
    a: &crate::runtime::ChordAnalysis,
    (chords, chord_cap, chord_count): OutBuf<MuseIdentifiedChord>,
    (keys, key_cap, key_count): OutBuf<MuseKeySegment>,
) -> Result<(), MuseError> {
    if chord_count.is_null() || key_count.is_null() {
        return Err(MuseError::NullPointer("chord_count / key_count"));
    }
    if (chords.is_null() && chord_cap > 0) || (keys.is_null() && key_cap > 0) {
        return Err(MuseError::NullPointer("chords / keys"));
    }
    // SAFETY: counts checked non-null; buffers hold their capacities.
    unsafe {
        *chord_count = a.chords.len();
        *key_count = a.keys.len();
    }
    if a.chords.len() > chord_cap || a.keys.len() > key_cap {
        return Err(MuseError::BufferTooSmall {
            needed: a.chords.len().max(a.keys.len()),
            capacity: chord_cap.min(key_cap),
        });
    }
    for (i, c) in a.chords.iter().enumerate() {
        let mut symbol = [0 as c_char; 16];
        for (dst, src) in symbol.iter_mut().zip(c.chord.token_name().bytes().take(15)) {
            *dst = src as c_char;
        }
        let entry = MuseIdentifiedChord {
            bar: c.bar,
            beat: c.beat,
            duration_steps: c.duration_steps,
            symbol,
            confidence: c.confidence,
        };
        // SAFETY: i < chord_cap.
        unsafe { *chords.add(i) = entry };
    }
    for (i, k) in a.keys.iter().enumerate() {
        let key_mode = if k.key.mode == Mode::Minor {
            MuseMode::MuseModeMinor
        } else {
            MuseMode::MuseModeMajor
        };
        let entry = MuseKeySegment {
            bar: k.bar,
            key_tonic: k.key.tonic,
            key_mode,
            confidence: k.confidence,
        };
        // SAFETY: i < key_cap.
        unsafe { *keys.add(i) = entry };
    }
    Ok(())
}
