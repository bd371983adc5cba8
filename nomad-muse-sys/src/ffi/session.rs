//! `MuseSession`: one expert from one .onnx file.

use std::ffi::c_char;
use std::ptr::null_mut;

use super::error::MuseStatus;
use super::guard::{guard, in_out_arg, path_arg, slice_arg, slice_mut_arg, Out};
use super::handle::{HandleTable, HandleValue};
use crate::runtime::{ExpertSession, MuseError, SamplingOptions};
use crate::tokenizers::{ExpertKind, Vocabulary};

/// An expert session (opaque). Created by `muse_session_new`, freed by
/// `muse_session_free`; used by one thread at a time.
pub struct MuseSession {
    _opaque: [u8; 0],
}

/// Which expert a session runs.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuseExpertKind {
    MuseExpertDrums = 0,
    MuseExpertHarmony = 1,
    MuseExpertMelody = 2,
    /// The song's form and energy (sections, repeats, part densities, fills).
    MuseExpertConductor = 3,
}

/// Sampling options; pass NULL for the defaults (temperature 1, no top-k,
/// no top-p, seed 0). Read during the call only (the library keeps a copy).
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

use super::constants::{MUSE_CHORD_ID_COUNT, MUSE_CHORD_NONE, MUSE_KEY_ID_COUNT};
const _: () = assert!(
    MUSE_CHORD_ID_COUNT as u32 == crate::theory::ChordLabel::DENSE_COUNT
        && MUSE_CHORD_NONE == MUSE_CHORD_ID_COUNT - 1
        && MUSE_KEY_ID_COUNT as u32 == crate::theory::Key::DENSE_COUNT
);

/// Read-only calls overlap each other: they only see the vocabulary.
impl HandleValue for ExpertSession {
    type ReadOnly = Vocabulary;
    fn read_only(&self) -> &Vocabulary {
        self.vocabulary()
    }
}

/// Live sessions; more than this many at once is `MUSE_ERR_LIMIT`.
pub(crate) const MAX_SESSIONS: usize = 4096;
static SESSIONS: HandleTable<ExpertSession, MAX_SESSIONS> = HandleTable::new("MuseSession");

/// The options and seed `opts` gives (NULL: defaults).
///
/// # Safety
/// `opts` must be NULL or point to a readable `MuseSessionOptions`.
pub(crate) unsafe fn options_arg(
    opts: *const MuseSessionOptions,
) -> Result<(SamplingOptions, u64), MuseError> {
    let Some(o) = opts.as_ref() else {
        return Ok((SamplingOptions::default(), 0));
    };
    let options = SamplingOptions {
        temperature: o.temperature,
        top_k: o.top_k,
        top_p: o.top_p,
    };
    options.validate()?;
    Ok((options, o.seed))
}

/// Loads an exported expert (.onnx; everything it needs is in the file).
/// `opts` may be NULL. The file must be a regular file within the library's
/// limits (see `MUSE_ERR_MODEL`); loading takes well under a second. tract
/// validates the graph; an expert laid out as the exporter writes it then
/// runs on the fused step, which must match tract's graph within 1e-4 over
/// a few steps at load (else `MUSE_ERR_MODEL`); any other valid graph runs
/// on tract, in a preallocated real-time arena: with 64 such sessions
/// live, one more is refused with `MUSE_ERR_LIMIT`.
///
/// Ownership: on success `*out` is a new session the caller frees with
/// `muse_session_free`; on failure `*out` is NULL. Threads: any thread (not
/// the audio thread: it reads a file and allocates).
///
/// # Safety
/// `onnx_path` NULL or NUL-terminated; `opts` NULL or readable; `out` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_session_new(
    onnx_path: *const c_char,
    opts: *const MuseSessionOptions,
    out: *mut *mut MuseSession,
) -> MuseStatus {
    guard(|| {
        let out = Out::clear(out, null_mut()).required("out")?;
        let path = path_arg(onnx_path, "onnx_path")?;
        let (options, _) = options_arg(opts)?;
        let session = ExpertSession::load_with_options(&path, options)?;
        out.set(SESSIONS.insert(Box::new(session))?.cast());
        Ok(())
    })
}

/// Frees a session. NULL is a no-op; a freed or foreign pointer is
/// `MUSE_ERR_INVALID_HANDLE`; a session another thread's call is using is
/// `MUSE_ERR_BUSY` (nothing freed: free it once no call is in flight).
///
/// # Safety
/// `session` may be any value; only live handles are dereferenced.
#[no_mangle]
pub unsafe extern "C" fn muse_session_free(session: *mut MuseSession) -> MuseStatus {
    guard(|| SESSIONS.remove(session.cast()))
}

/// Back to the start: zero GRU state, empty grammar (keeps the options).
/// Threads: any, one call per session at a time (else `MUSE_ERR_BUSY`).
///
/// # Safety
/// `session` may be any value; only live handles are dereferenced.
#[no_mangle]
pub unsafe extern "C" fn muse_session_reset(session: *mut MuseSession) -> MuseStatus {
    guard(|| {
        SESSIONS.exclusive(session.cast())?.reset();
        Ok(())
    })
}

/// Number of tokens in the session's vocabulary (`*out` = 0 on failure).
/// Read-only: may run while another read-only call uses the session.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_vocab_size(
    session: *const MuseSession,
    out: *mut usize,
) -> MuseStatus {
    guard(|| {
        let out = Out::clear(out, 0).required("out")?;
        out.set(SESSIONS.shared(session.cast())?.len());
        Ok(())
    })
}

/// Which expert the session runs (`*out` = drums on failure). Read-only.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_expert_kind(
    session: *const MuseSession,
    out: *mut MuseExpertKind,
) -> MuseStatus {
    guard(|| {
        let out = Out::clear(out, MuseExpertKind::MuseExpertDrums).required("out")?;
        out.set(match SESSIONS.shared(session.cast())?.expert() {
            ExpertKind::Drums => MuseExpertKind::MuseExpertDrums,
            ExpertKind::Harmony => MuseExpertKind::MuseExpertHarmony,
            ExpertKind::Melody => MuseExpertKind::MuseExpertMelody,
            ExpertKind::Conductor => MuseExpertKind::MuseExpertConductor,
        });
        Ok(())
    })
}

/// Writes the token's name, NUL-terminated, into `buf` (`len` bytes). On
/// failure `buf` holds "" (when `len` > 0). Read-only.
///
/// # Safety
/// `buf` NULL or `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_token_to_string(
    session: *const MuseSession,
    token: i32,
    buf: *mut c_char,
    len: usize,
) -> MuseStatus {
    guard(|| {
        let buf = slice_mut_arg(buf.cast::<u8>(), len, "buf")?;
        if let Some(first) = buf.first_mut() {
            *first = 0;
        }
        let vocab = SESSIONS.shared(session.cast())?;
        write_token_name(&vocab, token, buf)
    })
}

/// The token's name, NUL-terminated, in `buf`.
fn write_token_name(vocab: &Vocabulary, token: i32, buf: &mut [u8]) -> Result<(), MuseError> {
    let name = u32::try_from(token)
        .ok()
        .and_then(|t| vocab.token(t))
        .ok_or_else(|| {
            MuseError::InvalidArgument(format!("token {token} is outside the vocabulary"))
        })?
        .to_string();
    let Some(dst) = buf.get_mut(..name.len() + 1) else {
        return Err(MuseError::BufferTooSmall {
            needed: name.len() + 1,
            capacity: buf.len(),
        });
    };
    dst[..name.len()].copy_from_slice(name.as_bytes());
    dst[name.len()] = 0;
    Ok(())
}

/// Shared body of the two generate calls (`condition`: melody's chord, key).
#[allow(clippy::too_many_arguments)]
unsafe fn generate(
    session: *mut MuseSession,
    context: *const i32,
    n: usize,
    condition: Option<(i32, i32)>,
    temperature: f32,
    rng_state: *mut u64,
    out_token: *mut i32,
) -> MuseStatus {
    guard(|| {
        let out = Out::clear(out_token, 0).required("out_token")?;
        let rng = in_out_arg(rng_state, "rng_state")?;
        let context = token_ids(slice_arg(context, n, "context")?)?;
        let condition = condition.map(conditioning_ids).transpose()?;
        let mut next_rng = *rng;
        let token = SESSIONS.exclusive(session.cast())?.generate_next(
            context,
            condition,
            temperature,
            &mut next_rng,
        )?;
        *rng = next_rng;
        out.set(token as i32);
        Ok(())
    })
}

/// Melody's (chord, key) ids from C; the range is checked by the session.
fn conditioning_ids((chord, key): (i32, i32)) -> Result<(u32, u32), MuseError> {
    let id = |v: i32, what: &str| {
        u32::try_from(v).map_err(|_| MuseError::InvalidArgument(format!("{what} id {v} < 0")))
    };
    Ok((id(chord, "chord")?, id(key, "key")?))
}

/// Token ids from C as `u32`s (same layout), once none is negative.
fn token_ids(ids: &[i32]) -> Result<&[u32], MuseError> {
    if let Some(bad) = ids.iter().find(|t| **t < 0) {
        return Err(MuseError::InvalidArgument(format!("token {bad} < 0")));
    }
    // SAFETY: i32 and u32 share size and alignment; every value is >= 0.
    Ok(unsafe { std::slice::from_raw_parts(ids.as_ptr().cast::<u32>(), ids.len()) })
}

/// Feeds the `n` context tokens, then samples the next token among what the
/// grammar allows (the sampled token is not fed: pass it as context of the
/// next call). All or nothing: every token is checked against the
/// vocabulary and grammar before any is fed; on failure the session,
/// `*rng_state` are exactly as before and `*out_token` is 0.
///
/// Threads: the per-token call, fit for an audio thread (no lock; after the
/// first call on a thread, no system allocation). One call per session at a
/// time: a concurrent call on the same session returns `MUSE_ERR_BUSY`.
///
/// # Safety
/// `context` must point to `n` tokens (NULL when n = 0); `rng_state`
/// readable and writable; `out_token` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_generate_next(
    session: *mut MuseSession,
    context: *const i32,
    n: usize,
    temperature: f32,
    rng_state: *mut u64,
    out_token: *mut i32,
) -> MuseStatus {
    generate(session, context, n, None, temperature, rng_state, out_token)
}

/// Melody: like `muse_generate_next`, with the chord (0 ..
/// `MUSE_CHORD_ID_COUNT`-1, `MUSE_CHORD_NONE` = no chord) and key (0 ..
/// `MUSE_KEY_ID_COUNT`-1) conditioning ids applied to the fed tokens and the
/// sampled one. Ids out of range are `MUSE_ERR_INVALID_ARGUMENT` before
/// anything is fed; another expert is `MUSE_ERR_WRONG_EXPERT`.
///
/// # Safety
/// As for `muse_generate_next`.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // the C signature is the contract
pub unsafe extern "C" fn muse_generate_next_conditioned(
    session: *mut MuseSession,
    context: *const i32,
    n: usize,
    chord: i32,
    key: i32,
    temperature: f32,
    rng_state: *mut u64,
    out_token: *mut i32,
) -> MuseStatus {
    let condition = Some((chord, key));
    generate(
        session,
        context,
        n,
        condition,
        temperature,
        rng_state,
        out_token,
    )
}
