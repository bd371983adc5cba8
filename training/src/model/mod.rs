//! The experts' networks: token (+ conditioning) embeddings → GRU stack →
//! next-token head (drums: plus a groove head).

mod expert;
mod gru;
mod gru_fused;
pub mod init;

pub use expert::{
    masked_cross_entropy, ExpertModel, ExpertModelConfig, ForwardOutput, NamedWeight,
    CHORD_CONDITIONS, KEY_CONDITIONS,
};
pub use gru::{GruKernel, GruLayer};
