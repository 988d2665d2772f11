//! `ASSAFE_OPTIONS`: sanitizer-style `key=value` pairs separated by `:`.
//!
//! Every option is one line of the [`options!`] invocation below, the single source of its name,
//! type, default, help text and parser: the macro generates the [`Options`] struct, its
//! `defaults()`, the key lookup of [`parse`] and the `help=1` text (as compiler-rt's
//! `sanitizer_flags.inc` does). Removing or renaming an option is a change to that one line.
//!
//! Parsed once, at load, from a copy of the environment string (programs may overwrite `environ`
//! later, e.g. sshd's setproctitle). A malformed string never harms the host: every bad item
//! keeps that option's default, and the whole string gets exactly one warning line on stderr.

use super::Buf;

pub const PATH_MAX: usize = 1024;

/// A value an option can hold: how it is parsed, and how its default is shown by `help=1`.
pub trait Value: Sized {
    fn parse(v: &[u8]) -> Result<Self, &'static str>;
    /// The value as `help=1` shows a default (empty: "none").
    fn show(&self, b: &mut Buf);
}

impl Value for bool {
    fn parse(v: &[u8]) -> Result<bool, &'static str> {
        match v {
            b"1" | b"true" | b"yes" => Ok(true),
            b"0" | b"false" | b"no" => Ok(false),
            _ => Err("expects 0 or 1"),
        }
    }
    fn show(&self, b: &mut Buf) {
        b.s(if *self { "1" } else { "0" });
    }
}

impl Value for u32 {
    fn parse(v: &[u8]) -> Result<u32, &'static str> {
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
    fn show(&self, b: &mut Buf) {
        b.u(*self as u64);
    }
}

/// Declares an enum option value: its variants and the words that name them.
macro_rules! words {
    ($(#[$m:meta])* $name:ident, $err:literal { $($variant:ident = $n:literal, $word:literal;)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub enum $name {
            $($variant = $n,)*
        }
        impl $name {
            pub fn word(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)*
                }
            }
        }
        impl Value for $name {
            fn parse(v: &[u8]) -> Result<$name, &'static str> {
                $(if v == $word.as_bytes() {
                    return Ok($name::$variant);
                })*
                Err($err)
            }
            fn show(&self, b: &mut Buf) {
                b.s(self.word());
            }
        }
    };
}

words!(
    /// Which verdict column of symbols.txt decides what is unsafe.
    SafeList, "expects posix, glibc or strict" {
        Posix = 0, "posix";
        Glibc = 1, "glibc";
        Strict = 2, "strict";
    }
);

words!(
    /// How records are written.
    LogFormat, "expects text or json" {
        Text = 0, "text";
        Json = 1, "json";
    }
);

/// A file path option, NUL-terminated in `buf`; empty means unset.
#[derive(Clone)]
pub struct Path {
    pub buf: [u8; PATH_MAX],
    pub len: usize,
}

impl Path {
    pub const EMPTY: Path = Path {
        buf: [0; PATH_MAX],
        len: 0,
    };

    /// The path without NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Value for Path {
    fn parse(v: &[u8]) -> Result<Path, &'static str> {
        if v.is_empty() {
            return Err("expects a path");
        }
        if v.len() >= PATH_MAX - 32 {
            return Err("path too long");
        }
        if v.contains(&0) {
            return Err("path contains NUL");
        }
        let mut p = Path::EMPTY;
        p.buf[..v.len()].copy_from_slice(v);
        p.len = v.len();
        Ok(p)
    }
    fn show(&self, b: &mut Buf) {
        b.bytes(self.as_bytes());
    }
}

/// `log_path`: a [`Path`] where the word `stderr` (the default) means "no file".
#[derive(Clone)]
pub struct LogPath(pub Path);

impl Value for LogPath {
    fn parse(v: &[u8]) -> Result<LogPath, &'static str> {
        if v == b"stderr" {
            return Ok(LogPath(Path::EMPTY));
        }
        Path::parse(v).map(LogPath)
    }
    fn show(&self, b: &mut Buf) {
        if self.0.len == 0 {
            b.s("stderr");
        } else {
            self.0.show(b);
        }
    }
}

/// Generates [`Options`], `Options::defaults`, the setter table [`parse`] uses and [`help`].
macro_rules! options {
    ($($name:ident: $ty:ty = $default:expr, $help:literal;)*) => {
        pub struct Options {
            $(#[doc = $help] pub $name: $ty,)*
            /// The raw option string as given (for re-adding at exec), NUL-terminated.
            pub raw: [u8; 4096],
            pub raw_len: usize,
        }

        impl Options {
            pub const fn defaults() -> Options {
                Options {
                    $($name: $default,)*
                    raw: [0; 4096],
                    raw_len: 0,
                }
            }
        }

        /// One row per option: its key, help text, and how to set it / show its default.
        static SPECS: &[Spec] = &[
            $(Spec {
                name: stringify!($name),
                help: $help,
                set: |o, v| <$ty as Value>::parse(v).map(|x| o.$name = x),
                show_default: |b| <$ty as Value>::show(&$default, b),
            },)*
        ];
    };
}

options! {
    strict: bool = false, "treat every fork as if the parent were multi-threaded";
    log_path: LogPath = LogPath(Path::EMPTY), "write reports to PATH.<pid> (opened at each report) instead of stderr";
    log_format: LogFormat = LogFormat::Text, "text (sanitizer-style blocks) or json (one object per line)";
    halt_on_error: bool = false, "abort the process after the first report";
    verbosity: u32 = 0, "0 quiet, 1 say when the library loads, 2 also note every fork child and whether it is checked (vfork children are always checked, and not noted)";
    help: bool = false, "print the options with their defaults and continue";
    follow_exec: bool = true, "re-add LD_PRELOAD and ASSAFE_OPTIONS when a program execs with an environment that dropped them";
    safe_list: SafeList = SafeList::Glibc, "which verdict decides what is unsafe: glibc (glibc 2.36 manual + assafe judgement), posix (POSIX.1-2024 list), strict (unsafe under either)";
    report_signal_unsafe: bool = true, "report unsafe calls inside signal handlers";
    report_errno_spoil: bool = true, "report signal handlers that return with errno changed";
    report_sync_faults: bool = false, "report unsafe calls in handlers for a synchronous fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP) at an instruction outside libc and every unsafe function, which cannot have interrupted one";
    suppressions: Path = Path::EMPTY, "file of context:pattern lines; matching reports are not written";
    report_fd_leak: bool = true, "process hygiene: report the pipes and the unix-domain or listening sockets that an ancestor made without close-on-exec before the fork and an exec'd program inherits, with the call that made each (fd-leak)";
    fd_leak_all: bool = false, "process hygiene: fd-leak also reports files, connected network sockets and other fds (opt-in: shells hand them on by design, exec 3>log, exec 3<>/dev/tcp/...)";
    report_exit_in_child: bool = true, "process hygiene: report exit() in a fork child that did not exec while it holds stdio output inherited from the parent or runs exit handlers the parent's code registered (exit-in-child)";
    report_child_returned: bool = false, "process hygiene: report a fork child that returns from the function that called fork (child-returned; opt-in: shells and interpreters fork in a function that returns in the child by design)";
    report_nested_fork: bool = true, "process hygiene: report a fork child that forks again, before exec, from the forking function (nested-fork)";
    report_zombies: bool = true, "process hygiene: report children that exited and were never waited for (zombie)";
    zombie_limit: u32 = 16, "process hygiene: also report zombies while the process runs, once it has more than this many";
    report_signal_portability: bool = false, "process hygiene: report signal()/sysv_signal()/bsd_signal()/sigset() installing a handler function (signal-portability; opt-in: glibc's signal() has well-defined BSD semantics, and git uses it)";
    report_atfork_child: bool = true, "process hygiene: check pthread_atfork child handlers as fork-child code (atfork-child)";
}

impl Options {
    /// `log_path` without NUL; empty means stderr.
    pub fn log_path(&self) -> &[u8] {
        self.log_path.0.as_bytes()
    }

    pub fn json(&self) -> bool {
        self.log_format == LogFormat::Json
    }
}

type Setter = fn(&mut Options, &[u8]) -> Result<(), &'static str>;

struct Spec {
    name: &'static str,
    help: &'static str,
    set: Setter,
    show_default: fn(&mut Buf),
}

/// The option keys, in table order.
pub fn names() -> impl Iterator<Item = &'static str> {
    SPECS.iter().map(|s| s.name)
}

/// What went wrong while parsing, for the single warning line.
pub struct Problems {
    pub count: u32,
    pub first_what: &'static str,
    pub first_item: [u8; 64],
    pub first_item_len: usize,
}

impl Problems {
    /// No problem (an empty option string).
    pub const fn none() -> Problems {
        Problems {
            count: 0,
            first_what: "",
            first_item: [0; 64],
            first_item_len: 0,
        }
    }

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
    let mut p = Problems::none();
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
        let at = b.len();
        (sp.show_default)(b);
        if b.len() == at {
            b.s("none");
        }
        b.s(")\n        ");
        b.s(sp.help);
        b.s("\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> (Box<Options>, u32) {
        let mut o = Box::new(Options::defaults());
        let p = parse(&mut o, s.as_bytes());
        (o, p.count)
    }

    #[test]
    fn defaults() {
        let o = Options::defaults();
        assert!(!o.strict && !o.json() && o.follow_exec && o.report_signal_unsafe);
        assert_eq!(o.safe_list, SafeList::Glibc);
        assert_eq!(o.log_path(), b"");
        assert_eq!(o.suppressions.as_bytes(), b"");
    }

    #[test]
    fn well_formed_items_set_their_option() {
        let (o, n) =
            parsed(" strict=1 : log_format=json:verbosity=2:safe_list=posix:log_path=/tmp/l");
        assert_eq!(n, 0);
        assert!(o.strict && o.json());
        assert_eq!(o.verbosity, 2);
        assert_eq!(o.safe_list, SafeList::Posix);
        assert_eq!(o.log_path(), b"/tmp/l");
        let (o, _) = parsed("log_path=/tmp/l:log_path=stderr");
        assert_eq!(o.log_path(), b"");
    }

    #[test]
    fn bad_items_keep_defaults_and_are_counted() {
        let (o, n) = parsed("strict=2:nope=1:verbosity=x:follow_exec:safe_list=Glibc");
        assert_eq!(n, 5);
        assert!(!o.strict && o.follow_exec);
        assert_eq!(o.safe_list, SafeList::Glibc);
    }

    #[test]
    fn warning_names_the_first_problem() {
        let mut o = Box::new(Options::defaults());
        let p = parse(&mut o, b"x=1:y=2");
        let mut mem = [0u8; 256];
        let mut b = Buf::new(&mut mem);
        warning(&p, &mut b);
        assert_eq!(
            core::str::from_utf8(b.as_bytes()).unwrap(),
            "ASSAFE_OPTIONS: unknown option 'x' (and 1 more problems); bad items keep their \
             defaults (ASSAFE_OPTIONS=help=1 lists the options)"
        );
    }

    #[test]
    fn help_lists_every_option_with_its_default() {
        let mut mem = [0u8; 4096];
        let mut b = Buf::new(&mut mem);
        help(&mut b);
        let h = core::str::from_utf8(b.as_bytes()).unwrap();
        for name in names() {
            assert!(h.contains(&format!("    {name} (default: ")), "{name}");
        }
        for d in [
            "strict (default: 0)",
            "log_path (default: stderr)",
            "log_format (default: text)",
            "verbosity (default: 0)",
            "follow_exec (default: 1)",
            "safe_list (default: glibc)",
            "suppressions (default: none)",
        ] {
            assert!(h.contains(d), "{d} in {h}");
        }
    }
}
