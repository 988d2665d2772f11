//! Reason classes (the `reason` key; the `reason` column of `symbols.txt`) and what each means.
//!
//! The preload's text reports print [`Reason::why`]; the CLI builds its per-context explanation
//! from [`Reason::resource`] (or [`Reason::why`] when the class has no shared state).

/// One reason class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reason {
    /// The class word.
    pub name: &'static str,
    /// The shared state that may be held or mid-update ("the heap lock"), or `None` when the
    /// function is unsafe only by POSIX's list (glibc's implementation has no such state).
    pub resource: Option<&'static str>,
    /// One sentence (no capital, no full stop): why a call of this class is dangerous in a
    /// restricted context.
    pub why: &'static str,
}

const fn r(name: &'static str, resource: &'static str, why: &'static str) -> Reason {
    Reason {
        name,
        resource: Some(resource),
        why,
    }
}

const fn posix_only(name: &'static str, why: &'static str) -> Reason {
    Reason {
        name,
        resource: None,
        why,
    }
}

/// Every class the writer can report (unsafe under `safe_list=glibc` or `posix`), and
/// `undocumented`, which older versions of `symbols.txt` used.
pub const REASONS: [Reason; 22] = [
    r(
        "heap",
        "the heap lock",
        "it takes the heap lock, which may be held (deadlock), and updates the heap, which may be mid-update (corruption)",
    ),
    r(
        "lock",
        "a lock",
        "it takes a lock that may be held by code that cannot release it (deadlock)",
    ),
    r(
        "stdio",
        "a stdio stream's lock",
        "stdio takes the stream lock and may allocate; the stream may be mid-update",
    ),
    r(
        "format",
        "the heap lock (and the locale data)",
        "it formats into the caller's buffer (no stream, no stream lock) but may allocate (wide, large or positional conversions) and reads the locale",
    ),
    r(
        "syslog",
        "the syslog lock",
        "syslog takes a global lock and allocates",
    ),
    r(
        "env",
        "the environment lock",
        "the environment is guarded by a lock and may be mid-update",
    ),
    r(
        "tz",
        "the time-zone lock",
        "time zone data is guarded by a lock and loaded with malloc",
    ),
    r(
        "dl",
        "the dynamic loader's lock",
        "it takes the dynamic loader's lock (or loads a module), which another thread or the interrupted code may hold",
    ),
    r(
        "nss",
        "the NSS locks (and the heap lock)",
        "NSS lookups load modules, allocate and take locks",
    ),
    r(
        "locale",
        "the locale lock",
        "locale data is guarded by a lock and may be loaded with malloc",
    ),
    r(
        "i18n",
        "the locale and message-catalog locks",
        "locale, conversion and message-catalog data is guarded by locks and may be loaded with malloc",
    ),
    r(
        "atexit",
        "the atexit/exit-handler lock",
        "exit handlers are guarded by a lock and may run arbitrary code",
    ),
    r(
        "fork",
        "the locks that atfork handlers take",
        "fork runs atfork handlers and takes locks (POSIX.1-2024 no longer lists it as safe)",
    ),
    r(
        "thread",
        "the thread library's locks",
        "the thread library takes its internal locks (thread list, stack cache) and may allocate",
    ),
    r(
        "random",
        "the random-number state's lock",
        "the random-number generator keeps its state behind a lock",
    ),
    r(
        "dir",
        "the heap lock (and the directory stream's lock)",
        "directory streams and returned paths are allocated with malloc, and streams are guarded by a lock",
    ),
    r(
        "corrupt",
        "shared static state",
        "it updates shared static state that an interrupted call may have left inconsistent",
    ),
    r(
        "signal",
        "the signal-handling state",
        "it changes or runs signal-handling code outside POSIX's async-signal-safe list; a handler run in a vfork child shares, and can corrupt, the parent's memory and stack",
    ),
    posix_only(
        "exec",
        "it is not on POSIX's async-signal-safe list (glibc's implementation is safe; other C libraries' PATH search may allocate)",
    ),
    posix_only(
        "syscall",
        "it is not on POSIX's async-signal-safe list (glibc implements it as a plain system call)",
    ),
    posix_only(
        "pure",
        "it is not on POSIX's async-signal-safe list (glibc's implementation touches no shared state)",
    ),
    posix_only(
        "undocumented",
        "it is not on POSIX's async-signal-safe list and its implementation is not known to be safe",
    ),
];

/// Where an unsafe call was made, as far as its explanation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Fork child: a lock this fork did not reset (`_Fork`, a raw `clone`, a lock libc's
    /// `fork()` does not reset, a program lock).
    ForkHazard,
    /// Fork child of libc's `fork()`, which re-initialises the class's locks (portable).
    ForkReset,
    /// Fork child: the lock was initialised in the child after the fork (portable).
    OwnObject,
    /// Fork child reported only because of `strict=1` (single-threaded parent).
    StrictOnly,
    /// Vfork child.
    Vfork,
    /// Vfork child of a single-threaded parent in which no handler can run (portable).
    VforkQuiet,
    /// Signal handler (latent).
    Handler,
    /// Signal handler that interrupted an unsafe function on this thread.
    HandlerDefinite,
    /// Handler for a signal a single-threaded process sent itself (portable).
    HandlerSelf,
    /// Handler for a synchronous fault outside every unsafe function.
    HandlerOutside,
    /// Asynchronous cancellation.
    Cancel,
}

/// The explanation of a call of class `name` made where `why` says, in three pieces to write
/// one after the other (the preload cannot allocate): true for the function's class and the
/// context, naming the shared state the class touches.
pub fn explain_in(name: &str, why: Why) -> [&'static str; 3] {
    let r = lookup(name);
    let Some(res) = r.resource else {
        return [r.why, "", ""];
    };
    match why {
        Why::ForkHazard => [
            "another thread of the parent may have held ",
            res,
            " at the fork; that thread does not exist in the child, so it stays held (deadlock) or mid-update (corruption)",
        ],
        Why::ForkReset => [
            "undefined by POSIX after a multi-threaded fork, but this C library's fork() re-initialises ",
            res,
            " in the child, so it works here (not after _Fork, a raw clone, or with a C library that does not)",
        ],
        Why::OwnObject => [
            "undefined by POSIX after a multi-threaded fork, but ",
            res,
            " that the child initialised itself after the fork cannot be held by a thread that vanished at the fork",
        ],
        Why::StrictOnly => [
            "the parent had one thread, so nothing can have held ",
            res,
            " at the fork; reported because strict=1",
        ],
        Why::Vfork => [
            "the child shares the parent's memory and stack: it uses the parent's ",
            res,
            ", which another thread of the parent may hold, a signal handler may interrupt, and whose changes stay in the parent",
        ],
        Why::VforkQuiet => [
            "undefined by POSIX in a vfork child, but the parent has one thread and every signal with a handler is blocked, so nothing can hold or interrupt ",
            res,
            "; its changes stay in the parent",
        ],
        Why::Handler => [
            "the handler may interrupt code of this thread that holds ",
            res,
            " (deadlock) or is in the middle of updating it (corruption)",
        ],
        Why::HandlerDefinite => [
            "the handler interrupted this thread inside an unsafe function: ",
            res,
            " may be held or mid-update right now",
        ],
        Why::HandlerSelf => [
            "undefined by POSIX, but the signal was sent by this single-threaded process to itself, so the handler ran at that call, not inside code holding ",
            res,
            "",
        ],
        Why::HandlerOutside => [
            "the signal is a fault at an instruction outside libc and every unsafe function: the handler cannot have interrupted code holding ",
            res,
            "",
        ],
        Why::Cancel => [
            "cancelling the thread inside it may leave ",
            res,
            " held or mid-update",
        ],
    }
}

/// For a class not in [`REASONS`].
pub const UNKNOWN: Reason = Reason {
    name: "",
    resource: Some("a lock or shared state"),
    why: "it is not async-signal-safe",
};

/// The entry for `name` ([`UNKNOWN`] when there is none).
pub fn lookup(name: &str) -> &'static Reason {
    REASONS.iter().find(|r| r.name == name).unwrap_or(&UNKNOWN)
}

/// [`Reason::why`] of `name`: the preload's one-line explanation.
pub fn explain(name: &str) -> &'static str {
    lookup(name).why
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_and_found() {
        for (i, a) in REASONS.iter().enumerate() {
            assert_eq!(lookup(a.name), a);
            assert!(!a.why.ends_with('.') && !a.why.is_empty());
            for b in &REASONS[i + 1..] {
                assert_ne!(a.name, b.name);
            }
        }
        assert_eq!(lookup("no-such-class"), &UNKNOWN);
        assert_eq!(explain("heap"), REASONS[0].why);
    }

    #[test]
    fn explanations_per_context() {
        let all = [
            Why::ForkHazard,
            Why::ForkReset,
            Why::OwnObject,
            Why::StrictOnly,
            Why::Vfork,
            Why::VforkQuiet,
            Why::Handler,
            Why::HandlerDefinite,
            Why::HandlerSelf,
            Why::HandlerOutside,
            Why::Cancel,
        ];
        for w in all {
            let p = explain_in("heap", w);
            assert_eq!(p[1], "the heap lock");
            if w != Why::ForkHazard {
                // Only a fork child lost the parent's other threads.
                assert!(!p[0].contains("does not exist") && !p[2].contains("does not exist"));
            }
        }
        // snprintf & co. have no stream.
        let f = explain_in("format", Why::Handler);
        assert!(!f[1].contains("stream"));
        assert!(lookup("format").why.contains("no stream"));
        assert_eq!(
            explain_in("pure", Why::Handler),
            [lookup("pure").why, "", ""]
        );
    }

    #[test]
    fn posix_only_classes_claim_no_shared_state() {
        for n in ["exec", "syscall", "pure", "undocumented"] {
            assert_eq!(lookup(n).resource, None, "{n}");
        }
        assert!(lookup("heap").resource.is_some());
    }
}
