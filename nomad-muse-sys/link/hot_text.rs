// The linker script that packs the functions a host runs at the start of
// `.text` (see `order_hot_functions` in build.rs, which includes this file;
// the library's tests include it too).

/// The function names (or patterns) `link/hot_functions.txt` lists: its
/// lines without blanks and `#` comments.
pub fn listed_names(list: &str) -> Vec<&str> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// A linker script for one `.text` (valgrind reads symbols from `.text`
/// only): static constructors (`.text.startup`, all run at load), the
/// listed functions by exact name, then every instance of each name's
/// family (hash wildcarded: another build of the same code, or a generic
/// instantiated anew, still lands near its kin), then every function that
/// names the library's own items, then the rest. `#[cold]` functions live
/// in `.text.unlikely.*`.
pub fn hot_text_script(names: &[&str]) -> String {
    let mut script =
        String::from("SECTIONS {\n  .text : {\n    *(.text.startup .text.startup.*)\n");
    let mut line = |pattern: &str| {
        script.push_str(&format!(
            "    *(.text.{pattern} .text.unlikely.{pattern})\n"
        ));
    };
    // The library's own functions bring their family along at once: editing
    // one changes its hash, and it has few instances.
    let mut families = std::collections::BTreeSet::new();
    for name in names {
        line(name);
        if let Some(family) = symbol_family(name).filter(|_| name.contains("nomad_muse")) {
            if families.insert(family.clone()) {
                line(&family);
            }
        }
    }
    for name in names {
        if let Some(family) = symbol_family(name) {
            if families.insert(family.clone()) {
                line(&family);
            }
        }
    }
    // A function added or changed since the list was written still lands
    // near the hot code, not anywhere in 6 MB.
    line("*nomad_muse*");
    script.push_str("    *(.text .text.*)\n  }\n}\nINSERT AFTER .init;\n");
    script
}

/// `name` with what differs between builds wildcarded: the legacy mangling's
/// hash (`17h<16 hex>E`) and LLVM's `.llvm.<digits>` suffix. None when
/// nothing does.
pub fn symbol_family(name: &str) -> Option<String> {
    let base = name.split(".llvm.").next().unwrap_or(name);
    let bytes = base.as_bytes();
    let hash_at = bytes.len().checked_sub(20).filter(|&at| {
        bytes[at..].starts_with(b"17h")
            && bytes.ends_with(b"E")
            && bytes[at + 3..bytes.len() - 1]
                .iter()
                .all(u8::is_ascii_hexdigit)
    });
    match hash_at {
        Some(at) => Some(format!("{}17h*", &base[..at])),
        None if base.len() < name.len() => Some(format!("{base}.llvm.*")),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_its_lines_without_blanks_and_comments() {
        let list = "# header\n_ZN3foo3bar17h0123456789abcdefE\n\n  muse_band_new  \n# more\n";
        assert_eq!(
            listed_names(list),
            ["_ZN3foo3bar17h0123456789abcdefE", "muse_band_new"]
        );
    }

    #[test]
    fn families_wildcard_the_hash_and_llvm_suffix_only() {
        let legacy = "_ZN4core4hash6Hasher9write_u6417hc74e1216ad9601b3E.llvm.4996155840632074897";
        assert_eq!(
            symbol_family(legacy).as_deref(),
            Some("_ZN4core4hash6Hasher9write_u6417h*")
        );
        let v0 = "_RNvNtCslNYArtu3iFV_5alloc5boxed14box_new_uninit.llvm.1554057085";
        assert_eq!(
            symbol_family(v0).as_deref(),
            Some("_RNvNtCslNYArtu3iFV_5alloc5boxed14box_new_uninit.llvm.*")
        );
        assert_eq!(symbol_family("muse_band_next_bar"), None);
        // Not a hash: 'x' is no hex digit.
        assert_eq!(symbol_family("_ZN3foo3bar17hx000000000000000E"), None);
    }

    #[test]
    fn exact_names_come_before_families_and_the_rest() {
        let own = "_ZN10nomad_muse3ffi4band3bar17h0123456789abcdefE";
        let names = ["_ZN3foo3bar17h0123456789abcdefE", "muse_band_next_bar", own];
        let script = hot_text_script(&names);
        let at = |s: &str| {
            script
                .find(s)
                .unwrap_or_else(|| panic!("{s} missing from\n{script}"))
        };
        assert!(at("*(.text.startup") < at("*(.text._ZN3foo3bar17h0123456789abcdefE"));
        assert!(at("*(.text._ZN3foo3bar17h0123456789abcdefE") < at("*(.text.muse_band_next_bar"));
        assert!(at("*(.text.muse_band_next_bar") < at("*(.text._ZN3foo3bar17h* "));
        assert!(at("*(.text._ZN3foo3bar17h* ") < at("*(.text.*nomad_muse* "));
        // The library's own family follows its name, before the others.
        assert!(at(&format!("*(.text.{own} ")) < at("*(.text._ZN10nomad_muse3ffi4band3bar17h* "));
        assert!(at("*(.text._ZN10nomad_muse3ffi4band3bar17h* ") < at("*(.text._ZN3foo3bar17h* "));
        assert!(at("*(.text.*nomad_muse* ") < at("*(.text .text.*)"));
        assert!(script.ends_with("INSERT AFTER .init;\n"));
    }
}
