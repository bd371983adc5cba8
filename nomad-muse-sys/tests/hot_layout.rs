//! libnomad_muse.so packs the functions a host runs at the start of `.text`
//! (build.rs with `link/hot_functions.txt`), so that little of its code stays
//! resident in a host (README, "Memory"). This checks the list still names
//! the library's functions (regenerate it with scripts/dev/hot_functions.py
//! when it does not) and that the per-bar path landed in the packed part.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

#[allow(dead_code)] // the list's parser only; build.rs uses the rest
#[path = "../link/hot_text.rs"]
mod hot_text;

/// The shared library cargo built with this test (`target/<profile>/deps/`:
/// `cargo test` links it there and copies it up only on `cargo build`).
fn shared_library() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    exe.parent()
        .expect("target/<profile>/deps")
        .join("libnomad_muse.so")
}

/// Address of every function symbol in `lib` (`nm`, from binutils).
fn function_addresses(lib: &std::path::Path) -> HashMap<String, u64> {
    let out = Command::new("nm")
        .arg("--defined-only")
        .arg(lib)
        .output()
        .expect("nm (binutils) runs");
    assert!(out.status.success(), "nm failed on {}", lib.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (addr, kind, name) = (f.next()?, f.next()?, f.next()?);
            matches!(kind, "t" | "T" | "w" | "W")
                .then(|| Some((name.to_string(), u64::from_str_radix(addr, 16).ok()?)))?
        })
        .collect()
}

#[test]
fn the_functions_a_host_runs_are_packed_at_the_start_of_text() {
    let lib = shared_library();
    assert!(lib.exists(), "{} not built", lib.display());
    let addresses = function_addresses(&lib);
    let text_start = *addresses.values().min().expect("functions in the library");
    let listed = hot_text::listed_names(include_str!("../link/hot_functions.txt"));
    let present: Vec<u64> = listed
        .iter()
        .filter_map(|name| addresses.get(*name))
        .map(|a| a - text_start)
        .collect();
    assert!(
        present.len() * 10 >= listed.len() * 8,
        "{} of {} listed functions are in the library: regenerate link/hot_functions.txt \
         (scripts/dev/hot_functions.py)",
        present.len(),
        listed.len()
    );
    // The listed functions are 1.3 MB; the whole `.text` is about 6 MB.
    const PACKED: u64 = 2 << 20;
    let spread = present.iter().filter(|a| **a >= PACKED).count();
    assert_eq!(
        spread, 0,
        "{spread} listed functions lie past the first 2 MB of .text"
    );
    for entry in [
        "muse_band_new",
        "muse_band_next_bar",
        "muse_band_write_midi",
    ] {
        let at = addresses[entry] - text_start;
        assert!(at < PACKED, "{entry} at {at:#x}, past the packed part");
    }
}
