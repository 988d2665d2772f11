//! aarch64: every line of assembly and every register name of the preload on 64-bit ARM (the
//! stub template that `build.rs` emits is the one other place). Same interface as `x86_64.rs`.
//!
//! Registers the library's entry code may use without saving: x16/x17 (the intra-procedure-call
//! scratch registers, which PLT stubs clobber too) in the stubs, and x9–x11 (temporaries no
//! caller expects preserved across a call) in the vfork wrapper. Never an argument register
//! (x0–x7, x8, v0–v7) nor the stack on the fast path. Indirect jumps go through x16 so that a
//! BTI-guarded target (`bti c`) accepts them.

use core::arch::{asm, global_asm};

/// Linux aarch64 system call numbers (the generic table: no `open`, `readlink`, `fork`,
/// `vfork`; `openat`, `readlinkat`, `clone` instead).
pub mod nr {
    pub const GETCWD: usize = 17;
    pub const READLINKAT: usize = 78;
    pub const READ: usize = 63;
    pub const FCNTL: usize = 25;
    pub const FSTAT: usize = 80;
    pub const NEWFSTATAT: usize = 79;
    pub const OPENAT: usize = 56;
    pub const CLOSE: usize = 57;
    pub const PREAD64: usize = 67;
    pub const WRITE: usize = 64;
    pub const EXIT_GROUP: usize = 94;
    pub const SCHED_YIELD: usize = 124;
    pub const TGKILL: usize = 131;
    pub const RT_SIGACTION: usize = 134;
    pub const RT_SIGPROCMASK: usize = 135;
    pub const GETPID: usize = 172;
    pub const GETPPID: usize = 173;
    pub const GETTID: usize = 178;
    pub const MUNMAP: usize = 215;
    pub const CLONE: usize = 220;
    pub const MMAP: usize = 222;
    pub const MADVISE: usize = 233;
    pub const PRLIMIT64: usize = 261;
}

/// Raw system call; returns the kernel's raw result (-4095..-1 is an errno).
///
/// # Safety
/// The arguments must be valid for system call `n`.
#[inline(always)]
pub unsafe fn syscall6(n: usize, a: [usize; 6]) -> usize {
    let ret: usize;
    // SAFETY: `svc #0` changes only x0 (the result, declared); the caller guarantees the
    // arguments are valid for this system call.
    unsafe {
        asm!(
            "svc #0",
            in("x8") n,
            inlateout("x0") a[0] => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            options(nostack)
        );
    }
    ret
}

// ---- thread-local state ----

/// Size of the per-thread block `assafe_tls` (see `platform::tls::Block`).
pub const TLS_BLOCK: usize = 384;
/// Byte 0 of every thread's block as the thread starts (`platform::tls::UNINIT`).
pub const TLS_INITIAL: u8 = 0x40;

// The block is defined in assembly in `.tdata` so that every access is initial-exec TLS
// (tpidr_el0-relative through a GOT slot filled at load, R_AARCH64_TLS_TPREL64).
global_asm!(
    ".pushsection .tdata.assafe_tls,\"awT\",%progbits",
    ".balign 16",
    ".globl assafe_tls",
    ".hidden assafe_tls",
    ".type assafe_tls, %object",
    ".size assafe_tls, 384",
    "assafe_tls:",
    ".byte {initial}",
    ".zero 383",
    ".popsection",
    initial = const TLS_INITIAL,
);

#[inline(always)]
fn tp_offset() -> usize {
    let off: usize;
    // SAFETY: the GOT slot is filled by the dynamic loader before any code of this library
    // runs, and reading it has no side effect.
    unsafe {
        asm!(
            "adrp {o}, :gottprel:assafe_tls",
            "ldr {o}, [{o}, :gottprel_lo12:assafe_tls]",
            o = out(reg) off,
            options(nostack, pure, readonly, preserves_flags)
        );
    }
    off
}

/// Address of this thread's block.
#[inline(always)]
pub fn tls_block() -> usize {
    thread_pointer().wrapping_add(tp_offset())
}

/// Byte 0 of this thread's block.
#[inline(always)]
pub fn tls_load() -> u8 {
    let p = tls_block();
    let v: u32;
    // SAFETY: p is this thread's assafe_tls byte 0: static TLS, mapped for the thread's life.
    unsafe {
        asm!("ldrb {v:w}, [{p}]", p = in(reg) p, v = out(reg) v, options(nostack, readonly, preserves_flags))
    };
    v as u8
}

// aarch64 (before LSE) has no single-instruction read-modify-write of memory: `tls_or` and
// `tls_and` are load, modify, store. A signal handler that runs between the load and the store
// leaves the byte as it found it when it returns (the handler wrapper restores the state byte
// it saved), and one that leaves by longjmp never resumes the interrupted update, so the store
// still writes the right value.

/// `byte0 |= bits`.
#[inline(always)]
pub fn tls_or(bits: u8) {
    let p = tls_block();
    // SAFETY: only this thread (and handlers on it, see above) writes its own TLS byte.
    unsafe {
        asm!(
            "ldrb {t:w}, [{p}]",
            "orr {t:w}, {t:w}, {b:w}",
            "strb {t:w}, [{p}]",
            p = in(reg) p, b = in(reg) bits as u32, t = out(reg) _,
            options(nostack, preserves_flags)
        )
    };
}

/// `byte0 &= mask`.
#[inline(always)]
pub fn tls_and(mask: u8) {
    let p = tls_block();
    // SAFETY: as in `tls_or`.
    unsafe {
        asm!(
            "ldrb {t:w}, [{p}]",
            "and {t:w}, {t:w}, {b:w}",
            "strb {t:w}, [{p}]",
            p = in(reg) p, b = in(reg) mask as u32, t = out(reg) _,
            options(nostack, preserves_flags)
        )
    };
}

/// `byte0 = v`, one instruction.
#[inline(always)]
pub fn tls_store(v: u8) {
    let p = tls_block();
    // SAFETY: as in `tls_or`; a single byte store cannot be torn.
    unsafe {
        asm!("strb {v:w}, [{p}]", p = in(reg) p, v = in(reg) v as u32, options(nostack, preserves_flags))
    };
}

/// The thread pointer (`tpidr_el0`: glibc's TCB, the static TLS blocks follow it).
#[inline(always)]
pub fn thread_pointer() -> usize {
    let tp: usize;
    // SAFETY: reading the thread ID register has no side effect.
    unsafe { asm!("mrs {}, tpidr_el0", out(reg) tp, options(nomem, nostack, preserves_flags)) };
    tp
}

/// The current stack pointer.
#[inline(always)]
pub fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: copying a register has no side effect.
    unsafe { asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// Start of the lazy trampolines (`assafe_lazy_trampolines`, emitted by `build.rs`'s aarch64
/// template): entry `i`, `LAZY_STRIDE * i` bytes further, sets x16 to `i` and branches to
/// `dispatch::lazy_entry`. A PC-relative address: no relocation.
#[inline(always)]
pub fn lazy_trampolines() -> usize {
    let a: usize;
    // SAFETY: computing an address has no side effect; the label is defined in this library.
    unsafe {
        asm!(
            "adrp {a}, assafe_lazy_trampolines",
            "add {a}, {a}, :lo12:assafe_lazy_trampolines",
            a = out(reg) a,
            options(nomem, nostack, preserves_flags, pure)
        )
    };
    a
}

// ---- the slow path's saved frame ----

/// Integer argument registers, in calling-convention order.
const ARG_REGS: usize = 8;

/// The argument registers and callee-saved registers at stub entry, as saved by the slow entry.
#[repr(C)]
pub struct Frame {
    /// x0..x7, then x8 (indirect result location).
    x: [usize; 9],
    _pad: usize,
    /// q0..q7.
    q: [u128; 8],
    /// x19..x28.
    x19_x28: [usize; 10],
    /// The caller's x29 (the frame record the slow path pushed).
    fp: usize,
    /// x30 at entry: the return address into the caller.
    lr: usize,
}

impl Frame {
    /// Integer (or pointer) argument `i` of the call, counting from 0; arguments past the eighth
    /// (variadic ones included: AAPCS64 passes them like named ones on Linux) are read from the
    /// caller's stack, which starts right above the frame record.
    pub fn arg(&self, i: usize) -> usize {
        if i < ARG_REGS {
            return self.x[i];
        }
        let stack = (&self.lr as *const usize as usize) + 8;
        // SAFETY: the caller's outgoing stack arguments start at its sp at the call, right above
        // the frame record the slow entry pushed; callers only ask for arguments the called
        // function's contract says exist.
        unsafe { *((stack + 8 * (i - ARG_REGS)) as *const usize) }
    }

    /// The return address into the caller (the call site).
    pub fn ret_addr(&self) -> usize {
        self.lr
    }

    /// The caller's stack pointer at the call (right above the frame record the slow entry
    /// pushed).
    pub fn caller_sp(&self) -> usize {
        (&self.lr as *const usize as usize) + 8
    }

    /// The caller's registers just after the call returns, for unwinding.
    pub fn regs(&self) -> assafe_unwind::Regs {
        assafe_unwind::Regs {
            pc: self.lr,
            sp: (&self.lr as *const usize as usize) + 8,
            fp: self.fp,
            lr: self.lr,
            x19_x28: self.x19_x28,
        }
    }
}

const _: () = assert!(core::mem::size_of::<Frame>() == 0x120 + 16);

/// The interrupted instruction and the syscall-return register (x0) of a handler's context.
///
/// # Safety
/// `uc` must point to the `ucontext_t` the kernel passed to a handler that is still running.
pub unsafe fn pc_and_ret_of_ucontext(uc: usize) -> (usize, usize) {
    // SAFETY: forwarded contract.
    let m = unsafe { &(*(uc as *const libc::ucontext_t)).uc_mcontext };
    (m.pc as usize, m.regs[0] as usize)
}

/// The interrupted registers of a signal's `ucontext_t`, for unwinding.
///
/// # Safety
/// `uc` must point to the `ucontext_t` the kernel passed to a handler that is still running.
pub unsafe fn regs_of_ucontext(uc: usize) -> assafe_unwind::Regs {
    // SAFETY: forwarded contract.
    let m = unsafe { &(*(uc as *const libc::ucontext_t)).uc_mcontext };
    let mut x19_x28 = [0usize; 10];
    for (i, v) in x19_x28.iter_mut().enumerate() {
        *v = m.regs[19 + i] as usize;
    }
    assafe_unwind::Regs {
        pc: m.pc as usize,
        sp: m.sp as usize,
        fp: m.regs[29] as usize,
        lr: m.regs[30] as usize,
        x19_x28,
    }
}

/// Defines `$name`, the common slow path of every stub. Entry: x16 = symbol index, x30 =
/// return address, arguments in registers. Pushes a frame record, saves every argument register
/// into a [`Frame`], calls `$target(idx, &mut Frame) -> usize`, restores the registers and
/// branches (through x16) to the address it returned, with sp and x29/x30 exactly as at entry.
macro_rules! define_slow_entry {
    ($name:ident, $target:path) => {
        #[unsafe(naked)]
        pub unsafe extern "C" fn $name() {
            core::arch::naked_asm!(
                "stp x29, x30, [sp, #-16]!",
                "mov x29, sp",
                "sub sp, sp, #0x120",
                "stp x0, x1, [sp, #0x00]",
                "stp x2, x3, [sp, #0x10]",
                "stp x4, x5, [sp, #0x20]",
                "stp x6, x7, [sp, #0x30]",
                "str x8, [sp, #0x40]",
                "stp q0, q1, [sp, #0x50]",
                "stp q2, q3, [sp, #0x70]",
                "stp q4, q5, [sp, #0x90]",
                "stp q6, q7, [sp, #0xb0]",
                "stp x19, x20, [sp, #0xd0]",
                "stp x21, x22, [sp, #0xe0]",
                "stp x23, x24, [sp, #0xf0]",
                "stp x25, x26, [sp, #0x100]",
                "stp x27, x28, [sp, #0x110]",
                "mov x0, x16",
                "mov x1, sp",
                "bl {slow}",
                "mov x16, x0",
                "ldp x0, x1, [sp, #0x00]",
                "ldp x2, x3, [sp, #0x10]",
                "ldp x4, x5, [sp, #0x20]",
                "ldp x6, x7, [sp, #0x30]",
                "ldr x8, [sp, #0x40]",
                "ldp q0, q1, [sp, #0x50]",
                "ldp q2, q3, [sp, #0x70]",
                "ldp q4, q5, [sp, #0x90]",
                "ldp q6, q7, [sp, #0xb0]",
                "mov sp, x29",
                "ldp x29, x30, [sp], #16",
                "br x16",
                slow = sym $target,
            );
        }
    };
}
pub(crate) use define_slow_entry;

/// Defines `$name::<IDX>`, a trampoline a stub's slow path can send a call to: it passes the
/// caller's return address (at entry: the link register x30: the stub tail-jumped) to `$target::<IDX>` as the fifth
/// integer argument, the first four argument registers and the stack unchanged
/// (`hygiene::fds::made`: the caller of an fd-making call).
macro_rules! define_caller_trampoline {
    ($name:ident, $target:ident) => {
        #[unsafe(naked)]
        unsafe extern "C" fn $name<const IDX: usize>() {
            core::arch::naked_asm!("mov x4, x30", "b {f}", f = sym $target::<IDX>)
        }
    };
}
pub(crate) use define_caller_trampoline;

/// Defines `$name`, `vfork` for real: `clone(CLONE_VM | CLONE_VFORK | SIGCHLD, sp)` (aarch64
/// has no vfork system call), as glibc's does. The child runs on the parent's stack until it
/// execs or exits, so the wrapper uses no stack: the return address stays in x30, the state
/// byte's address and the parent's byte in x9/x11. The child ORs `$bit` into the thread's state
/// byte, which it shares with the parent; the parent, when it resumes, stores back the byte it
/// had before. On failure it tail-calls `$fail(errno) -> pid_t`.
macro_rules! define_vfork_wrapper {
    ($name:ident, $bit:expr, $fail:path) => {
        // The two global labels mark the parent's window for `vfork_parent_resuming`; the macro
        // is expanded once, so they are defined once.
        #[allow(named_asm_labels)]
        #[unsafe(naked)]
        pub unsafe extern "C" fn $name() {
            core::arch::naked_asm!(
                "adrp x9, :gottprel:assafe_tls",
                "ldr x9, [x9, :gottprel_lo12:assafe_tls]",
                "mrs x10, tpidr_el0",
                "add x9, x9, x10",                  // x9 = &state byte
                "ldrb w11, [x9]",                   // the parent's state byte
                "mov x0, #0x4111",                  // CLONE_VM | CLONE_VFORK | SIGCHLD
                "mov x1, sp",
                "mov x8, #{clone}",                 // SYS_clone
                "svc #0",
                ".globl assafe_vfork_resume",
                ".hidden assafe_vfork_resume",
                "assafe_vfork_resume:",
                "cbz x0, 4f",
                "strb w11, [x9]",                   // parent (or failure): restore its own state
                ".globl assafe_vfork_restored",
                ".hidden assafe_vfork_restored",
                "assafe_vfork_restored:",
                "cmn x0, #4095",
                "b.cs 3f",
                "ret",
                "3:",
                "neg w0, w0",
                "b {fail}",
                "4:",
                "ldrb w10, [x9]",                   // child: the vfork-child bit
                "orr w10, w10, #{bit}",
                "strb w10, [x9]",
                "ret",
                bit = const $bit,
                clone = const $crate::platform::arch::nr::CLONE,
                fail = sym $fail,
            );
        }
    };
}
pub(crate) use define_vfork_wrapper;

unsafe extern "C" {
    /// The first instruction after the vfork system call in [`define_vfork_wrapper!`].
    static assafe_vfork_resume: u8;
    /// The first instruction after the parent stored back its state byte there.
    static assafe_vfork_restored: u8;
}

/// Did the signal whose handler got `uc` interrupt a vfork *parent* between the system call and
/// the wrapper's restoring of its state byte (which still carries the child's vfork-child bit)?
/// The parent's SIGCHLD arrives exactly there when the child exits at once. The child is at
/// the same instructions with a zero return value.
///
/// # Safety
/// `uc` must point to the `ucontext_t` the kernel passed to a handler that is still running.
pub unsafe fn vfork_parent_resuming(uc: usize) -> bool {
    // SAFETY: forwarded contract.
    let (pc, ret) = unsafe { pc_and_ret_of_ucontext(uc) };
    let (from, to) = (
        &raw const assafe_vfork_resume as usize,
        &raw const assafe_vfork_restored as usize,
    );
    ret != 0 && (from..to).contains(&pc)
}

/// Calls `f(arg)` with the stack pointer at `top`, then switches back.
///
/// # Safety
/// `top` must be 16-byte aligned with enough writable memory below it for `f`; `f` must be a
/// normal `extern "C" fn(*mut u8)`.
#[unsafe(naked)]
pub unsafe extern "C" fn switch_stack(arg: *mut u8, f: usize, top: *mut u8) {
    core::arch::naked_asm!(
        "stp x29, x30, [sp, #-16]!",
        "mov x29, sp",
        "mov sp, x2",
        "blr x1",
        "mov sp, x29",
        "ldp x29, x30, [sp], #16",
        "ret",
    );
}

/// Bits of a user-space code address that are always zero (aarch64 user addresses are below
/// 2^48, or 2^52 with LVA; the top byte is only a tag, never set on a function address), free to
/// carry flags next to a handler address.
pub const USER_ADDR_FREE_BITS: usize = 0xff00_0000_0000_0000;
