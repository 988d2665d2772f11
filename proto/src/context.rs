//! The restricted contexts: thread-local bit ↔ report name ↔ suppression word ↔ SARIF rule.

/// A restricted context in which only async-signal-safe (or async-cancel-safe) calls are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// The child of a fork whose parent had more than one thread (or any fork with `strict=1`).
    ForkChild,
    /// A vfork child (shares the parent's memory, stack and thread-local block).
    VforkChild,
    /// Inside a signal handler.
    SignalHandler,
    /// The thread's cancel type is `PTHREAD_CANCEL_ASYNCHRONOUS`.
    AsyncCancel,
}

/// The SARIF rule id, suppression word and CLI finding context of a handler that changed `errno`
/// (the log's `errno` records have context `signal-handler`; the CLI reports them apart).
pub const ERRNO_RULE: &str = "errno";

/// Every context bit.
pub const CONTEXT_MASK: u8 = Context::ForkChild.bit()
    | Context::VforkChild.bit()
    | Context::SignalHandler.bit()
    | Context::AsyncCancel.bit();

impl Context {
    /// All contexts, in the order the report names are documented.
    pub const ALL: [Context; 4] = [
        Context::ForkChild,
        Context::VforkChild,
        Context::SignalHandler,
        Context::AsyncCancel,
    ];

    /// The bit in the preload's per-thread state byte.
    pub const fn bit(self) -> u8 {
        match self {
            Context::ForkChild => 0x01,
            Context::VforkChild => 0x02,
            Context::SignalHandler => 0x04,
            Context::AsyncCancel => 0x08,
        }
    }

    /// The context of exactly one bit.
    pub const fn from_bit(bit: u8) -> Option<Context> {
        match bit {
            0x01 => Some(Context::ForkChild),
            0x02 => Some(Context::VforkChild),
            0x04 => Some(Context::SignalHandler),
            0x08 => Some(Context::AsyncCancel),
            _ => None,
        }
    }

    /// The most specific context among the bits of `state` (a handler running in a fork child is
    /// reported as a handler): signal handler, then vfork child, then fork child, then async
    /// cancel. `None` when no context bit is set.
    pub const fn innermost(state: u8) -> Option<Context> {
        if state & Context::SignalHandler.bit() != 0 {
            Some(Context::SignalHandler)
        } else if state & Context::VforkChild.bit() != 0 {
            Some(Context::VforkChild)
        } else if state & Context::ForkChild.bit() != 0 {
            Some(Context::ForkChild)
        } else if state & Context::AsyncCancel.bit() != 0 {
            Some(Context::AsyncCancel)
        } else {
            None
        }
    }

    /// The value of the log's `context` key.
    pub const fn name(self) -> &'static str {
        match self {
            Context::ForkChild => "fork-child",
            Context::VforkChild => "vfork-child",
            Context::SignalHandler => "signal-handler",
            Context::AsyncCancel => "async-cancel",
        }
    }

    /// The context a log's `context` value names.
    pub fn from_name(name: &str) -> Option<Context> {
        Context::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The word that selects this context in a suppressions file (`fork:malloc`).
    pub const fn suppression_word(self) -> &'static str {
        match self {
            Context::ForkChild => "fork",
            Context::VforkChild => "vfork",
            Context::SignalHandler => "signal",
            Context::AsyncCancel => "cancel",
        }
    }

    /// The context a suppressions-file word selects (`errno` and `*` are not contexts: see
    /// [`ERRNO_RULE`]).
    pub fn from_suppression_word(word: &str) -> Option<Context> {
        Context::ALL
            .into_iter()
            .find(|c| c.suppression_word() == word)
    }

    /// The SARIF rule id of findings in this context.
    pub const fn sarif_rule(self) -> &'static str {
        self.name()
    }
}

/// What an unsafe call can do with this C library in this context (the `severity` key), least
/// severe first (the derived order is the rank).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Undefined by POSIX, but made to work here: `malloc` after glibc's `fork()` (which resets
    /// the heap locks in the child), a lock the fork child initialised itself, a vfork child of
    /// a single-threaded parent in which no handler can run, a handler for a signal a
    /// single-threaded process sent itself, a function unsafe only by POSIX's list.
    Portable,
    /// Can deadlock or corrupt here under some timing: a lock fork does not reset, a program
    /// mutex another thread may hold, a handler for an asynchronous signal calling `malloc`.
    Hazard,
    /// The handler interrupted this thread inside an unsafe function (certainty `definite`).
    Definite,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Portable, Severity::Hazard, Severity::Definite];

    /// The value of the log's `severity` key.
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Portable => "portable",
            Severity::Hazard => "hazard",
            Severity::Definite => "definite",
        }
    }

    pub fn from_name(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.name() == name)
    }

    /// SARIF `level`: a call that can deadlock or corrupt is an error, a portability problem a
    /// warning.
    pub const fn sarif_level(self) -> &'static str {
        match self {
            Severity::Portable => "warning",
            Severity::Hazard | Severity::Definite => "error",
        }
    }

    /// Does a finding of this severity fail a run whose threshold (`--fail-on`) is `threshold`?
    pub fn fails(self, threshold: Severity) -> bool {
        self >= threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities() {
        for s in Severity::ALL {
            assert_eq!(Severity::from_name(s.name()), Some(s));
            assert!(s.fails(Severity::Portable));
        }
        assert!(!Severity::Portable.fails(Severity::Hazard));
        assert!(Severity::Definite.fails(Severity::Hazard));
        assert_eq!(Severity::Portable.sarif_level(), "warning");
        assert_eq!(Severity::Hazard.sarif_level(), "error");
        assert_eq!(Severity::from_name("latent"), None);
    }

    #[test]
    fn bits_round_trip() {
        for c in Context::ALL {
            assert_eq!(Context::from_bit(c.bit()), Some(c));
            assert_eq!(c.bit().count_ones(), 1);
            assert_eq!(Context::innermost(c.bit()), Some(c));
            assert_eq!(CONTEXT_MASK & c.bit(), c.bit());
        }
        assert_eq!(CONTEXT_MASK, 0x0f);
        assert_eq!(Context::from_bit(0), None);
        assert_eq!(Context::from_bit(0x03), None);
        assert_eq!(Context::from_bit(0x40), None);
    }

    #[test]
    fn preload_bit_values() {
        // The preload's state byte (src/platform/tls.rs takes these) also holds 0x40 (a new
        // thread) and 0x80 (the library's own code): the context bits must stay in the low nibble.
        assert_eq!(Context::ForkChild.bit(), 0x01);
        assert_eq!(Context::VforkChild.bit(), 0x02);
        assert_eq!(Context::SignalHandler.bit(), 0x04);
        assert_eq!(Context::AsyncCancel.bit(), 0x08);
    }

    #[test]
    fn innermost_order() {
        let all = CONTEXT_MASK;
        assert_eq!(Context::innermost(all), Some(Context::SignalHandler));
        assert_eq!(Context::innermost(0x01 | 0x02), Some(Context::VforkChild));
        assert_eq!(Context::innermost(0x01 | 0x08), Some(Context::ForkChild));
        assert_eq!(Context::innermost(0x08 | 0x80), Some(Context::AsyncCancel));
        assert_eq!(Context::innermost(0xc0), None);
    }

    #[test]
    fn names_and_words() {
        let table = [
            (Context::ForkChild, "fork-child", "fork"),
            (Context::VforkChild, "vfork-child", "vfork"),
            (Context::SignalHandler, "signal-handler", "signal"),
            (Context::AsyncCancel, "async-cancel", "cancel"),
        ];
        for (c, name, word) in table {
            assert_eq!(c.name(), name);
            assert_eq!(c.sarif_rule(), name);
            assert_eq!(c.suppression_word(), word);
            assert_eq!(Context::from_name(name), Some(c));
            assert_eq!(Context::from_suppression_word(word), Some(c));
        }
        assert_eq!(Context::from_name("errno"), None);
        assert_eq!(Context::from_suppression_word(ERRNO_RULE), None);
        assert_eq!(Context::from_suppression_word("*"), None);
    }
}
