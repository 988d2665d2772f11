//! The process-hygiene finding kinds (issue 14): the classic fork/exec/signal mistakes other than
//! async-signal-unsafe calls. A `report` record carries one in its `kind` key; a record without
//! the key is an async-signal-safety report. Each kind's name is also its suppression word, its
//! SARIF rule id and the CLI finding's `context`.

/// One kind of process-hygiene finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hygiene {
    /// An exec'd program inherits a pipe or socket an ancestor made without close-on-exec.
    FdLeak,
    /// `exit()` (not `_exit()`) in a fork child that did not exec, with inherited stdio output or
    /// exit handlers the parent's code registered.
    ExitInChild,
    /// A fork child returned from the function that called fork.
    ChildReturned,
    /// A fork child forked again, before exec, from the forking function's frame.
    NestedFork,
    /// Children that exited and were never waited for.
    Zombie,
    /// `signal()` & co. installing a function handler.
    SignalPortability,
    /// An unsafe call in a `pthread_atfork` child handler.
    AtforkChild,
}

impl Hygiene {
    /// Every kind, in the order the reports list them (after the async-signal findings).
    pub const ALL: [Hygiene; 7] = [
        Hygiene::AtforkChild,
        Hygiene::FdLeak,
        Hygiene::ExitInChild,
        Hygiene::ChildReturned,
        Hygiene::NestedFork,
        Hygiene::Zombie,
        Hygiene::SignalPortability,
    ];

    /// The value of the log's `kind` key, the suppression word and the SARIF rule id.
    pub const fn name(self) -> &'static str {
        match self {
            Hygiene::FdLeak => "fd-leak",
            Hygiene::ExitInChild => "exit-in-child",
            Hygiene::ChildReturned => "child-returned",
            Hygiene::NestedFork => "nested-fork",
            Hygiene::Zombie => "zombie",
            Hygiene::SignalPortability => "signal-portability",
            Hygiene::AtforkChild => "atfork-child",
        }
    }

    pub fn from_name(name: &str) -> Option<Hygiene> {
        Hygiene::ALL.into_iter().find(|h| h.name() == name)
    }

    /// The CLI's severity: `atfork-child` is an unsafe call in a fork child (`error`), the
    /// portability finding is a `note`, the others are `warning`s.
    pub const fn severity(self) -> &'static str {
        match self {
            Hygiene::AtforkChild => "error",
            Hygiene::SignalPortability => "note",
            _ => "warning",
        }
    }

    /// One-line explanation of the hazard.
    pub const fn explain(self) -> &'static str {
        match self {
            Hygiene::FdLeak => {
                "the exec'd program inherits an fd it does not know about, made without close-on-exec before the fork: a pipe's reader (a socket's peer) never sees EOF while the program runs, a listening socket stays bound"
            }
            Hygiene::ExitInChild => {
                "exit() in a fork child that did not exec flushes the stdio output it inherited from the parent (printed twice) and runs the parent's atexit handlers and C++ global destructors a second time; use _exit()"
            }
            Hygiene::ChildReturned => {
                "the fork child left the function that forked it without exec or _exit: it now runs code meant for the parent"
            }
            Hygiene::NestedFork => {
                "a fork child forked again before exec, from the code that forked it: more processes than intended (fork(); fork(); makes 4)"
            }
            Hygiene::Zombie => {
                "children that exited were never waited for: they stay zombies until this process exits"
            }
            Hygiene::SignalPortability => {
                "signal() with a handler function has system-dependent semantics (System V resets the disposition, BSD restarts system calls); use sigaction()"
            }
            Hygiene::AtforkChild => {
                "a pthread_atfork child handler runs in the child of a multi-threaded fork, where only async-signal-safe calls are allowed"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_differ_from_contexts() {
        for h in Hygiene::ALL {
            assert_eq!(Hygiene::from_name(h.name()), Some(h));
            assert!(crate::Context::from_name(h.name()).is_none());
            assert!(crate::Context::from_suppression_word(h.name()).is_none());
            assert_ne!(h.name(), crate::ERRNO_RULE);
        }
    }
}
