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

/// Crate version plus the git commit when built inside a checkout.
pub fn code_version() -> String {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    format!("{}+{commit}", env!("CARGO_PKG_VERSION"))
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
