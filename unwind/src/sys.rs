//! Raw Linux system calls (x86_64 and aarch64; no libc at unwind time) and the fault-free
//! memory reader built on `process_vm_readv`, with a fallback for where that call is
//! missing or forbidden (qemu-user answers `ENOSYS`; a seccomp filter `EPERM`, or kills):
//! the bytes are written into a private pipe (`write` fails with `EFAULT` on an unmapped
//! source instead of faulting) and read back. `read` and `write` are the two calls every
//! practical seccomp filter allows.

use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicU64, AtomicUsize, Ordering};

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const READ: usize = 0;
    pub const WRITE: usize = 1;
    pub const CLOSE: usize = 3;
    pub const FSTAT: usize = 5;
    pub const FCNTL: usize = 72;
    pub const GETPID: usize = 39;
    pub const PIPE2: usize = 293;
    pub const PROCESS_VM_READV: usize = 310;
}

// aarch64 (the generic syscall table).
#[cfg(target_arch = "aarch64")]
mod nr {
    pub const READ: usize = 63;
    pub const WRITE: usize = 64;
    pub const CLOSE: usize = 57;
    pub const FSTAT: usize = 80;
    pub const FCNTL: usize = 25;
    pub const GETPID: usize = 172;
    pub const PIPE2: usize = 59;
    pub const PROCESS_VM_READV: usize = 270;
}

const SYS_READ: usize = nr::READ;
const SYS_WRITE: usize = nr::WRITE;
const SYS_CLOSE: usize = nr::CLOSE;
const SYS_FSTAT: usize = nr::FSTAT;
const SYS_FCNTL: usize = nr::FCNTL;
const F_DUPFD_CLOEXEC: usize = 1030;
const SYS_GETPID: usize = nr::GETPID;
const SYS_PIPE2: usize = nr::PIPE2;
const SYS_PROCESS_VM_READV: usize = nr::PROCESS_VM_READV;
const ENOSYS: isize = 38;
const EPERM: isize = 1;

/// How memory is read: [`VM_READV`] until that fails with `ENOSYS`/`EPERM`, then
/// [`PIPE_CHECKED`]; [`PIPE_TRUSTED`] once the caller said only `read`/`write` may be used.
#[unsafe(link_section = "assafe_hot")]
static MODE: AtomicU8 = AtomicU8::new(VM_READV);
const VM_READV: u8 = 0;
/// Through the pipe, whose identity (`fstat`) is checked once per walk: a program that closed
/// it and reused the number must never receive our writes.
const PIPE_CHECKED: u8 = 1;
/// Through the pipe, without `fstat` (a seccomp filter may forbid it).
const PIPE_TRUSTED: u8 = 2;
#[unsafe(link_section = "assafe_hot")]
static PIPE_R: AtomicI32 = AtomicI32::new(-1);
#[unsafe(link_section = "assafe_hot")]
static PIPE_W: AtomicI32 = AtomicI32::new(-1);
/// (dev, ino) of the pipe's write end when it was made.
#[unsafe(link_section = "assafe_hot")]
static PIPE_ID: AtomicU64 = AtomicU64::new(0);
/// One reader at a time uses the pipe (another thread or a nested handler finds it busy and
/// gets no bytes: a shorter stack, never a wrong one).
#[unsafe(link_section = "assafe_hot")]
static PIPE_BUSY: AtomicBool = AtomicBool::new(false);

fn ident(fd: i32) -> Option<u64> {
    // struct stat: 144 bytes on x86_64, 128 on aarch64; both start with st_dev, st_ino (u64).
    let mut st = [0u64; 18];
    // SAFETY: fstat writes one struct stat into a buffer of that size.
    let r = unsafe { syscall3(SYS_FSTAT, fd as usize, st.as_mut_ptr() as usize, 0) };
    (r == 0).then(|| st[0].rotate_left(32) ^ st[1])
}

/// Makes the probe pipe (once; close-on-exec, non-blocking). Returns false when it cannot.
pub fn make_probe_pipe() -> bool {
    if PIPE_W.load(Ordering::Acquire) >= 0 {
        return true;
    }
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two ints into fds.
    let r = unsafe {
        syscall3(
            SYS_PIPE2,
            fds.as_mut_ptr() as usize,
            0o2_004_000, // O_CLOEXEC | O_NONBLOCK
            0,
        )
    };
    if r != 0 {
        return false;
    }
    for fd in fds.iter_mut() {
        // Out of the way of a program that expects the lowest free numbers (fd >= 100).
        // SAFETY: fcntl/close on the fd we just made.
        unsafe {
            let h = syscall3(SYS_FCNTL, *fd as usize, F_DUPFD_CLOEXEC, 100);
            if h >= 0 {
                syscall1(SYS_CLOSE, *fd as usize);
                *fd = h as i32;
            }
        }
    }
    let id = ident(fds[1]).unwrap_or(0);
    PIPE_ID.store(id, Ordering::Relaxed);
    PIPE_R.store(fds[0], Ordering::Relaxed);
    if PIPE_W
        .compare_exchange(-1, fds[1], Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // Another thread made one first: ours is not needed.
        // SAFETY: closing the two fds we just made.
        unsafe {
            syscall1(SYS_CLOSE, fds[0] as usize);
            syscall1(SYS_CLOSE, fds[1] as usize);
        }
    }
    true
}

/// From now on read memory only with `read`/`write` (a seccomp filter may be in force). Call
/// [`make_probe_pipe`] first, while other system calls are still allowed.
pub fn restrict_to_read_write() {
    MODE.store(PIPE_TRUSTED, Ordering::Relaxed);
}

/// Can stack memory be read at all (otherwise walks stop at the first frame)?
pub fn memory_readable() -> bool {
    MODE.load(Ordering::Relaxed) == VM_READV || pipe_ready()
}

/// Is the probe pipe usable for one walk?
fn pipe_ready() -> bool {
    let w = PIPE_W.load(Ordering::Acquire);
    if w < 0 {
        return false;
    }
    match MODE.load(Ordering::Relaxed) {
        PIPE_TRUSTED => true,
        _ => ident(w) == Some(PIPE_ID.load(Ordering::Relaxed)),
    }
}

/// Copies `len` (at most one page, not straddling two) bytes at `src` through the pipe.
///
/// # Safety
/// `dst` must be valid for writes of `len` bytes.
unsafe fn read_via_pipe(src: usize, dst: *mut u8, len: usize) -> bool {
    if PIPE_BUSY.swap(true, Ordering::Acquire) {
        return false;
    }
    let (r, w) = (
        PIPE_R.load(Ordering::Relaxed),
        PIPE_W.load(Ordering::Relaxed),
    );
    // SAFETY: write only reads from src (the kernel answers EFAULT for an unmapped range).
    let n = unsafe { syscall3(SYS_WRITE, w as usize, src, len) };
    let mut ok = false;
    if n > 0 {
        // SAFETY: dst is valid for len >= n bytes (caller's contract).
        let got = unsafe { syscall3(SYS_READ, r as usize, dst as usize, n as usize) };
        ok = n == len as isize && got == n;
    }
    PIPE_BUSY.store(false, Ordering::Release);
    ok
}

#[repr(C)]
struct IoVec {
    base: usize,
    len: usize,
}

/// Raw 1-argument system call; returns the kernel's raw result (negative errno on error).
///
/// # Safety
/// The caller must pass a system call number and argument valid for that call.
#[inline(always)]
unsafe fn syscall1(n: usize, a1: usize) -> isize {
    // SAFETY: forwarded contract.
    unsafe { syscall6(n, a1, 0, 0, 0, 0, 0) }
}

/// Raw 3-argument system call.
///
/// # Safety
/// As [`syscall1`].
#[inline(always)]
unsafe fn syscall3(n: usize, a1: usize, a2: usize, a3: usize) -> isize {
    // SAFETY: forwarded contract.
    unsafe { syscall6(n, a1, a2, a3, 0, 0, 0) }
}

/// Raw 6-argument system call.
///
/// # Safety
/// As [`syscall1`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn syscall6(
    n: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
    a6: usize,
) -> isize {
    let ret: isize;
    // SAFETY: the `syscall` instruction only clobbers rax (result), rcx and r11, all
    // declared; memory effects are those of the system call, which the caller vouches for.
    unsafe {
        core::arch::asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a1, in("rsi") a2,
             in("rdx") a3, in("r10") a4, in("r8") a5, in("r9") a6,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// Raw 6-argument system call (aarch64: `svc #0`, number in x8, result in x0).
///
/// # Safety
/// As [`syscall1`].
#[cfg(target_arch = "aarch64")]
#[inline(always)]
unsafe fn syscall6(
    n: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
    a6: usize,
) -> isize {
    let ret: isize;
    // SAFETY: `svc #0` clobbers only x0 (the result, declared); memory effects are those
    // of the system call, which the caller vouches for.
    unsafe {
        core::arch::asm!("svc #0", in("x8") n, inlateout("x0") a1 as isize => ret,
             in("x1") a2, in("x2") a3, in("x3") a4, in("x4") a5, in("x5") a6,
             options(nostack));
    }
    ret
}

/// The calling process's pid (raw syscall, never cached: it changes across fork).
pub fn getpid() -> usize {
    // SAFETY: getpid takes no arguments and touches no memory.
    unsafe { syscall1(SYS_GETPID, 0) as usize }
}

/// Copies `len` bytes from address `src` of process `pid` (ourselves) into `dst`
/// without ever faulting: an unmapped source makes the kernel return `EFAULT`.
///
/// Returns true only if all `len` bytes were copied.
///
/// # Safety
/// `dst` must be valid for writes of `len` bytes. `src` may be any value.
pub unsafe fn read_remote(pid: usize, src: usize, dst: *mut u8, len: usize) -> bool {
    if len == 0 {
        return true;
    }
    if src.checked_add(len).is_none() {
        return false;
    }
    let local = IoVec {
        base: dst as usize,
        len,
    };
    let remote = IoVec { base: src, len };
    if MODE.load(Ordering::Relaxed) != VM_READV {
        // SAFETY: forwarded contract.
        return unsafe { read_via_pipe(src, dst, len) };
    }
    // SAFETY: both iovec structs live on our stack for the duration of the call; the local
    // buffer is valid for `len` bytes of writes (caller's contract); the remote range is
    // checked by the kernel, which reports EFAULT instead of delivering SIGSEGV.
    let r = unsafe {
        syscall6(
            SYS_PROCESS_VM_READV,
            pid,
            &local as *const IoVec as usize,
            1,
            &remote as *const IoVec as usize,
            1,
            0,
        )
    };
    if r == -ENOSYS || r == -EPERM {
        // qemu-user, or a seccomp filter that answers with an errno: fall back for good.
        if make_probe_pipe() {
            let _ =
                MODE.compare_exchange(VM_READV, PIPE_CHECKED, Ordering::Relaxed, Ordering::Relaxed);
            // SAFETY: forwarded contract.
            return pipe_ready() && unsafe { read_via_pipe(src, dst, len) };
        }
    }
    r == len as isize
}

/// Size of a cached block; a power of two dividing the page size, so a block that
/// contains one readable byte is entirely readable (it never straddles two pages).
const BLOCK: usize = 1024;

/// A fault-free reader of our own memory with a one-block cache (stack frames are
/// small and adjacent, so most reads of one walk hit the cache).
pub struct SafeReader {
    pid: usize,
    /// False when no fault-free way to read memory is available: every read fails.
    usable: bool,
    block_addr: usize,
    valid: bool,
    block: [u8; BLOCK],
}

/// Called before a walk chooses how it reads memory ([`set_before_read`]; 0: nothing).
static BEFORE_READ: AtomicUsize = AtomicUsize::new(0);

/// Lets the embedding library settle, before any walk chooses between `process_vm_readv` and
/// the pipe, whether it must [`restrict_to_read_write`] first (it learns lazily whether a seccomp
/// filter is in force). `f` must be async-signal-safe.
pub fn set_before_read(f: fn()) {
    BEFORE_READ.store(f as usize, Ordering::Release);
}

impl SafeReader {
    pub fn new() -> Self {
        let f = BEFORE_READ.load(Ordering::Acquire);
        if f != 0 {
            // SAFETY: BEFORE_READ holds 0 or a `fn()` stored by set_before_read.
            let f: fn() = unsafe { core::mem::transmute::<usize, fn()>(f) };
            f();
        }
        let vm = MODE.load(Ordering::Relaxed) == VM_READV;
        let usable = vm || pipe_ready();
        SafeReader {
            // getpid (on the first read) only where process_vm_readv is used (a filter may
            // forbid both); a walk whose frames are all cached may read nothing.
            pid: 0,
            usable,
            block_addr: 0,
            valid: false,
            block: [0; BLOCK],
        }
    }

    /// Reads a native-endian usize at `addr`, or `None` if it is not readable.
    pub fn read_usize(&mut self, addr: usize) -> Option<usize> {
        const W: usize = core::mem::size_of::<usize>();
        if !self.usable {
            return None;
        }
        if self.pid == 0 && MODE.load(Ordering::Relaxed) == VM_READV {
            self.pid = getpid();
        }
        let end = addr.checked_add(W)?;
        let base = addr & !(BLOCK - 1);
        if (end - 1) & !(BLOCK - 1) != base {
            // Straddles two blocks (misaligned): read it directly.
            let mut v = [0u8; W];
            // SAFETY: `v` is a local buffer of exactly W bytes.
            return if unsafe { read_remote(self.pid, addr, v.as_mut_ptr(), W) } {
                Some(usize::from_ne_bytes(v))
            } else {
                None
            };
        }
        if !self.valid || self.block_addr != base {
            // SAFETY: `self.block` is a buffer of exactly BLOCK bytes.
            if !unsafe { read_remote(self.pid, base, self.block.as_mut_ptr(), BLOCK) } {
                self.valid = false;
                return None;
            }
            self.block_addr = base;
            self.valid = true;
        }
        let off = addr - base;
        let mut v = [0u8; W];
        v.copy_from_slice(&self.block[off..off + W]);
        Some(usize::from_ne_bytes(v))
    }
}
