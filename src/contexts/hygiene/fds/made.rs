//! Where each fd without close-on-exec was made (for `fd-leak`).
//!
//! The fd-making calls (`pipe`, `pipe2`, `socket`, `socketpair`, `accept`, `accept4`, the `open`
//! and `creat` family, `dup`, `dup2`, `dup3`, `eventfd`, `epoll_create`, `epoll_create1`,
//! `signalfd`, `timerfd_create`, `memfd_create`, `inotify_init`, `inotify_init1`: class `fd` of
//! symbols.txt) enter the slow path, which sends them (outside any context: before any other
//! check) to a per-symbol trampoline here — except a call whose flags ask for close-on-exec
//! outside any checked context: its stub tests the flag and goes straight to libc (build.rs
//! `FD_CLOEXEC_FLAG`), since it cannot make an fd an exec leaks. The trampoline passes the caller's return
//! address on to [`made`], which calls the real function and, when the new fd lacks
//! close-on-exec, notes in a lock-free table indexed by fd (below [`MAX`]): the call site, the
//! function, the pid of the process that made it, and its identity (device and inode, one `fstat`:
//! a table entry whose fd was closed and reused by a call the library does not see no longer
//! matches the fd, and is not believed). No stack is walked and nothing is allocated; a call
//! that asks for close-on-exec and reaches the slow path clears a stale entry (one load); one
//! that took the fast path leaves it, and the exec-time check ignores it (the fd has
//! close-on-exec, or its identity no longer matches). A vfork child shares its parent's
//! memory and writes nothing here.
//!
//! At exec, an entry made by another pid was made by an ancestor before the fork that made this
//! process (the table is only ever inherited through fork), which is the classic leak (`fds`).
//! At `posix_spawn` (no fork of ours in between) every matching entry is one.
//! Nothing is written at fork: a store there would cost the child a copy-on-write page fault.

use core::ffi::c_int;
use core::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};

use crate::config;
use crate::libc::symbols::{self, generated as g};
use crate::platform::{sys, tls};

/// Fds at or above this are not noted.
pub const MAX: usize = 1024;

/// Per fd, one entry (one page holds the entries of fds 0–169: a process writes one page, not
/// three, when it notes the fds it makes after a fork, each write a copy-on-write fault).
struct Made {
    /// The call site (low 48 bits) and the making function's symbol index (high 16 bits).
    site: AtomicU64,
    /// Its identity (0: no entry). Written last, cleared first.
    ident: AtomicU64,
    /// The pid of the process that made it.
    owner: AtomicI32,
}
static TABLE: [Made; MAX] = [const {
    Made {
        site: AtomicU64::new(0),
        ident: AtomicU64::new(0),
        owner: AtomicI32::new(0),
    }
}; MAX];
/// One above the highest fd ever noted.
#[unsafe(link_section = "assafe_hot")]
static HIGH: AtomicUsize = AtomicUsize::new(0);

const SITE_BITS: u64 = (1 << 48) - 1;

/// The identity of an open fd: device and inode folded into one nonzero word.
pub fn ident(fd: i32) -> u64 {
    match sys::fstat_id(fd) {
        Some((dev, ino)) => (ino ^ dev.rotate_left(40)) | 1 << 63,
        None => 0,
    }
}

/// One noted fd: (making function's symbol index, call site), if the entry still matches `fd`
/// (its identity now) and was made by an ancestor (a pid other than `me`, this process's) before
/// the fork that made this process. A vfork child notes nothing itself: every entry is its
/// parent's or an older ancestor's.
pub fn inherited_entry(fd: i32, me: i32) -> Option<(usize, usize)> {
    entry_of(fd, Some(me))
}

/// One noted fd, made by this process or an ancestor: (making function's symbol index, call
/// site), if the entry still matches `fd`. At `posix_spawn` (in the parent, no fork in between)
/// the fds this process made are the ones the spawned program inherits.
pub fn entry(fd: i32) -> Option<(usize, usize)> {
    entry_of(fd, None)
}

fn entry_of(fd: i32, not_by: Option<i32>) -> Option<(usize, usize)> {
    let m = TABLE.get(fd as usize)?;
    if m.ident.load(Ordering::Acquire) == 0 {
        return None;
    }
    let site = m.site.load(Ordering::Relaxed);
    let owner = m.owner.load(Ordering::Relaxed);
    if Some(owner) == not_by || m.ident.load(Ordering::Acquire) != ident(fd) {
        return None;
    }
    Some(((site >> 48) as usize, (site & SITE_BITS) as usize))
}

/// The fds that have an entry, in order (up to the highest noted).
pub fn each_noted(mut f: impl FnMut(i32)) {
    let high = HIGH.load(Ordering::Relaxed).min(MAX);
    for (i, m) in TABLE[..high].iter().enumerate() {
        if m.ident.load(Ordering::Relaxed) != 0 {
            f(i as i32);
        }
    }
}

fn note(fd: c_int, idx: usize, site: usize, id: u64, pid: i32) {
    let i = fd as usize;
    if fd < 3 || i >= MAX {
        return;
    }
    let m = &TABLE[i];
    m.ident.store(0, Ordering::Release);
    m.site.store(
        (site as u64 & SITE_BITS) | (idx as u64) << 48,
        Ordering::Relaxed,
    );
    m.owner.store(pid, Ordering::Relaxed);
    m.ident.store(id, Ordering::Release);
    if HIGH.load(Ordering::Relaxed) <= i {
        HIGH.fetch_max(i + 1, Ordering::Relaxed);
    }
}

/// Drops `fd`'s entry (not in a vfork child: the table is its parent's).
#[inline(always)]
fn forget(fd: c_int) {
    let i = fd as usize;
    if fd >= 0
        && i < MAX
        && TABLE[i].ident.load(Ordering::Relaxed) != 0
        && tls::state() & tls::VFORK_CHILD == 0
    {
        TABLE[i].ident.store(0, Ordering::Release);
    }
}

const O_CLOEXEC: usize = libc::O_CLOEXEC as usize;
// SOCK_CLOEXEC, EFD_CLOEXEC, EPOLL_CLOEXEC, SFD_CLOEXEC, TFD_CLOEXEC, IN_CLOEXEC are O_CLOEXEC
// on Linux (x86_64 and aarch64); MFD_CLOEXEC is 1.
const MFD_CLOEXEC: usize = 1;

/// After the real call `idx` returned `r` (>= 0) with arguments `a`: note (or forget) the fds it
/// made. Raw system calls only (errno is untouched). Inlined into each [`made`] instance, where
/// `idx` is a constant and the match folds away.
#[inline(always)]
fn after(idx: usize, r: c_int, a: [usize; 4], site: usize) {
    // (fds made, asked close-on-exec?)
    let (fds, n, cloexec): ([c_int; 2], usize, bool) = match idx {
        g::IDX_pipe | g::IDX_pipe2 | g::IDX_socketpair => {
            let (p, fl) = if idx == g::IDX_socketpair {
                (a[3], a[1])
            } else if idx == g::IDX_pipe2 {
                (a[0], a[1])
            } else {
                (a[0], 0)
            };
            // SAFETY: the call succeeded, so p points to the two fds it wrote.
            let v = unsafe { core::ptr::read_volatile(p as *const [c_int; 2]) };
            (v, 2, fl & O_CLOEXEC != 0)
        }
        g::IDX_socket | g::IDX_timerfd_create | g::IDX_eventfd => {
            ([r, -1], 1, a[1] & O_CLOEXEC != 0)
        }
        g::IDX_accept4 => ([r, -1], 1, a[3] & O_CLOEXEC != 0),
        g::IDX_open | g::IDX_open64 | g::IDX___open_2 | g::IDX___open64_2 => {
            ([r, -1], 1, a[1] & O_CLOEXEC != 0)
        }
        g::IDX_openat | g::IDX_openat64 | g::IDX___openat_2 | g::IDX___openat64_2 => {
            ([r, -1], 1, a[2] & O_CLOEXEC != 0)
        }
        // An fd put in place at a number the program chose is handed on by design (a shell's
        // `exec 5>>log`, a child's redirections): forgotten, never reported. dup2(fd, fd)
        // changes nothing.
        g::IDX_dup2 | g::IDX_dup3 if a[0] as c_int == a[1] as c_int => return,
        g::IDX_dup2 | g::IDX_dup3 => ([r, -1], 1, true),
        g::IDX_epoll_create1 | g::IDX_inotify_init1 => ([r, -1], 1, a[0] & O_CLOEXEC != 0),
        // signalfd on an existing fd changes its mask only.
        g::IDX_signalfd if a[0] as c_int != -1 => return,
        g::IDX_signalfd => ([r, -1], 1, a[2] & O_CLOEXEC != 0),
        g::IDX_memfd_create => ([r, -1], 1, a[1] & MFD_CLOEXEC != 0),
        // accept, creat, creat64, dup, epoll_create, inotify_init: never close-on-exec.
        _ => ([r, -1], 1, false),
    };
    if cloexec {
        for &fd in &fds[..n] {
            forget(fd);
        }
        return;
    }
    note_all(idx, fds, n, site);
}

/// Notes the fds `idx` made without close-on-exec (not in a vfork child, which shares the
/// table with its parent).
#[inline(never)]
fn note_all(idx: usize, fds: [c_int; 2], n: usize, site: usize) {
    // Under a seccomp filter nothing can be identified (sys::fstat_id answers None): the fd is
    // forgotten. No need to learn whether one came with the exec: see fstat_id.
    if tls::state() & tls::VFORK_CHILD != 0 || !config::options().report_fd_leak {
        return;
    }
    let pid = sys::getpid();
    let mut id = 0;
    for (k, &fd) in fds[..n].iter().enumerate() {
        if fd < 3 || fd as usize >= MAX {
            continue;
        }
        // A pipe's two ends share one inode; a socketpair's do not.
        if k == 0 || idx == g::IDX_socketpair {
            id = ident(fd);
        }
        if id != 0 {
            note(fd, idx, site, id, pid);
        } else {
            forget(fd);
        }
    }
}

type Real = unsafe extern "C" fn(usize, usize, usize, usize) -> c_int;

/// The call `IDX` of a caller whose return address is `site`. `open`, `accept`, `creat` are
/// cancellation points: `pthread_cancel`'s forced unwind passes through this frame, which must
/// therefore have no personality routine (the library's is a stub): `extern "C"`, nothing in it
/// unwinds, so it has unwind info (CFI) only. Every fd-making function takes at
/// most four integer or pointer arguments and returns an int; `open`'s optional mode is its third
/// argument register, where the variadic call put it.
unsafe extern "C" fn made<const IDX: usize>(
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    site: usize,
) -> c_int {
    // SAFETY: the slot holds libc's IDX, a C function of at most four integer or pointer
    // arguments returning int; extra argument registers are ignored by the callee.
    let real: Real = unsafe { core::mem::transmute(symbols::real(IDX)) };
    // SAFETY: the program's own arguments, passed on unchanged.
    let r = unsafe { real(a0, a1, a2, a3) };
    if r >= 0 {
        after(IDX, r, [a0, a1, a2, a3], site);
    }
    r
}

// The trampoline the slow path sends symbol `IDX` to: the stub tail-jumped, so the caller's
// return address becomes [`made`]'s fifth argument, the arguments are left as the caller set them.
crate::platform::arch::define_caller_trampoline!(trampoline, made);

macro_rules! wrappers {
    ($($name:ident),* $(,)?) => {
        /// The fd-class symbols, in [`TRAMPOLINES`]' order.
        const LIST: &[usize] = &[$(g::$name),*];
        /// Each fd-class symbol's trampoline (the slow path picks it through [`SLOT_OF`]).
        static TRAMPOLINES: [unsafe extern "C" fn(); LIST.len()] =
            [$(trampoline::<{ g::$name }>),*];
    };
}

wrappers!(
    IDX_pipe,
    IDX_pipe2,
    IDX_socket,
    IDX_socketpair,
    IDX_accept,
    IDX_accept4,
    IDX_open,
    IDX_open64,
    IDX___open_2,
    IDX___open64_2,
    IDX_openat,
    IDX_openat64,
    IDX___openat_2,
    IDX___openat64_2,
    IDX_creat,
    IDX_creat64,
    IDX_dup,
    IDX_dup2,
    IDX_dup3,
    IDX_eventfd,
    IDX_epoll_create,
    IDX_epoll_create1,
    IDX_signalfd,
    IDX_timerfd_create,
    IDX_memfd_create,
    IDX_inotify_init,
    IDX_inotify_init1,
);

/// Per symbol: 1 + its place in [`LIST`], 0 for the others (a symbol this build has no stub
/// for lies past `NSYMS` and has no slot).
static SLOT_OF: [u8; symbols::NSYMS] = {
    let mut t = [0u8; symbols::NSYMS];
    let mut k = 0;
    while k < LIST.len() {
        if LIST[k] < symbols::NSYMS {
            t[LIST[k]] = k as u8 + 1;
        }
        k += 1;
    }
    t
};

/// Where the slow path sends an fd-class call.
#[inline]
pub fn wrapper(idx: usize) -> usize {
    match SLOT_OF.get(idx) {
        Some(&k) if k != 0 => TRAMPOLINES[k as usize - 1] as usize,
        _ => symbols::real(idx),
    }
}
