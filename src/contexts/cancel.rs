//! Asynchronous cancellation: `pthread_setcanceltype` tracks PTHREAD_CANCEL_ASYNCHRONOUS.

use core::ffi::c_int;

use crate::libc::symbols::{self, generated as g};
use crate::platform::tls;

/// glibc <pthread.h>: PTHREAD_CANCEL_DEFERRED = 0, PTHREAD_CANCEL_ASYNCHRONOUS = 1.
const PTHREAD_CANCEL_ASYNCHRONOUS: c_int = 1;

/// `pthread_setcanceltype`: tracks PTHREAD_CANCEL_ASYNCHRONOUS (the third restricted context).
unsafe extern "C" fn setcanceltype(kind: c_int, old: *mut c_int) -> c_int {
    // SAFETY: the slot holds libc's pthread_setcanceltype, whose type is this one (POSIX; the
    // libc crate does not declare it for Linux, so there is nothing to check it against).
    let real: unsafe extern "C" fn(c_int, *mut c_int) -> c_int =
        unsafe { core::mem::transmute(symbols::real(g::IDX_pthread_setcanceltype)) };
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

/// Where the slow path sends a cancel-class call.
pub fn wrapper() -> usize {
    setcanceltype as *const () as usize
}
