//! Inference on exported experts with tract-onnx: one stateful session per
//! expert, grammar-masked sampling, and the coordinated one-bar step of the
//! three experts (the band).

mod band;
mod error;
pub mod model_check;
pub mod realtime_alloc;
mod sampler;
mod session;

pub use band::{voice_chord, Band, BandNote, TICKS_PER_QUARTER};
pub use error::MuseError;
pub use sampler::{sample_masked, SamplingOptions, XorShiftRng};
pub use session::ExpertSession;
