//! vfork: the child runs on the parent's stack and shares its memory until it execs or exits.
//! The wrapper itself is assembly (`platform::arch::define_vfork_wrapper!`): it sets the
//! vfork-child bit in the state byte the child shares with its parent, and the parent stores back
//! the byte it had when it resumes.

use crate::libc::errno_location;
use crate::platform::{arch, tls};

arch::define_vfork_wrapper!(vfork_wrapper, tls::VFORK_CHILD, vfork_failed);

unsafe extern "C" fn vfork_failed(err: i32) -> ::libc::pid_t {
    // SAFETY: errno_location returns this thread's errno, valid for the thread's life.
    unsafe { *errno_location() = err };
    -1
}

/// The wrapper the slow path sends a vfork-class call to.
pub fn wrapper() -> usize {
    // Whether a seccomp filter came with the exec is learnt here, in the parent, if not yet: a
    // vfork child shares the library's statics but not the fd table, so the preparations for a
    // filter (the unwinder's pipe) must not be made there.
    crate::platform::sys::settle_filter();
    vfork_wrapper as *const () as usize
}
