//! Which keys each event carries, with their JSON types: the machine-readable form of
//! `docs/log-format.md`. Readers stay lenient (unknown keys are ignored); the golden test checks
//! the real writer's records against this, and this against the documentation.

use crate::{event, key};

/// The JSON type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// A JSON string.
    Str,
    /// A non-negative JSON number.
    Uint,
    /// A JSON number, possibly negative.
    Int,
    Bool,
    /// A string `"0x…"`, lower-case hex.
    Hex,
    /// An array of [`Type::Hex`].
    HexArray,
    /// An array of objects with [`STACK_FRAME`]'s keys.
    Stack,
    /// An array of objects with [`SUMMARY_SITE`]'s keys.
    Sites,
    /// An array of strings.
    StrArray,
}

/// When a key is present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// In every record of the event.
    Always,
    /// In some records only (the documentation says when).
    Sometimes,
}

/// One key of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub key: &'static str,
    pub ty: Type,
    pub presence: Presence,
}

const fn always(key: &'static str, ty: Type) -> Field {
    Field {
        key,
        ty,
        presence: Presence::Always,
    }
}

const fn sometimes(key: &'static str, ty: Type) -> Field {
    Field {
        key,
        ty,
        presence: Presence::Sometimes,
    }
}

/// The keys of one event, in the order the writer writes them (`event` first).
#[derive(Clone, Copy, Debug)]
pub struct EventSchema {
    pub event: &'static str,
    pub fields: &'static [Field],
}

impl EventSchema {
    /// The field for `key`, if this event has it.
    pub fn field(&self, key: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.key == key)
    }
}

use Type::*;

/// `start`. The writer always writes [`key::FORMAT`], right after `event`; readers still accept
/// a `start` without it (logs written before the key existed: format 1, see
/// [`crate::check_format`]).
pub const START: EventSchema = EventSchema {
    event: event::START,
    fields: &[
        always(key::EVENT, Str),
        always(key::FORMAT, Uint),
        always(key::PID, Uint),
        always(key::PPID, Uint),
        always(key::EXE, Str),
        always(key::VERSION, Str),
        sometimes(key::LIBC, Str),
        sometimes(key::UNKNOWN_FUNCTIONS, Uint),
        sometimes(key::WARNING, Str),
    ],
};

/// `report`. `severity` in every report; `parent_threads`, `strict` (only when true),
/// `forked_by` and `own_object` (only when true) in fork-child reports; `parent_threads`,
/// `blocked_signals` and `handled_signals` in vfork-child reports; `signal` …
/// `handler_depth` in signal-handler reports; `signal` and `signal_name` also in the report of a
/// handler run in a vfork child.
pub const REPORT: EventSchema = EventSchema {
    event: event::REPORT,
    fields: &[
        always(key::EVENT, Str),
        always(key::CONTEXT, Str),
        always(key::FUNCTION, Str),
        always(key::REASON, Str),
        always(key::PID, Uint),
        always(key::PPID, Uint),
        always(key::TID, Uint),
        always(key::EXE, Str),
        always(key::SEVERITY, Str),
        sometimes(key::PARENT_THREADS, Uint),
        sometimes(key::STRICT, Bool),
        sometimes(key::FORKED_BY, Str),
        sometimes(key::OWN_OBJECT, Bool),
        sometimes(key::BLOCKED_SIGNALS, Hex),
        sometimes(key::HANDLED_SIGNALS, Hex),
        sometimes(key::SIGNAL, Uint),
        sometimes(key::SIGNAL_NAME, Str),
        sometimes(key::SIGNAL_ORIGIN, Str),
        sometimes(key::CERTAINTY, Str),
        sometimes(key::HANDLER_DEPTH, Uint),
        always(key::SITE, Hex),
        always(key::FRAMES, HexArray),
        always(key::STACK, Stack),
        sometimes(key::TRUNCATED, Str),
        sometimes(key::KIND, Str),
        sometimes(key::DETAIL, Str),
        sometimes(key::FORK_FRAMES, HexArray),
        sometimes(key::EXEC_FRAMES, HexArray),
    ],
};

/// `errno`.
pub const ERRNO: EventSchema = EventSchema {
    event: event::ERRNO,
    fields: &[
        always(key::EVENT, Str),
        always(key::CONTEXT, Str),
        always(key::PID, Uint),
        always(key::PPID, Uint),
        always(key::TID, Uint),
        always(key::EXE, Str),
        always(key::SIGNAL, Uint),
        always(key::SIGNAL_NAME, Str),
        always(key::ERRNO_BEFORE, Int),
        always(key::ERRNO_AFTER, Int),
        always(key::SITE, Hex),
        always(key::FRAMES, HexArray),
        always(key::STACK, Stack),
    ],
};

const SUMMARY_TAIL: [Field; 13] = [
    always(key::CONTEXT, Str),
    always(key::PID, Uint),
    always(key::PPID, Uint),
    always(key::EXE, Str),
    always(key::UNSAFE_CALLS, Uint),
    always(key::DISTINCT, Uint),
    always(key::DROPPED, Uint),
    always(key::SUPPRESSED, Uint),
    always(key::SITES, Sites),
    sometimes(key::SIGNALS, StrArray),
    sometimes(key::LOST, Uint),
    sometimes(key::LOST_REASON, Str),
    sometimes(key::UNRESOLVED_CALLS, Uint),
];

const fn summary(second: Field) -> [Field; 15] {
    let mut out = [second; 15];
    out[0] = always(key::EVENT, Str);
    let mut i = 0;
    while i < SUMMARY_TAIL.len() {
        out[i + 2] = SUMMARY_TAIL[i];
        i += 1;
    }
    out
}

const EXEC_FIELDS: [Field; 15] = summary(always(key::PATH, Str));
/// `status` is absent when the library's destructor wrote the summary (a return from `main`: no
/// exit call the library saw).
const EXIT_FIELDS: [Field; 15] = summary(sometimes(key::STATUS, Int));

/// `exec`.
pub const EXEC: EventSchema = EventSchema {
    event: event::EXEC,
    fields: &EXEC_FIELDS,
};

/// `exit`.
pub const EXIT: EventSchema = EventSchema {
    event: event::EXIT,
    fields: &EXIT_FIELDS,
};

/// `fork`.
pub const FORK: EventSchema = EventSchema {
    event: event::FORK,
    fields: &[
        always(key::EVENT, Str),
        always(key::PID, Uint),
        always(key::PPID, Uint),
        always(key::PARENT_THREADS, Uint),
        always(key::CHECKED, Bool),
    ],
};

/// An element of `stack`.
pub const STACK_FRAME: [Field; 4] = [
    always(key::ADDR, Hex),
    always(key::MODULE, Str),
    always(key::OFFSET, Hex),
    sometimes(key::BUILD_ID, Str),
];

/// An element of a summary's `sites`.
pub const SUMMARY_SITE: [Field; 6] = [
    always(key::FUNCTION, Str),
    always(key::SITE, Hex),
    always(key::MODULE, Str),
    always(key::OFFSET, Hex),
    sometimes(key::BUILD_ID, Str),
    always(key::COUNT, Uint),
];

/// Every event, in [`event::ALL`]'s order.
pub const EVENTS: [EventSchema; 6] = [START, REPORT, ERRNO, EXEC, EXIT, FORK];

/// The schema of `event`, if it is one of this format.
pub fn of(event: &str) -> Option<&'static EventSchema> {
    EVENTS.iter().find(|e| e.event == event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_schema(k: &str) -> bool {
        EVENTS.iter().any(|e| e.field(k).is_some())
            || STACK_FRAME.iter().any(|f| f.key == k)
            || SUMMARY_SITE.iter().any(|f| f.key == k)
    }

    #[test]
    fn every_key_is_used_and_every_used_key_is_listed() {
        for k in key::ALL {
            assert!(in_schema(k), "key {k} is in key::ALL but no schema uses it");
        }
        for e in EVENTS {
            for f in e.fields {
                assert!(
                    key::ALL.contains(&f.key),
                    "{}: {} not in key::ALL",
                    e.event,
                    f.key
                );
            }
        }
        for f in STACK_FRAME.iter().chain(&SUMMARY_SITE) {
            assert!(key::ALL.contains(&f.key));
        }
    }

    #[test]
    fn events_match_and_start_with_event() {
        assert_eq!(EVENTS.len(), event::ALL.len());
        for (s, name) in EVENTS.iter().zip(event::ALL) {
            assert_eq!(s.event, name);
            assert_eq!(of(name).map(|e| e.event), Some(name));
            assert_eq!(s.fields[0], always(key::EVENT, Str));
            for (i, f) in s.fields.iter().enumerate() {
                assert!(
                    s.fields[i + 1..].iter().all(|g| g.key != f.key),
                    "{name}: {} twice",
                    f.key
                );
            }
        }
        assert!(of("warning").is_none());
    }

    #[test]
    fn summaries() {
        assert_eq!(EXEC.field(key::PATH).unwrap().ty, Str);
        assert_eq!(EXIT.field(key::STATUS).unwrap().ty, Int);
        assert!(EXEC.field(key::STATUS).is_none());
        assert_eq!(EXIT.fields[1].key, key::STATUS);
        assert_eq!(EXIT.fields[10].key, key::SITES);
    }
}
