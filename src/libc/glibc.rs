//! glibc facts the preload depends on (x86_64, glibc ≥ 2.32). A port to musl or to another glibc
//! layout replaces this file, nothing else.

use core::ffi::c_char;

use crate::platform::arch;
use crate::platform::elf::Dyn;

/// The public prefix of glibc's `struct link_map` (<link.h>).
#[repr(C)]
pub struct LinkMap {
    pub l_addr: usize,
    pub l_name: *const c_char,
    pub l_ld: *const Dyn,
    pub l_next: *const LinkMap,
    pub l_prev: *const LinkMap,
}

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
    /// glibc ≥ 2.32: nonzero while the process has surely never had a second thread.
    static __libc_single_threaded: u8;
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

/// Has the process surely never had a second thread (`__libc_single_threaded`)?
pub fn single_threaded() -> bool {
    // SAFETY: a byte glibc exports for exactly this kind of test; a volatile read of one byte
    // cannot tear.
    unsafe { core::ptr::read_volatile(&raw const __libc_single_threaded) != 0 }
}

/// Offset of the pointer guard in glibc's x86_64 TCB header (`tcbhead_t.pointer_guard`).
const POINTER_GUARD: usize = 0x30;
/// `PTR_MANGLE` rotation on x86_64.
const MANGLE_ROTATE: u32 = 0x11;
/// Slot of the saved stack pointer in glibc's x86_64 `__jmp_buf` (JB_RSP).
const JB_SP: usize = 6;

/// The stack pointer a `jmp_buf` will restore (glibc mangles it: xor pointer guard, rol 0x11).
///
/// # Safety
/// `env` must be a `jmp_buf` filled by `setjmp`/`sigsetjmp`.
pub unsafe fn jmp_target_sp(env: *const usize) -> usize {
    // SAFETY: forwarded contract: slot JB_SP of a filled jmp_buf is readable.
    let mangled = unsafe { *env.add(JB_SP) };
    mangled.rotate_right(MANGLE_ROTATE) ^ arch::thread_word(POINTER_GUARD)
}
