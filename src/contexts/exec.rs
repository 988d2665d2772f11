//! The exec family: follow every descendant (`follow_exec=1`, the default).
//!
//! When a program execs with an environment that dropped `LD_PRELOAD` (or dropped libassafe from
//! it) or `ASSAFE_OPTIONS` — `env -i`, sanitised environments in daemons and test runners — the
//! library performs the exec itself with both re-added, so the new program is checked too. The new
//! environment is built in a fresh anonymous mapping (no allocation); nothing else is changed, and
//! when the environment already carries both, the call goes to libc untouched.

use core::ffi::{c_char, c_int};

use crate::config;
use crate::libc::symbols::{self, generated as g};
use crate::libc::{self as clib};
use crate::platform::arch::Frame;
use crate::platform::fmt::Buf;
use crate::platform::{self_base, sys};
use crate::reporting::sink;

/// The environment entry that hands a kept log file to the new image (read by `init` at load).
pub const LOG_FD_VAR: &[u8] = b"ASSAFE_LOG_FD=";

unsafe extern "C" {
    static environ: *const *const c_char;
}

/// The argv/envp of an exec-family call, read from the saved registers (and, for the variadic
/// `execl` family, from the caller's stack).
struct Call {
    /// Which real function finally runs (symbol index): execve, execvpe, fexecve or execveat.
    real: usize,
    /// The path, file name or fd (execveat: the path; its dirfd is `dirfd`).
    path: usize,
    argv: *const *const c_char,
    envp: *const *const c_char,
    dirfd: usize,
    flags: usize,
}

impl Call {
    fn new(real: usize, path: usize, argv: usize, envp: *const *const c_char) -> Call {
        Call {
            real,
            path,
            argv: argv as _,
            envp,
            dirfd: 0,
            flags: 0,
        }
    }
}

const MAX_LIST_ARGS: usize = 4096;

/// execve's and execvpe's type.
type ExecveFn =
    unsafe extern "C" fn(*const c_char, *const *const c_char, *const *const c_char) -> c_int;
type FexecveFn = unsafe extern "C" fn(c_int, *const *const c_char, *const *const c_char) -> c_int;
type ExecveatFn = unsafe extern "C" fn(
    c_int,
    *const c_char,
    *const *mut c_char,
    *const *mut c_char,
    c_int,
) -> c_int;
clib::same_type_as_libc!(ExecveFn, libc::execve);
clib::same_type_as_libc!(ExecveFn, libc::execvpe);
clib::same_type_as_libc!(FexecveFn, libc::fexecve);
// The `libc` crate declares execveat for glibc only.
#[cfg(not(target_env = "musl"))]
clib::same_type_as_libc!(ExecveatFn, libc::execveat);

/// Collects the `execl`-style argument list (arg0 is the call's second argument) into `out`
/// (NULL-terminated); returns the word after the terminating NULL (execle's envp).
fn list_args(f: &Frame, out: &mut [usize]) -> Option<usize> {
    // The list is NULL-terminated, as execl's contract requires: we read no further than exec
    // itself is about to.
    let word = |i: usize| f.arg(1 + i);
    for (i, slot) in out.iter_mut().enumerate() {
        let w = word(i);
        *slot = w;
        if w == 0 {
            return Some(word(i + 1));
        }
    }
    None
}

fn has_prefix(s: *const c_char, prefix: &[u8]) -> bool {
    // SAFETY: s is a NUL-terminated environment string; we stop at the first mismatch (a NUL
    // mismatches any prefix byte).
    prefix
        .iter()
        .enumerate()
        .all(|(i, &c)| unsafe { *s.cast::<u8>().add(i) } == c)
}

fn cstr<'a>(s: *const c_char) -> &'a [u8] {
    let mut n = 0;
    // SAFETY: s is a NUL-terminated string.
    while unsafe { *s.cast::<u8>().add(n) } != 0 {
        n += 1;
    }
    // SAFETY: n bytes before the NUL.
    unsafe { core::slice::from_raw_parts(s.cast::<u8>(), n) }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The directories a glibc loader expands `$LIB` to (the CLI's preload layout and the Debian
/// package link the glibc build into each of them).
const GLIBC_LIB_DIRS: [&[u8]; 3] = [
    if cfg!(target_arch = "aarch64") {
        b"/lib/aarch64-linux-gnu/"
    } else {
        b"/lib/x86_64-linux-gnu/"
    },
    b"/lib64/",
    b"/lib/",
];

/// The `LD_PRELOAD` entry that re-adds this library: its own path `me`, or, when it was loaded
/// from a `$LIB` layout (`<dir>/lib/x86_64-linux-gnu/libassafe.so` … beside a directory
/// `<dir>/$LIB`, see the README), `<dir>/$LIB/libassafe.so`, which each loader resolves to the
/// build for its own C library: the glibc build must never be given to a musl program (musl's
/// loader aborts it, "Error relocating"). The musl build's own path already has that form.
fn preload_entry<'a>(me: &'a [u8], buf: &'a mut [u8; 512]) -> &'a [u8] {
    const FILE: &[u8] = b"libassafe.so";
    const DST: &[u8] = b"/$LIB/";
    for dir in GLIBC_LIB_DIRS {
        let Some(stem) = me.strip_suffix(FILE).and_then(|m| m.strip_suffix(dir)) else {
            continue;
        };
        let n = stem.len() + DST.len() + FILE.len();
        if n + 1 > buf.len() {
            return me;
        }
        buf[..stem.len()].copy_from_slice(stem);
        buf[stem.len()..stem.len() + DST.len()].copy_from_slice(DST);
        // Is there a `<dir>/$LIB` directory (ours)? Asked with "<dir>/$LIB/\0".
        buf[stem.len() + DST.len()] = 0;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        let Ok(fd) = sys::open(&buf[..stem.len() + DST.len() + 1], flags, 0) else {
            return me;
        };
        sys::close(fd);
        buf[stem.len() + DST.len()..n].copy_from_slice(FILE);
        return &buf[..n];
    }
    me
}

/// Builds the new environment, or returns None when `env` already carries both variables (or
/// this image has no options to pass on) and there is no kept log file to hand over
/// (`handover`: its fd and identity, passed as `ASSAFE_LOG_FD=fd:identity`, replacing any such
/// entry). The result lives in a fresh mapping that the exec replaces (or that leaks if exec
/// fails).
fn followed_env(
    env: *const *const c_char,
    handover: Option<(i32, u64)>,
) -> Option<*const *const c_char> {
    let o = config::options();
    let mut n = 0;
    let mut ld: Option<&[u8]> = None;
    let mut has_opts = false;
    if !env.is_null() {
        // SAFETY: env is a NULL-terminated array of C strings (the exec call's contract).
        while !unsafe { *env.add(n) }.is_null() {
            // SAFETY: index < count.
            let e = unsafe { *env.add(n) };
            if has_prefix(e, b"LD_PRELOAD=") {
                ld = Some(&cstr(e)[11..]);
            } else if has_prefix(e, b"ASSAFE_OPTIONS=") {
                has_opts = true;
            }
            n += 1;
        }
    }
    let self_path = || assafe_unwind::module_of(self_base()).map(|m| m.path());
    // The library under its own name, or under any name it was loaded by (a renamed copy).
    let ld_ok = ld
        .is_some_and(|v| contains(v, b"libassafe") || self_path().is_some_and(|p| contains(v, p)));
    // Without options (a bare LD_PRELOAD) the new image's defaults are this one's: an absent
    // ASSAFE_OPTIONS means the same as an empty one, and the environment is passed as it is (no
    // mapping, no copy: a shell's every command).
    let opts_ok = has_opts || o.raw_len == 0;
    if ld_ok && opts_ok && handover.is_none() {
        return None;
    }
    let mut entry_buf = [0u8; 512];
    let me = preload_entry(self_path()?, &mut entry_buf);
    let theirs = if ld_ok {
        b"".as_slice()
    } else {
        ld.unwrap_or(b"")
    };
    let strings = 16 + me.len() + 1 + theirs.len() + 16 + o.raw_len + 2 + 64;
    let len = (n + 4) * 8 + strings;
    let len = (len + 4095) & !4095;
    let base = sys::mmap_anon(len)?;
    // SAFETY: a fresh mapping of len bytes, large enough for n + 4 pointers and the strings.
    let (ptrs, text) = unsafe {
        (
            core::slice::from_raw_parts_mut(base as *mut usize, n + 4),
            core::slice::from_raw_parts_mut(base.add((n + 4) * 8), strings),
        )
    };
    let mut k = 0;
    for i in 0..n {
        // SAFETY: i < n.
        let e = unsafe { *env.add(i) };
        if !ld_ok && has_prefix(e, b"LD_PRELOAD=") {
            continue;
        }
        if has_prefix(e, LOG_FD_VAR) {
            // An older hand-over (or a stale one inherited from an ancestor): replaced.
            continue;
        }
        ptrs[k] = e as usize;
        k += 1;
    }
    let mut b = Buf::new(text);
    if !ld_ok {
        ptrs[k] = b.len() + text_addr(base, n);
        k += 1;
        b.s("LD_PRELOAD=").bytes(me);
        if !theirs.is_empty() {
            b.c(b':').bytes(theirs);
        }
        b.c(0);
    }
    if !opts_ok {
        ptrs[k] = b.len() + text_addr(base, n);
        k += 1;
        b.s("ASSAFE_OPTIONS=").bytes(&o.raw[..o.raw_len]).c(0);
    }
    if let Some((fd, id)) = handover {
        ptrs[k] = b.len() + text_addr(base, n);
        k += 1;
        b.bytes(LOG_FD_VAR).u(fd as u64).c(b':').u(id).c(0);
    }
    ptrs[k] = 0;
    Some(base as *const *const c_char)
}

fn text_addr(base: *mut u8, n: usize) -> usize {
    base as usize + (n + 4) * 8
}

/// For an exec-family call in `f`: if the new program would run without the library, run the
/// exec here with the library re-added. Returns where the stub should continue when it does (a
/// function that returns -1: the exec failed and errno is set), None to let the call proceed.
pub fn follow(idx: usize, f: &Frame) -> Option<usize> {
    let o = config::options();
    if !o.follow_exec || clib::secure() {
        return None;
    }
    let mut list = [0usize; 64];
    let mut big: Option<(*mut u8, usize)> = None;
    // SAFETY: environ is the process environment.
    let cur_env = unsafe { environ };
    let a = |i| f.arg(i);
    let call = match idx {
        g::IDX_execve => Call::new(g::IDX_execve, a(0), a(1), a(2) as _),
        g::IDX_execv => Call::new(g::IDX_execve, a(0), a(1), cur_env),
        g::IDX_execvp => Call::new(g::IDX_execvpe, a(0), a(1), cur_env),
        g::IDX_execvpe => Call::new(g::IDX_execvpe, a(0), a(1), a(2) as _),
        g::IDX_fexecve => Call::new(g::IDX_fexecve, a(0), a(1), a(2) as _),
        g::IDX_execveat => Call {
            dirfd: a(0),
            flags: a(4),
            ..Call::new(g::IDX_execveat, a(1), a(2), a(3) as _)
        },
        g::IDX_execl | g::IDX_execlp | g::IDX_execle => {
            // Most calls fit on the stack; long lists get a mapping.
            let after = match list_args(f, &mut list) {
                Some(a) => a,
                None => {
                    let len = MAX_LIST_ARGS * 8;
                    let p = sys::mmap_anon(len)?;
                    big = Some((p, len));
                    // SAFETY: fresh mapping of MAX_LIST_ARGS words.
                    let words =
                        unsafe { core::slice::from_raw_parts_mut(p as *mut usize, MAX_LIST_ARGS) };
                    list_args(f, words)?
                }
            };
            let argv = big.map_or(list.as_ptr(), |(p, _)| p as *const usize) as usize;
            match idx {
                g::IDX_execle => Call::new(g::IDX_execve, a(0), argv, after as _),
                g::IDX_execlp => Call::new(g::IDX_execvpe, a(0), argv, cur_env),
                _ => Call::new(g::IDX_execve, a(0), argv, cur_env),
            }
        }
        _ => return None,
    };
    // A process that kept its log file (it entered a chroot or changed uid) hands it to the new
    // image, which may not reach the log directory by path any more: the fd stays open across
    // this exec only (the new image makes it close-on-exec again at load).
    let handover = sink::kept_file();
    let env = followed_env(call.envp, handover);
    let Some(env) = env else {
        if let Some((p, len)) = big {
            // SAFETY: our own mapping, unused now.
            unsafe { sys::munmap(p, len) };
        }
        return None;
    };
    if let Some((fd, _)) = handover {
        let _ = sys::set_cloexec(fd, false);
    }
    // SAFETY: the real exec function (its slot holds libc's, of the type checked below), called
    // with the program's own arguments and our environment.
    unsafe {
        match call.real {
            g::IDX_execveat => {
                let real: ExecveatFn = core::mem::transmute(symbols::real(call.real));
                real(
                    call.dirfd as c_int,
                    call.path as *const c_char,
                    call.argv as *const *mut c_char,
                    env as *const *mut c_char,
                    call.flags as c_int,
                );
            }
            g::IDX_fexecve => {
                let real: FexecveFn = core::mem::transmute(symbols::real(call.real));
                real(call.path as c_int, call.argv, env);
            }
            _ => {
                let real: ExecveFn = core::mem::transmute(symbols::real(call.real));
                real(call.path as *const c_char, call.argv, env);
            }
        }
    }
    // The exec failed (errno is set by libc); our mappings are not needed any more.
    if let Some((fd, _)) = handover {
        // (A raw system call: libc's errno from the exec is kept.)
        let _ = sys::set_cloexec(fd, true);
    }
    if let Some((p, len)) = big {
        // SAFETY: our own mapping.
        unsafe { sys::munmap(p, len) };
    }
    Some(exec_failed as *const () as usize)
}

/// Where a failed exec that we performed returns to: -1, errno already set by libc.
extern "C" fn exec_failed() -> i32 {
    -1
}
