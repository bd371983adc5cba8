//! Inference on exported experts with tract-onnx: one stateful session per
//! expert, grammar-masked sampling, the step trait every generator drives,
//! the band (the one generation core) and Chord ID.

pub mod band;
mod chord_id;
mod error;
pub mod fused;
mod mask_cache;
pub mod model_check;
pub mod onnx_parser;
pub mod realtime_alloc;
mod resident;
mod sampler;
mod session;
mod step;

pub use band::{
    voice_chord, Band, BandNote, BarNotes, ChordChange, ChordTrack, Part, PartControls, Primer,
    PrimerNote, Reroll, SongContext, TimeSignature, TICKS_PER_QUARTER,
};
pub use chord_id::{identify_chords, ChordAnalysis, IdentifiedChord, KeySegment};
pub use error::MuseError;
pub use mask_cache::MaskCache;
pub use sampler::{sample_masked, Sampler, SamplingOptions, XorShiftRng};
pub use session::{EngineChoice, ExpertSession};
pub use step::StepModel;
