//! The per-thread state word.
//!
//! Defined in assembly in `.tdata` so that every access is initial-exec TLS (`fs:`-relative through
//! a GOT slot filled at load): stable Rust cannot choose a TLS model, and `thread_local!` in a cdylib
//! compiles to `__tls_get_addr` calls (about 29 extra instructions per interposed call).
//!
//! Layout of `assafe_tls` ([`Block`], 384 bytes per thread): byte 0 holds the context flags (the
//! constants below); the interposition stubs test this one byte: zero means "nothing to check, jump
//! to the real function". The rest is signal-handler bookkeeping, reached through [`block`].
//!
//! Every update of byte 0 is a single `or`/`and`/`mov` instruction, so a signal arriving on the same
//! thread can never lose an update (the handler wrapper saves and restores what it changes).

use core::arch::{asm, global_asm};

/// In the child of a fork whose parent had more than one thread (or any fork with `strict=1`).
pub const FORK_CHILD: u8 = 0x01;
/// In a vfork child (shares the parent's memory, stack and this TLS block).
pub const VFORK_CHILD: u8 = 0x02;
/// Inside a signal handler (depth > 0).
pub const IN_HANDLER: u8 = 0x04;
/// Cancel type is PTHREAD_CANCEL_ASYNCHRONOUS.
pub const ASYNC_CANCEL: u8 = 0x08;
/// Set in the initial image of every thread: the first interposed call on a new thread takes the
/// slow path once, which finishes load-time resolution if needed and adopts the process context.
pub const UNINIT: u8 = 0x40;
/// The library's own code is running on this thread: pass every call straight through.
pub const BUSY: u8 = 0x80;

/// Bits that describe a restricted context.
pub const CONTEXT_MASK: u8 = FORK_CHILD | VFORK_CHILD | IN_HANDLER | ASYNC_CANCEL;

global_asm!(
    ".pushsection .tdata.assafe_tls,\"awT\",@progbits",
    ".balign 16",
    ".globl assafe_tls",
    ".hidden assafe_tls",
    ".type assafe_tls, @object",
    ".size assafe_tls, 384",
    "assafe_tls:",
    ".byte 0x40",
    ".zero 383",
    ".popsection",
);

#[inline(always)]
fn tp_offset() -> usize {
    let off: usize;
    // SAFETY: reads the GOT slot holding assafe_tls's offset from the thread pointer; the dynamic
    // loader filled it (R_X86_64_TPOFF64) before any code of this library runs.
    unsafe {
        asm!("mov {}, qword ptr [rip + assafe_tls@GOTTPOFF]", out(reg) off, options(nostack, pure, readonly, preserves_flags));
    }
    off
}

/// The context flags of the calling thread.
#[inline(always)]
pub fn state() -> u8 {
    let off = tp_offset();
    let v: u8;
    // SAFETY: fs:[off] is this thread's assafe_tls byte 0 (static TLS, always mapped).
    unsafe {
        asm!("mov {v}, byte ptr fs:[{o}]", o = in(reg) off, v = out(reg_byte) v, options(nostack, readonly, preserves_flags))
    };
    v
}

/// Sets bits in the state byte with one instruction.
#[inline(always)]
pub fn set(bits: u8) {
    let off = tp_offset();
    // SAFETY: single read-modify-write of this thread's own TLS byte.
    unsafe {
        asm!("or byte ptr fs:[{o}], {b}", o = in(reg) off, b = in(reg_byte) bits, options(nostack))
    };
}

/// Clears bits in the state byte with one instruction.
#[inline(always)]
pub fn clear(bits: u8) {
    let off = tp_offset();
    let mask = !bits;
    // SAFETY: single read-modify-write of this thread's own TLS byte.
    unsafe {
        asm!("and byte ptr fs:[{o}], {b}", o = in(reg) off, b = in(reg_byte) mask, options(nostack))
    };
}

/// Stores the whole state byte with one instruction.
#[inline(always)]
pub fn store(v: u8) {
    let off = tp_offset();
    // SAFETY: single store to this thread's own TLS byte.
    unsafe {
        asm!("mov byte ptr fs:[{o}], {v}", o = in(reg) off, v = in(reg_byte) v, options(nostack))
    };
}

/// Nesting levels of signal handlers that keep their own record (deeper ones are counted only).
pub const LEVELS: usize = 8;

/// One running signal handler.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Level {
    /// Stack pointer at entry to the handler wrapper (to tell whether a longjmp leaves it).
    pub entry_sp: usize,
    /// The interrupted context (`ucontext_t *`).
    pub uc: usize,
    /// The kernel's `siginfo_t *` (the origin is worked out from it only when a report needs it).
    pub info: usize,
    /// The program's handler function.
    pub handler: usize,
    pub signal: u32,
    /// Context byte to restore when the handler returns or is left by longjmp.
    pub saved_state: u8,
    pub _pad: [u8; 3],
}

impl Level {
    pub const ZERO: Level = Level {
        entry_sp: 0,
        uc: 0,
        info: 0,
        handler: 0,
        signal: 0,
        saved_state: 0,
        _pad: [0; 3],
    };
}

/// The per-thread block behind `assafe_tls`.
#[repr(C)]
pub struct Block {
    pub state: u8,
    _pad: [u8; 3],
    /// Signal handler nesting depth.
    pub depth: u32,
    _pad2: [u8; 56],
    pub levels: [Level; LEVELS],
}

const _: () = assert!(core::mem::size_of::<Block>() == 384);

/// This thread's block. Only this thread (and signal handlers running on it) touch it; callers
/// access fields with volatile reads/writes through the raw pointer, never through references
/// that a handler could invalidate.
#[inline(always)]
pub fn block() -> *mut Block {
    let tp: usize;
    // SAFETY: on x86_64 glibc, fs:0 holds the thread pointer itself (TCB self-pointer).
    unsafe {
        asm!("mov {}, qword ptr fs:[0]", out(reg) tp, options(nostack, readonly, preserves_flags))
    };
    tp.wrapping_add(tp_offset()) as *mut Block
}
