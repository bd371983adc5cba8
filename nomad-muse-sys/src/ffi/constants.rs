// Constants of the C ABI. build.rs `include!`s this file to write them into
// the header as macros (cbindgen would export every constant of the crate),
// so it holds plain items only.

/// Melody's chord conditioning id meaning "no chord".
pub const MUSE_CHORD_NONE: i32 = 132;
/// Chord conditioning ids are 0 .. MUSE_CHORD_ID_COUNT-1.
pub const MUSE_CHORD_ID_COUNT: i32 = 133;
/// Key conditioning ids are 0 .. MUSE_KEY_ID_COUNT-1.
pub const MUSE_KEY_ID_COUNT: i32 = 24;

/// Every constant of the header: name, value, comment.
#[cfg_attr(not(test), allow(dead_code))]
pub const HEADER_CONSTANTS: &[(&str, i32, &str)] = &[
    (
        "MUSE_CHORD_NONE",
        MUSE_CHORD_NONE,
        "Melody's chord conditioning id meaning \"no chord\".",
    ),
    (
        "MUSE_CHORD_ID_COUNT",
        MUSE_CHORD_ID_COUNT,
        "Chord conditioning ids are 0 .. MUSE_CHORD_ID_COUNT-1: root * 11 + quality, then no chord.",
    ),
    (
        "MUSE_KEY_ID_COUNT",
        MUSE_KEY_ID_COUNT,
        "Key conditioning ids are 0 .. MUSE_KEY_ID_COUNT-1: tonic (0 = C) + 12 for minor.",
    ),
];
