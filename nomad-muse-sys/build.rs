//! Regenerates `include/nomad_muse.h` from the C ABI with cbindgen, so the
//! checked-in header can never go stale; it is only rewritten when it changes.

use std::path::PathBuf;

fn main() {
    let crate_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let header = crate_dir.join("../include/nomad_muse.h");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("valid cbindgen.toml");
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            let mut bytes = Vec::new();
            bindings.write(&mut bytes);
            if std::fs::read(&header).ok().as_deref() != Some(bytes.as_slice()) {
                std::fs::write(&header, bytes).expect("write include/nomad_muse.h");
            }
        }
        Err(e) => panic!("cbindgen failed: {e}"),
    }
}
