//! Process-wide state (each fork child has its own copy; a vfork child shares the parent's).

use core::sync::atomic::{AtomicI32, AtomicU8, AtomicU32, AtomicUsize, Ordering};

/// Context flags every thread of this process starts with (FORK_CHILD in the child of a
/// multi-threaded fork, so that threads the child creates are checked too).
static PROCESS_CONTEXT: AtomicU8 = AtomicU8::new(0);
/// Threads in the parent at the fork that made this process (0 = unknown).
pub static PARENT_THREADS: AtomicU32 = AtomicU32::new(0);
/// Set when the fork-child context exists only because of `strict=1`.
pub static STRICT_ONLY: AtomicU8 = AtomicU8::new(0);
/// Pid of the process that forked us (for reports), 0 when not a fork child.
pub static FORK_PARENT: AtomicI32 = AtomicI32::new(0);

/// How this fork child was made: [`FORKED_UNSEEN`], [`FORKED_FORK`] or [`FORKED_UFORK`].
pub static FORKED_BY: AtomicU8 = AtomicU8::new(FORKED_UNSEEN);
/// A fork the library did not see (raw `clone`/`fork`, `daemon()`): no lock was reset.
pub const FORKED_UNSEEN: u8 = 0;
/// libc's `fork()`, which resets the locks `data/fork-resets.tsv` lists.
pub const FORKED_FORK: u8 = 1;
/// `_Fork()`: no lock reset.
pub const FORKED_UFORK: u8 = 2;

/// Locks (mutexes, rwlocks, semaphores) this fork child initialised after the fork: no thread
/// that vanished at the fork can hold them. A fixed lock-free set (a full set forgets, and the
/// calls on the forgotten locks stay hazards).
static OWN: [AtomicUsize; OWN_SLOTS] = [const { AtomicUsize::new(0) }; OWN_SLOTS];
const OWN_SLOTS: usize = 128;

/// Notes that the lock at `addr` was initialised in this fork child.
pub fn note_own_object(addr: usize) {
    if addr == 0 {
        return;
    }
    for s in &OWN {
        match s.compare_exchange(0, addr, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(a) if a == addr => return,
            Err(_) => {}
        }
    }
}

/// Was the lock at `addr` initialised in this fork child (after the fork)?
pub fn own_object(addr: usize) -> bool {
    addr != 0 && OWN.iter().any(|s| s.load(Ordering::Relaxed) == addr)
}

/// In a new fork child: the locks the parent initialised are not the child's own.
pub fn forget_own_objects() {
    for s in &OWN {
        if s.load(Ordering::Relaxed) == 0 {
            break;
        }
        s.store(0, Ordering::Relaxed);
    }
}

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
