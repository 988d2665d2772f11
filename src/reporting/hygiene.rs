//! The records of the process-hygiene findings (issue 14; `contexts::hygiene` finds them): a
//! `report` record with a `kind` key (docs/log-format.md), or a sanitizer-style text block. The
//! `atfork-child` kind is an ordinary unsafe-call report made while a `pthread_atfork` child
//! handler runs; [`IN_ATFORK`] tells the unsafe-call writer to tag it.

use core::sync::atomic::{AtomicI32, AtomicU8, Ordering};

use assafe_proto::{Context, Hygiene, key as k};

use super::json::{self, event, hex_array, key, str_value};
use super::sink::{emit, prefix};
use super::{suppress, text_frame, this_process};
use crate::config;
use crate::platform::fmt::Buf;
use crate::platform::sys;

/// Set in a fork child while the program's `pthread_atfork` child handlers run (the child is
/// single-threaded then).
#[unsafe(link_section = "assafe_hot")]
pub static IN_ATFORK: AtomicU8 = AtomicU8::new(0);

/// The pid of the process that last wrote a hygiene finding (a fork child inherits the value: the
/// pid says whose it is).
#[unsafe(link_section = "assafe_hot")]
static WRITTEN_BY: AtomicI32 = AtomicI32::new(0);

/// Has any process (this one, or before its fork, its parent) written a hygiene report?
pub fn written_any() -> bool {
    WRITTEN_BY.load(Ordering::Relaxed) != 0
}

/// Has this process (`pid`) written a hygiene finding? Its summary is then written too, as for an
/// unsafe call (a process with findings but no summary reads as only partially checked).
pub fn written_by(pid: i32) -> bool {
    pid != 0 && WRITTEN_BY.load(Ordering::Relaxed) == pid
}

/// Is this report made from a `pthread_atfork` child handler?
pub fn in_atfork() -> bool {
    IN_ATFORK.load(Ordering::Relaxed) != 0
}

/// Is an unsafe-call report made in an atfork child handler suppressed by the kind's word?
pub fn atfork_suppressed(function: &[u8], frames: &[usize]) -> bool {
    in_atfork() && suppress::suppressed(Hygiene::AtforkChild.name(), function, frames)
}

/// Tags a just-written unsafe-call record as an `atfork-child` finding: the JSON object gets the
/// `kind` key (before its closing brace), the text block one more line.
pub fn tag_atfork(b: &mut Buf) {
    if !in_atfork() {
        return;
    }
    if config::options().json() {
        let n = b.len();
        if n > 0 {
            b.truncate(n - 1);
            str_value(b, k::KIND, Hygiene::AtforkChild.name());
            b.c(b'}');
        }
    } else {
        b.s("\n");
        prefix(b);
        b.s("  (made by a pthread_atfork child handler, which runs inside fork() in the child: ")
            .s(Hygiene::AtforkChild.name())
            .s(")");
    }
}

/// One hygiene finding.
pub struct Finding<'a> {
    pub kind: Hygiene,
    /// The interposed function the finding is about (`exit`, `execve`, `fork`, `signal`…).
    pub function: &'a [u8],
    /// A `symbols.txt` reason word (`fork`, `exec`, `atexit`, `signal`).
    pub reason: &'a str,
    /// What was found, in words.
    pub detail: &'a [u8],
    /// The call site (return address into the caller).
    pub site: usize,
    pub frames: &'a [usize],
    /// The stack of the fork that made this process (empty: not shown).
    pub fork_frames: &'a [usize],
}

/// Writes the finding (unless a suppression with the kind's word matches); returns whether it
/// was written.
pub fn report(f: &Finding) -> bool {
    report_exec(f, &[])
}

/// [`report`], with the stack of the exec that hands a leaked fd on (`fd-leak`; empty: none).
pub fn report_exec(f: &Finding, exec_frames: &[usize]) -> bool {
    let o = config::options();
    if suppress::suppressed(f.kind.name(), f.function, f.frames) {
        return false;
    }
    let context = if f.kind == Hygiene::SignalPortability {
        Context::SignalHandler
    } else {
        Context::ForkChild
    };
    // (Not in a vfork child: the value is its parent's.)
    if crate::platform::tls::state() & crate::platform::tls::VFORK_CHILD == 0 {
        WRITTEN_BY.store(sys::getpid(), Ordering::Relaxed);
    }
    emit(|b| {
        let mut e = [0u8; 512];
        let p = this_process(&mut e);
        if o.json() {
            event(b, assafe_proto::event::REPORT);
            str_value(b, k::CONTEXT, context.name());
            key(b, k::FUNCTION).json_str(f.function);
            key(b, k::REASON).json_str(f.reason.as_bytes());
            json::process(b, &p);
            // What `--fail-on` chooses by: the portability kind is `portable`; the others can
            // really hang or misbehave here (a reader that never sees EOF, output or handlers
            // run twice, parent code run by a child, zombies piling up).
            let severity = if f.kind == Hygiene::SignalPortability {
                assafe_proto::Severity::Portable
            } else {
                assafe_proto::Severity::Hazard
            };
            str_value(b, k::SEVERITY, severity.name());
            json::site_frames_stack(b, f.site, f.frames);
            str_value(b, k::KIND, f.kind.name());
            key(b, k::DETAIL).json_str(f.detail);
            if !f.fork_frames.is_empty() {
                hex_array(b, k::FORK_FRAMES, f.fork_frames);
            }
            if !exec_frames.is_empty() {
                hex_array(b, k::EXEC_FRAMES, exec_frames);
            }
            b.c(b'}');
        } else {
            prefix(b);
            b.s("process hygiene (").s(f.kind.name()).s("): ");
            b.printable(f.detail).s("\n");
            prefix(b);
            b.s("  ").s(f.kind.explain()).s("\n");
            for (i, &a) in f.frames.iter().enumerate() {
                text_frame(b, i, a, false);
            }
            if !f.fork_frames.is_empty() {
                prefix(b);
                b.s("  the fork that made this process:\n");
                for (i, &a) in f.fork_frames.iter().enumerate() {
                    text_frame(b, i, a, false);
                }
            }
            if !exec_frames.is_empty() {
                prefix(b);
                b.s("  the exec or posix_spawn that hands it on:\n");
                for (i, &a) in exec_frames.iter().enumerate() {
                    text_frame(b, i, a, false);
                }
            }
            prefix(b);
            b.s("  in process ")
                .u(p.pid as u64)
                .s(" (")
                .printable(p.exe)
                .s("), parent ")
                .u(sys::getppid() as u64);
        }
    });
    true
}
