//! The Nomad Muse training pipeline as a library: the `training` binary and
//! the workspace integration tests both drive it.

pub mod compute;
pub mod config;
pub mod corpus;
pub mod eval;
pub mod export;
pub mod fingerprint;
pub mod model;
pub mod pipeline;
pub mod prepare;
pub mod train;
