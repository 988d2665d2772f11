//! glibc facts the preload depends on (x86_64 and aarch64, glibc ≥ 2.31). A port to musl or to another glibc
//! layout replaces this file, nothing else.

use super::LinkMap;
#[cfg(target_arch = "x86_64")]
use crate::platform::arch;
use crate::platform::elf::Dyn;

/// glibc's `struct r_debug` (<link.h>).
#[repr(C)]
pub struct RDebug {
    pub r_version: i32,
    pub r_map: *const LinkMap,
    pub r_brk: usize,
    pub r_state: i32,
    pub r_ldbase: usize,
}

unsafe extern "C" {
    /// The loader's debug structure; its address lies in ld.so, its `r_map` heads the list of
    /// loaded objects.
    pub static _r_debug: RDebug;
}

/// The address of glibc's `__libc_single_threaded` (glibc ≥ 2.32: nonzero while the process has
/// surely never had a second thread), or null: before [`record_libc`] ran, or on a libc without
/// it (glibc 2.31). Looked up in libc.so.6 at load rather than imported: an import, even a weak
/// one, carries the version GLIBC_2.32, which an older libc's loader refuses ("version
/// `GLIBC_2.32' not found"), and without a version it fails as "undefined symbol".
#[unsafe(link_section = "assafe_hot")]
static SINGLE_THREADED: core::sync::atomic::AtomicPtr<u8> =
    core::sync::atomic::AtomicPtr::new(core::ptr::null_mut());

fn single_threaded_flag() -> *const u8 {
    SINGLE_THREADED.load(core::sync::atomic::Ordering::Relaxed)
}

/// At load, with libc.so.6's object (never unmapped): finds `__libc_single_threaded`.
pub fn record_libc(libc: &crate::platform::elf::Object) {
    // SAFETY: the C library's tables stay mapped for the process's life.
    if let Some(a) = unsafe { libc.lookup_data(b"__libc_single_threaded") } {
        SINGLE_THREADED.store(a as *mut u8, core::sync::atomic::Ordering::Relaxed);
    }
}

/// Head of the loader's list of loaded objects.
pub fn link_map_head() -> *const LinkMap {
    // SAFETY: _r_debug is initialised by the loader before any library code runs; reading one
    // pointer-sized field races with nothing (it changes only while the loader holds its lock,
    // and we read it in normal context at load).
    unsafe { _r_debug.r_map }
}

/// Load bias of the dynamic loader (`r_ldbase`, which rtld sets to its own map's `l_addr`).
pub fn loader_base() -> usize {
    // SAFETY: as in `link_map_head`: written once by the loader before any library code runs.
    unsafe { _r_debug.r_ldbase }
}

/// `DT_SONAME` of the C library.
pub const LIBC_SONAME: &[u8] = b"libc.so.6";

/// Is the object with this load bias and `DT_SONAME` the C library (libc.so.6)?
pub fn is_libc(_base: usize, soname: &[u8]) -> bool {
    soname == LIBC_SONAME
}

/// `DT_SONAME`s of glibc's own libraries besides libc.so.6 (their IFUNC resolvers, like libc's,
/// only read the CPU feature data the loader filled at start).
const GLIBC_SONAMES: [&[u8]; 12] = [
    b"libm.so.6",
    b"libmvec.so.1",
    b"libpthread.so.0",
    b"libdl.so.2",
    b"librt.so.1",
    b"libresolv.so.2",
    b"libutil.so.1",
    b"libanl.so.1",
    b"libnsl.so.1",
    b"libBrokenLocale.so.1",
    b"libc_malloc_debug.so.0",
    b"libthread_db.so.1",
];

/// Is the object with this load bias and `DT_SONAME` part of glibc (libc.so.6, the loader, or
/// one of glibc's other libraries)?
pub fn is_glibc(base: usize, soname: &[u8]) -> bool {
    base == loader_base() || soname == LIBC_SONAME || GLIBC_SONAMES.contains(&soname)
}

/// Address of `_r_debug` (inside the dynamic loader).
pub fn loader_anchor() -> usize {
    (&raw const _r_debug) as usize
}

/// On a glibc without `__libc_single_threaded` (2.31): has a thread other than the main one
/// made an interposed call ([`note_thread`])? Copied into a fork child like glibc's flag.
#[unsafe(link_section = "assafe_hot")]
static SEEN_SECOND_THREAD: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// Called on each thread's first interposed call: on a glibc without the flag, notes a second
/// thread (its tid is not the pid). Async-signal-safe (two system calls, one atomic store).
pub fn note_thread() {
    use core::sync::atomic::Ordering;
    if !single_threaded_flag().is_null() || SEEN_SECOND_THREAD.load(Ordering::Relaxed) {
        return;
    }
    if crate::platform::sys::gettid() != crate::platform::sys::getpid() {
        SEEN_SECOND_THREAD.store(true, Ordering::Relaxed);
    }
}

/// Has the process surely never had a second thread (`__libc_single_threaded`)? `false` (not
/// known) on a glibc without the flag (2.31): callers then ask the kernel.
pub fn single_threaded() -> bool {
    let p = single_threaded_flag();
    // SAFETY: a byte glibc exports for exactly this kind of test (non-null: defined by the
    // running libc); a volatile read of one byte cannot tear.
    !p.is_null() && unsafe { core::ptr::read_volatile(p) != 0 }
}

/// Has the process surely had a second thread? glibc's flag; on a glibc without it (2.31),
/// whether a thread other than the main one made an interposed call ([`note_thread`]): a thread
/// that never calls one is missed (a report may be missed, never a false one).
pub fn had_threads() -> bool {
    let p = single_threaded_flag();
    if p.is_null() {
        return SEEN_SECOND_THREAD.load(core::sync::atomic::Ordering::Relaxed);
    }
    // SAFETY: as in `single_threaded`.
    unsafe { core::ptr::read_volatile(p) == 0 }
}

/// Offset of the pointer guard in glibc's x86_64 TCB header (`tcbhead_t.pointer_guard`).
#[cfg(target_arch = "x86_64")]
const POINTER_GUARD: usize = 0x30;
/// `PTR_MANGLE` rotation on x86_64.
#[cfg(target_arch = "x86_64")]
const MANGLE_ROTATE: u32 = 0x11;
/// Slot of the saved stack pointer in glibc's x86_64 `__jmp_buf` (JB_RSP).
#[cfg(target_arch = "x86_64")]
const JB_SP: usize = 6;

/// The stack pointer a `jmp_buf` will restore (glibc mangles it: xor pointer guard, rol 0x11).
///
/// # Safety
/// `env` must be a `jmp_buf` filled by `setjmp`/`sigsetjmp`.
#[cfg(target_arch = "x86_64")]
pub unsafe fn jmp_target_sp(env: *const usize) -> usize {
    // SAFETY: forwarded contract: slot JB_SP of a filled jmp_buf is readable.
    let mangled = unsafe { *env.add(JB_SP) };
    mangled.rotate_right(MANGLE_ROTATE) ^ arch::thread_word(POINTER_GUARD)
}

/// x86_64 keeps the pointer guard in the TCB: nothing to record.
#[cfg(target_arch = "x86_64")]
pub fn record_pointer_guard(_loader: Option<(usize, *const Dyn)>) {}

/// Slots of glibc's aarch64 `__jmp_buf` (sysdeps/aarch64/jmpbuf-offsets.h): x29 is stored as
/// is, sp mangled (JB_SP).
#[cfg(target_arch = "aarch64")]
const JB_X29: usize = 10;
#[cfg(target_arch = "aarch64")]
const JB_SP: usize = 13;

/// glibc's aarch64 pointer guard (`PTR_MANGLE` only XORs with it): ld.so's
/// `__pointer_chk_guard`, read at load ([`record_pointer_guard`]); valid when `GUARD_KNOWN`.
#[cfg(target_arch = "aarch64")]
static GUARD: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
#[cfg(target_arch = "aarch64")]
static GUARD_KNOWN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Reads ld.so's `__pointer_chk_guard` (a GLIBC_PRIVATE data symbol, so looked up at run time
/// rather than linked: a glibc without it only costs precision, see [`jmp_target_sp`]). Called
/// once at load, in normal context, with the loader's (load bias, dynamic section).
#[cfg(target_arch = "aarch64")]
pub fn record_pointer_guard(loader: Option<(usize, *const Dyn)>) {
    use core::sync::atomic::Ordering;
    let Some((base, dynamic)) = loader else {
        return;
    };
    // SAFETY: the loader's own dynamic section and tables, mapped for the process's life.
    let Some(obj) = (unsafe { crate::platform::elf::Object::parse(base, dynamic) }) else {
        return;
    };
    // SAFETY: as above; the symbol, when found, is an 8-byte object the loader set at start
    // and never changes.
    if let Some(addr) = unsafe { obj.find_data(b"__pointer_chk_guard") } {
        // SAFETY: see above.
        GUARD.store(unsafe { *(addr as *const usize) }, Ordering::Relaxed);
        GUARD_KNOWN.store(true, Ordering::Relaxed);
    }
}

/// The stack pointer a `jmp_buf` will restore: glibc stores it XORed with the pointer guard.
/// Without the guard, the saved frame pointer of `setjmp`'s caller (stored unmangled, and in
/// that caller's frame) stands in for it.
///
/// # Safety
/// `env` must be a `jmp_buf` filled by `setjmp`/`sigsetjmp`.
#[cfg(target_arch = "aarch64")]
pub unsafe fn jmp_target_sp(env: *const usize) -> usize {
    use core::sync::atomic::Ordering;
    if GUARD_KNOWN.load(Ordering::Relaxed) {
        // SAFETY: forwarded contract: slot JB_SP of a filled jmp_buf is readable.
        unsafe { *env.add(JB_SP) ^ GUARD.load(Ordering::Relaxed) }
    } else {
        // SAFETY: as above, slot JB_X29.
        unsafe { *env.add(JB_X29) }
    }
}
