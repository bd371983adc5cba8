//! Captures the code version at build time for run fingerprints: the crate
//! version plus a hash of every source file that decides what training does
//! (this crate, the shared library's tokenizers and analysis, the built-in
//! config). A source tarball without git gets the same version as the
//! checkout it came from, and uncommitted edits change it.

use std::path::{Path, PathBuf};

/// The folders and files hashed, relative to this crate.
const SOURCES: &[&str] = &[
    "src",
    "../nomad-muse-sys/src",
    "../config_multi_expert.yaml",
];

/// FNV-1a, 64 bits: stable across Rust versions (std's hasher is not).
fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

fn files_under(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
    } else if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            files_under(&entry.path(), out);
        }
    }
}

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut files = Vec::new();
    for source in SOURCES {
        println!("cargo:rerun-if-changed={source}");
        files_under(&crate_dir.join(source), &mut files);
    }
    files.sort();
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for file in &files {
        let relative = file.strip_prefix(&crate_dir).unwrap_or(file);
        fnv1a(&mut hash, relative.to_string_lossy().as_bytes());
        fnv1a(&mut hash, &[0]);
        fnv1a(&mut hash, &std::fs::read(file).unwrap_or_default());
        fnv1a(&mut hash, &[0xff]);
    }
    let version = std::env::var("CARGO_PKG_VERSION").expect("set by cargo");
    println!("cargo:rustc-env=NOMAD_MUSE_CODE_VERSION={version}+src.{hash:016x}");
}
