//! Small wrappers for the `cancel` and `dlopen` classes.

use core::ffi::{c_char, c_int, c_void};

use crate::stubs::{self, generated as g};
use crate::tls;

/// glibc <pthread.h>: PTHREAD_CANCEL_DEFERRED = 0, PTHREAD_CANCEL_ASYNCHRONOUS = 1.
const PTHREAD_CANCEL_ASYNCHRONOUS: c_int = 1;

/// `pthread_setcanceltype`: tracks PTHREAD_CANCEL_ASYNCHRONOUS (the third restricted context).
pub unsafe extern "C" fn setcanceltype(kind: c_int, old: *mut c_int) -> c_int {
    // SAFETY: the slot holds libc's pthread_setcanceltype.
    let real: unsafe extern "C" fn(c_int, *mut c_int) -> c_int =
        unsafe { core::mem::transmute(stubs::real(g::IDX_pthread_setcanceltype)) };
    // SAFETY: the program's own arguments.
    let r = unsafe { real(kind, old) };
    if r == 0 {
        if kind == PTHREAD_CANCEL_ASYNCHRONOUS {
            tls::set(tls::ASYNC_CANCEL);
        } else {
            tls::clear(tls::ASYNC_CANCEL);
        }
    }
    r
}

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

unsafe extern "C" fn dlopen_impl(file: *const c_char, mode: c_int) -> *mut c_void {
    // SAFETY: the slot holds libc's dlopen.
    let real: unsafe extern "C" fn(*const c_char, c_int) -> *mut c_void =
        unsafe { core::mem::transmute(stubs::real(g::IDX_dlopen)) };
    // SAFETY: the program's own arguments.
    let r = unsafe { real(file, mode) };
    refresh();
    r
}

unsafe extern "C" fn dlmopen_impl(
    lmid: libc::c_long,
    file: *const c_char,
    mode: c_int,
) -> *mut c_void {
    // SAFETY: the slot holds libc's dlmopen.
    let real: unsafe extern "C" fn(libc::c_long, *const c_char, c_int) -> *mut c_void =
        unsafe { core::mem::transmute(stubs::real(g::IDX_dlmopen)) };
    // SAFETY: the program's own arguments.
    let r = unsafe { real(lmid, file, mode) };
    refresh();
    r
}

unsafe extern "C" fn dlclose_impl(handle: *mut c_void) -> c_int {
    // SAFETY: the slot holds libc's dlclose.
    let real: unsafe extern "C" fn(*mut c_void) -> c_int =
        unsafe { core::mem::transmute(stubs::real(g::IDX_dlclose)) };
    // SAFETY: the program's own arguments.
    let r = unsafe { real(handle) };
    refresh();
    r
}

/// Where the slow path sends a dlopen-class call.
pub fn dl(idx: usize) -> usize {
    match idx {
        g::IDX_dlopen => dlopen_impl as *const () as usize,
        g::IDX_dlmopen => dlmopen_impl as *const () as usize,
        _ => dlclose_impl as *const () as usize,
    }
}
