//! Raw Linux system calls (x86_64 and aarch64) (no libc at unwind time) and the fault-free
//! memory reader built on `process_vm_readv`.

#[cfg(target_arch = "x86_64")]
use core::arch::asm;

#[cfg(target_arch = "x86_64")]
const SYS_GETPID: usize = 39;
#[cfg(target_arch = "x86_64")]
const SYS_READLINK: usize = 89;
#[cfg(target_arch = "x86_64")]
const SYS_PROCESS_VM_READV: usize = 310;

// aarch64 (the generic syscall table): no `readlink`, only `readlinkat`.
#[cfg(target_arch = "aarch64")]
const SYS_GETPID: usize = 172;
#[cfg(target_arch = "aarch64")]
const SYS_READLINKAT: usize = 78;
#[cfg(target_arch = "aarch64")]
const SYS_PROCESS_VM_READV: usize = 270;
#[cfg(target_arch = "aarch64")]
const AT_FDCWD: usize = -100isize as usize;

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
#[cfg(target_arch = "x86_64")]
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
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a1, in("rsi") a2,
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

/// `readlink(path, buf)` as a raw syscall; returns the length written or `None`.
///
/// `path` must be NUL-terminated.
pub fn readlink(path: &[u8], buf: &mut [u8]) -> Option<usize> {
    if path.last() != Some(&0) {
        return None;
    }
    // SAFETY: `path` is a NUL-terminated readable buffer and `buf` is a writable buffer of
    // `buf.len()` bytes; the kernel writes at most that many bytes.
    #[cfg(target_arch = "x86_64")]
    let r = unsafe {
        syscall3(
            SYS_READLINK,
            path.as_ptr() as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
        )
    };
    // SAFETY: as above (readlinkat relative to the working directory is readlink).
    #[cfg(target_arch = "aarch64")]
    let r = unsafe {
        syscall6(
            SYS_READLINKAT,
            AT_FDCWD,
            path.as_ptr() as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            0,
            0,
        )
    };
    if r < 0 { None } else { Some(r as usize) }
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
    r == len as isize
}

/// Size of a cached block; a power of two dividing the page size, so a block that
/// contains one readable byte is entirely readable (it never straddles two pages).
const BLOCK: usize = 256;

/// A fault-free reader of our own memory with a one-block cache (stack frames are
/// small and adjacent, so most reads of one walk hit the cache).
pub struct SafeReader {
    pid: usize,
    block_addr: usize,
    valid: bool,
    block: [u8; BLOCK],
}

impl SafeReader {
    pub fn new() -> Self {
        SafeReader {
            pid: getpid(),
            block_addr: 0,
            valid: false,
            block: [0; BLOCK],
        }
    }

    /// Reads a native-endian usize at `addr`, or `None` if it is not readable.
    pub fn read_usize(&mut self, addr: usize) -> Option<usize> {
        const W: usize = core::mem::size_of::<usize>();
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
