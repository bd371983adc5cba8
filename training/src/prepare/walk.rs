//! The folder walk of `prepare`: every `.mid`/`.midi` file below a folder,
//! each directory visited once (symlinks followed, loops cut by canonical
//! path), anything that is not a regular file of sane size skipped with its
//! reason and never opened.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::SkippedFile;

/// Files above this size are skipped (the largest real MIDI files are a few
/// MB; a 50 MB file still goes through).
pub const MAX_MIDI_BYTES: u64 = 64 * 1024 * 1024;

/// A MIDI file to convert and the name its outputs take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MidiFile {
    pub path: PathBuf,
    /// Relative to the folder, `/`-separated, unique within the walk.
    pub name: String,
}

/// What the walk found.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    pub files: Vec<MidiFile>,
    pub skipped: Vec<SkippedFile>,
}

fn has_midi_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("mid") || e.eq_ignore_ascii_case("midi"))
}

/// The walk's name for `path`: relative, `/`-separated, and when the name
/// is not UTF-8 a hash of its raw bytes is added, so two names that differ
/// only in undecodable bytes stay apart.
fn output_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let lossy = rel.to_string_lossy().replace('\\', "/");
    if rel.to_str().is_some() {
        return lossy;
    }
    format!("{lossy}.{:016x}", fnv1a(os_bytes(rel.as_os_str())))
}

#[cfg(unix)]
fn os_bytes(s: &OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().to_vec()
}

#[cfg(not(unix))]
fn os_bytes(s: &OsStr) -> Vec<u8> {
    s.to_string_lossy().into_owned().into_bytes()
}

fn fnv1a(bytes: Vec<u8>) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Every MIDI file below `root`, sorted by name, and every entry skipped.
pub fn walk_midi_folder(root: &Path) -> Walk {
    let mut walk = Walk::default();
    let mut seen_dirs: HashSet<PathBuf> = HashSet::new();
    let mut seen_files: HashSet<PathBuf> = HashSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        match std::fs::canonicalize(&dir) {
            Ok(c) => {
                if !seen_dirs.insert(c) {
                    continue;
                }
            }
            Err(e) => {
                walk.skip(root, &dir, format!("cannot resolve folder: {e}"));
                continue;
            }
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                walk.skip(root, &dir, format!("cannot read folder: {e}"));
                continue;
            }
        };
        for entry in entries {
            match entry {
                Ok(entry) => walk.visit(root, entry.path(), &mut stack, &mut seen_files),
                Err(e) => walk.skip(root, &dir, format!("cannot read folder entry: {e}")),
            }
        }
    }
    walk.files.sort_by(|a, b| a.name.cmp(&b.name));
    walk.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    walk
}

impl Walk {
    fn skip(&mut self, root: &Path, path: &Path, reason: String) {
        self.skipped.push(SkippedFile {
            path: output_name(root, path),
            reason,
        });
    }

    /// One folder entry: a folder to walk, a MIDI file, or a skip.
    fn visit(
        &mut self,
        root: &Path,
        path: PathBuf,
        stack: &mut Vec<PathBuf>,
        seen_files: &mut HashSet<PathBuf>,
    ) {
        // metadata() follows symlinks: a link to a folder is walked, a
        // dangling link is reported.
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if has_midi_extension(&path) => {
                return self.skip(root, &path, format!("cannot read: {e}"))
            }
            Err(_) => return,
        };
        if meta.is_dir() {
            if has_midi_extension(&path) {
                self.skip(
                    root,
                    &path,
                    "a folder, not a MIDI file (its contents are searched)".into(),
                );
            }
            stack.push(path);
            return;
        }
        if !has_midi_extension(&path) {
            return;
        }
        if !meta.is_file() {
            return self.skip(
                root,
                &path,
                "not a regular file (FIFO, device or socket): not opened".into(),
            );
        }
        if meta.len() > MAX_MIDI_BYTES {
            let reason = format!(
                "{} bytes: above the {MAX_MIDI_BYTES}-byte limit",
                meta.len()
            );
            return self.skip(root, &path, reason);
        }
        // The same file through two links is converted once.
        if let Ok(c) = std::fs::canonicalize(&path) {
            if !seen_files.insert(c) {
                return;
            }
        }
        let name = output_name(root, &path);
        self.files.push(MidiFile { path, name });
    }
}

/// Reads a file the walk accepted, refusing anything that is not (or no
/// longer) a regular file under the size limit.
pub fn read_midi_file(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file: not opened".into());
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_MIDI_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_MIDI_BYTES {
        return Err(format!("above the {MAX_MIDI_BYTES}-byte limit"));
    }
    Ok(bytes)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nomad_walk_{name}_{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn link_loops_fifos_folders_and_big_files_never_hang_or_duplicate() {
        let root = temp_dir("hostile");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/song.mid"), b"MThd").unwrap();
        // A loop back to the root and a second link to the same file.
        std::os::unix::fs::symlink(&root, root.join("a/b/loop")).unwrap();
        std::os::unix::fs::symlink(root.join("a/b/song.mid"), root.join("again.mid")).unwrap();
        std::os::unix::fs::symlink(root.join("missing.mid"), root.join("dangling.mid")).unwrap();
        std::fs::create_dir_all(root.join("folder.mid")).unwrap();
        let fifo = root.join("pipe.mid");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let big = std::fs::File::create(root.join("huge.midi")).unwrap();
        big.set_len(MAX_MIDI_BYTES + 1).unwrap();
        let walk = walk_midi_folder(&root);
        let names: Vec<&str> = walk.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(names[0] == "a/b/song.mid" || names[0] == "again.mid");
        let reason = |name: &str| {
            walk.skipped
                .iter()
                .find(|s| s.path == name)
                .map(|s| s.reason.clone())
                .unwrap_or_default()
        };
        assert!(
            reason("pipe.mid").contains("not a regular file"),
            "{:?}",
            walk.skipped
        );
        assert!(reason("huge.midi").contains("limit"));
        assert!(reason("folder.mid").contains("a folder"));
        assert!(reason("dangling.mid").contains("cannot read"));
        assert!(read_midi_file(&fifo).is_err());
    }

    #[test]
    fn names_differing_only_in_undecodable_bytes_stay_apart() {
        let root = temp_dir("bytes");
        for raw in [&b"song\xff.mid"[..], &b"song\xfe.mid"[..]] {
            std::fs::write(root.join(OsStr::from_bytes(raw)), b"MThd").unwrap();
        }
        let walk = walk_midi_folder(&root);
        assert_eq!(walk.files.len(), 2);
        assert_ne!(walk.files[0].name, walk.files[1].name);
    }
}
