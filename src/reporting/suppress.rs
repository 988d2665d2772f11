//! `ASSAFE_OPTIONS=suppressions=FILE`: the preload's own reading of a suppressions file.
//!
//! Same format as the CLI's (`context:pattern` per line, `#` comments, `*`/`?` wildcards matched by
//! the CLI's matcher, `assafe_proto::glob`; contexts: the `Context::suppression_word`s, `errno`,
//! `*`). In process the library knows the interposed function's name and the path of every frame's
//! module, so a pattern matches the function name, a module path, or a module's file name;
//! patterns on source files or on the names of functions inside frames need symbols and are
//! applied by `assafe run`/`assafe report`.
//! The file is read once at load into a static buffer (no allocation) and parsed at each check.

use core::sync::atomic::{AtomicU32, Ordering};

use assafe_proto::glob;

use crate::config::{PATH_MAX, trim};
use crate::platform::sys;

const MAX: usize = 16 * 1024;
static mut TEXT: [u8; MAX] = [0; MAX];
#[unsafe(link_section = "assafe_hot")]
static LEN: AtomicU32 = AtomicU32::new(0);
/// Calls that a suppression hid, in this process.
#[unsafe(link_section = "assafe_hot")]
pub static MATCHED: AtomicU32 = AtomicU32::new(0);

/// Reads the file named by the option (at load, normal context). Problems get one warning.
pub fn load(path: &[u8]) -> Result<(), &'static str> {
    if path.is_empty() {
        return Ok(());
    }
    let mut name = [0u8; PATH_MAX + 1];
    name[..path.len()].copy_from_slice(path);
    let fd = sys::open(&name[..path.len() + 1], libc::O_RDONLY | libc::O_CLOEXEC, 0)
        .map_err(|_| "cannot open the suppressions file")?;
    // SAFETY: TEXT is written only here, at load, before any reader runs.
    let buf = unsafe { (&raw mut TEXT).as_mut().unwrap_unchecked() };
    let mut n = 0;
    while n < MAX {
        match sys::pread(fd, &mut buf[n..], n) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(libc::EINTR) => {}
            Err(_) => break,
        }
    }
    sys::close(fd);
    LEN.store(n as u32, Ordering::Release);
    if n == MAX {
        Err("suppressions file larger than 16 KiB: the rest is ignored")
    } else {
        Ok(())
    }
}

fn text() -> &'static [u8] {
    let n = LEN.load(Ordering::Acquire) as usize;
    // SAFETY: written once at load before LEN was published; read-only afterwards.
    unsafe { core::slice::from_raw_parts((&raw const TEXT) as *const u8, n) }
}

fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&c| c == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Is a record of `context` (a `Context::suppression_word` or `ERRNO_RULE`) about `function`,
/// with frames `frames`, suppressed?
pub fn suppressed(context: &str, function: &[u8], frames: &[usize]) -> bool {
    for line in text().split(|&c| c == b'\n') {
        let line = trim(line);
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue;
        };
        let (ctx, pat) = (trim(&line[..colon]), trim(&line[colon + 1..]));
        if ctx != b"*" && ctx != context.as_bytes() {
            continue;
        }
        let hit = glob(pat, function)
            || frames.iter().any(|&a| {
                assafe_unwind::module_of(a)
                    .is_some_and(|m| glob(pat, m.path()) || glob(pat, basename(m.path())))
            });
        if hit {
            MATCHED.fetch_add(1, Ordering::Relaxed);
            return true;
        }
    }
    false
}
