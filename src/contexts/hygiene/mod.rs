//! Process hygiene (issue 14): the classic fork/exec/signal mistakes other than
//! async-signal-unsafe calls, each its own finding kind (`assafe_proto::Hygiene`), each with an
//! option to turn it off and a suppression word.
//!
//! - `child`: the bookkeeping of fork calls (the caller's frame, the stack), and the kinds that
//!   follow a fork child that did not exec: `exit-in-child`, `child-returned`, `nested-fork`, and
//!   `atfork-child` (the program's `pthread_atfork` child handlers, checked as fork-child code);
//! - `zombies`: children that exited and were never waited for (`zombie`);
//! - `fds`: pipe fds an exec'd (or posix_spawn'd) program inherits without `FD_CLOEXEC`
//!   (`fd-leak`);
//! - here: `signal()` & co. installing a handler function (`signal-portability`).
//!
//! The hooks are called by `dispatch` (fork, exec, exit and signal-class calls, which always take
//! the slow path, and calls of a watched fork child), `fork` (around the real fork), `init` (the
//! atfork hook, the destructor). Everything here runs with the thread BUSY, uses raw system calls,
//! static tables and stack buffers only, and never blocks.

pub mod child;
pub mod exits;
pub mod fds;
pub mod zombies;

use core::sync::atomic::{AtomicUsize, Ordering};

use assafe_proto::Hygiene;

use crate::config;
use crate::libc::symbols::{self, generated as g};
use crate::platform::arch::Frame;
use crate::platform::fmt::Buf;
use crate::reporting::MAX_FRAMES;
use crate::reporting::hygiene::{self as report, Finding};

pub use crate::reporting::stack_of;

/// Sites already reported by kinds that report once per call site and process.
const SITES: usize = 32;
#[unsafe(link_section = "assafe_hot")]
static SEEN_SITES: [AtomicUsize; SITES] = [const { AtomicUsize::new(0) }; SITES];

/// Is this (kind, site) new in this process? Marks it seen (a full table says "seen": a missed
/// report is better than a flood).
pub fn first_at(kind: Hygiene, site: usize) -> bool {
    let tag = site ^ ((kind as usize) << 56);
    for s in &SEEN_SITES {
        match s.compare_exchange(0, tag, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(v) if v == tag => return false,
            Err(_) => {}
        }
    }
    false
}

/// A fork child starts with no sites seen.
pub fn child_reset() {
    // Only what is not already 0: a store dirties the page, a copy-on-write fault per fork.
    for s in &SEEN_SITES {
        if s.load(Ordering::Relaxed) != 0 {
            s.store(0, Ordering::Relaxed);
        }
    }
}

const SIG_HOLD: usize = 2;
const SIG_ERR: usize = usize::MAX;

/// `signal()`, `sysv_signal()`, `bsd_signal()`, `sigset()`, `ssignal()` (signal-class calls; the
/// slow path): a handler function (not SIG_DFL, SIG_IGN, SIG_HOLD) is a portability finding.
pub fn signal_call(idx: usize, f: &Frame) {
    if !matches!(
        idx,
        g::IDX_signal
            | g::IDX_sysv_signal
            | g::IDX___sysv_signal
            | g::IDX_bsd_signal
            | g::IDX_sigset
            | g::IDX_ssignal
    ) || !config::options().report_signal_portability
    {
        return;
    }
    let h = f.arg(1);
    if h <= SIG_HOLD || h == SIG_ERR {
        return;
    }
    if crate::libc::in_libc(f.ret_addr()) || !first_at(Hygiene::SignalPortability, f.ret_addr()) {
        return;
    }
    let mut frames = [0usize; MAX_FRAMES];
    let n = stack_of(f, &mut frames);
    let mut d = [0u8; 160];
    let mut b = Buf::new(&mut d);
    let name = symbols::name(idx);
    b.bytes(name)
        .s("(")
        .s(crate::platform::signame(f.arg(0) as i32))
        .s(", handler) installs a handler with system-dependent semantics");
    let dl = b.len();
    report::report(&Finding {
        kind: Hygiene::SignalPortability,
        function: name,
        reason: "signal",
        detail: &d[..dl],
        site: f.ret_addr(),
        frames: &frames[..n],
        fork_frames: &[],
    });
}

/// The slow path's hook (thread BUSY), before the call is checked: fork, exec, spawn, exit and
/// signal-class calls, and any call of a watched fork child.
pub fn slow_call(idx: usize, f: &Frame) {
    use crate::libc::symbols::{CLASS, Class};
    match CLASS[idx] {
        Class::Fork | Class::UFork => child::before_fork(f),
        Class::Exec => fds::before_exec(idx, f),
        Class::Spawn => fds::before_spawn(idx, f),
        Class::Exit | Class::UExit => child::at_exit(idx, f),
        Class::Sigaction => signal_call(idx, f),
        _ => {}
    }
    let st = crate::platform::tls::state();
    // A vfork child shares its parent's memory and this thread's state byte: it is not watched.
    if st & crate::platform::tls::WATCH != 0
        && st & crate::platform::tls::VFORK_CHILD == 0
        && !matches!(
            CLASS[idx],
            Class::Exit
                | Class::UExit
                | Class::Exec
                | Class::Jmp
                | Class::Fork
                | Class::UFork
                | Class::Vfork
        )
    {
        child::watch(f);
    }
}
