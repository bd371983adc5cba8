//! The C ABI of `libnomad_muse`. Every function catches panics, validates
//! its pointers and handles, and returns a [`MuseStatus`]; the message of
//! the last failure on the calling thread is in [`muse_last_error`].

mod handles;

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use crate::runtime::{Band, ExpertSession, MuseError, SamplingOptions};
use crate::tokenizers::ExpertKind;
use handles::Registry;

/// Status codes of every `muse_*` function.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuseStatus {
    MuseOk = 0,
    MuseErrNullPointer = 1,
    MuseErrInvalidHandle = 2,
    MuseErrInvalidArgument = 3,
    MuseErrIo = 4,
    MuseErrModel = 5,
    MuseErrWrongExpert = 6,
    MuseErrBufferTooSmall = 7,
    MuseErrUtf8 = 8,
    MuseErrPanic = 9,
}

/// Which expert a session runs.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuseExpertKind {
    MuseExpertDrums = 0,
    MuseExpertHarmony = 1,
    MuseExpertMelody = 2,
}

/// Sampling options; pass NULL for the defaults (temperature 1, no top-k,
/// no top-p, seed 0).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MuseSessionOptions {
    pub temperature: f32,
    /// 0 = off.
    pub top_k: u32,
    /// 1.0 = off.
    pub top_p: f32,
    /// Band only: seed of the band's RNG.
    pub seed: u64,
}

/// One generated note: ticks at 480 per quarter from the band's first bar.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuseNoteEvent {
    pub tick: u32,
    pub duration: u32,
    pub pitch: u8,
    pub velocity: u8,
    /// 9 drums, 1 chords, 0 melody.
    pub channel: u8,
}

/// An expert session (opaque).
pub struct MuseSession {
    inner: ExpertSession,
}

/// Three experts generating bar by bar together (opaque).
pub struct MuseBand {
    inner: Band,
    /// Notes of a bar that did not fit the caller's buffer yet.
    pending: Vec<crate::runtime::BandNote>,
}

static SESSIONS: Registry = Registry::new();
static BANDS: Registry = Registry::new();

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

fn status_of(e: &MuseError) -> MuseStatus {
    match e {
        MuseError::NullPointer(_) => MuseStatus::MuseErrNullPointer,
        MuseError::InvalidHandle(_) => MuseStatus::MuseErrInvalidHandle,
        MuseError::InvalidArgument(_) => MuseStatus::MuseErrInvalidArgument,
        MuseError::Io { .. } => MuseStatus::MuseErrIo,
        MuseError::Model(_) => MuseStatus::MuseErrModel,
        MuseError::WrongExpert { .. } => MuseStatus::MuseErrWrongExpert,
        MuseError::BufferTooSmall { .. } => MuseStatus::MuseErrBufferTooSmall,
        MuseError::Utf8 => MuseStatus::MuseErrUtf8,
    }
}

/// Runs `f`, turning errors and panics into status codes.
fn guard(f: impl FnOnce() -> Result<(), MuseError>) -> MuseStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => MuseStatus::MuseOk,
        Ok(Err(e)) => {
            set_error(&e.to_string());
            status_of(&e)
        }
        Err(_) => {
            set_error("internal panic (caught at the C ABI)");
            MuseStatus::MuseErrPanic
        }
    }
}

fn path_arg(p: *const c_char, what: &'static str) -> Result<PathBuf, MuseError> {
    if p.is_null() {
        return Err(MuseError::NullPointer(what));
    }
    // SAFETY: the caller passes a NUL-terminated string (checked non-null).
    let s = unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| MuseError::Utf8)?;
    Ok(PathBuf::from(s))
}

fn options_arg(opts: *const MuseSessionOptions) -> Result<(SamplingOptions, u64), MuseError> {
    if opts.is_null() {
        return Ok((SamplingOptions::default(), 0));
    }
    // SAFETY: non-null, points to a caller-owned struct.
    let o = unsafe { *opts };
    if !o.temperature.is_finite() || !o.top_p.is_finite() {
        return Err(MuseError::InvalidArgument(
            "temperature and top_p must be finite".into(),
        ));
    }
    Ok((
        SamplingOptions {
            temperature: o.temperature,
            top_k: o.top_k,
            top_p: o.top_p,
        },
        o.seed,
    ))
}

fn session<'a>(s: *mut MuseSession) -> Result<&'a mut ExpertSession, MuseError> {
    if s.is_null() {
        return Err(MuseError::NullPointer("session"));
    }
    if !SESSIONS.contains(s as usize) {
        return Err(MuseError::InvalidHandle(
            "not a live MuseSession (freed or foreign pointer)",
        ));
    }
    // SAFETY: the registry holds only pointers from Box::into_raw not yet freed.
    Ok(unsafe { &mut (*s).inner })
}

fn band<'a>(b: *mut MuseBand) -> Result<&'a mut MuseBand, MuseError> {
    if b.is_null() {
        return Err(MuseError::NullPointer("band"));
    }
    if !BANDS.contains(b as usize) {
        return Err(MuseError::InvalidHandle(
            "not a live MuseBand (freed or foreign pointer)",
        ));
    }
    // SAFETY: as for sessions.
    Ok(unsafe { &mut *b })
}

/// Message of the last failed call on this thread ("" if none). Valid until
/// the next failing call on the same thread.
#[no_mangle]
pub extern "C" fn muse_last_error() -> *const c_char {
    catch_unwind(|| LAST_ERROR.with(|e| e.borrow().as_ptr())).unwrap_or(c"internal panic".as_ptr())
}

/// Heap allocations the calling thread has made inside libnomad_muse so far:
/// `system` from the system heap, `arena` from session arenas (where a
/// per-token call's temporaries live). A host checks that its real-time
/// thread's `system` count stays put across `muse_generate_next` calls after
/// the first call on that thread. Either pointer may be NULL.
///
/// # Safety
/// Non-NULL pointers must be writable.
#[no_mangle]
pub unsafe extern "C" fn muse_thread_alloc_counts(system: *mut u64, arena: *mut u64) -> MuseStatus {
    guard(|| {
        let (s, a) = crate::runtime::realtime_alloc::thread_counters();
        if !system.is_null() {
            *system = s;
        }
        if !arena.is_null() {
            *arena = a;
        }
        Ok(())
    })
}

/// Loads an exported expert (.onnx). `opts` may be NULL.
///
/// # Safety
/// `onnx_path` must be NULL or a NUL-terminated string; `out` a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn muse_session_new(
    onnx_path: *const c_char,
    opts: *const MuseSessionOptions,
    out: *mut *mut MuseSession,
) -> MuseStatus {
    guard(|| {
        if out.is_null() {
            return Err(MuseError::NullPointer("out"));
        }
        let path = path_arg(onnx_path, "onnx_path")?;
        let (options, _) = options_arg(opts)?;
        let mut inner = ExpertSession::load(&path)?;
        inner.options = options;
        let raw = Box::into_raw(Box::new(MuseSession { inner }));
        SESSIONS.insert(raw as usize);
        *out = raw;
        Ok(())
    })
}

/// Frees a session; freeing NULL is a no-op, freeing twice is an error.
///
/// # Safety
/// `session` must be NULL or a pointer from `muse_session_new`.
#[no_mangle]
pub unsafe extern "C" fn muse_session_free(session: *mut MuseSession) -> MuseStatus {
    guard(|| {
        if session.is_null() {
            return Ok(());
        }
        if !SESSIONS.remove(session as usize) {
            return Err(MuseError::InvalidHandle(
                "not a live MuseSession (freed or foreign pointer)",
            ));
        }
        drop(Box::from_raw(session));
        Ok(())
    })
}

/// Zeroes the GRU state and the grammar.
///
/// # Safety
/// `s` must be NULL or a pointer from `muse_session_new`.
#[no_mangle]
pub unsafe extern "C" fn muse_session_reset(s: *mut MuseSession) -> MuseStatus {
    guard(|| {
        session(s)?.reset();
        Ok(())
    })
}

/// # Safety
/// `s` as for `muse_session_reset`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn muse_vocab_size(s: *mut MuseSession, out: *mut usize) -> MuseStatus {
    guard(|| {
        let n = session(s)?.vocabulary().len();
        if out.is_null() {
            return Err(MuseError::NullPointer("out"));
        }
        *out = n;
        Ok(())
    })
}

/// # Safety
/// `s` as for `muse_session_reset`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn muse_expert_kind(
    s: *mut MuseSession,
    out: *mut MuseExpertKind,
) -> MuseStatus {
    guard(|| {
        let kind = match session(s)?.expert() {
            ExpertKind::Drums => MuseExpertKind::MuseExpertDrums,
            ExpertKind::Harmony => MuseExpertKind::MuseExpertHarmony,
            ExpertKind::Melody => MuseExpertKind::MuseExpertMelody,
        };
        if out.is_null() {
            return Err(MuseError::NullPointer("out"));
        }
        *out = kind;
        Ok(())
    })
}

/// Writes the token's string (NUL-terminated) into `buf` of `len` bytes.
///
/// # Safety
/// `buf` must point to `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_token_to_string(
    s: *mut MuseSession,
    token: i32,
    buf: *mut c_char,
    len: usize,
) -> MuseStatus {
    guard(|| {
        let session = session(s)?;
        let t = u32::try_from(token)
            .ok()
            .and_then(|t| session.vocabulary().token(t))
            .ok_or_else(|| {
                MuseError::InvalidArgument(format!("token {token} is outside the vocabulary"))
            })?;
        if buf.is_null() {
            return Err(MuseError::NullPointer("buf"));
        }
        let text = t.to_string();
        if text.len() + 1 > len {
            return Err(MuseError::BufferTooSmall {
                needed: text.len() + 1,
                capacity: len,
            });
        }
        std::ptr::copy_nonoverlapping(text.as_ptr() as *const c_char, buf, text.len());
        *buf.add(text.len()) = 0;
        Ok(())
    })
}

unsafe fn generate(
    s: *mut MuseSession,
    context: *const i32,
    n: usize,
    (chord, key): (i32, i32),
    temperature: f32,
    rng_state: *mut u64,
    out_token: *mut i32,
) -> Result<(), MuseError> {
    let session = session(s)?;
    if rng_state.is_null() || out_token.is_null() {
        return Err(MuseError::NullPointer("rng_state / out_token"));
    }
    if n > 0 && context.is_null() {
        return Err(MuseError::NullPointer("context"));
    }
    if !temperature.is_finite() {
        return Err(MuseError::InvalidArgument(
            "temperature must be finite".into(),
        ));
    }
    let (chord, key) = (
        u32::try_from(chord).map_err(|_| MuseError::InvalidArgument("chord id < 0".into()))?,
        u32::try_from(key).map_err(|_| MuseError::InvalidArgument("key id < 0".into()))?,
    );
    let ctx = if n == 0 {
        &[][..]
    } else {
        std::slice::from_raw_parts(context, n)
    };
    for t in ctx {
        let id =
            u32::try_from(*t).map_err(|_| MuseError::InvalidArgument(format!("token {t} < 0")))?;
        session.feed(id, chord, key)?;
    }
    session.options.temperature = temperature;
    *out_token = session.sample(&mut *rng_state)? as i32;
    Ok(())
}

/// Feeds `n` context tokens, then samples the next token (grammar-masked).
/// The sampled token is not fed: pass it as context of the next call.
///
/// # Safety
/// `context` must point to `n` tokens (may be NULL when n = 0); `rng_state`
/// and `out_token` writable.
#[no_mangle]
pub unsafe extern "C" fn muse_generate_next(
    s: *mut MuseSession,
    context: *const i32,
    n: usize,
    temperature: f32,
    rng_state: *mut u64,
    out_token: *mut i32,
) -> MuseStatus {
    guard(|| generate(s, context, n, (132, 0), temperature, rng_state, out_token))
}

/// Melody: like `muse_generate_next`, with the chord (0..133, 132 = no chord)
/// and key (0..24) conditioning ids applied to the fed tokens.
///
/// # Safety
/// As for `muse_generate_next`.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // the C signature is the contract
pub unsafe extern "C" fn muse_generate_next_conditioned(
    s: *mut MuseSession,
    context: *const i32,
    n: usize,
    chord: i32,
    key: i32,
    temperature: f32,
    rng_state: *mut u64,
    out_token: *mut i32,
) -> MuseStatus {
    guard(|| {
        if session(s)?.expert() != ExpertKind::Melody {
            return Err(MuseError::WrongExpert {
                expected: "melody".into(),
                found: session(s)?.expert().name().into(),
            });
        }
        generate(
            s,
            context,
            n,
            (chord, key),
            temperature,
            rng_state,
            out_token,
        )
    })
}

/// Loads the three experts for coordinated generation.
///
/// # Safety
/// Paths NUL-terminated (or NULL: error), `out` writable.
#[no_mangle]
pub unsafe extern "C" fn muse_band_new(
    drums_path: *const c_char,
    harmony_path: *const c_char,
    melody_path: *const c_char,
    opts: *const MuseSessionOptions,
    out: *mut *mut MuseBand,
) -> MuseStatus {
    guard(|| {
        if out.is_null() {
            return Err(MuseError::NullPointer("out"));
        }
        let (d, h, m) = (
            path_arg(drums_path, "drums_path")?,
            path_arg(harmony_path, "harmony_path")?,
            path_arg(melody_path, "melody_path")?,
        );
        let (options, seed) = options_arg(opts)?;
        let mut inner = Band::load(&d, &h, &m, seed)?;
        for s in [&mut inner.drums, &mut inner.harmony, &mut inner.melody] {
            s.options = options;
        }
        let raw = Box::into_raw(Box::new(MuseBand {
            inner,
            pending: Vec::new(),
        }));
        BANDS.insert(raw as usize);
        *out = raw;
        Ok(())
    })
}

/// Advances drums + harmony + melody by one bar and writes its notes into
/// `out` (capacity `capacity`); `*out_count` = notes written, or needed when
/// the buffer is too small (then nothing is lost: call again with more room).
///
/// # Safety
/// `out` must point to `capacity` writable events; `out_count` writable.
#[no_mangle]
pub unsafe extern "C" fn muse_band_next_bar(
    b: *mut MuseBand,
    out: *mut MuseNoteEvent,
    capacity: usize,
    out_count: *mut usize,
) -> MuseStatus {
    guard(|| {
        let band = band(b)?;
        if out_count.is_null() {
            return Err(MuseError::NullPointer("out_count"));
        }
        if out.is_null() && capacity > 0 {
            return Err(MuseError::NullPointer("out"));
        }
        if band.pending.is_empty() {
            band.pending = band.inner.next_bar()?;
        }
        let notes = &band.pending;
        *out_count = notes.len();
        if notes.len() > capacity {
            return Err(MuseError::BufferTooSmall {
                needed: notes.len(),
                capacity,
            });
        }
        for (i, n) in notes.iter().enumerate() {
            *out.add(i) = MuseNoteEvent {
                tick: n.tick,
                duration: n.duration,
                pitch: n.pitch,
                velocity: n.velocity,
                channel: n.channel,
            };
        }
        band.pending.clear();
        Ok(())
    })
}

/// Writes every bar generated so far as a type-1 MIDI file at `bpm`.
///
/// # Safety
/// `path` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn muse_band_write_midi(
    b: *mut MuseBand,
    path: *const c_char,
    bpm: f64,
) -> MuseStatus {
    guard(|| {
        let band = &band(b)?.inner;
        let path = path_arg(path, "path")?;
        if !(bpm.is_finite() && bpm > 3.6 && bpm < 1000.0) {
            return Err(MuseError::InvalidArgument(format!(
                "bpm {bpm} out of range"
            )));
        }
        let bytes = band.midi_bytes(bpm)?;
        std::fs::write(&path, bytes).map_err(|e| MuseError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    })
}

/// # Safety
/// `b` NULL or from `muse_band_new`.
#[no_mangle]
pub unsafe extern "C" fn muse_band_reset(b: *mut MuseBand) -> MuseStatus {
    guard(|| {
        let band = band(b)?;
        band.inner.reset();
        band.pending.clear();
        Ok(())
    })
}

/// # Safety
/// `b` NULL or from `muse_band_new`; freeing twice is an error, not a crash.
#[no_mangle]
pub unsafe extern "C" fn muse_band_free(b: *mut MuseBand) -> MuseStatus {
    guard(|| {
        if b.is_null() {
            return Ok(());
        }
        if !BANDS.remove(b as usize) {
            return Err(MuseError::InvalidHandle(
                "not a live MuseBand (freed or foreign pointer)",
            ));
        }
        drop(Box::from_raw(b));
        Ok(())
    })
}
