//! `fd-leak`: at an exec-family call, the fds the new program inherits that an ancestor made
//! without close-on-exec before the fork that made this process: the classic leak (a pipe's write
//! end handed to an unrelated program, whose reader then never sees EOF). At `posix_spawn` and
//! `posix_spawnp` (both versions of each), in the parent before the real call, the same check
//! with the fds this process made too, less those the file actions close or place (`spawn`:
//! glibc's spawn child execs through calls no interposer sees).
//!
//! Which fds: those `made` noted (made by an interposed fd-making call without close-on-exec,
//! still the same open file, made by another pid, i.e. by an ancestor before the fork), that
//! still lack `FD_CLOEXEC` (`fcntl(F_GETFD)`, a system call that never blocks), are above 2, and
//! are none of these deliberate hand-overs: the same pipe as fd 0, 1 or 2 (a dup of the standard
//! streams), one of the `LISTEN_FDS` (socket activation), a `--jobserver-auth=R,W` /
//! `--jobserver-fds=R,W` fd named in `MAKEFLAGS`, an fd the argument list names (`/dev/fd/N`,
//! `/proc/self/fd/N`: process substitution; a bare `N` or a trailing `=N`, `:N`, `,N`:
//! `gpg --status-fd 3`, `--fd=3`), or one an environment variable named for an fd holds
//! (`WAYLAND_SOCKET=5`, `*FD*=N`). An fd the fork child made itself is its own (a `dup2`'d one is
//! never noted, and one that replaced a noted fd no longer matches its entry), so it is handed
//! over on purpose. Fds the program image was started with have no entry. By default only pipes
//! and unix-domain or listening sockets are reported (`fd_leak_all` adds files, connected network
//! sockets and the rest: shells hand those on by design).
//!
//! Nothing is recorded at fork (no fd snapshot) or at load. A vfork child (a shell's) is checked
//! too: it only reads the table and uses stack buffers and raw system calls. Each leaked fd is its
//! own report: its stack is the call that made the fd (one frame: the caller's return address),
//! the exec's stack comes second, and the detail says what the fd is (`pipe:[…]` and which end,
//! `socket:[…]` with its family and type, an `anon_inode:`, or the file's path, read from
//! `/proc/self/fd`).

use core::ffi::c_char;

use assafe_proto::Hygiene;

use super::stack_of;
use crate::config;
use crate::libc::symbols::{self, generated as g};
use crate::platform::arch::Frame;
use crate::platform::fmt::Buf;
use crate::platform::sys;
use crate::reporting::MAX_FRAMES;
use crate::reporting::hygiene::{self as report, Finding};

pub mod made;
pub mod spawn;

unsafe extern "C" {
    static environ: *const *const c_char;
}

/// Reports per exec, at most (the rest are counted in the last one's detail).
const MAX_REPORTS: usize = 16;

fn fd_flags(fd: i32, cmd: i32) -> Option<usize> {
    // SAFETY: fcntl(F_GETFD/F_GETFL) has no pointer arguments.
    unsafe { sys::syscall3(libc::SYS_fcntl as usize, fd as usize, cmd as usize, 0) }.ok()
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
    fd_flags(fd, libc::F_GETFL).is_some_and(|v| v as i32 & libc::O_ACCMODE == libc::O_WRONLY)
}

/// `getsockopt(fd, SOL_SOCKET, o)` (an int option; no blocking).
fn sockopt(fd: i32, o: i32) -> Option<i32> {
    let mut v: i32 = 0;
    let mut len: u32 = 4;
    // SAFETY: getsockopt into a 4-byte int with its length.
    unsafe {
        sys::syscall6(
            libc::SYS_getsockopt as usize,
            [
                fd as usize,
                libc::SOL_SOCKET as usize,
                o as usize,
                (&raw mut v) as usize,
                (&raw mut len) as usize,
                0,
            ],
        )
    }
    .ok()
    .map(|_| v)
}

/// Is the socket `fd` one a leak of which is reported by default: a unix-domain socket (a
/// socketpair, a local IPC channel: its peer waits for EOF like a pipe's reader) or a listening
/// socket (the child keeps the port and may accept)?
fn socket_reported(fd: i32) -> bool {
    sockopt(fd, libc::SO_DOMAIN) == Some(libc::AF_UNIX)
        || sockopt(fd, libc::SO_ACCEPTCONN) == Some(1)
}

/// A socket's family and type, in words.
fn socket_kind(fd: i32, b: &mut Buf) {
    let opt = |o: i32| sockopt(fd, o);
    let fam = match opt(libc::SO_DOMAIN) {
        Some(libc::AF_UNIX) => "unix",
        Some(libc::AF_INET) => "inet",
        Some(libc::AF_INET6) => "inet6",
        Some(libc::AF_NETLINK) => "netlink",
        Some(libc::AF_PACKET) => "packet",
        _ => return,
    };
    let ty = match opt(libc::SO_TYPE) {
        Some(libc::SOCK_STREAM) => " stream",
        Some(libc::SOCK_DGRAM) => " datagram",
        Some(libc::SOCK_SEQPACKET) => " seqpacket",
        Some(libc::SOCK_RAW) => " raw",
        _ => "",
    };
    b.s(" (").s(fam).s(ty);
    if opt(libc::SO_ACCEPTCONN) == Some(1) {
        b.s(", listening");
    }
    b.s(")");
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
    args: [i32; 16],
    nargs: usize,
}

impl Named {
    fn contains(&self, fd: i32) -> bool {
        (fd >= self.listen.0 && fd < self.listen.1)
            || self.jobserver.contains(&fd)
            || self.args[..self.nargs].contains(&fd)
    }

    fn env(&mut self, e: &[u8]) {
        // `WAYLAND_SOCKET=5`, `FOO_FD=4`: a variable named for an fd whose value is its number.
        if let Some(eq) = e.iter().position(|&c| c == b'=') {
            let (name, v) = (&e[..eq], &e[eq + 1..]);
            if (find(name, b"FD").is_some() || find(name, b"SOCKET").is_some())
                && !v.is_empty()
                && v.len() <= 6
                && v.iter().all(u8::is_ascii_digit)
                && let Some(n) = number_at(v)
            {
                self.add(n);
            }
        }
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

    fn add(&mut self, n: i32) {
        if self.nargs < self.args.len() {
            self.args[self.nargs] = n;
            self.nargs += 1;
        }
    }

    /// An argument that names an fd: `/dev/fd/N`, `/proc/self/fd/N` (process substitution), a
    /// bare number (`gpg --status-fd 3`), or one ending in `=N`, `:N` or `,N` (`--fd=3`,
    /// `--socket=fd:3`).
    fn arg(&mut self, a: &[u8]) {
        for prefix in [&b"/dev/fd/"[..], b"/proc/self/fd/"] {
            if let Some(i) = find(a, prefix)
                && let Some(n) = number_at(&a[i + prefix.len()..])
            {
                self.add(n);
            }
        }
        let digits = a.iter().rev().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 && digits <= 6 {
            let start = a.len() - digits;
            if (start == 0 || matches!(a[start - 1], b'=' | b':' | b','))
                && let Some(n) = number_at(&a[start..])
            {
                self.add(n);
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
fn named(idx: usize, f: &Frame, spawned: bool) -> Named {
    let mut n = Named {
        listen: (0, 0),
        jobserver: [-1, -1],
        args: [-1; 16],
        nargs: 0,
    };
    // SAFETY: reading the process environment pointer.
    let cur_env = unsafe { environ };
    let (argv, envp): (usize, *const *const c_char) = match idx {
        // posix_spawn(pid, path, file_actions, attr, argv, envp), either version.
        _ if spawned => (f.arg(4), f.arg(5) as _),
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

/// An exec-family call (the slow path, thread BUSY, before the real exec; in a vfork child
/// too: only stack buffers, raw system calls, and reads of the shared table).
pub fn before_exec(idx: usize, f: &Frame) {
    if !config::options().report_fd_leak || sys::restricted() {
        return;
    }
    leaks(idx, f, None);
}

/// `posix_spawn`/`posix_spawnp`, either version (the slow path, thread BUSY, in the parent
/// before the real call): the fds the spawned program inherits, less those its file actions
/// close or place (`spawn`, read only when some noted fd is still inheritable). File actions
/// this library cannot read: no check.
pub fn before_spawn(idx: usize, f: &Frame) {
    if !config::options().report_fd_leak || sys::restricted() {
        return;
    }
    leaks(idx, f, Some(f.arg(2)));
}

/// The check of an exec (`spawn` None) or a spawn (`spawn`: its file actions' address).
fn leaks(idx: usize, f: &Frame, spawn: Option<usize>) {
    // The spawn's file actions, once read (None inside: not understood, no check).
    let mut actions: Option<Option<spawn::Actions>> = None;
    let vfork_child = crate::platform::tls::state() & crate::platform::tls::VFORK_CHILD != 0;
    let mut leaked = [(0i32, 0usize, 0usize); MAX_REPORTS];
    let mut count = 0;
    let mut more = 0u32;
    // This process's pid, asked for at the first fd that is still inheritable.
    let mut me = 0;
    made::each_noted(|fd| {
        // Still inheritable, and still what an ancestor made before the fork?
        if fd_flags(fd, libc::F_GETFD).is_none_or(|v| v & libc::FD_CLOEXEC as usize != 0) {
            return;
        }
        // At an exec, what an ancestor made before the fork; at a spawn, what this process or
        // an ancestor made, unless a file action closes or places it.
        let entry = if let Some(fa) = spawn {
            let e = made::entry(fd);
            if e.is_some()
                && actions
                    .get_or_insert_with(|| spawn::actions(fa))
                    .as_ref()
                    .is_none_or(|a| a.names(fd))
            {
                return;
            }
            e
        } else {
            if me == 0 {
                me = sys::getpid();
            }
            made::inherited_entry(fd, me)
        };
        let Some((maker, site)) = entry else {
            return;
        };
        if count < MAX_REPORTS {
            leaked[count] = (fd, maker, site);
            count += 1;
        } else {
            more += 1;
        }
    });
    if count == 0 || actions.is_some_and(|a| a.is_none()) {
        return;
    }
    let mut std_links = [[0u8; 64]; 3];
    let mut std_len = [0usize; 3];
    let mut std_write = [false; 3];
    for fd in 0..3 {
        std_len[fd] = link(fd as i32, &mut std_links[fd]);
        std_write[fd] = write_end(fd as i32);
    }
    let names = named(idx, f, spawn.is_some());
    let mut exec_frames = [0usize; MAX_FRAMES];
    let mut en = 0;
    let mut pending = [0usize; MAX_REPORTS];
    let mut np = 0;
    for (k, &(fd, maker, _)) in leaked[..count].iter().enumerate() {
        let mut l = [0u8; 64];
        let ln = link(fd, &mut l);
        let link = &l[..ln];
        // (Without /proc, what pipe() and pipe2() made.)
        let pipe =
            link.starts_with(b"pipe:") || (ln == 0 && matches!(maker, g::IDX_pipe | g::IDX_pipe2));
        let acc = pipe && write_end(fd);
        // The same end of the same pipe as a standard stream: a dup of it, nothing new handed on.
        if pipe
            && (0..3)
                .any(|s| std_len[s] == ln && &std_links[s][..ln] == link && std_write[s] == acc)
        {
            continue;
        }
        if names.contains(fd) {
            continue;
        }
        // Files and network connections: only when asked (shells hand them on by design).
        if !(pipe
            || config::options().fd_leak_all
            || (link.starts_with(b"socket:") && socket_reported(fd)))
        {
            continue;
        }
        pending[np] = k;
        np += 1;
    }
    let total = np as u32 + more;
    for (j, &k) in pending[..np].iter().enumerate() {
        let (fd, maker, site) = leaked[k];
        let mut l = [0u8; 64];
        let ln = link(fd, &mut l);
        let link = &l[..ln];
        let mut d = [0u8; 512];
        let mut b = Buf::new(&mut d);
        b.s("fd ").i(fd as i64).s(" ");
        if ln == 0 {
            b.s("(unnamed)");
        } else {
            b.printable(link);
        }
        if link.starts_with(b"pipe:") {
            b.s(if write_end(fd) {
                " (write end)"
            } else {
                " (read end)"
            });
        } else if link.starts_with(b"socket:") {
            socket_kind(fd, &mut b);
        }
        let maker_name = symbols::name(maker);
        b.s(", made by ")
            .bytes(maker_name)
            .s("() without close-on-exec");
        if spawn.is_none() {
            b.s(" before the ")
                .s(if vfork_child { "vfork" } else { "fork" });
        }
        b.s(", is inherited by the program ")
            .bytes(symbols::name(idx))
            .s(" starts");
        if j + 1 == np && total as usize > np {
            b.s(" (and ")
                .u((total as usize - np) as u64)
                .s(if spawn.is_some() {
                    " more fds made without close-on-exec, not examined)"
                } else {
                    " more fds an ancestor made without close-on-exec, not examined)"
                });
        }
        let dl = b.len();
        if en == 0 {
            en = stack_of(f, &mut exec_frames);
        }
        report::report_exec(
            &Finding {
                kind: Hygiene::FdLeak,
                function: maker_name,
                reason: "exec",
                detail: &d[..dl],
                site,
                frames: &[site],
                fork_frames: &[],
            },
            &exec_frames[..en],
        );
    }
}
