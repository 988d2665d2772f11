//! The per-thread state word.
//!
//! Defined in assembly (`platform::arch`) so that every access is initial-exec TLS: stable Rust
//! cannot choose a TLS model, and `thread_local!` in a cdylib compiles to `__tls_get_addr` calls
//! (about 29 extra instructions per interposed call).
//!
//! Layout of `assafe_tls` ([`Block`], 384 bytes per thread): byte 0 holds the context flags (the
//! constants below); the interposition stubs test this one byte: zero means "nothing to check, jump
//! to the real function". The rest is signal-handler bookkeeping, reached through [`block`].
//!
//! Every update of byte 0 is a single `or`/`and`/`mov` instruction, so a signal arriving on the same
//! thread can never lose an update (the handler wrapper saves and restores what it changes).

use assafe_proto::Context;

use super::arch;

// The context bits are `assafe_proto::Context`'s (the one table of bit, report name, suppression
// word and SARIF rule).
/// In the child of a fork whose parent had more than one thread (or any fork with `strict=1`).
pub const FORK_CHILD: u8 = Context::ForkChild.bit();
/// In a vfork child (shares the parent's memory, stack and this TLS block).
pub const VFORK_CHILD: u8 = Context::VforkChild.bit();
/// Inside a signal handler (depth > 0).
pub const IN_HANDLER: u8 = Context::SignalHandler.bit();
/// Cancel type is PTHREAD_CANCEL_ASYNCHRONOUS.
pub const ASYNC_CANCEL: u8 = Context::AsyncCancel.bit();
/// Set in the initial image of every thread: the first interposed call on a new thread takes the
/// slow path once, which finishes load-time resolution if needed and adopts the process context.
pub const UNINIT: u8 = arch::TLS_INITIAL;
/// The library's own code is running on this thread: pass every call straight through.
pub const BUSY: u8 = 0x80;
/// Process hygiene: this thread is a fork child's forking thread, watched (for a bounded number
/// of calls) for leaving the function that called fork (`contexts::hygiene::child`).
pub const WATCH: u8 = 0x20;

/// Bits that describe a restricted context.
pub const CONTEXT_MASK: u8 = assafe_proto::CONTEXT_MASK;

const _: () = assert!(CONTEXT_MASK & (UNINIT | BUSY | WATCH) == 0 && (UNINIT | BUSY) & WATCH == 0);

/// The context flags of the calling thread.
#[inline(always)]
pub fn state() -> u8 {
    arch::tls_load()
}

/// Sets bits in the state byte with one instruction.
#[inline(always)]
pub fn set(bits: u8) {
    arch::tls_or(bits)
}

/// Clears bits in the state byte with one instruction.
#[inline(always)]
pub fn clear(bits: u8) {
    arch::tls_and(!bits)
}

/// Stores the whole state byte with one instruction.
#[inline(always)]
pub fn store(v: u8) {
    arch::tls_store(v)
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
    /// Process hygiene (`contexts::hygiene`): the caller's stack pointer and frame address at
    /// the fork call this thread is making (0 when none), and the parent's thread count + 1
    /// while this thread is inside the real `fork` (read by the atfork child hook).
    pub fork_sp: usize,
    pub fork_cfa: usize,
    pub in_fork: usize,
    _pad2: [u8; 32],
    pub levels: [Level; LEVELS],
}

const _: () = assert!(core::mem::size_of::<Block>() == arch::TLS_BLOCK);

/// This thread's block. Only this thread (and signal handlers running on it) touch it; callers
/// access fields with volatile reads/writes through the raw pointer, never through references
/// that a handler could invalidate.
#[inline(always)]
pub fn block() -> *mut Block {
    arch::tls_block() as *mut Block
}
