//! The library's version, one number from Cargo.toml: `muse_version()` at
//! run time and `NOMAD_MUSE_VERSION_MAJOR/MINOR/PATCH` in the header
//! (build.rs writes those from the same `CARGO_PKG_VERSION_*`).

use std::ffi::c_char;

/// The library's version, "MAJOR.MINOR.PATCH" (semantic versioning: within
/// one MAJOR, the ABI only grows). Compare it with the header's
/// `NOMAD_MUSE_VERSION_*` macros to catch a header/library mismatch.
///
/// Ownership: a static string, never freed. Threads: any. Never fails.
#[no_mangle]
pub extern "C" fn muse_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    /// The checked-in header carries the same version as Cargo.toml.
    #[test]
    fn header_macros_and_muse_version_agree_with_cargo_toml() {
        // SAFETY: a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(super::muse_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        let header = include_str!("../../../include/nomad_muse.h");
        for (name, value) in [
            ("MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
            ("MINOR", env!("CARGO_PKG_VERSION_MINOR")),
            ("PATCH", env!("CARGO_PKG_VERSION_PATCH")),
        ] {
            let line = format!("#define NOMAD_MUSE_VERSION_{name} {value}\n");
            assert!(header.contains(&line), "header lacks {line:?}");
        }
        for (name, value, _) in super::super::constants::HEADER_CONSTANTS {
            let line = format!("#define {name} {value}\n");
            assert!(header.contains(&line), "header lacks {line:?}");
        }
    }
}
