/// Errors of the runtime; each maps to one C ABI status code.
#[derive(Debug, thiserror::Error)]
pub enum MuseError {
    #[error("null pointer: {0}")]
    NullPointer(&'static str),
    #[error("invalid handle: {0}")]
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
}
