//! The file actions of a `posix_spawn`/`posix_spawnp` call (for `fd-leak`): which fds the spawned
//! program does not inherit as they are in the parent, because an action closes them or places
//! them on purpose.
//!
//! An fd an action names is not reported: a `close` (gone), the target of a `dup2` (placed
//! deliberately; `adddup2(fa, fd, fd)` clears close-on-exec on purpose: handed on), the fd an
//! `open` makes, the source of a `dup2` onto 0, 1 or 2 (the same open file as a standard stream,
//! nothing new handed on: the rule an exec applies), and every fd from a `closefrom` bound up.
//!
//! The list is the program's, read as libc is about to read it, but through `process_vm_readv`
//! on our own pid (a bad pointer is an error, never a fault; where that call is refused, as under
//! qemu-user, through a pipe: `write` from a bad address is EFAULT), with bounded loops. An unknown
//! layout (an action tag this reader does not know, more actions than it reads, a read that
//! fails) gives `None`: no check rather than a wrong finding.
//!
//! Layouts, LP64 (x86_64, aarch64):
//! - glibc (posix/spawn_int.h, unchanged from 2.31 to 2.42 and master but for tags 5 and 6,
//!   added in 2.34/2.35): `posix_spawn_file_actions_t` { int __allocated; int __used;
//!   struct __spawn_action *__actions; int __pad[16]; }, `struct __spawn_action` { enum tag
//!   (close 0, dup2 1, open 2, chdir 3, fchdir 4, closefrom 5, tcsetpgrp 6); union action,
//!   8-aligned: close { int fd }, dup2 { int fd, newfd }, open { int fd; char *path; int oflag;
//!   mode_t mode } (24 bytes), ... }: 32 bytes, the fds at offsets 8 and 12.
//! - musl (src/process/fdop.h, include/spawn.h, 1.2.3 to 1.2.5): `posix_spawn_file_actions_t`
//!   { int __pad0[2]; void *__actions; int __pad[16]; }, `__actions` the newest of a doubly
//!   linked list of `struct fdop` { struct fdop *next, *prev; int cmd, fd, srcfd, oflag; ... }
//!   (cmd: close 1, dup2 2 (fd the target, srcfd the source), open 3, chdir 4, fchdir 5).

use crate::platform::sys;

/// Fds an action names, at most.
const MAX_NAMED: usize = 64;
/// Actions read, at most.
const MAX_ACTIONS: usize = 256;

/// What a spawn's file actions do to the parent's fds.
pub struct Actions {
    named: [i32; MAX_NAMED],
    n: usize,
    /// The lowest `closefrom` bound (`i32::MAX`: none).
    from: i32,
}

impl Actions {
    const fn none() -> Actions {
        Actions {
            named: [-1; MAX_NAMED],
            n: 0,
            from: i32::MAX,
        }
    }

    /// Does an action close `fd` or place it deliberately?
    pub fn names(&self, fd: i32) -> bool {
        fd >= self.from || self.named[..self.n].contains(&fd)
    }

    /// Adds `fd`; false when the list is full.
    fn add(&mut self, fd: i32) -> bool {
        if self.named[..self.n].contains(&fd) {
            return true;
        }
        if self.n == MAX_NAMED {
            return false;
        }
        self.named[self.n] = fd;
        self.n += 1;
        true
    }

    /// A `dup2(src, dst)` action.
    fn dup2(&mut self, src: i32, dst: i32) -> bool {
        if !self.add(dst) {
            return false;
        }
        if (0..3).contains(&dst) && src != dst {
            return self.add(src);
        }
        true
    }
}

/// `N` bytes at `addr` of this process, or `None` where they are not readable.
fn read<const N: usize>(pid: i32, addr: usize) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    let local = [out.as_mut_ptr() as usize, N];
    let remote = [addr, N];
    if addr == 0 || addr.checked_add(N).is_none() {
        return None;
    }
    // SAFETY: both iovecs live on this stack for the call; `out` is N writable bytes; the remote
    // range is checked by the kernel, which answers EFAULT instead of delivering SIGSEGV.
    let r = unsafe {
        sys::syscall6(
            libc::SYS_process_vm_readv as usize,
            [
                pid as usize,
                local.as_ptr() as usize,
                1,
                remote.as_ptr() as usize,
                1,
                0,
            ],
        )
    };
    match r {
        Ok(n) if n == N => Some(out),
        // qemu-user, or a seccomp filter that answers with an errno: through a pipe instead.
        Err(e) if e == libc::ENOSYS || e == libc::EPERM => read_via_pipe(addr),
        _ => None,
    }
}

/// `N` bytes at `addr` copied through a fresh pipe: `write` from a bad address fails with EFAULT
/// (the kernel, or qemu-user, checks it) instead of faulting.
fn read_via_pipe<const N: usize>(addr: usize) -> Option<[u8; N]> {
    let mut p = [-1i32; 2];
    // SAFETY: pipe2 writes two ints into `p`.
    let made = unsafe {
        sys::syscall6(
            libc::SYS_pipe2 as usize,
            [(&raw mut p) as usize, libc::O_CLOEXEC as usize, 0, 0, 0, 0],
        )
    };
    made.ok()?;
    // SAFETY: write(2) reads `N` bytes at `addr` from kernel space: an unmapped byte is EFAULT.
    let w = unsafe { sys::syscall6(libc::SYS_write as usize, [p[1] as usize, addr, N, 0, 0, 0]) };
    let mut out = [0u8; N];
    let ok = w.is_ok_and(|n| n == N) && {
        // SAFETY: read(2) into the N-byte local buffer; the pipe holds the N bytes just written
        // (fewer than PIPE_BUF: written and read whole).
        let r = unsafe {
            sys::syscall6(
                libc::SYS_read as usize,
                [p[0] as usize, out.as_mut_ptr() as usize, N, 0, 0, 0],
            )
        };
        r.is_ok_and(|n| n == N)
    };
    sys::close(p[0]);
    sys::close(p[1]);
    ok.then_some(out)
}

fn int_at(b: &[u8], off: usize) -> i32 {
    i32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn ptr_at(b: &[u8], off: usize) -> usize {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(w) as usize
}

const _: () = assert!(core::mem::size_of::<usize>() == 8);

/// The file actions at `fa` (the call's third argument; 0: none), or `None` when they cannot be
/// read or are not understood.
pub fn actions(fa: usize) -> Option<Actions> {
    let mut a = Actions::none();
    if fa == 0 {
        return Some(a);
    }
    let pid = sys::getpid();
    let head: [u8; 16] = read(pid, fa)?;
    #[cfg(not(target_env = "musl"))]
    {
        const SIZE: usize = 32;
        let (allocated, used, list) = (int_at(&head, 0), int_at(&head, 4), ptr_at(&head, 8));
        if used < 0 || used > allocated || used as usize > MAX_ACTIONS {
            return None;
        }
        for i in 0..used as usize {
            let act: [u8; 16] = read(pid, list.checked_add(i * SIZE)?)?;
            let (fd, fd2) = (int_at(&act, 8), int_at(&act, 12));
            let ok = match int_at(&act, 0) {
                0 | 2 => a.add(fd),
                1 => a.dup2(fd, fd2),
                3 | 4 | 6 => true,
                5 => {
                    a.from = a.from.min(fd);
                    true
                }
                _ => false,
            };
            if !ok {
                return None;
            }
        }
        Some(a)
    }
    #[cfg(target_env = "musl")]
    {
        let mut op = ptr_at(&head, 8);
        for _ in 0..MAX_ACTIONS {
            if op == 0 {
                return Some(a);
            }
            let node: [u8; 32] = read(pid, op)?;
            let (fd, srcfd) = (int_at(&node, 20), int_at(&node, 24));
            let ok = match int_at(&node, 16) {
                1 | 3 => a.add(fd),
                2 => a.dup2(srcfd, fd),
                4 | 5 => true,
                _ => false,
            };
            if !ok {
                return None;
            }
            op = ptr_at(&node, 0);
        }
        None
    }
}
