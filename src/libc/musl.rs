//! musl facts the preload depends on (x86_64, musl 1.2.x, dynamically linked programs). The
//! interface is `glibc.rs`'s; `mod.rs` picks this file for `target_env = "musl"`.
//!
//! What differs from glibc (read in musl 1.2.3–1.2.5, `ldso/dynlink.c`, `src/internal/pthread_impl.h`,
//! `src/setjmp/x86_64/setjmp.s`, `src/process/fork.c`):
//! - **The object list** is `_dl_debug_addr->head` (musl exports a pointer to its `struct debug`,
//!   not a `_r_debug` object). Its entries are `struct dso`, whose first five words have
//!   `struct link_map`'s layout (`base`, `name`, `dynv`, `next`, `prev`), and `base` is the load
//!   bias. `debug.head`/`debug.base` are set in `__dls3` before the program's entry point, so
//!   before any constructor runs. The list starts with the program, then `LD_PRELOAD` objects,
//!   then the dependencies breadth first; the loader *is* libc.so (one object, no `DT_SONAME`),
//!   appended when something first names it, and `debug.base` is its load bias.
//! - **Nothing is ever unloaded** (`dlclose` only validates its handle), so every object of the
//!   snapshot stays mapped.
//! - **No symbol versions** (libc.so has no `DT_VERSYM`: a lookup ignores the version), **no
//!   IFUNC** (the loader does not support them), **no pointer mangling** in `jmp_buf`.
//! - **No `__libc_single_threaded`**: musl keeps `libc.threaded`/`libc.need_locks` private. What
//!   the process itself shows is its thread list: every live thread's `struct pthread` is on a
//!   circular list through `prev`/`next` (words 2 and 3 of the TCB on x86_64), a thread is added
//!   by `pthread_create` before it runs and removed when it exits; the main thread's `next` is
//!   itself while it is alone. [`single_threaded`] reads that, and remembers once it has seen a
//!   second thread.
//! - **fork**: musl ≥ 1.2.2 takes and, in the child, resets its internal locks (malloc, stdio
//!   open-file list, atexit, dlerror before 1.2.4, gettext, locale, random, sem_open, syslog,
//!   timezone, the loader's; `pthread_key_create`'s from 1.2.4), so those functions *work* in the
//!   child of a multi-threaded fork on musl; POSIX still does not allow them there: the verdicts
//!   (`symbols.txt`) stay POSIX's and the severity is `portable` (data/fork-resets.tsv's musl
//!   rows, compared with the version `identity` names); a FILE's own lock is never reset.

use core::sync::atomic::{AtomicBool, Ordering};

use super::LinkMap;
use crate::platform::arch;
use crate::platform::elf::Dyn;

// A static musl library would carry a second C library into every program it is preloaded into.
#[cfg(target_feature = "crt-static")]
compile_error!(
    "build the musl libassafe.so with RUSTFLAGS=\"-C target-feature=-crt-static\" (a preload library links libc.so dynamically)"
);

/// musl's `struct debug` (ldso/dynlink.c), what `_dl_debug_addr` points to.
#[repr(C)]
pub struct Debug {
    pub ver: i32,
    pub head: *const LinkMap,
    pub bp: usize,
    pub state: i32,
    pub base: usize,
}

unsafe extern "C" {
    /// The loader's pointer to its debug structure (a data symbol of libc.so).
    static _dl_debug_addr: *const Debug;
}

/// The loader's debug structure (null only if the program was not started by musl's loader).
fn debug() -> *const Debug {
    // SAFETY: `_dl_debug_addr` is initialised statically in libc.so (`= &debug`) and never
    // written; a pointer-sized read.
    unsafe { _dl_debug_addr }
}

/// Head of the loader's list of loaded objects.
pub fn link_map_head() -> *const LinkMap {
    let d = debug();
    if d.is_null() {
        return core::ptr::null();
    }
    // SAFETY: the loader fills `head` in `__dls3` before the program's entry point, so before
    // any code of ours runs; it is never changed afterwards (objects are appended through the
    // entries' `next`, read in normal context only, see `loaded_objects`).
    unsafe { (*d).head }
}

/// Load bias of the dynamic loader, which on musl is libc.so itself.
pub fn loader_base() -> usize {
    let d = debug();
    if d.is_null() {
        return 0;
    }
    // SAFETY: as in `link_map_head`: written once by the loader before any library code runs.
    unsafe { (*d).base }
}

/// `DT_SONAME` of the C library: musl's libc.so has none; it is recognised by its base
/// ([`loader_base`]).
pub const LIBC_SONAME: &[u8] = b"libc.so";

/// Is the object with this load bias the C library? musl's libc.so has no `DT_SONAME`; it is
/// the loader, whose load bias the debug structure gives.
pub fn is_libc(base: usize, _soname: &[u8]) -> bool {
    base == loader_base()
}

/// Is the object with this load bias part of the C library? On musl that is libc.so (the
/// loader) alone; it has no IFUNC resolvers either way.
pub fn is_glibc(base: usize, _soname: &[u8]) -> bool {
    base == loader_base()
}

/// An address inside the dynamic loader (libc.so): the `_dl_debug_addr` variable.
pub fn loader_anchor() -> usize {
    (&raw const _dl_debug_addr) as usize
}

/// At load, with the C library's object: musl exports no flag to find (see [`single_threaded`]).
pub fn record_libc(_libc: &crate::platform::elf::Object) {}

/// Offset of `struct pthread.next` from the thread pointer (`self`, `dtv`, `prev`, `next`:
/// x86_64 has no `TLS_ABOVE_TP`).
const PTHREAD_NEXT: usize = 3 * 8;

/// Set once a second thread has been seen on the thread list.
static SEEN_THREADS: AtomicBool = AtomicBool::new(false);

/// Has the process surely never had a second thread? musl keeps no public flag: its thread
/// list says whether another thread is alive now, and a thread seen once keeps the answer
/// "no" for the life of the process (and of its fork children, which copy this flag).
pub fn single_threaded() -> bool {
    if SEEN_THREADS.load(Ordering::Relaxed) {
        return false;
    }
    if arch::thread_word(PTHREAD_NEXT) != arch::thread_pointer() {
        SEEN_THREADS.store(true, Ordering::Relaxed);
        return false;
    }
    true
}

/// Slot of the saved stack pointer in musl's x86_64 `__jmp_buf` (stored as is).
const JB_SP: usize = 6;

/// The stack pointer a `jmp_buf` will restore (musl stores it unmangled).
///
/// # Safety
/// `env` must be a `jmp_buf` filled by `setjmp`/`sigsetjmp`.
pub unsafe fn jmp_target_sp(env: *const usize) -> usize {
    // SAFETY: forwarded contract: slot JB_SP of a filled jmp_buf is readable.
    unsafe { *env.add(JB_SP) }
}

/// musl mangles nothing: no pointer guard to record.
pub fn record_pointer_guard(_loader: Option<(usize, *const Dyn)>) {}
