//! Regenerates `include/nomad_muse.h` from the C ABI with cbindgen, so the
//! checked-in header can never go stale; it is only rewritten when it changes.

use std::path::PathBuf;

#[allow(dead_code)] // build.rs uses the table only
mod abi {
    include!("src/ffi/constants.rs");
}

mod hot_text {
    include!("link/hot_text.rs");
}

fn main() {
    let crate_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let header = crate_dir.join("../include/nomad_muse.h");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=../Cargo.toml");
    set_soname();
    order_hot_functions(&crate_dir);
    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("valid cbindgen.toml");
    // The version macros come from the same Cargo.toml number as
    // `muse_version()`, so header and library cannot disagree.
    let version = |part: &str| {
        std::env::var(format!("CARGO_PKG_VERSION_{part}")).expect("cargo sets the version")
    };
    let mut defines = format!(
        "\n/* Version of this header; muse_version() gives the library's. */\n\
         #define NOMAD_MUSE_VERSION_MAJOR {}\n#define NOMAD_MUSE_VERSION_MINOR {}\n\
         #define NOMAD_MUSE_VERSION_PATCH {}\n",
        version("MAJOR"),
        version("MINOR"),
        version("PATCH")
    );
    for (name, value, comment) in abi::HEADER_CONSTANTS {
        defines.push_str(&format!("\n/* {comment} */\n#define {name} {value}\n"));
    }
    config.after_includes = Some(defines);
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

/// The shared library names its ABI generation (`libnomad_muse.so.<major>`),
/// so hosts linked against one major version never load another.
fn set_soname() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" || os.ends_with("bsd") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnomad_muse.so.{major}");
    }
}

/// Packs the functions a host runs (load, parity check, bars) together at
/// the start of the shared library's code: the kernel maps code in 64 KB
/// windows around each page a call touches, so 1.2 MB of functions spread
/// over 5.9 MB of `.text` kept almost all of it resident. The list
/// (`link/hot_functions.txt`, written by `scripts/dev/hot_functions.py`)
/// only orders code: a line that matches nothing changes nothing.
fn order_hot_functions(crate_dir: &std::path::Path) {
    let list = crate_dir.join("link/hot_functions.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    println!("cargo:rerun-if-changed=link/hot_text.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os != "linux" || env != "gnu" {
        return;
    }
    let Ok(list) = std::fs::read_to_string(&list) else {
        return;
    };
    let names = hot_text::listed_names(&list);
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let script = out.join("hot_functions.ld");
    let text = hot_text::hot_text_script(&names);
    std::fs::write(&script, &text).expect("write the hot-functions linker script");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-T,{}", script.display());
    // Beside the libraries too (target/<profile>/): a host linking the static
    // archive passes it to its own link (CMake and pkg-config do).
    if let Some(profile_dir) = out.ancestors().nth(3) {
        let staged = profile_dir.join("nomad_muse_hot_text.ld");
        if std::fs::read_to_string(&staged).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&staged, &text).expect("write nomad_muse_hot_text.ld");
        }
    }
}
