//! Nomad Muse: MIDI → Nomad Symbolic Format → expert tokenizers, and the
//! `libnomad_muse` C ABI that runs exported experts with tract-onnx.

pub mod ffi;
pub mod midi;
pub mod nsf;
pub mod runtime;
pub mod theory;
pub mod tokenizers;

// The linker script build.rs writes (tested here; build.rs includes it).
#[cfg(test)]
#[path = "../link/hot_text.rs"]
mod hot_text;

/// Per-token calls allocate from a session arena, never the system heap
/// (see `runtime::realtime_alloc`). A Rust program that needs its own global
/// allocator turns the feature off.
#[cfg(feature = "realtime-alloc")]
#[global_allocator]
static GLOBAL_ALLOCATOR: runtime::realtime_alloc::RealtimeAllocator =
    runtime::realtime_alloc::RealtimeAllocator;
