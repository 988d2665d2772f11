//! `fd-leak`: at an exec-family call in a fork child, the pipe fds the new program will inherit
//! that nobody meant to give it.
//!
//! Read from `/proc/self/fd` (`getdents64`, `fcntl(F_GETFD)`, `readlinkat`: system calls that
//! never block), only when `/proc` is there and no seccomp filter is in force. An fd is reported
//! when it is a pipe (`pipe:[…]`), lacks `FD_CLOEXEC` now and lacked it at the fork (so the child
//! did not open, `dup2` or make it inheritable itself), was not inherited by the program at its
//! start, is above 2, and is none of these deliberate hand-overs: the same pipe as fd 0, 1 or 2 (a dup of the standard streams), one of
//! the `LISTEN_FDS` (socket activation), a `--jobserver-auth=R,W`/`--jobserver-fds=R,W` fd named
//! in `MAKEFLAGS`, or an fd the argument list names as `/dev/fd/N` or `/proc/self/fd/N`
//! (process substitution). Other files and sockets are not reported (programs hand them over on
//! purpose far more often). The creation site is not recorded: `pipe`, `open`, `socket` are not
//! interposed (no stub, no cost), so every report says "creation site unknown".

use core::ffi::c_char;
use core::sync::atomic::{AtomicU64, Ordering};

use assafe_proto::Hygiene;

use super::stack_of;
use crate::config;
use crate::libc::symbols::{self, generated as g};
use crate::platform::arch::Frame;
use crate::platform::fmt::Buf;
use crate::platform::sys;
use crate::reporting::MAX_FRAMES;
use crate::reporting::hygiene::{self as report, Finding};

unsafe extern "C" {
    static environ: *const *const c_char;
}

const MAX_FDS: usize = 16;

/// The fds this program image was started with, open and without `FD_CLOEXEC` (fds below 1024):
/// handing them on is the business of whoever gave them, not this program's mistake.
static INHERITED: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];

fn inherited(fd: i32) -> bool {
    fd < 1024 && INHERITED[fd as usize / 64].load(Ordering::Relaxed) & (1 << (fd % 64)) != 0
}

/// In a fork child (of the fork wrapper): the fds open without `FD_CLOEXEC` at the fork. Only
/// these can leak the classic way (made in the parent, inherited through fork, still open at
/// exec); an fd the child opened, `dup2`'d into place or made inheritable itself (`pass_fds`) is
/// handed over on purpose.
static AT_FORK: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];
static AT_FORK_VALID: AtomicU64 = AtomicU64::new(0);

fn at_fork(fd: i32) -> bool {
    fd < 1024 && AT_FORK[fd as usize / 64].load(Ordering::Relaxed) & (1 << (fd % 64)) != 0
}

/// In a fork child right after the fork: note the fds that lack `FD_CLOEXEC`.
pub fn note_at_fork() {
    for w in &AT_FORK {
        w.store(0, Ordering::Relaxed);
    }
    AT_FORK_VALID.store(0, Ordering::Relaxed);
    if !config::options().report_fd_leak || sys::restricted() {
        return;
    }
    each_open_fd(|fd| {
        if fd < 1024 {
            AT_FORK[fd as usize / 64].fetch_or(1 << (fd % 64), Ordering::Relaxed);
        }
    });
    AT_FORK_VALID.store(1, Ordering::Relaxed);
}

/// At load: note the inherited fds.
pub fn note_inherited() {
    if !config::options().report_fd_leak || sys::restricted() {
        return;
    }
    each_open_fd(|fd| {
        if fd < 1024 {
            INHERITED[fd as usize / 64].fetch_or(1 << (fd % 64), Ordering::Relaxed);
        }
    });
}

/// Calls `f` with every open fd above 2 that lacks `FD_CLOEXEC`.
fn each_open_fd(mut f: impl FnMut(i32)) {
    let Ok(dir) = sys::open(
        b"/proc/self/fd\0",
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    ) else {
        return;
    };
    let mut buf = [0u8; 2048];
    loop {
        // SAFETY: buf is writable for its length.
        let r = unsafe {
            sys::syscall3(
                libc::SYS_getdents64 as usize,
                dir as usize,
                buf.as_mut_ptr() as usize,
                buf.len(),
            )
        };
        let len = match r {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut off = 0;
        while off + 19 < len {
            // struct linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name.
            let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            if reclen == 0 {
                break;
            }
            let name = &buf[off + 19..(off + reclen).min(len)];
            off += reclen;
            let Some(fd) = number_at(name) else { continue };
            if fd <= 2 || fd == dir {
                continue;
            }
            // SAFETY: fcntl(F_GETFD) has no pointer arguments.
            let fl = unsafe {
                sys::syscall3(
                    libc::SYS_fcntl as usize,
                    fd as usize,
                    libc::F_GETFD as usize,
                    0,
                )
            };
            if matches!(fl, Ok(v) if v & libc::FD_CLOEXEC as usize == 0) {
                f(fd);
            }
        }
    }
    sys::close(dir);
}
const MAX_LIST: usize = 256;

/// `"/proc/self/fd/N"` NUL-terminated into `p`.
fn fd_path(fd: i32, p: &mut [u8; 32]) -> &[u8] {
    let mut b = Buf::new(&mut p[..]);
    b.s("/proc/self/fd/").u(fd as u64).c(0);
    let n = b.len();
    &p[..n]
}

fn link(fd: i32, out: &mut [u8; 64]) -> usize {
    let mut p = [0u8; 32];
    sys::readlink(fd_path(fd, &mut p), out).unwrap_or(0)
}

/// Is `fd` open write-only (a pipe's write end)?
fn write_end(fd: i32) -> bool {
    // SAFETY: fcntl(F_GETFL) has no pointer arguments.
    unsafe {
        sys::syscall3(
            libc::SYS_fcntl as usize,
            fd as usize,
            libc::F_GETFL as usize,
            0,
        )
    }
    .map(|v| v as i32 & libc::O_ACCMODE == libc::O_WRONLY)
    .unwrap_or(false)
}

fn cstr<'a>(s: *const c_char) -> &'a [u8] {
    if s.is_null() {
        return b"";
    }
    let mut n = 0;
    // SAFETY: a C string of the program's argv or environment, read up to its NUL as the real
    // exec is about to read it.
    while unsafe { *s.add(n) } != 0 && n < 65536 {
        n += 1;
    }
    // SAFETY: the n bytes just read.
    unsafe { core::slice::from_raw_parts(s.cast::<u8>(), n) }
}

fn number_at(s: &[u8]) -> Option<i32> {
    let mut n: i64 = 0;
    let mut any = false;
    for &c in s {
        if !c.is_ascii_digit() {
            break;
        }
        n = n * 10 + (c - b'0') as i64;
        if n > i32::MAX as i64 {
            return None;
        }
        any = true;
    }
    any.then_some(n as i32)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The fds a deliberate hand-over names: LISTEN_FDS, the make jobserver, `/dev/fd/N` arguments.
struct Named {
    listen: (i32, i32),
    jobserver: [i32; 2],
    args: [i32; 8],
    nargs: usize,
}

impl Named {
    fn contains(&self, fd: i32) -> bool {
        (fd >= self.listen.0 && fd < self.listen.1)
            || self.jobserver.contains(&fd)
            || self.args[..self.nargs].contains(&fd)
    }

    fn env(&mut self, e: &[u8]) {
        if let Some(v) = e.strip_prefix(b"LISTEN_FDS=") {
            if let Some(n) = number_at(v) {
                self.listen = (3, 3 + n);
            }
        } else if let Some(v) = e.strip_prefix(b"MAKEFLAGS=") {
            for key in [&b"--jobserver-auth="[..], b"--jobserver-fds="] {
                if let Some(i) = find(v, key) {
                    let r = &v[i + key.len()..];
                    if let Some(a) = number_at(r) {
                        self.jobserver[0] = a;
                        if let Some(c) = r.iter().position(|&c| c == b',')
                            && let Some(w) = number_at(&r[c + 1..])
                        {
                            self.jobserver[1] = w;
                        }
                    }
                }
            }
        }
    }

    fn arg(&mut self, a: &[u8]) {
        for prefix in [&b"/dev/fd/"[..], b"/proc/self/fd/"] {
            if let Some(i) = find(a, prefix)
                && let Some(n) = number_at(&a[i + prefix.len()..])
                && self.nargs < self.args.len()
            {
                self.args[self.nargs] = n;
                self.nargs += 1;
            }
        }
    }
}

fn each_str(list: *const *const c_char, mut f: impl FnMut(&[u8])) {
    if list.is_null() {
        return;
    }
    for i in 0..4096 {
        // SAFETY: a NULL-terminated array the program passed to exec (or environ), read up to its
        // NULL as the real exec is about to.
        let s = unsafe { *list.add(i) };
        if s.is_null() {
            break;
        }
        f(cstr(s));
    }
}

/// The argument list and environment the exec call `f` (symbol `idx`) passes.
fn named(idx: usize, f: &Frame) -> Named {
    let mut n = Named {
        listen: (0, 0),
        jobserver: [-1, -1],
        args: [-1; 8],
        nargs: 0,
    };
    // SAFETY: reading the process environment pointer.
    let cur_env = unsafe { environ };
    let (argv, envp): (usize, *const *const c_char) = match idx {
        g::IDX_execve | g::IDX_execvpe | g::IDX_fexecve => (f.arg(1), f.arg(2) as _),
        g::IDX_execveat => (f.arg(2), f.arg(3) as _),
        g::IDX_execv | g::IDX_execvp => (f.arg(1), cur_env),
        _ => {
            // execl, execlp, execle: the list starts with the second argument.
            let mut i = 1;
            while i < MAX_LIST {
                let a = f.arg(i);
                if a == 0 {
                    break;
                }
                n.arg(cstr(a as *const c_char));
                i += 1;
            }
            let env = if idx == g::IDX_execle && i < MAX_LIST {
                f.arg(i + 1) as *const *const c_char
            } else {
                cur_env
            };
            (0, env)
        }
    };
    if argv != 0 {
        each_str(argv as _, |a| n.arg(a));
    }
    each_str(envp, |e| n.env(e));
    n
}

/// An exec-family call (the slow path, thread BUSY, before the real exec).
pub fn before_exec(idx: usize, f: &Frame) {
    if !config::options().report_fd_leak
        || sys::restricted()
        || AT_FORK_VALID.load(Ordering::Relaxed) == 0
        || crate::platform::tls::state() & crate::platform::tls::VFORK_CHILD != 0
    {
        // Only the exec of a fork child is checked (see AT_FORK); a vfork child shares the
        // parent's memory, where no snapshot of its own can be kept.
        return;
    }
    let mut std_links = [[0u8; 64]; 3];
    let mut std_len = [0usize; 3];
    let mut std_write = [false; 3];
    for fd in 0..3 {
        std_len[fd] = link(fd as i32, &mut std_links[fd]);
        std_write[fd] = write_end(fd as i32);
    }
    let mut leaked = [(0i32, [0u8; 64], 0usize, false); MAX_FDS];
    let mut count = 0;
    let mut more = 0u32;
    let mut names: Option<Named> = None;
    each_open_fd(|fd| {
        if inherited(fd) || !at_fork(fd) {
            return;
        }
        let mut l = [0u8; 64];
        let ln = link(fd, &mut l);
        if !l[..ln].starts_with(b"pipe:") {
            return;
        }
        let acc = write_end(fd);
        // The same end of the same pipe as a standard stream: a dup of it, nothing new handed on
        // (the other end of the pipe the program reads or writes is the classic leak).
        if (0..3).any(|s| std_len[s] == ln && std_links[s][..ln] == l[..ln] && std_write[s] == acc)
        {
            return;
        }
        let nm = names.get_or_insert_with(|| named(idx, f));
        if nm.contains(fd) {
            return;
        }
        if count < MAX_FDS {
            leaked[count] = (fd, l, ln, acc);
            count += 1;
        } else {
            more += 1;
        }
    });
    if count == 0 {
        return;
    }
    let mut d = [0u8; 1024];
    let mut b = Buf::new(&mut d);
    b.s("the exec'd program inherits ")
        .u((count as u32 + more) as u64)
        .s(if count as u32 + more == 1 {
            " pipe fd"
        } else {
            " pipe fds"
        })
        .s(" without FD_CLOEXEC:");
    for (i, (fd, l, ln, write)) in leaked[..count].iter().enumerate() {
        if i > 0 {
            b.s(",");
        }
        b.s(" fd ").i(*fd as i64).s(" ").printable(&l[..*ln]);
        b.s(if *write {
            " (write end)"
        } else {
            " (read end)"
        });
    }
    if more > 0 {
        b.s(", and ").u(more as u64).s(" more");
    }
    b.s("; creation site unknown");
    let dl = b.len();
    let mut frames = [0usize; MAX_FRAMES];
    let n = stack_of(f, &mut frames);
    report::report(&Finding {
        kind: Hygiene::FdLeak,
        function: symbols::name(idx),
        reason: "exec",
        detail: &d[..dl],
        site: f.ret_addr(),
        frames: &frames[..n],
        fork_frames: &[],
    });
}
