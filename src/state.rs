//! Process-wide state (each fork child has its own copy; a vfork child shares the parent's).

use core::sync::atomic::{AtomicI32, AtomicU8, AtomicU32, Ordering};

/// Context flags every thread of this process starts with (FORK_CHILD in the child of a
/// multi-threaded fork, so that threads the child creates are checked too).
static PROCESS_CONTEXT: AtomicU8 = AtomicU8::new(0);
/// Threads in the parent at the fork that made this process (0 = unknown).
pub static PARENT_THREADS: AtomicU32 = AtomicU32::new(0);
/// Set when the fork-child context exists only because of `strict=1`.
pub static STRICT_ONLY: AtomicU8 = AtomicU8::new(0);
/// Pid of the process that forked us (for reports), 0 when not a fork child.
pub static FORK_PARENT: AtomicI32 = AtomicI32::new(0);

pub fn process_context() -> u8 {
    PROCESS_CONTEXT.load(Ordering::Relaxed)
}

pub fn set_process_context(bits: u8) {
    PROCESS_CONTEXT.fetch_or(bits, Ordering::Relaxed);
}

/// Load-time initialisation (see `init`): not started, running, done.
pub static INIT: AtomicU8 = AtomicU8::new(INIT_NOT_STARTED);
pub const INIT_NOT_STARTED: u8 = 0;
pub const INIT_RUNNING: u8 = 1;
pub const INIT_DONE: u8 = 2;

/// Has load-time initialisation completed (options read, real functions resolved)?
pub fn initialised() -> bool {
    INIT.load(Ordering::Acquire) == INIT_DONE
}
