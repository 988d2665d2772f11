//! The dlopen family: not a restricted context, but a change to the set of loaded modules, after
//! which the table stacks are resolved against is refreshed.

use core::ffi::{c_char, c_int, c_void};

use crate::libc::symbols::{self, generated as g};
use crate::platform::tls;

/// After the loader changed the set of modules, refresh the table stacks are resolved against
/// (only in normal context: the refresh takes the loader's lock).
fn refresh() {
    if tls::state() & tls::CONTEXT_MASK != 0 {
        return;
    }
    tls::set(tls::BUSY);
    // SAFETY: normal context; dl_iterate_phdr passes through our stub because BUSY is set.
    unsafe { assafe_unwind::refresh_modules() };
    tls::clear(tls::BUSY);
}

type DlopenFn = unsafe extern "C" fn(*const c_char, c_int) -> *mut c_void;
type DlmopenFn = unsafe extern "C" fn(Lmid, *const c_char, c_int) -> *mut c_void;
/// glibc's `Lmid_t` (the `libc` crate declares it, and `dlmopen`, for glibc only).
type Lmid = core::ffi::c_long;
type DlcloseFn = unsafe extern "C" fn(*mut c_void) -> c_int;
crate::libc::same_type_as_libc!(DlopenFn, libc::dlopen);
#[cfg(not(target_env = "musl"))]
crate::libc::same_type_as_libc!(DlmopenFn, libc::dlmopen);
crate::libc::same_type_as_libc!(DlcloseFn, libc::dlclose);

unsafe extern "C" fn dlopen_impl(file: *const c_char, mode: c_int) -> *mut c_void {
    // SAFETY: the slot holds libc's dlopen, of type DlopenFn (checked above).
    let real: DlopenFn = unsafe { core::mem::transmute(symbols::real(g::IDX_dlopen)) };
    // SAFETY: the program's own arguments.
    let r = unsafe { real(file, mode) };
    refresh();
    if !r.is_null() {
        crate::libc::side::after_dlopen(); // only after a success: dlerror's state is clear
    }
    r
}

unsafe extern "C" fn dlmopen_impl(lmid: Lmid, file: *const c_char, mode: c_int) -> *mut c_void {
    // SAFETY: the slot holds libc's dlmopen, of type DlmopenFn (checked above).
    let real: DlmopenFn = unsafe { core::mem::transmute(symbols::real(g::IDX_dlmopen)) };
    // SAFETY: the program's own arguments.
    let r = unsafe { real(lmid, file, mode) };
    refresh();
    if !r.is_null() {
        crate::libc::side::after_dlopen(); // only after a success: dlerror's state is clear
    }
    r
}

unsafe extern "C" fn dlclose_impl(handle: *mut c_void) -> c_int {
    // SAFETY: the slot holds libc's dlclose, of type DlcloseFn (checked above).
    let real: DlcloseFn = unsafe { core::mem::transmute(symbols::real(g::IDX_dlclose)) };
    // SAFETY: the program's own arguments.
    let r = unsafe { real(handle) };
    refresh();
    r
}

/// Where the slow path sends a dlopen-class call.
pub fn wrapper(idx: usize) -> usize {
    match idx {
        g::IDX_dlopen => dlopen_impl as *const () as usize,
        g::IDX_dlmopen => dlmopen_impl as *const () as usize,
        _ => dlclose_impl as *const () as usize,
    }
}
