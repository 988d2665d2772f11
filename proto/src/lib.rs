//! The assafe log schema, shared by the writer (`libassafe.so`) and the readers (the `assafe` CLI
//! and the integration tests): see `docs/log-format.md`.
//!
//! `no_std`, no allocation, no dependencies, no `unsafe`: the preload links it into code that runs
//! in fork children and signal handlers.
//!
//! - [`FORMAT_VERSION`]: the version of the record format, carried by the `start` record
//!   ([`key::FORMAT`]); a reader refuses a log whose format is newer than its own
//!   ([`check_format`]) and skips records of an event it does not know.
//! - [`event`] and [`key`]: every event name and every key the writer uses; [`value`]: the fixed
//!   string values; [`schema`]: which keys each event carries.
//! - [`Context`]: the thread-local context bit ↔ report name ↔ suppression word ↔ SARIF rule.
//! - [`reason`]: reason class → resource and explanation.
//! - [`glob`]: the suppression pattern matcher; [`json`]: the JSON string escaper.

#![no_std]
#![forbid(unsafe_code)]

mod context;
pub mod glob;
mod hygiene;
pub mod json;
pub mod reason;
pub mod schema;

pub use context::{CONTEXT_MASK, Context, ERRNO_RULE, Severity};
pub use glob::glob;
pub use hygiene::Hygiene;

/// The version of the record format this crate describes.
///
/// The writer puts it in the `start` record (key [`key::FORMAT`]); a `start` record without it
/// (every log written before the key existed) is format [`FORMAT_UNVERSIONED`]. Bump it when a
/// change would make an older reader misread a log (a key changes meaning or type, a record
/// splits); adding a key or an event does not need a bump (readers ignore unknown keys and skip
/// unknown events).
pub const FORMAT_VERSION: u32 = 1;

/// The format of a log whose `start` records carry no [`key::FORMAT`] key.
pub const FORMAT_UNVERSIONED: u32 = 1;

/// A log written in a format newer than this reader understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewerFormat {
    /// The format the log says it is in.
    pub found: u64,
    /// [`FORMAT_VERSION`].
    pub supported: u32,
}

impl core::fmt::Display for NewerFormat {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "log format {} is newer than this reader supports (format {}): \
             use an assafe CLI at least as new as the libassafe.so that wrote the log",
            self.found, self.supported
        )
    }
}

/// Checks the format a `start` record declares (`None`: no [`key::FORMAT`] key).
pub fn check_format(found: Option<u64>) -> Result<u32, NewerFormat> {
    match found {
        None => Ok(FORMAT_UNVERSIONED),
        Some(n) if n <= u64::from(FORMAT_VERSION) => Ok(n as u32),
        Some(n) => Err(NewerFormat {
            found: n,
            supported: FORMAT_VERSION,
        }),
    }
}

/// Event names: the value of [`key::EVENT`], the first key of every record.
pub mod event {
    /// One per process image that loaded the library (only with `log_path` and `log_format=json`).
    pub const START: &str = "start";
    /// An async-signal-unsafe call (or a handler run in a vfork child).
    pub const REPORT: &str = "report";
    /// A signal handler returned with `errno` changed.
    pub const ERRNO: &str = "errno";
    /// Summary of a process that made unsafe calls, written at an exec-family call.
    pub const EXEC: &str = "exec";
    /// Summary of a process that made unsafe calls, written at `exit`/`_exit`/`_Exit`.
    pub const EXIT: &str = "exit";
    /// One per fork child: with `log_format=json` and a `log_path`, or with `verbosity=2`.
    pub const FORK: &str = "fork";

    /// Every event the writer produces.
    pub const ALL: [&str; 6] = [START, REPORT, ERRNO, EXEC, EXIT, FORK];

    /// Is `name` an event of this format?
    pub fn is_known(name: &str) -> bool {
        ALL.contains(&name)
    }
}

/// Record keys.
pub mod key {
    /// The event name ([`crate::event`]); always the first key.
    pub const EVENT: &str = "event";
    /// `start`: the record format ([`crate::FORMAT_VERSION`]), the second key; absent in logs
    /// written before the key existed (format 1).
    pub const FORMAT: &str = "format";
    /// `start`: the library's package version (`"0.1.0"`); informational.
    pub const VERSION: &str = "version";
    pub const PID: &str = "pid";
    pub const PPID: &str = "ppid";
    pub const TID: &str = "tid";
    /// The `/proc/self/exe` target.
    pub const EXE: &str = "exe";
    /// A [`crate::Context`] report name.
    pub const CONTEXT: &str = "context";
    pub const FUNCTION: &str = "function";
    /// A [`crate::reason`] class.
    pub const REASON: &str = "reason";
    pub const PARENT_THREADS: &str = "parent_threads";
    pub const STRICT: &str = "strict";
    pub const SIGNAL: &str = "signal";
    pub const SIGNAL_NAME: &str = "signal_name";
    pub const SIGNAL_ORIGIN: &str = "signal_origin";
    pub const CERTAINTY: &str = "certainty";
    pub const HANDLER_DEPTH: &str = "handler_depth";
    pub const SITE: &str = "site";
    pub const FRAMES: &str = "frames";
    pub const STACK: &str = "stack";
    /// In a `stack` frame.
    pub const ADDR: &str = "addr";
    /// In a `stack` frame and a summary site.
    pub const MODULE: &str = "module";
    /// In a `stack` frame and a summary site.
    pub const OFFSET: &str = "offset";
    /// In a `stack` frame and a summary site, when the module has one: its GNU build-id
    /// (`NT_GNU_BUILD_ID`), lower-case hex.
    pub const BUILD_ID: &str = "build_id";
    pub const ERRNO_BEFORE: &str = "errno_before";
    pub const ERRNO_AFTER: &str = "errno_after";
    pub const PATH: &str = "path";
    pub const STATUS: &str = "status";
    pub const UNSAFE_CALLS: &str = "unsafe_calls";
    pub const DISTINCT: &str = "distinct";
    pub const DROPPED: &str = "dropped";
    pub const SUPPRESSED: &str = "suppressed";
    pub const SITES: &str = "sites";
    /// In a summary site.
    pub const COUNT: &str = "count";
    pub const CHECKED: &str = "checked";
    /// Summary: records of this process that could not be written (absent when none).
    pub const LOST: &str = "lost";
    /// Summary: why the first lost record could not be written (`"seccomp"`, `"errno 13"`, …).
    pub const LOST_REASON: &str = "lost_reason";
    /// Summary: names of the signals whose handlers made the unsafe calls (absent when none).
    pub const SIGNALS: &str = "signals";
    /// Report: why `frames` stops early (`"seccomp"`: stack memory could not be read safely).
    pub const TRUNCATED: &str = "truncated";
    /// Report: a [`crate::Severity`] name (`"definite"`, `"hazard"`, `"portable"`): what the
    /// call can do with this C library in this context.
    pub const SEVERITY: &str = "severity";
    /// Fork-child report: how the process was forked (`"fork"`: libc's `fork()`, which resets
    /// the locks `data/fork-resets.tsv` lists; `"_Fork"`; `"unseen"`: a raw `clone`/`fork`
    /// system call or a libc-internal fork the library did not see).
    pub const FORKED_BY: &str = "forked_by";
    /// Fork-child report, only when true: the call's object (a mutex, rwlock or semaphore) was
    /// initialised in this process after the fork.
    pub const OWN_OBJECT: &str = "own_object";
    /// Vfork-child report: the signals blocked when the child made the call (inherited from
    /// the parent at vfork unless the child changed its mask), `"0x…"`, bit n-1 for signal n.
    pub const BLOCKED_SIGNALS: &str = "blocked_signals";
    /// Vfork-child report: the signals whose action in the child was a handler when it made the
    /// call (not SIG_DFL or SIG_IGN), `"0x…"`, bit n-1 for signal n.
    pub const HANDLED_SIGNALS: &str = "handled_signals";
    /// `start`, only when the running C library is not the one the library was built for: its
    /// version (`"2.31"`, `"unversioned"`).
    pub const LIBC: &str = "libc";
    /// `start`, with [`LIBC`]: how many functions that libc exports this build does not know
    /// (their calls are not checked: the process is only partially checked).
    pub const UNKNOWN_FUNCTIONS: &str = "unknown_functions";
    /// Summary: calls to an interposed function the running libc does not define (a library
    /// built for another libc), failed with `ENOSYS` (absent when none).
    pub const UNRESOLVED_CALLS: &str = "unresolved_calls";
    /// Report: the process-hygiene finding kind ([`crate::Hygiene::name`]); absent on the
    /// async-signal-safety reports.
    pub const KIND: &str = "kind";
    /// Report (hygiene kinds): what was found, in words (the leaked fds and what each is, the
    /// number of zombies, …).
    pub const DETAIL: &str = "detail";
    /// Report (`child-returned`, `nested-fork`): the stack of the fork that made this process.
    pub const FORK_FRAMES: &str = "fork_frames";
    /// `start`, only when `ASSAFE_OPTIONS` or the suppressions file had a problem (or asked for
    /// `help=1`): what the library would have printed on stderr without a log, in words. With a
    /// log nothing of the library's reaches the program's stderr.
    pub const WARNING: &str = "warning";
    /// Report (`fd-leak`): the stack of the exec that hands the leaked fd on (the report's own
    /// `frames` are the call that made the fd).
    pub const EXEC_FRAMES: &str = "exec_frames";

    /// Every key, top-level and nested.
    ///
    /// Keep in step with [`crate::schema`] (a unit test checks both ways).
    pub const ALL: [&str; 52] = [
        EVENT,
        FORMAT,
        VERSION,
        PID,
        PPID,
        TID,
        EXE,
        CONTEXT,
        FUNCTION,
        REASON,
        PARENT_THREADS,
        STRICT,
        SIGNAL,
        SIGNAL_NAME,
        SIGNAL_ORIGIN,
        CERTAINTY,
        HANDLER_DEPTH,
        SITE,
        FRAMES,
        STACK,
        ADDR,
        MODULE,
        OFFSET,
        BUILD_ID,
        ERRNO_BEFORE,
        ERRNO_AFTER,
        PATH,
        STATUS,
        UNSAFE_CALLS,
        DISTINCT,
        DROPPED,
        SUPPRESSED,
        SITES,
        COUNT,
        CHECKED,
        LOST,
        LOST_REASON,
        SIGNALS,
        TRUNCATED,
        SEVERITY,
        FORKED_BY,
        OWN_OBJECT,
        BLOCKED_SIGNALS,
        HANDLED_SIGNALS,
        LIBC,
        UNKNOWN_FUNCTIONS,
        UNRESOLVED_CALLS,
        KIND,
        DETAIL,
        FORK_FRAMES,
        WARNING,
        EXEC_FRAMES,
    ];
}

/// Fixed string values.
pub mod value {
    /// [`crate::key::CERTAINTY`]: the handler interrupted this thread inside an unsafe function.
    pub const DEFINITE: &str = "definite";
    /// [`crate::key::CERTAINTY`]: the call is unsafe, but the handler interrupted safe code.
    pub const LATENT: &str = "latent";
    /// [`crate::key::CERTAINTY`]: a synchronous fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP
    /// with a kernel `si_code`) at an instruction outside libc, the loader and every interposed
    /// function: the handler cannot have interrupted an unsafe function (written only with
    /// `report_sync_faults=1`).
    pub const OUTSIDE: &str = "outside";
    /// [`crate::key::FORKED_BY`]: libc's `fork()`.
    pub const FORKED_BY_FORK: &str = "fork";
    /// [`crate::key::FORKED_BY`]: `_Fork()` (no lock reset).
    pub const FORKED_BY_UFORK: &str = "_Fork";
    /// [`crate::key::FORKED_BY`]: a fork the library did not see (raw `clone`, `daemon()`).
    pub const FORKED_BY_UNSEEN: &str = "unseen";
    /// [`crate::key::SIGNAL_ORIGIN`]: a fault (SIGSEGV, SIGBUS, …) raised by the thread itself.
    pub const ORIGIN_SYNCHRONOUS: &str = "synchronous";
    /// [`crate::key::SIGNAL_ORIGIN`]: sent by the process to itself (`raise`, `kill(getpid())`).
    pub const ORIGIN_SELF: &str = "self";
    /// [`crate::key::SIGNAL_ORIGIN`]: from elsewhere.
    pub const ORIGIN_ASYNC: &str = "async";
    /// [`crate::key::FUNCTION`] of the report written when a program's signal handler runs in a
    /// vfork child (its reason is [`HANDLER_IN_VFORK_REASON`]).
    pub const HANDLER_IN_VFORK_FUNCTION: &str = "(signal handler)";
    /// [`crate::key::REASON`] of that report.
    pub const HANDLER_IN_VFORK_REASON: &str = "signal";
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn format_check() {
        assert_eq!(check_format(None), Ok(1));
        assert_eq!(check_format(Some(1)), Ok(1));
        let e = check_format(Some(u64::from(FORMAT_VERSION) + 1)).unwrap_err();
        assert_eq!(e.found, u64::from(FORMAT_VERSION) + 1);
        let s = std::format!("{e}");
        assert!(s.starts_with("log format 2 is newer"), "{s}");
    }

    #[test]
    fn events_are_distinct_and_known() {
        for (i, a) in event::ALL.iter().enumerate() {
            assert!(event::is_known(a));
            for b in &event::ALL[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(!event::is_known("warning"));
    }
}
