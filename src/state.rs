//! Process-wide state (each fork child has its own copy; a vfork child shares the parent's).

use core::sync::atomic::{AtomicI32, AtomicU8, AtomicU32, AtomicUsize, Ordering};

/// Everything a fork writes in this library's memory (both sides), on one page: each page a
/// fork child (or the parent, after the fork) first writes to is a copy-on-write fault, so the
/// fields live together in one 2048-aligned block of 2048 bytes (it never straddles two pages,
/// whatever the layout around it), and writers store only values that change.
#[repr(C, align(2048))]
pub struct ForkPage {
    /// Context flags every thread of this process starts with (FORK_CHILD in the child of a
    /// multi-threaded fork, so that threads the child creates are checked too).
    process_context: AtomicU8,
    /// Set when the fork-child context exists only because of `strict=1`.
    pub strict_only: AtomicU8,
    /// How this fork child was made: [`FORKED_UNSEEN`], [`FORKED_FORK`] or [`FORKED_UFORK`].
    pub forked_by: AtomicU8,
    /// Threads in the parent at the fork that made this process (0 = unknown).
    pub parent_threads: AtomicU32,
    /// Pid of the process that forked us (for reports), 0 when not a fork child.
    pub fork_parent: AtomicI32,
    /// `contexts::hygiene::child`'s record of fork calls (described there).
    pub hygiene: ForkHygiene,
    /// `contexts::hygiene::zombies`'s table of the children forked (described there).
    pub zombies: ForkZombies,
}

/// Children the zombie table holds at most.
pub const ZOMBIE_SLOTS: usize = 64;

/// See `contexts::hygiene::zombies`.
pub struct ForkZombies {
    pub pid: [AtomicI32; ZOMBIE_SLOTS],
    pub reported: [AtomicU8; ZOMBIE_SLOTS],
    pub n: [AtomicUsize; ZOMBIE_SLOTS],
}

/// Return addresses kept of a fork call's stack.
pub const FORK_FRAMES: usize = 32;

/// See `contexts::hygiene::child`.
pub struct ForkHygiene {
    pub forked: AtomicU8,
    pub caller_is_main: AtomicU8,
    pub returned: AtomicU8,
    pub exit_seen: AtomicU8,
    pub atfork_done: AtomicU8,
    pub watch_left: AtomicU32,
    pub pending_owner: AtomicI32,
    pub child_cfa: AtomicUsize,
    pub child_n: AtomicUsize,
    pub pending_sp: AtomicUsize,
    pub pending_n: AtomicUsize,
    pub child_frames: [AtomicUsize; FORK_FRAMES],
    pub pending: [AtomicUsize; FORK_FRAMES],
}

const _: () = assert!(core::mem::size_of::<ForkPage>() <= 2048);

#[unsafe(link_section = "assafe_hot")]
pub static FORK: ForkPage = ForkPage {
    process_context: AtomicU8::new(0),
    strict_only: AtomicU8::new(0),
    forked_by: AtomicU8::new(FORKED_UNSEEN),
    parent_threads: AtomicU32::new(0),
    fork_parent: AtomicI32::new(0),
    hygiene: ForkHygiene {
        forked: AtomicU8::new(0),
        caller_is_main: AtomicU8::new(1),
        returned: AtomicU8::new(0),
        exit_seen: AtomicU8::new(0),
        atfork_done: AtomicU8::new(0),
        watch_left: AtomicU32::new(0),
        pending_owner: AtomicI32::new(0),
        child_cfa: AtomicUsize::new(0),
        child_n: AtomicUsize::new(0),
        pending_sp: AtomicUsize::new(0),
        pending_n: AtomicUsize::new(0),
        child_frames: [const { AtomicUsize::new(0) }; FORK_FRAMES],
        pending: [const { AtomicUsize::new(0) }; FORK_FRAMES],
    },
    zombies: ForkZombies {
        pid: [const { AtomicI32::new(0) }; ZOMBIE_SLOTS],
        reported: [const { AtomicU8::new(0) }; ZOMBIE_SLOTS],
        n: [const { AtomicUsize::new(0) }; ZOMBIE_SLOTS],
    },
};

/// Threads in the parent at the fork that made this process (0 = unknown).
pub static PARENT_THREADS: &AtomicU32 = &FORK.parent_threads;
/// Set when the fork-child context exists only because of `strict=1`.
pub static STRICT_ONLY: &AtomicU8 = &FORK.strict_only;
/// Pid of the process that forked us (for reports), 0 when not a fork child.
pub static FORK_PARENT: &AtomicI32 = &FORK.fork_parent;
/// How this fork child was made: [`FORKED_UNSEEN`], [`FORKED_FORK`] or [`FORKED_UFORK`].
pub static FORKED_BY: &AtomicU8 = &FORK.forked_by;

/// Stores `v` unless `a` already holds it (a store to a clean page is a copy-on-write fault).
#[inline]
pub fn store_if_changed<T: Copy + PartialEq>(a: &impl AtomicCell<T>, v: T) {
    if a.get() != v {
        a.put(v);
    }
}

/// The atomics [`store_if_changed`] takes.
pub trait AtomicCell<T> {
    fn get(&self) -> T;
    fn put(&self, v: T);
}

macro_rules! cell {
    ($a:ty, $t:ty) => {
        impl AtomicCell<$t> for $a {
            fn get(&self) -> $t {
                self.load(Ordering::Relaxed)
            }
            fn put(&self, v: $t) {
                self.store(v, Ordering::Relaxed)
            }
        }
    };
}
cell!(AtomicU8, u8);
cell!(AtomicU32, u32);
cell!(AtomicI32, i32);
cell!(AtomicUsize, usize);

/// A fork the library did not see (raw `clone`/`fork`, `daemon()`): no lock was reset.
pub const FORKED_UNSEEN: u8 = 0;
/// libc's `fork()`, which resets the locks `data/fork-resets.tsv` lists.
pub const FORKED_FORK: u8 = 1;
/// `_Fork()`: no lock reset.
pub const FORKED_UFORK: u8 = 2;

/// Locks (mutexes, rwlocks, semaphores) this fork child initialised after the fork: no thread
/// that vanished at the fork can hold them. A fixed lock-free set (a full set forgets, and the
/// calls on the forgotten locks stay hazards).
#[unsafe(link_section = "assafe_hot")]
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
    FORK.process_context.load(Ordering::Relaxed)
}

pub fn set_process_context(bits: u8) {
    if FORK.process_context.load(Ordering::Relaxed) & bits != bits {
        FORK.process_context.fetch_or(bits, Ordering::Relaxed);
    }
}

/// Load-time initialisation (see `init`): not started, running, done.
#[unsafe(link_section = "assafe_hot")]
pub static INIT: AtomicU8 = AtomicU8::new(INIT_NOT_STARTED);
pub const INIT_NOT_STARTED: u8 = 0;
pub const INIT_RUNNING: u8 = 1;
pub const INIT_DONE: u8 = 2;

/// Has load-time initialisation completed (options read, real functions resolved)?
pub fn initialised() -> bool {
    INIT.load(Ordering::Acquire) == INIT_DONE
}
