/// Errors of the runtime; each maps to one C ABI status code.
#[derive(Debug, thiserror::Error)]
pub enum MuseError {
    #[error("null pointer: {0}")]
    NullPointer(&'static str),
    #[error("invalid handle: not a live {0} (freed, foreign or another type's pointer)")]
    InvalidHandle(&'static str),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("i/o error on {path}: {message}")]
    Io { path: String, message: String },
    #[error("model error: {0}")]
    Model(String),
    #[error("wrong expert: expected {expected}, the model is {found}")]
    WrongExpert { expected: String, found: String },
    #[error("buffer too small: {needed} needed, {capacity} given")]
    BufferTooSmall { needed: usize, capacity: usize },
    #[error("path is not valid UTF-8")]
    Utf8,
    #[error("busy: {0} is in use by a call on another thread")]
    Busy(&'static str),
    #[error("{0} was left inconsistent by an earlier internal panic: free it")]
    Poisoned(&'static str),
    #[error("limit reached: {0}")]
    Limit(String),
}
