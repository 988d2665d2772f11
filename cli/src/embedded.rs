//! The preload library carried inside the `assafe` binary (see `cli/build.rs`), written once to a
//! private cache directory keyed by its hash, so that an `assafe` installed with `cargo install`
//! finds its library with no further step. `assafe lib` prints the path.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The library's bytes (empty when this binary was built without it).
pub const LIBRARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libassafe.so.embed"));
/// 64-bit FNV-1a of [`LIBRARY`], in hex.
pub const HASH: &str = include_str!(concat!(env!("OUT_DIR"), "/libassafe.so.hash"));

/// Whether this binary carries the library.
pub fn available() -> bool {
    cfg!(assafe_embedded) && !LIBRARY.is_empty()
}

/// The cache directory: `$XDG_CACHE_HOME/assafe`, else `$HOME/.cache/assafe`, else
/// `/tmp/assafe-<uid>`.
fn cache_dirs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| Path::new(x).is_absolute()) {
        v.push(PathBuf::from(x).join("assafe"));
    }
    if let Some(h) = std::env::var_os("HOME").filter(|h| Path::new(h).is_absolute()) {
        v.push(PathBuf::from(h).join(".cache/assafe"));
    }
    // SAFETY: getuid cannot fail and touches no memory of ours.
    let uid = unsafe { libc::getuid() };
    v.push(PathBuf::from(format!("/tmp/assafe-{uid}")));
    v
}

/// A directory we may keep an executable in: ours, not a symlink, writable by nobody else.
fn private_dir(dir: &Path) -> Result<(), String> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    }
    let m = fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    if !m.is_dir() || m.uid() != uid || m.mode() & 0o022 != 0 {
        return Err(format!(
            "{}: not a directory owned by uid {uid} and writable only by it",
            dir.display()
        ));
    }
    Ok(())
}

/// Writes the library into the first usable cache directory (once: an existing file of the
/// right size, owned by us, is reused) and returns its path.
pub fn extract() -> Result<PathBuf, String> {
    if !available() {
        return Err("this assafe was built without an embedded libassafe.so".to_owned());
    }
    let name = format!("libassafe-{}.so", HASH.trim());
    let mut errors = Vec::new();
    for dir in cache_dirs() {
        if let Err(e) = private_dir(&dir) {
            errors.push(e);
            continue;
        }
        let path = dir.join(&name);
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        if fs::symlink_metadata(&path)
            .is_ok_and(|m| m.is_file() && m.len() == LIBRARY.len() as u64 && m.uid() == uid)
        {
            return Ok(path);
        }
        // Write a private temporary file and rename it into place: concurrent runs never see
        // a partial library.
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o755)
            .open(&tmp)
            .and_then(|mut f| f.write_all(LIBRARY).and_then(|()| f.sync_all()))
            .and_then(|()| fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)))
            .and_then(|()| fs::rename(&tmp, &path));
        match written {
            Ok(()) => return Ok(path),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                errors.push(format!("{}: {e}", path.display()));
            }
        }
    }
    Err(format!(
        "cannot write the embedded libassafe.so to a cache directory ({})",
        errors.join("; ")
    ))
}
