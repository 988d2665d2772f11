//! Property test of the `ASSAFE_OPTIONS` parser: the library's own `pure/src/options.rs` and
//! `pure/src/fmt.rs` (no_std, no alloc) are compiled into this test crate and run on 200 000 generated
//! option strings (a grammar of keys, values and separators mixed with random bytes), checked
//! against an independent model of the documented behaviour:
//!
//! * no panic;
//! * the result is the defaults plus exactly the well-formed assignments, in order (last wins);
//! * the problem count is the number of malformed items (so zero exactly when every item is
//!   well-formed), and a string that does not fit the 4095-byte raw copy is one problem and is
//!   ignored entirely;
//! * `warning()` formats one printable line (no `\n`), empty exactly when there is no problem.
//!
//! The generator is a fixed-seed xorshift64*, so a failure is reproducible; set
//! `ASSAFE_FUZZ_CASES` / `ASSAFE_FUZZ_SEED` to run more cases or another sequence.
#![allow(clippy::explicit_auto_deref)] // `*r.pick(..)` names the slice type the picker returns

#[allow(dead_code)]
#[path = "../pure/src/fmt.rs"]
mod fmt;
#[allow(dead_code)]
#[path = "../pure/src/options.rs"]
mod options;

use fmt::Buf;

use options::{Options, PATH_MAX, SafeList};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

const KEYS: &[&str] = &[
    "strict",
    "log_path",
    "log_format",
    "halt_on_error",
    "verbosity",
    "help",
    "follow_exec",
    "safe_list",
    "report_signal_unsafe",
    "report_errno_spoil",
    "report_sync_faults",
    "suppressions",
    "report_fd_leak",
    "fd_leak_all",
    "report_exit_in_child",
    "report_child_returned",
    "report_nested_fork",
    "report_zombies",
    "report_signal_portability",
    "report_atfork_child",
    "zombie_limit",
];

const BOOL_KEYS: &[&str] = &[
    "strict",
    "halt_on_error",
    "help",
    "follow_exec",
    "report_signal_unsafe",
    "report_errno_spoil",
    "report_sync_faults",
    "report_fd_leak",
    "fd_leak_all",
    "report_exit_in_child",
    "report_child_returned",
    "report_nested_fork",
    "report_zombies",
    "report_signal_portability",
    "report_atfork_child",
];

/// Random bytes, biased towards the ones that matter to the parser.
fn random_bytes(r: &mut Rng, max: u64) -> Vec<u8> {
    let n = r.below(max + 1) as usize;
    (0..n)
        .map(|_| match r.below(10) {
            0 => b':',
            1 => b'=',
            2 => *r.pick(&[b' ', b'\t', b'\n', b'\r', 0x0b, 0x0c]),
            3 => *r.pick(&[0u8, 0x7f, 0x80, 0xc3, 0xff, 0xfe, b'\\', b'"', b'\'']),
            4..=6 => b'a' + r.below(26) as u8,
            7 => b'0' + r.below(10) as u8,
            _ => r.below(256) as u8,
        })
        .collect()
}

fn value_for(r: &mut Rng, key: &str) -> Vec<u8> {
    let good: &[&str] = match key {
        k if BOOL_KEYS.contains(&k) => &["0", "1", "true", "false", "yes", "no"],
        "verbosity" => &["0", "1", "2", "123456789", "000000000", "7"],
        "log_format" => &["text", "json"],
        "safe_list" => &["posix", "glibc", "strict"],
        "log_path" => &["stderr", "/tmp/x/log", "rel/log", "a"],
        _ => &["/tmp/supp.txt", "x", "stderr"],
    };
    let bad: &[&str] = &[
        "",
        "2",
        "TRUE",
        "on",
        " 1",
        "1 ",
        "-1",
        "1234567890",
        "0x1",
        "Json",
        "posixx",
        "1=1",
    ];
    match r.below(8) {
        0..=3 => r.pick(good).as_bytes().to_vec(),
        4 => r.pick(bad).as_bytes().to_vec(),
        5 => {
            // A path of a length around the limit.
            let len = *r.pick(&[PATH_MAX - 33, PATH_MAX - 32, PATH_MAX - 31, 5000, 1, 900]);
            let mut v = vec![b'p'; len];
            if r.chance(3) {
                v[len / 2] = 0;
            }
            v
        }
        _ => random_bytes(r, 12),
    }
}

/// One item of the grammar (without the separator).
fn item(r: &mut Rng) -> Vec<u8> {
    let mut v = Vec::new();
    if r.chance(6) {
        v.extend_from_slice(*r.pick(&[&b" "[..], b"\t", b"\n", b"  \r"]));
    }
    match r.below(12) {
        0..=5 => {
            let k = *r.pick(KEYS);
            v.extend_from_slice(k.as_bytes());
            v.push(b'=');
            v.extend(value_for(r, k));
        }
        6 => {
            v.extend_from_slice(*r.pick(&[&b"stric"[..], b"STRICT", b"log-path", b"", b"x"]));
            v.push(b'=');
            v.extend(random_bytes(r, 6));
        }
        7 => v.extend_from_slice(r.pick(KEYS).as_bytes()), // no '='
        8 => {}                                            // empty
        9 => v.extend_from_slice(*r.pick(&[&b"="[..], b"==", b"=1", b"strict==1", b"help=1=1"])),
        _ => v.extend(random_bytes(r, 24)),
    }
    if r.chance(6) {
        v.extend_from_slice(*r.pick(&[&b" "[..], b"\t", b"\n", b"\x0c"]));
    }
    v
}

fn generate(r: &mut Rng) -> Vec<u8> {
    if r.chance(50) {
        // Pure noise, sometimes huge.
        let max = if r.chance(4) { 9000 } else { 64 };
        return random_bytes(r, max);
    }
    let items = r.below(8) as usize;
    let mut s = Vec::new();
    for i in 0..items {
        if i > 0 || r.chance(8) {
            s.extend_from_slice(*r.pick(&[&b":"[..], b":", b":", b"::", b":::"]));
        }
        s.extend(item(r));
    }
    if r.chance(8) {
        s.push(b':');
    }
    if r.chance(100) {
        // Around the 4095-byte raw copy limit.
        let target = *r.pick(&[4094usize, 4095, 4096, 4097, 100 * 1024]);
        if s.len() < target {
            s.push(b':');
            while s.len() < target - 1 {
                s.push(b'x');
            }
            s.push(b'=');
            s.truncate(target);
        }
    }
    s
}

/// The documented behaviour, implemented independently: (expected options, expected problems).
#[derive(Debug, PartialEq)]
struct Model {
    strict: bool,
    json: bool,
    halt_on_error: bool,
    verbosity: u32,
    help: bool,
    follow_exec: bool,
    safe_list: u8,
    report_signal_unsafe: bool,
    report_errno_spoil: bool,
    report_sync_faults: bool,
    report_fd_leak: bool,
    fd_leak_all: bool,
    report_exit_in_child: bool,
    report_child_returned: bool,
    report_nested_fork: bool,
    report_zombies: bool,
    report_signal_portability: bool,
    report_atfork_child: bool,
    zombie_limit: u32,
    log_path: Vec<u8>,
    suppressions: Vec<u8>,
}

/// The defaults as `help=1` documents them (the options table is their one source), read through
/// the model's own value rules.
fn defaults() -> Model {
    let mut m = Model {
        strict: false,
        json: false,
        halt_on_error: false,
        verbosity: 0,
        help: false,
        follow_exec: false,
        safe_list: u8::MAX,
        report_signal_unsafe: false,
        report_errno_spoil: false,
        report_sync_faults: true,
        report_fd_leak: false,
        fd_leak_all: true,
        report_exit_in_child: false,
        report_child_returned: false,
        report_nested_fork: false,
        report_zombies: false,
        report_signal_portability: false,
        report_atfork_child: false,
        zombie_limit: u32::MAX,
        log_path: Vec::new(),
        suppressions: Vec::new(),
    };
    let mut mem = vec![0u8; 8192];
    let mut b = Buf::new(&mut mem);
    options::help(&mut b);
    let help = String::from_utf8(b.as_bytes().to_vec()).unwrap();
    let mut n = 0;
    for line in help.lines() {
        let Some((name, rest)) = line.trim().split_once(" (default: ") else {
            continue;
        };
        let value = rest.strip_suffix(')').unwrap();
        n += 1;
        if value != "none" {
            assert!(
                apply(&mut m, name.as_bytes(), value.as_bytes()),
                "help=1 default {name}={value}"
            );
        }
    }
    assert_eq!(n, KEYS.len(), "help=1 lists every option:\n{help}");
    assert_ne!(m.safe_list, u8::MAX, "help=1 gives safe_list a default");
    m
}

fn from_options(o: &Options) -> Model {
    Model {
        strict: o.strict,
        json: o.json(),
        halt_on_error: o.halt_on_error,
        verbosity: o.verbosity,
        help: o.help,
        follow_exec: o.follow_exec,
        safe_list: o.safe_list as u8,
        report_signal_unsafe: o.report_signal_unsafe,
        report_errno_spoil: o.report_errno_spoil,
        report_sync_faults: o.report_sync_faults,
        report_fd_leak: o.report_fd_leak,
        fd_leak_all: o.fd_leak_all,
        report_exit_in_child: o.report_exit_in_child,
        report_child_returned: o.report_child_returned,
        report_nested_fork: o.report_nested_fork,
        report_zombies: o.report_zombies,
        report_signal_portability: o.report_signal_portability,
        report_atfork_child: o.report_atfork_child,
        zombie_limit: o.zombie_limit,
        log_path: o.log_path().to_vec(),
        suppressions: o.suppressions.as_bytes().to_vec(),
    }
}

fn model(s: &[u8]) -> (Model, u32) {
    let mut m = defaults();
    if s.len() > 4095 {
        return (m, 1);
    }
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0c | b'\r');
    let mut problems = 0;
    for raw in s.split(|&c| c == b':') {
        let start = raw.iter().position(|c| !ws(c)).unwrap_or(raw.len());
        let end = raw.iter().rposition(|c| !ws(c)).map_or(start, |e| e + 1);
        let it = &raw[start..end.max(start)];
        if it.is_empty() {
            continue;
        }
        let Some(eq) = it.iter().position(|&c| c == b'=') else {
            problems += 1;
            continue;
        };
        let (k, v) = (&it[..eq], &it[eq + 1..]);
        let ok = apply(&mut m, k, v);
        if !ok {
            problems += 1;
        }
    }
    (m, problems)
}

/// Applies one well-formed `key=value` to the model; false if the item is a problem.
fn apply(m: &mut Model, k: &[u8], v: &[u8]) -> bool {
    let b = match v {
        b"1" | b"true" | b"yes" => Some(true),
        b"0" | b"false" | b"no" => Some(false),
        _ => None,
    };
    let path_ok = !v.is_empty() && v.len() < PATH_MAX - 32 && !v.contains(&0);
    match k {
        b"strict" => b.map(|b| m.strict = b).is_some(),
        b"halt_on_error" => b.map(|b| m.halt_on_error = b).is_some(),
        b"help" => b.map(|b| m.help = b).is_some(),
        b"follow_exec" => b.map(|b| m.follow_exec = b).is_some(),
        b"report_signal_unsafe" => b.map(|b| m.report_signal_unsafe = b).is_some(),
        b"report_errno_spoil" => b.map(|b| m.report_errno_spoil = b).is_some(),
        b"report_sync_faults" => b.map(|b| m.report_sync_faults = b).is_some(),
        b"report_fd_leak" => b.map(|b| m.report_fd_leak = b).is_some(),
        b"fd_leak_all" => b.map(|b| m.fd_leak_all = b).is_some(),
        b"report_exit_in_child" => b.map(|b| m.report_exit_in_child = b).is_some(),
        b"report_child_returned" => b.map(|b| m.report_child_returned = b).is_some(),
        b"report_nested_fork" => b.map(|b| m.report_nested_fork = b).is_some(),
        b"report_zombies" => b.map(|b| m.report_zombies = b).is_some(),
        b"report_signal_portability" => b.map(|b| m.report_signal_portability = b).is_some(),
        b"report_atfork_child" => b.map(|b| m.report_atfork_child = b).is_some(),
        b"zombie_limit" => {
            let ok = !v.is_empty() && v.len() <= 9 && v.iter().all(u8::is_ascii_digit);
            if ok {
                m.zombie_limit = std::str::from_utf8(v).unwrap().parse().unwrap();
            }
            ok
        }
        b"verbosity" => {
            let ok = !v.is_empty() && v.len() <= 9 && v.iter().all(u8::is_ascii_digit);
            if ok {
                m.verbosity = std::str::from_utf8(v).unwrap().parse().unwrap();
            }
            ok
        }
        b"log_format" => match v {
            b"text" => {
                m.json = false;
                true
            }
            b"json" => {
                m.json = true;
                true
            }
            _ => false,
        },
        b"safe_list" => match v {
            b"posix" => {
                m.safe_list = SafeList::Posix as u8;
                true
            }
            b"glibc" => {
                m.safe_list = SafeList::Glibc as u8;
                true
            }
            b"strict" => {
                m.safe_list = SafeList::Strict as u8;
                true
            }
            _ => false,
        },
        b"log_path" if v == b"stderr" => {
            m.log_path.clear();
            true
        }
        b"log_path" => {
            if path_ok {
                m.log_path = v.to_vec();
            }
            path_ok
        }
        b"suppressions" => {
            if path_ok {
                m.suppressions = v.to_vec();
            }
            path_ok
        }
        _ => false,
    }
}

fn check(s: &[u8], stats: &mut [u64; 3]) {
    let mut o = Box::new(Options::defaults());
    let p = options::parse(&mut o, s);
    let (want, want_problems) = model(s);
    let got = from_options(&o);
    assert_eq!(
        (&got, p.count),
        (&want, want_problems),
        "parse result differs from the model for {:?}",
        String::from_utf8_lossy(s)
    );
    if s.len() <= 4095 {
        assert_eq!(&o.raw[..o.raw_len], s, "raw copy");
        assert_eq!(o.raw[o.raw_len], 0, "raw copy is NUL-terminated");
    } else {
        assert_eq!(o.raw_len, 0, "an over-long string is ignored entirely");
    }
    // The warning line, in a buffer the size report.rs uses.
    let mut mem = [0u8; 512];
    let mut b = fmt::Buf::new(&mut mem);
    options::warning(&p, &mut b);
    let w = b.as_bytes();
    if p.count == 0 {
        assert!(w.is_empty(), "warning without a problem: {w:?}");
        stats[0] += 1;
    } else {
        stats[1] += 1;
        assert!(
            w.starts_with(b"ASSAFE_OPTIONS: "),
            "{:?}",
            String::from_utf8_lossy(w)
        );
        assert!(
            w.iter().all(|&c| (0x20..0x7f).contains(&c)),
            "warning must be one printable line: {:?}",
            String::from_utf8_lossy(w)
        );
        if w.len() < 512 {
            let text = String::from_utf8_lossy(w);
            if p.count > 1 {
                assert!(
                    text.contains(&format!("(and {} more problems)", p.count - 1)),
                    "{text}"
                );
            } else {
                assert!(!text.contains("more problems"), "{text}");
            }
        }
    }
    if s.len() > 4095 {
        stats[2] += 1;
    }
}

#[test]
fn options_parser_matches_the_model() {
    let cases: u64 = std::env::var("ASSAFE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let seed: u64 = std::env::var("ASSAFE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    // Hand-picked strings first (the ones tests/reliability.rs also runs on a real program).
    let fixed: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"=".to_vec(),
        b":::".to_vec(),
        b"strict=0:strict=1".to_vec(),
        b"foo=1:bar".to_vec(),
        b"log_path=".to_vec(),
        [b"log_path=".to_vec(), vec![b'a'; 5000]].concat(),
        b"strict=1\nlog_format=json".to_vec(),
        b"x\xff\xfe=1".to_vec(),
        vec![b'a'; 100 * 1024],
        b" strict=1 : log_format=json ".to_vec(),
        b"log_path=stderr".to_vec(),
        b"log_path=a\0b".to_vec(),
    ];
    let mut stats = [0u64; 3];
    for s in &fixed {
        check(s, &mut stats);
    }
    let mut r = Rng(seed | 1);
    for _ in 0..cases {
        let s = generate(&mut r);
        check(&s, &mut stats);
    }
    let total = cases + fixed.len() as u64;
    println!(
        "options fuzz: {total} cases (seed {seed:#x}): {} without problems, {} with problems, {} over-long",
        stats[0], stats[1], stats[2]
    );
    // The generator must exercise both sides (a test that cannot fail is a defect).
    assert!(
        stats[0] > total / 20 && stats[1] > total / 20,
        "skewed generator: {stats:?}"
    );
    assert!(stats[2] > 0, "no over-long strings generated");
}
