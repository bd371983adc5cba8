//! Opening a band of the three experts `<dir>/{drums,harmony,melody}<suffix>.onnx`
//! through the C ABI (shared by the latency bench and `examples/bar_probe`).

use std::ffi::CString;
use std::path::Path;

use nomad_muse::ffi::{muse_band_new, MuseBand, MuseNoteEvent, MuseStatus};

pub fn open_band(dir: &Path, suffix: &str) -> Option<*mut MuseBand> {
    let path = |e: &str| CString::new(dir.join(format!("{e}{suffix}.onnx")).to_str()?).ok();
    let (d, h, m) = (path("drums")?, path("harmony")?, path("melody")?);
    let mut band: *mut MuseBand = std::ptr::null_mut();
    // SAFETY: valid C strings, NULL options, writable out pointer.
    let st = unsafe {
        muse_band_new(
            d.as_ptr(),
            h.as_ptr(),
            m.as_ptr(),
            std::ptr::null(),
            &mut band,
        )
    };
    (st == MuseStatus::MuseOk).then_some(band)
}

/// Room for a bar's notes (`muse_band_next_bar`'s buffer).
pub fn note_buffer() -> Vec<MuseNoteEvent> {
    let empty = MuseNoteEvent {
        tick: 0,
        duration: 0,
        pitch: 0,
        velocity: 0,
        channel: 0,
        reserved: 0,
    };
    vec![empty; 1024]
}

/// Minor page faults of the calling thread so far (Linux; 0 elsewhere).
pub fn thread_minor_faults() -> u64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: getrusage writes one rusage into the zeroed struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) } == 0 {
            return usage.ru_minflt as u64;
        }
    }
    0
}
