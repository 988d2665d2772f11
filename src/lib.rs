//! libassafe: an `LD_PRELOAD` library that reports async-signal-unsafe calls made in the child of
//! a multi-threaded fork, in a vfork child, inside a signal handler, or under asynchronous
//! cancellation.
//!
//! # Data path
//!
//! 1. **stub** (`stubs`, generated from `symbols.txt`): the program calls an interposed libc name;
//!    the stub tests the thread's state byte and, when it is zero, tail-jumps to the real function
//!    (4 instructions). Otherwise it enters the slow path.
//! 2. **dispatch** (`dispatch`): saves the registers, finishes initialisation on a new thread,
//!    notices forks that bypassed `fork()`, and for a call in a restricted context (or of a class
//!    that always needs the slow path) asks `check`; then sends the call to the real function or
//!    to its context's wrapper (`contexts`). The only module that names every context.
//! 3. **check** (`check`): the verdict (`symbols.txt`'s columns under `safe_list`), the call's
//!    context, signal and certainty, deduplication; exec and exit summaries.
//! 4. **report** (`reporting`): formats the record as text or JSON, applies suppressions, names
//!    frames.
//! 5. **sink** (`reporting::sink`): one `write` of the record to `log_path.<pid>` or stderr.
//!
//! # Layers
//!
//! Each layer uses only the ones listed before it (`tests/layering.rs` checks this, and that there
//! is no import cycle): `platform` (system calls, TLS, ELF lookup; all assembly in
//! `platform::arch`) → `state`, `config` (options), `libc` (what differs between C libraries; the
//! generated symbol table) → `reporting` → `check` → `contexts` (fork, vfork, signal, cancel,
//! exec, dlopen) → `init` (start-up order) → `dispatch` → `stubs`.
//!
//! The crate is `no_std` without `alloc` and built with `panic = "abort"`: the compiler itself
//! proves that the interposer cannot allocate or unwind into C. Its pure code lives in the
//! `assafe-pure` crate, whose unit tests `cargo test` runs.
#![no_std]

mod check;
mod config;
mod contexts;
mod dispatch;
mod init;
mod libc;
mod platform;
mod reporting;
mod state;
mod stubs;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    let _ = platform::sys::write_all(2, b"==ASSAFE== internal error (panic); aborting\n");
    platform::sys::abort()
}

// `rust_eh_personality` (which the precompiled `core` refers to) is defined, hidden, in
// `platform::arch`.
