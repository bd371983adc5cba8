//! Run fingerprints: a hash of everything that determines a training run.

use serde::Serialize;
use sha2::{Digest, Sha256};

use nomad_muse::tokenizers::EncodedSequence;

#[derive(Debug, Clone, Serialize)]
pub struct Fingerprint {
    /// sha256 over all the fields below.
    pub hash: String,
    pub config_sha256: String,
    pub data_sha256: String,
    pub vocab_sha256: String,
    pub code_version: String,
    pub seed: u64,
}

fn sha(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Crate version plus a hash of the sources, captured when this binary was
/// built (`build.rs`), so a run never depends on where it is started from.
pub fn code_version() -> String {
    env!("NOMAD_MUSE_CODE_VERSION").to_string()
}

/// Hash of a data manifest: every song name and its token ids, in order.
pub fn data_hash(songs: &[(String, EncodedSequence)]) -> String {
    let mut h = Sha256::new();
    for (name, seq) in songs {
        h.update(name.as_bytes());
        h.update([0]);
        for list in [&seq.tokens, &seq.chord_cond, &seq.key_cond] {
            for t in list.iter() {
                h.update(t.to_le_bytes());
            }
            h.update([0xff]);
        }
    }
    format!("{:x}", h.finalize())
}

impl Fingerprint {
    pub fn new(config_json: &str, data_sha256: String, vocab_json: &str, seed: u64) -> Self {
        let config_sha256 = sha(config_json.as_bytes());
        let vocab_sha256 = sha(vocab_json.as_bytes());
        let code_version = code_version();
        let hash = sha(format!(
            "{config_sha256}|{data_sha256}|{vocab_sha256}|{code_version}|{seed}"
        )
        .as_bytes());
        Fingerprint {
            hash,
            config_sha256,
            data_sha256,
            vocab_sha256,
            code_version,
            seed,
        }
    }
}
