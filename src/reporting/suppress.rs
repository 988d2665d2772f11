//! `ASSAFE_OPTIONS=suppressions=FILE`: the preload's own reading of a suppressions file.
//!
//! Same format as the CLI's (`context:pattern` per line, `#` comments, `*`/`?` wildcards;
//! contexts `fork`, `vfork`, `signal`, `cancel`, `errno`, `*`). In process the library knows the
//! interposed function's name and the path of every frame's module, so a pattern matches the
//! function name, a module path, or a module's file name; patterns on source files or on the
//! names of functions inside frames need symbols and are applied by `assafe run`/`assafe report`.
//! The file is read once at load into a static buffer (no allocation) and parsed at each check.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::config::{PATH_MAX, trim};
use crate::platform::{sys, tls};

const MAX: usize = 16 * 1024;
static mut TEXT: [u8; MAX] = [0; MAX];
static LEN: AtomicU32 = AtomicU32::new(0);
/// Calls that a suppression hid, in this process.
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

/// `*` and `?` wildcards, whole-string match, no allocation (iterative with one backtrack point).
pub fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() && (pat[p] == b'?' || pat[p] == s[i]) {
            p += 1;
            i += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some((p, i));
            p += 1;
        } else if let Some((sp, si)) = star {
            p = sp + 1;
            i = si + 1;
            star = Some((sp, si + 1));
        } else {
            return false;
        }
    }
    while p < pat.len() && pat[p] == b'*' {
        p += 1;
    }
    p == pat.len()
}

fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&c| c == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Is a record of `context` ("fork", "vfork", "signal", "cancel", "errno") about `function`, with
/// frames `frames`, suppressed?
pub fn suppressed(context: &[u8], function: &[u8], frames: &[usize]) -> bool {
    for line in text().split(|&c| c == b'\n') {
        let line = trim(line);
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue;
        };
        let (ctx, pat) = (trim(&line[..colon]), trim(&line[colon + 1..]));
        if ctx != b"*" && ctx != context {
            continue;
        }
        let hit = glob(pat, function)
            || frames.iter().any(|&a| {
                assafe_unwind::module_of(a)
                    .is_some_and(|m| glob(pat, m.path) || glob(pat, basename(m.path)))
            });
        if hit {
            MATCHED.fetch_add(1, Ordering::Relaxed);
            return true;
        }
    }
    false
}

/// The suppression file's context word for a context bit.
pub fn context_word(bit: u8) -> &'static [u8] {
    match bit {
        tls::FORK_CHILD => b"fork",
        tls::VFORK_CHILD => b"vfork",
        tls::IN_HANDLER => b"signal",
        _ => b"cancel",
    }
}
