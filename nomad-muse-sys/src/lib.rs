//! Nomad Muse: MIDI → Nomad Symbolic Format → expert tokenizers, and the
//! `libnomad_muse` C ABI that runs exported experts with tract-onnx.

pub mod ffi;
pub mod midi;
pub mod nsf;
pub mod runtime;
pub mod theory;
pub mod tokenizers;
