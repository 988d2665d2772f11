//! The slow path of every stub, and the one place that names every context: a call whose thread
//! is in a restricted context (or whose class always needs the slow path) is checked, then sent on
//! to the real function or to its context's hand-written wrapper.
//!
//! Data path: stub → [`slow_entry`] (saves the registers into a `Frame`) → [`slow`] → `check`
//! (verdict) → `reporting` (record) → sink; then the real function or a `contexts` wrapper.

use crate::check;
use crate::contexts::{cancel, dlopen, exec, fork, hygiene, sandbox, signal, vfork};
use crate::libc::symbols::{self, CLASS, Class, F_HOT, FLAGS};
use crate::platform::arch::{self, Frame};
use crate::platform::tls;
use crate::{init, state};

arch::define_slow_entry!(slow_entry, slow);
arch::define_slow_entry!(lazy_entry, lazy);

/// The first call through a stub's fast path whose slot is not resolved yet: the slot points at
/// the symbol's lazy trampoline (`stubs.rs`), which enters here with the index. The fast path has
/// already decided that the call needs no check, so this only resolves the slot and goes on to
/// the real function (`symbols::real`: lock-free, no allocation, async-signal-safe).
unsafe extern "C" fn lazy(idx: usize, _f: *mut Frame) -> usize {
    symbols::real(idx)
}

/// The slow path: decide whether the call needs checking, check it, and return where to go.
unsafe extern "C" fn slow(idx: usize, f: *mut Frame) -> usize {
    let st = tls::state();
    if st == 0 && CLASS[idx] == Class::Sandbox {
        // `syscall()` is common (Rust's futexes): only the few calls that matter take the path.
        // SAFETY: f points to the frame slow_entry saved on its own stack, alive until we return.
        if !sandbox::relevant(idx, unsafe { &*f }) {
            return symbols::real(idx);
        }
    }
    if st == 0 && CLASS[idx] == Class::Fd {
        // An fd-making call outside any context: only its fd is noted (process hygiene).
        return hygiene::fds::made::wrapper(idx);
    }
    // SAFETY: forwarded (the frame slow_entry saved).
    unsafe { slow_checked(idx, f, st) }
}

/// The rest of the slow path (out of line: the common early exits above pay no big prologue).
#[inline(never)]
unsafe fn slow_checked(idx: usize, f: *mut Frame, st: u8) -> usize {
    if st & tls::BUSY != 0 {
        // The library's own code (or a call it triggered) is running on this thread.
        return wrapper_or_real(idx);
    }
    tls::set(tls::BUSY);
    if st & tls::UNINIT != 0 {
        init::ensure();
        crate::libc::note_thread();
        tls::clear(tls::UNINIT);
        tls::set(state::process_context());
    }
    if FLAGS[idx] & F_HOT == 0 {
        fork::check_unseen_fork();
    }
    if CLASS[idx] == Class::Atexit {
        // An exit-handler registration: noted (process hygiene), then checked as usual.
        // SAFETY: f points to the frame slow_entry saved on its own stack, alive until we return.
        hygiene::exits::registered(unsafe { &*f });
    }
    let ctx = tls::state() & tls::CONTEXT_MASK;
    let mut target = None;
    if CLASS[idx] != Class::Unsafe || tls::state() & tls::WATCH != 0 {
        // Process hygiene (issue 14).
        // SAFETY: f points to the frame slow_entry saved on its own stack, alive until we return.
        hygiene::slow_call(idx, unsafe { &*f });
    }
    if ctx != 0 || CLASS[idx] != Class::Unsafe {
        // SAFETY: f points to the frame slow_entry saved on its own stack, alive until we return.
        let f = unsafe { &*f };
        check::call(idx, ctx, f);
        if CLASS[idx] == Class::Exec {
            target = exec::follow(idx, f);
        }
        if CLASS[idx] == Class::Sandbox {
            sandbox::before(idx, f);
        }
    }
    let target = target.unwrap_or_else(|| wrapper_or_real(idx));
    tls::clear(tls::BUSY);
    target
}

/// Where an interposed call finally goes: a hand-written wrapper for the special classes, the
/// real function otherwise.
fn wrapper_or_real(idx: usize) -> usize {
    match CLASS[idx] {
        Class::Fork | Class::UFork => fork::wrapper(idx),
        Class::Vfork => vfork::wrapper(),
        Class::Sigaction => signal::wrapper(idx),
        Class::Jmp => signal::jmp_wrapper(idx),
        Class::Cancel => cancel::wrapper(),
        Class::Init => fork::init_wrapper(idx),
        Class::Dlopen => dlopen::wrapper(idx),
        Class::Fd => hygiene::fds::made::wrapper(idx),
        Class::Thread => {
            // The process is about to have a second thread: from now on a fork it makes past
            // our wrappers leaves a child worth checking.
            fork::arm();
            symbols::real(idx)
        }
        Class::Unsafe
        | Class::Exec
        | Class::Exit
        | Class::UExit
        | Class::Sandbox
        | Class::Atexit
        | Class::Spawn => symbols::real(idx),
    }
}
