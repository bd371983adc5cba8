//! `MuseBand`: the three experts generating bar by bar together.

use std::ffi::c_char;
use std::path::Path;
use std::ptr::null_mut;

use super::error::MuseStatus;
use super::guard::{guard, path_arg, slice_mut_arg, Out};
use super::handle::{HandleTable, HandleValue};
use super::session::{options_arg, MuseSessionOptions};
use crate::runtime::{
    Band, BandNote, BarNotes, ExpertSession, MuseError, Part, PartControls, SamplingOptions,
};

/// Three experts generating bar by bar together (opaque). Created by
/// `muse_band_new`, freed by `muse_band_free`; used by one thread at a time.
pub struct MuseBand {
    _opaque: [u8; 0],
}

/// One generated note: ticks at 480 per quarter from the band's first bar.
/// Every byte is defined (`reserved` is 0), so events can be hashed or
/// compared with memcmp.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MuseNoteEvent {
    pub tick: u32,
    pub duration: u32,
    pub pitch: u8,
    pub velocity: u8,
    /// 9 drums, 1 chords, 0 melody.
    pub channel: u8,
    /// Always 0 (explicit padding).
    pub reserved: u8,
}

impl From<BandNote> for MuseNoteEvent {
    fn from(n: BandNote) -> Self {
        MuseNoteEvent {
            tick: n.tick,
            duration: n.duration,
            pitch: n.pitch,
            velocity: n.velocity,
            channel: n.channel,
            reserved: 0,
        }
    }
}

/// A band and the notes of its latest bar the caller has not taken yet.
pub(crate) struct BandHandle {
    pub(crate) band: Band<ExpertSession>,
    /// A bar whose notes did not fit the caller's buffer yet.
    pub(crate) pending: Option<u32>,
}

/// A band's calls all take it exclusively (its experts are not `Sync`).
impl HandleValue for BandHandle {
    type ReadOnly = ();
    fn read_only(&self) -> &() {
        &()
    }
}

/// Live bands; more than this many at once is `MUSE_ERR_LIMIT`.
pub(crate) const MAX_BANDS: usize = 1024;
pub(crate) static BANDS: HandleTable<BandHandle, MAX_BANDS> = HandleTable::new("MuseBand");

impl BandHandle {
    fn load(paths: [&Path; 3], options: SamplingOptions, seed: u64) -> Result<Self, MuseError> {
        let mut band = Band::load(paths[0], paths[1], paths[2], seed)?;
        for part in Part::ALL {
            let controls = PartControls {
                sampling: options,
                ..band.controls(part)
            };
            band.set_controls(part, controls)?;
        }
        Ok(BandHandle {
            band,
            pending: None,
        })
    }

    /// Copies the next bar's notes into `out`, generating the bar unless the
    /// last call's did not fit. Returns how many notes the bar has.
    fn next_bar_into(&mut self, out: &mut [MuseNoteEvent]) -> Result<usize, MuseError> {
        let bar = match self.pending.take() {
            Some(bar) => bar,
            None => {
                self.band.next_bar()?;
                self.band.bars_generated() - 1
            }
        };
        let notes = self.band.bar_notes(bar).unwrap_or(BarNotes::empty());
        let n = notes.len();
        let Some(dst) = out.get_mut(..n) else {
            self.pending = Some(bar);
            return Err(MuseError::BufferTooSmall {
                needed: n,
                capacity: out.len(),
            });
        };
        for (d, note) in dst.iter_mut().zip(notes) {
            *d = note.into();
        }
        Ok(n)
    }

    fn write_midi(&self, path: &Path, bpm: f64) -> Result<(), MuseError> {
        if !(bpm.is_finite() && bpm > 3.6 && bpm < 1000.0) {
            return Err(MuseError::InvalidArgument(format!(
                "bpm {bpm} out of range"
            )));
        }
        let bytes = self.band.midi_bytes_at(bpm)?;
        std::fs::write(path, bytes).map_err(|e| MuseError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    fn reset(&mut self) {
        self.band.reset();
        self.pending = None;
    }
}

/// Loads the three experts for coordinated generation (each path as for
/// `muse_session_new`). `opts` may be NULL; its seed seeds the band.
///
/// Ownership: on success `*out` is a new band the caller frees with
/// `muse_band_free`; on failure `*out` is NULL. Threads: any thread (not the
/// audio thread: it reads files and allocates).
///
/// # Safety
/// Paths NULL or NUL-terminated; `opts` NULL or readable; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_band_new(
    drums_path: *const c_char,
    harmony_path: *const c_char,
    melody_path: *const c_char,
    opts: *const MuseSessionOptions,
    out: *mut *mut MuseBand,
) -> MuseStatus {
    guard(|| {
        let out = Out::clear(out, null_mut()).required("out")?;
        let drums = path_arg(drums_path, "drums_path")?;
        let harmony = path_arg(harmony_path, "harmony_path")?;
        let melody = path_arg(melody_path, "melody_path")?;
        let (options, seed) = options_arg(opts)?;
        let band = BandHandle::load([&drums, &harmony, &melody], options, seed)?;
        out.set(BANDS.insert(Box::new(band))?.cast());
        Ok(())
    })
}

/// Advances harmony, melody (conditioned on that harmony) and drums by one
/// bar and writes its notes into `out` (room for `capacity`); `*out_count` =
/// notes written. When the buffer is too small the call returns
/// `MUSE_ERR_BUFFER_TOO_SMALL` with `*out_count` = notes needed, and the bar
/// is kept: call again with more room to get it (nothing is lost).
/// `*out_count` is 0 on any other failure, and the band is back at the bar
/// line it started from (its snapshot), so a failed call changes nothing.
/// After the first bar this call makes no system allocation.
///
/// Threads: one call per band at a time (else `MUSE_ERR_BUSY`).
///
/// # Safety
/// `out` must point to `capacity` writable events (NULL when 0); `out_count`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_band_next_bar(
    band: *mut MuseBand,
    out: *mut MuseNoteEvent,
    capacity: usize,
    out_count: *mut usize,
) -> MuseStatus {
    guard(|| {
        let count = Out::clear(out_count, 0).required("out_count")?;
        let events = slice_mut_arg(out, capacity, "out")?;
        let result = BANDS.exclusive(band.cast())?.next_bar_into(events);
        count.set(match &result {
            Ok(n) | Err(MuseError::BufferTooSmall { needed: n, .. }) => *n,
            Err(_) => 0,
        });
        result.map(drop)
    })
}

/// Writes every bar generated so far as a type-1 MIDI file at `bpm`
/// (3.6 < bpm < 1000). Changes nothing in the band, but takes it for the
/// call like every band call (`MUSE_ERR_BUSY` while another call runs).
///
/// Threads: any thread (not the audio thread: it writes a file).
///
/// # Safety
/// `path` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn muse_band_write_midi(
    band: *const MuseBand,
    path: *const c_char,
    bpm: f64,
) -> MuseStatus {
    guard(|| {
        let path = path_arg(path, "path")?;
        BANDS.exclusive(band.cast())?.write_midi(&path, bpm)
    })
}

/// Back to the start: every expert reset, the seed's RNG, no bars.
/// Threads: one call per band at a time (else `MUSE_ERR_BUSY`).
///
/// # Safety
/// `band` may be any value; only live handles are dereferenced.
#[no_mangle]
pub unsafe extern "C" fn muse_band_reset(band: *mut MuseBand) -> MuseStatus {
    guard(|| {
        BANDS.exclusive(band.cast())?.reset();
        Ok(())
    })
}

/// Frees a band. NULL is a no-op; freed or foreign: `MUSE_ERR_INVALID_HANDLE`;
/// in use by a call on another thread: `MUSE_ERR_BUSY` (nothing freed).
///
/// # Safety
/// `band` may be any value; only live handles are dereferenced.
#[no_mangle]
pub unsafe extern "C" fn muse_band_free(band: *mut MuseBand) -> MuseStatus {
    guard(|| BANDS.remove(band.cast()))
}
