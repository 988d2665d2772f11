//! `ASSAFE_OPTIONS`: sanitizer-style `key=value` pairs separated by `:`.
//!
//! Parsed once, at load, from a copy of the environment string (programs may overwrite `environ`
//! later, e.g. sshd's setproctitle). One table drives parsing, defaults and `help=1`. A malformed
//! string never harms the host: every bad item keeps that option's default, and the whole string
//! gets exactly one warning line on stderr.

use crate::fmt::Buf;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SafeList {
    Posix = 0,
    Glibc = 1,
    Strict = 2,
}

pub const PATH_MAX: usize = 1024;

pub struct Options {
    pub strict: bool,
    pub json: bool,
    pub halt_on_error: bool,
    pub verbosity: u32,
    pub help: bool,
    pub follow_exec: bool,
    pub safe_list: SafeList,
    pub report_signal_unsafe: bool,
    pub report_errno_spoil: bool,
    pub log_path: [u8; PATH_MAX],
    pub log_path_len: usize,
    pub suppressions: [u8; PATH_MAX],
    pub suppressions_len: usize,
    /// The raw option string as given (for re-adding at exec), NUL-terminated.
    pub raw: [u8; 4096],
    pub raw_len: usize,
}

impl Options {
    pub const fn defaults() -> Options {
        Options {
            strict: false,
            json: false,
            halt_on_error: false,
            verbosity: 0,
            help: false,
            follow_exec: true,
            safe_list: SafeList::Glibc,
            report_signal_unsafe: true,
            report_errno_spoil: true,
            log_path: [0; PATH_MAX],
            log_path_len: 0,
            suppressions: [0; PATH_MAX],
            suppressions_len: 0,
            raw: [0; 4096],
            raw_len: 0,
        }
    }

    /// `log_path` without NUL; empty means stderr.
    pub fn log_path(&self) -> &[u8] {
        &self.log_path[..self.log_path_len]
    }
}

type Setter = fn(&mut Options, &[u8]) -> Result<(), &'static str>;

struct Spec {
    name: &'static str,
    default: &'static str,
    help: &'static str,
    set: Setter,
}

fn parse_bool(v: &[u8]) -> Result<bool, &'static str> {
    match v {
        b"1" | b"true" | b"yes" => Ok(true),
        b"0" | b"false" | b"no" => Ok(false),
        _ => Err("expects 0 or 1"),
    }
}

fn parse_u32(v: &[u8]) -> Result<u32, &'static str> {
    if v.is_empty() || v.len() > 9 {
        return Err("expects a small number");
    }
    let mut n = 0u32;
    for &c in v {
        if !c.is_ascii_digit() {
            return Err("expects a number");
        }
        n = n * 10 + (c - b'0') as u32;
    }
    Ok(n)
}

fn copy_path(dst: &mut [u8; PATH_MAX], len: &mut usize, v: &[u8]) -> Result<(), &'static str> {
    if v.is_empty() {
        return Err("expects a path");
    }
    if v.len() >= PATH_MAX - 32 {
        return Err("path too long");
    }
    if v.contains(&0) {
        return Err("path contains NUL");
    }
    dst[..v.len()].copy_from_slice(v);
    dst[v.len()] = 0;
    *len = v.len();
    Ok(())
}

static SPECS: &[Spec] = &[
    Spec {
        name: "strict",
        default: "0",
        help: "treat every fork as if the parent were multi-threaded",
        set: |o, v| parse_bool(v).map(|b| o.strict = b),
    },
    Spec {
        name: "log_path",
        default: "stderr",
        help: "write reports to PATH.<pid> (opened at each report) instead of stderr",
        set: |o, v| {
            if v == b"stderr" {
                o.log_path_len = 0;
                return Ok(());
            }
            copy_path(&mut o.log_path, &mut o.log_path_len, v)
        },
    },
    Spec {
        name: "log_format",
        default: "text",
        help: "text (sanitizer-style blocks) or json (one object per line)",
        set: |o, v| match v {
            b"text" | b"json" => {
                o.json = v == b"json";
                Ok(())
            }
            _ => Err("expects text or json"),
        },
    },
    Spec {
        name: "halt_on_error",
        default: "0",
        help: "abort the process after the first report",
        set: |o, v| parse_bool(v).map(|b| o.halt_on_error = b),
    },
    Spec {
        name: "verbosity",
        default: "0",
        help: "0 quiet, 1 say when the library loads, 2 also note every fork child and whether it is checked",
        set: |o, v| parse_u32(v).map(|n| o.verbosity = n),
    },
    Spec {
        name: "help",
        default: "0",
        help: "print the options with their defaults and continue",
        set: |o, v| parse_bool(v).map(|b| o.help = b),
    },
    Spec {
        name: "follow_exec",
        default: "1",
        help: "re-add LD_PRELOAD and ASSAFE_OPTIONS when a program execs with an environment that dropped them",
        set: |o, v| parse_bool(v).map(|b| o.follow_exec = b),
    },
    Spec {
        name: "safe_list",
        default: "glibc",
        help: "which verdict decides what is unsafe: glibc (glibc 2.36 manual + assafe judgement), posix (POSIX.1-2024 list), strict (unsafe under either)",
        set: |o, v| match v {
            b"posix" | b"glibc" | b"strict" => {
                o.safe_list = match v {
                    b"posix" => SafeList::Posix,
                    b"glibc" => SafeList::Glibc,
                    _ => SafeList::Strict,
                };
                Ok(())
            }
            _ => Err("expects posix, glibc or strict"),
        },
    },
    Spec {
        name: "report_signal_unsafe",
        default: "1",
        help: "report unsafe calls inside signal handlers",
        set: |o, v| parse_bool(v).map(|b| o.report_signal_unsafe = b),
    },
    Spec {
        name: "report_errno_spoil",
        default: "1",
        help: "report signal handlers that return with errno changed",
        set: |o, v| parse_bool(v).map(|b| o.report_errno_spoil = b),
    },
    Spec {
        name: "suppressions",
        default: "",
        help: "file of context:pattern lines; matching reports are not written",
        set: |o, v| copy_path(&mut o.suppressions, &mut o.suppressions_len, v),
    },
];

/// What went wrong while parsing, for the single warning line.
pub struct Problems {
    pub count: u32,
    pub first_what: &'static str,
    pub first_item: [u8; 64],
    pub first_item_len: usize,
}

impl Problems {
    fn note(&mut self, what: &'static str, item: &[u8]) {
        if self.count == 0 {
            self.first_what = what;
            let n = item.len().min(self.first_item.len());
            self.first_item[..n].copy_from_slice(&item[..n]);
            self.first_item_len = n;
        }
        self.count += 1;
    }
}

/// Parses `s` into `o` (which holds the defaults). Never fails; returns the problems found.
pub fn parse(o: &mut Options, s: &[u8]) -> Problems {
    let mut p = Problems {
        count: 0,
        first_what: "",
        first_item: [0; 64],
        first_item_len: 0,
    };
    let n = s.len().min(o.raw.len() - 1);
    if n < s.len() {
        p.note(
            "option string too long, ignored entirely",
            &s[..s.len().min(32)],
        );
        return p;
    }
    o.raw[..n].copy_from_slice(&s[..n]);
    o.raw[n] = 0;
    o.raw_len = n;
    for item in s.split(|&c| c == b':') {
        let item = trim(item);
        if item.is_empty() {
            continue;
        }
        let Some(eq) = item.iter().position(|&c| c == b'=') else {
            p.note("expected key=value", item);
            continue;
        };
        let (k, v) = (&item[..eq], &item[eq + 1..]);
        match SPECS.iter().find(|sp| sp.name.as_bytes() == k) {
            None => p.note("unknown option", k),
            Some(sp) => {
                if let Err(e) = (sp.set)(o, v) {
                    p.note(e, item);
                }
            }
        }
    }
    p
}

/// `s` without leading and trailing ASCII white space.
pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [c, rest @ ..] = s {
        if c.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., c] = s {
        if c.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Formats the one warning line for `p` (nothing if there were no problems).
pub fn warning(p: &Problems, b: &mut Buf) {
    if p.count == 0 {
        return;
    }
    b.s("ASSAFE_OPTIONS: ");
    b.s(p.first_what);
    b.s(" '");
    b.printable(&p.first_item[..p.first_item_len]);
    b.s("'");
    if p.count > 1 {
        b.s(" (and ");
        b.u(p.count as u64 - 1);
        b.s(" more problems)");
    }
    b.s("; bad items keep their defaults (ASSAFE_OPTIONS=help=1 lists the options)");
}

/// Formats the `help=1` text.
pub fn help(b: &mut Buf) {
    b.s("Available ASSAFE_OPTIONS (key=value, separated by ':'):\n");
    for sp in SPECS {
        b.s("    ");
        b.s(sp.name);
        b.s(" (default: ");
        b.s(if sp.default.is_empty() {
            "none"
        } else {
            sp.default
        });
        b.s(")\n        ");
        b.s(sp.help);
        b.s("\n");
    }
}
