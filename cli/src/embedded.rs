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
/// The musl build of the library (x86_64; empty when this binary was built without it).
pub const MUSL_LIBRARY: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/libassafe-musl.so.embed"));
/// 64-bit FNV-1a of [`MUSL_LIBRARY`], in hex.
pub const MUSL_HASH: &str = include_str!(concat!(env!("OUT_DIR"), "/libassafe-musl.so.hash"));

/// Whether this binary carries the library.
pub fn available() -> bool {
    cfg!(assafe_embedded) && !LIBRARY.is_empty()
}

/// Whether this binary carries the musl build of the library.
pub fn musl_available() -> bool {
    !MUSL_LIBRARY.is_empty()
}

/// The cache directory: `$XDG_CACHE_HOME/assafe`, else `$HOME/.cache/assafe`, else
/// `/tmp/assafe-<uid>`.
pub fn cache_dirs() -> Vec<PathBuf> {
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
pub fn private_dir(dir: &Path) -> Result<(), String> {
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
    write_cached(LIBRARY, &format!("libassafe-{}.so", HASH.trim()))
}

/// Writes the musl build into the cache directory (as [`extract`]) and returns its path.
pub fn extract_musl() -> Result<PathBuf, String> {
    if !musl_available() {
        return Err("this assafe was built without the musl build of libassafe.so".to_owned());
    }
    write_cached(
        MUSL_LIBRARY,
        &format!("libassafe-musl-{}.so", MUSL_HASH.trim()),
    )
}

/// Writes `bytes` as `name` into the first usable cache directory, once.
fn write_cached(bytes: &[u8], name: &str) -> Result<PathBuf, String> {
    let mut errors = Vec::new();
    for dir in cache_dirs() {
        if let Err(e) = private_dir(&dir) {
            errors.push(e);
            continue;
        }
        let path = dir.join(name);
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        if fs::symlink_metadata(&path)
            .is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64 && m.uid() == uid)
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
            .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
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
        "cannot write the embedded {name} to a cache directory ({})",
        errors.join("; ")
    ))
}

/// The directories glibc's loader may expand `$LIB` to on this architecture: Debian's multiarch
/// directory (Debian, Ubuntu), `lib64` (Fedora, RHEL, openSUSE, Gentoo), `lib` (Arch, NixOS).
pub fn glibc_lib_dirs() -> [String; 3] {
    [
        format!("lib/{}", crate::run::MULTIARCH),
        "lib64".to_owned(),
        "lib".to_owned(),
    ]
}

/// The one `LD_PRELOAD` entry for a process tree that mixes glibc and musl programs:
/// `<dir>/$LIB/libassafe.so`, written verbatim. glibc's loader expands `$LIB` (to one of
/// [`glibc_lib_dirs`], each holding a link to the glibc build); musl's loader does not, and finds
/// the literal directory `$LIB`, holding a link to the musl build or nothing (musl ignores a
/// preload file it cannot open, and runs the program unchecked). So neither build is ever loaded
/// into a program of the other libc (the glibc build aborts musl's loader, "Error relocating").
///
/// `<dir>` is `preload-<hash of the two paths>` in the private cache directory: made once (links
/// only), and still there for a daemon that execs after `assafe run` has ended.
pub fn preload_layout(glibc: Option<&Path>, musl: Option<&Path>) -> Result<PathBuf, String> {
    preload_layout_in(cache_dirs(), glibc, musl)
}

/// [`preload_layout`] in the first usable one of `dirs`.
pub fn preload_layout_in(
    dirs: Vec<PathBuf>,
    glibc: Option<&Path>,
    musl: Option<&Path>,
) -> Result<PathBuf, String> {
    preload_layout_mode(dirs, glibc, musl, 0o700)
}

/// [`preload_layout_in`] with its directories made with `mode` (0o755: readable by processes
/// that run as another user, as the tests of `assafe audit --packages` may; never writable by
/// others).
pub fn preload_layout_mode(
    dirs: Vec<PathBuf>,
    glibc: Option<&Path>,
    musl: Option<&Path>,
    mode: u32,
) -> Result<PathBuf, String> {
    let mode = mode & 0o755;
    use std::os::unix::ffi::OsStrExt;
    let mut h: u64 = 0xcbf29ce484222325;
    for p in [glibc, musl] {
        let bytes = p.map_or(&b"-"[..], |p| p.as_os_str().as_bytes());
        for b in bytes.iter().chain(b"\0") {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    let name = format!("preload-{h:016x}");
    let mut errors = Vec::new();
    for dir in dirs {
        if let Err(e) = private_dir(&dir) {
            errors.push(e);
            continue;
        }
        let final_dir = dir.join(&name);
        let entry = final_dir.join("$LIB").join(crate::run::LIB_NAME);
        if layout_ok(&final_dir, glibc, musl) {
            return Ok(entry);
        }
        // Built aside and renamed into place: a concurrent run sees the whole layout or none.
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let made = (|| -> std::io::Result<()> {
            // The mode is set after creation too: the umask does not narrow it.
            let mkdir = |d: &Path| -> std::io::Result<()> {
                fs::DirBuilder::new().mode(mode).create(d)?;
                fs::set_permissions(d, fs::Permissions::from_mode(mode))
            };
            mkdir(&tmp)?;
            let link = |sub: &str, target: &Path| -> std::io::Result<()> {
                let mut d = tmp.clone();
                for part in Path::new(sub).iter() {
                    d.push(part);
                    if !d.is_dir() {
                        mkdir(&d)?;
                    }
                }
                std::os::unix::fs::symlink(target, d.join(crate::run::LIB_NAME))
            };
            if let Some(g) = glibc {
                for sub in glibc_lib_dirs() {
                    link(&sub, g)?;
                }
            }
            match musl {
                Some(m) => link("$LIB", m)?,
                None => mkdir(&tmp.join("$LIB"))?,
            }
            let _ = fs::remove_dir_all(&final_dir);
            fs::rename(&tmp, &final_dir)
        })();
        match made {
            Ok(()) => return Ok(entry),
            Err(_) if layout_ok(&final_dir, glibc, musl) => {
                // Another run made it meanwhile.
                let _ = fs::remove_dir_all(&tmp);
                return Ok(entry);
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                errors.push(format!("{}: {e}", final_dir.display()));
            }
        }
    }
    Err(format!(
        "cannot make the preload directory ({})",
        errors.join("; ")
    ))
}

/// Does `dir` hold exactly the links [`preload_layout`] makes for these libraries?
fn layout_ok(dir: &Path, glibc: Option<&Path>, musl: Option<&Path>) -> bool {
    let points = |sub: &str, want: Option<&Path>| {
        let got = fs::read_link(dir.join(sub).join(crate::run::LIB_NAME)).ok();
        got.as_deref() == want
    };
    fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir())
        && glibc_lib_dirs().iter().all(|sub| points(sub, glibc))
        && points("$LIB", musl)
}
