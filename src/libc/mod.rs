//! The C library layer: what differs between glibc versions and musl. The facts live in
//! `glibc.rs` (jmp_buf mangling, link-map discovery, the single-threaded flag), or `musl.rs` for
//! `target_env = "musl"`; the table of
//! interposed functions generated from `symbols.txt` is `symbols.rs`.

#[cfg(not(target_env = "musl"))]
mod glibc;
pub mod identity;
pub mod side;
// musl.rs has glibc.rs's interface, so the rest of the crate names one module whatever the libc.
#[cfg(target_env = "musl")]
mod musl;
#[cfg(target_env = "musl")]
use musl as glibc;
pub mod symbols;

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::platform::elf::Dyn;

pub use glibc::{jmp_target_sp, single_threaded};

/// The public head of `struct link_map` (`<link.h>`): glibc's, and the prefix of musl's
/// `struct dso` that has its layout. A `dlopen` handle points to it (glibc).
#[repr(C)]
pub struct LinkMap {
    pub l_addr: usize,
    pub l_name: *const core::ffi::c_char,
    pub l_ld: *const Dyn,
    pub l_next: *const LinkMap,
    pub l_prev: *const LinkMap,
}

unsafe extern "C" {
    fn getauxval(t: core::ffi::c_ulong) -> core::ffi::c_ulong;
}

/// Is the process running in secure mode (setuid/setgid/capabilities: `AT_SECURE`)?
pub fn secure() -> bool {
    // SAFETY: getauxval only reads the auxiliary vector; it is async-signal-safe.
    unsafe { getauxval(::libc::AT_SECURE) != 0 }
}

/// This thread's `errno`.
pub fn errno_location() -> *mut i32 {
    // SAFETY: __errno_location has no preconditions and is async-signal-safe.
    unsafe { ::libc::__errno_location() }
}

/// The loaded objects as (load bias, dynamic section), in the loader's search order.
///
/// Read in normal context only (the list changes under the loader's lock).
pub fn loaded_objects() -> impl Iterator<Item = (usize, *const Dyn)> + Clone {
    let mut lm = glibc::link_map_head();
    core::iter::from_fn(move || {
        if lm.is_null() {
            return None;
        }
        // SAFETY: a live entry of the loader's list (normal context, see above).
        let l = unsafe { &*lm };
        lm = l.l_next;
        Some((l.l_addr, l.l_ld))
    })
}

/// Called on each thread's first interposed call (the libc may need to know that a second thread
/// exists: glibc 2.31 exports no single-threaded flag).
pub fn note_thread() {
    #[cfg(target_env = "gnu")]
    glibc::note_thread();
}

/// Has the process surely had a second thread (what a fork child that the library did not see
/// being made goes by)?
pub fn had_threads() -> bool {
    #[cfg(target_env = "gnu")]
    return glibc::had_threads();
    #[cfg(not(target_env = "gnu"))]
    return !single_threaded();
}

/// Load base of libc.so.6 (0 if unknown).
#[unsafe(link_section = "assafe_hot")]
static LIBC_BASE: AtomicUsize = AtomicUsize::new(0);
/// Load base of the dynamic loader (0 if unknown).
#[unsafe(link_section = "assafe_hot")]
static LDSO_BASE: AtomicUsize = AtomicUsize::new(0);

/// Notes where libc and the loader are loaded (at load, after the module table is filled).
pub fn record_bases() {
    let errno_fn = ::libc::__errno_location as *const () as usize;
    if let Some(m) = assafe_unwind::module_of(errno_fn) {
        LIBC_BASE.store(m.base, Ordering::Relaxed);
    }
    if let Some(m) = assafe_unwind::module_of(glibc::loader_anchor()) {
        LDSO_BASE.store(m.base, Ordering::Relaxed);
    }
    glibc::record_pointer_guard(loaded_objects().find(|&(base, _)| base == glibc::loader_base()));
}

/// Is `addr` inside the C library proper: libc.so.6 or the dynamic loader?
pub fn in_libc(addr: usize) -> bool {
    let (libc, ldso) = (
        LIBC_BASE.load(Ordering::Relaxed),
        LDSO_BASE.load(Ordering::Relaxed),
    );
    assafe_unwind::module_of(addr)
        .is_some_and(|m| (libc != 0 && m.base == libc) || (ldso != 0 && m.base == ldso))
}

/// Checks at compile time that a hand-written function type, through which the preload calls a
/// real libc function, is the type the `libc` crate declares for it: a function item coerces to
/// a function pointer only when every parameter and the return type match.
macro_rules! same_type_as_libc {
    ($ty:ty, $f:path) => {
        const _: $ty = $f;
    };
}
pub(crate) use same_type_as_libc;
