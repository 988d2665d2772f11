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
pub const REASONS: [Reason; 21] = [
    r(
        "heap",
        "the heap lock",
        "the heap lock may be held by a thread that no longer exists or by the interrupted code (deadlock), or the heap may be mid-update (corruption)",
    ),
    r(
        "lock",
        "a lock",
        "it takes a lock that may be held forever by a thread that no longer exists or by the interrupted code",
    ),
    r(
        "stdio",
        "a stdio stream's lock",
        "stdio takes the stream lock and may allocate; the stream may be mid-update",
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
    fn posix_only_classes_claim_no_shared_state() {
        for n in ["exec", "syscall", "pure", "undocumented"] {
            assert_eq!(lookup(n).resource, None, "{n}");
        }
        assert!(lookup("heap").resource.is_some());
    }
}
