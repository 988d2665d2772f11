//! libassafe: an `LD_PRELOAD` library that reports async-signal-unsafe calls made in the child of
//! a multi-threaded fork, in a vfork child, or inside a signal handler.
//!
//! The crate is `no_std` without `alloc` and built with `panic = "abort"`: the compiler itself
//! proves that the interposer cannot allocate or unwind into C.
#![no_std]
#![allow(clippy::missing_safety_doc)]

mod check;
mod dedup;
mod exec;
mod fmt;
mod fork;
mod init;
mod options;
mod report;
mod resolve;
mod signal;
mod state;
mod stubs;
mod suppress;
mod symbolize;
mod sys;
mod tls;
mod wrappers;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    let _ = sys::write_all(2, b"==ASSAFE== internal error (panic); aborting\n");
    sys::abort()
}

/// Referenced by the unwind tables of the precompiled `core`; never called (panic = "abort").
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

unsafe extern "C" {
    fn getauxval(t: core::ffi::c_ulong) -> core::ffi::c_ulong;
}

/// Is the process running in secure mode (setuid/setgid/capabilities: `AT_SECURE`)?
pub fn secure() -> bool {
    // SAFETY: getauxval only reads the auxiliary vector; it is async-signal-safe.
    unsafe { getauxval(libc::AT_SECURE) != 0 }
}

/// The name of signal `sig` (`"SIGUSR1"`), or `"SIG?"`.
pub fn signame(sig: i32) -> &'static str {
    const NAMES: [&str; 32] = [
        "SIG0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    if (0..32).contains(&sig) {
        NAMES[sig as usize]
    } else if (32..=64).contains(&sig) {
        "SIGRT"
    } else {
        "SIG?"
    }
}
