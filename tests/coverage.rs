//! Coverage of symbols.txt by the built library: every interposed row has a stub (and no safe row
//! has one), every reason class is reported in the child of a multi-threaded fork, musl's survey
//! of libc-internal locks, variadic argument passing, old symbol versions, asynchronous
//! cancellation and the `safe_list` option. The C programs are tests/c/cov_*.c.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use assafe_tests::*;

/// The one parser of symbols.txt, shared with build.rs.
#[path = "../build/symbols_txt.rs"]
mod symbols_txt;

use symbols_txt::Row as Sym;

trait Verdict {
    /// Is the function unsafe under `safe_list` (`posix`, `glibc` or `strict`)?
    fn unsafe_under(&self, safe_list: &str) -> bool;
}

impl Verdict for Sym {
    fn unsafe_under(&self, safe_list: &str) -> bool {
        match safe_list {
            "posix" => self.posix_unsafe,
            "glibc" => self.glibc_unsafe,
            "strict" => self.posix_unsafe || self.glibc_unsafe,
            other => panic!("unknown safe_list {other}"),
        }
    }
}

/// symbols.txt, by name.
fn symbols() -> BTreeMap<String, Sym> {
    let path = repo_root().join("symbols.txt");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let rows = symbols_txt::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let out: BTreeMap<String, Sym> = rows.into_iter().map(|r| (r.name.clone(), r)).collect();
    assert!(out.len() > 1000, "symbols.txt has only {} rows", out.len());
    out
}

fn sym<'a>(syms: &'a BTreeMap<String, Sym>, name: &str) -> &'a Sym {
    syms.get(name)
        .unwrap_or_else(|| panic!("{name} is not in symbols.txt"))
}

/// Defined dynamic symbols of `file`, without version suffixes.
fn defined_dynamic(file: &Path) -> BTreeSet<String> {
    nm(&["-D", "--defined-only"], file)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .map(|s| s.split('@').next().unwrap().to_string())
        .collect()
}

/// Undefined dynamic references of `file`, with their version (`memcpy@GLIBC_2.2.5`).
fn undefined_versioned(file: &Path) -> BTreeSet<String> {
    nm(&["-D", "--undefined-only"], file)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(str::to_string)
        .collect()
}

/// The undefined names (versions stripped) of `file`.
fn undefined_names(file: &Path) -> BTreeSet<String> {
    undefined_versioned(file)
        .iter()
        .map(|s| s.split('@').next().unwrap().to_string())
        .collect()
}

/// Every report's function is in symbols.txt, is interposed, and carries symbols.txt's reason.
fn check_reports_against_table(out: &Outcome, syms: &BTreeMap<String, Sym>) -> Vec<String> {
    let mut errs = Vec::new();
    for r in out.reports() {
        let f = s(&r["function"]);
        match syms.get(f) {
            None => errs.push(format!(
                "report for {f}, which symbols.txt does not list: {r}"
            )),
            Some(row) => {
                if !row.interposed() {
                    errs.push(format!(
                        "report for {f}, class {} (not interposed): {r}",
                        row.class
                    ));
                }
                if r["reason"] != row.reason.as_str() {
                    errs.push(format!(
                        "report for {f} has reason {}, symbols.txt says {}",
                        r["reason"], row.reason
                    ));
                }
            }
        }
    }
    errs
}

/// The module of a report's innermost frame (the caller of the interposed function).
fn site_module(r: &Value) -> &str {
    s(&r["stack"][0]["module"])
}

// ---------------------------------------------------------------------------------------------
// 1. Stubs exactly for the interposed rows.

/// The functions `file` exports at a default version (`name@@VERSION`), versions stripped.
fn default_exports(file: &Path) -> BTreeSet<String> {
    nm(&["-D", "--defined-only"], file)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|s| s.contains("@@"))
        .map(|s| s.split('@').next().unwrap().to_string())
        .collect()
}

#[test]
fn library_exports_a_stub_for_every_interposed_row_and_none_for_safe_rows() {
    let syms = symbols();
    let lib = library();
    let exported = defined_dynamic(&lib);
    // The build's export filter: a stub exactly for the interposed rows this libc exports.
    let host = default_exports(Path::new("/lib/x86_64-linux-gnu/libc.so.6"));

    let missing: Vec<&String> = syms
        .iter()
        .filter(|(n, r)| r.interposed() && host.contains(*n) && !exported.contains(*n))
        .map(|(n, _)| n)
        .collect();
    assert!(
        missing.is_empty(),
        "interposed rows of symbols.txt that libc.so.6 exports without a stub in {} ({}): {missing:?}",
        lib.display(),
        missing.len()
    );
    let not_in_libc: Vec<&String> = syms
        .iter()
        .filter(|(n, r)| r.interposed() && !host.contains(*n) && exported.contains(*n))
        .map(|(n, _)| n)
        .collect();
    assert!(
        not_in_libc.is_empty(),
        "stubs for names this libc.so.6 does not export (weak references and dlsym would find \
         a function the libc lacks): {not_in_libc:?}"
    );
    for absent in ["__isoc23_sscanf", "free_sized", "atexit"] {
        assert!(
            !exported.contains(absent),
            "{absent}: not exported by glibc 2.36, so no stub"
        );
    }

    let safe: Vec<&String> = syms
        .iter()
        .filter(|(n, r)| r.class == "safe" && exported.contains(*n))
        .map(|(n, _)| n)
        .collect();
    assert!(
        safe.is_empty(),
        "class-safe functions must not be interposed (no stub, no cost), but the library exports \
         {}: {safe:?}",
        safe.len()
    );

    let skip: Vec<&String> = syms
        .iter()
        .filter(|(n, r)| r.class == "skip" && exported.contains(*n))
        .map(|(n, _)| n)
        .collect();
    assert!(
        skip.is_empty(),
        "class-skip functions must not be interposed: {skip:?}"
    );

    // Anything else the library exports must not be a libc function either (e.g. a compat-only
    // name symbols.txt does not list), or it would silently interpose it.
    let libc = defined_dynamic(Path::new("/lib/x86_64-linux-gnu/libc.so.6"));
    let extra_libc: Vec<&String> = exported
        .iter()
        .filter(|n| !syms.contains_key(*n) && libc.contains(*n))
        .collect();
    assert!(
        extra_libc.is_empty(),
        "the library exports libc names symbols.txt does not list: {extra_libc:?}"
    );

    let interposed = syms.values().filter(|r| r.interposed()).count();
    assert!(interposed > 500, "only {interposed} interposed rows?");
}

// ---------------------------------------------------------------------------------------------
// 2. One representative per reason class, called in the child of a multi-threaded fork.

/// reason -> a function of that reason that tests/c/cov_call.c can call in a fork child.
const REPRESENTATIVES: &[(&str, &str)] = &[
    ("heap", "malloc"),
    ("lock", "pthread_mutex_lock"),
    ("stdio", "fputs"),
    ("format", "snprintf"),
    ("syslog", "syslog"),
    ("env", "getenv"),
    ("tz", "localtime"),
    ("dl", "dlerror"),
    ("nss", "getpwuid"),
    ("locale", "setlocale"),
    ("i18n", "gettext"),
    ("atexit", "on_exit"),
    ("random", "random"),
    ("dir", "opendir"),
    ("thread", "pthread_create"),
    ("fork", "fork"),
    ("corrupt", "l64a"),
    // Reasons whose interposed rows are unsafe only under the POSIX verdict.
    ("signal", "sysv_signal"),
    ("exec", "execvp"),
    ("syscall", "execveat"),
    ("pure", "pthread_mutex_init"),
];

/// Runs cov_call once per (reason, function) in the child of a multi-threaded fork, with the
/// glibc verdict (the default) when it calls the function unsafe, else `safe_list=posix`, and
/// returns what went wrong.
fn run_representatives(
    env: &Env,
    prog: &Path,
    syms: &BTreeMap<String, Sym>,
    reps: &[(&str, &str)],
) -> Vec<String> {
    let refs = undefined_names(prog);
    let mut errs = Vec::new();
    for (reason, f) in reps {
        assert!(
            refs.contains(*f),
            "cov_call does not reference {f} itself (the compiler renamed it?): {refs:?}"
        );
        let row = sym(syms, f);
        // The default verdict (glibc) when it calls the function unsafe, else the POSIX one.
        let options = if row.glibc_unsafe {
            ""
        } else {
            "safe_list=posix"
        };
        let out = env.run(&[prog.as_os_str(), f.as_ref()], true, options);
        let what = format!("{f} ({reason}, ASSAFE_OPTIONS+={options:?})");
        if !out.status.success() || out.stdout != "child: exit 0\n" || !out.bad_lines.is_empty() {
            errs.push(format!("{what}: program failed:\n{}", out.dump()));
            continue;
        }
        let reps = out.reports_for(f);
        match reps.as_slice() {
            [r] => {
                if r["context"] != "fork-child" || r["reason"] != *reason {
                    errs.push(format!("{what}: wrong context/reason: {r}"));
                }
                if !site_module(r).ends_with("/cov_call") {
                    errs.push(format!("{what}: call site not in the program: {r}"));
                }
                if r["parent_threads"].as_u64().unwrap_or(0) < 2 {
                    errs.push(format!("{what}: parent_threads < 2: {r}"));
                }
            }
            _ => errs.push(format!(
                "{what}: expected one report for {f}, got {}:\n{}",
                reps.len(),
                out.dump()
            )),
        }
        errs.extend(
            check_reports_against_table(&out, syms)
                .into_iter()
                .map(|e| format!("{what}: {e}")),
        );
    }
    errs
}

#[test]
fn every_reason_class_is_reported_in_a_multithreaded_fork_child() {
    let syms = symbols();
    // The reason classes of interposed rows that some verdict calls unsafe.
    let reasons: BTreeSet<&str> = syms
        .values()
        .filter(|r| r.interposed() && (r.posix_unsafe || r.glibc_unsafe))
        .map(|r| r.reason.as_str())
        .collect();
    let table: BTreeMap<&str, &str> = REPRESENTATIVES.iter().copied().collect();
    let uncovered: Vec<&&str> = reasons
        .iter()
        .filter(|r| !table.contains_key(**r))
        .collect();
    assert!(
        uncovered.is_empty(),
        "symbols.txt has interposed reason classes without a representative in \
         tests/coverage.rs REPRESENTATIVES (add one, and its call to tests/c/cov_call.c): \
         {uncovered:?}"
    );
    for (reason, f) in REPRESENTATIVES {
        let row = sym(&syms, f);
        assert!(
            row.interposed(),
            "representative {f} is not interposed ({row:?})"
        );
        assert_eq!(
            &row.reason, reason,
            "representative {f} has reason {} in symbols.txt, the table says {reason}",
            row.reason
        );
        assert!(
            reasons.contains(reason),
            "table entry {reason} is not a reason of any reportable interposed row"
        );
    }

    // The exec-class representatives are checked by
    // exec_family_rows_unsafe_under_posix_are_reported_with_safe_list_posix.
    let reps: Vec<(&str, &str)> = REPRESENTATIVES
        .iter()
        .copied()
        .filter(|(_, f)| sym(&syms, f).class != "exec")
        .collect();
    let env = Env::new("cov_reasons");
    let prog = env.compile_file("cov_call", &[]);
    let errs = run_representatives(&env, &prog, &syms, &reps);
    assert!(
        errs.is_empty(),
        "{} failures:\n{}",
        errs.len(),
        errs.join("\n\n")
    );

    // The child of a single-threaded parent is quiet for all of them (the table's calls are
    // harmless there), so the reports above came from the multi-threaded fork.
    let mut cmd: Vec<&str> = vec!["-st"];
    cmd.extend(
        REPRESENTATIVES
            .iter()
            .map(|(_, f)| *f)
            .filter(|f| !f.starts_with("exec")),
    );
    let mut full = vec![prog.as_os_str()];
    full.extend(cmd.iter().map(|a| std::ffi::OsStr::new(*a)));
    let out = env.run(&full, true, "safe_list=strict");
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n", "{}", out.dump());
    assert!(
        out.reports().is_empty(),
        "single-threaded fork: no reports\n{}",
        out.dump()
    );
}

/// exec-family rows that POSIX does not list (execvp: PATH search; execveat) have posix=unsafe in
/// symbols.txt, so with `safe_list=posix` a call in the child of a multi-threaded fork is reported
/// as the column says, like every other interposed row.
#[test]
fn exec_family_rows_unsafe_under_posix_are_reported_with_safe_list_posix() {
    let syms = symbols();
    let reps: Vec<(&str, &str)> = REPRESENTATIVES
        .iter()
        .copied()
        .filter(|(_, f)| sym(&syms, f).class == "exec")
        .collect();
    assert!(!reps.is_empty());
    for (_, f) in &reps {
        let r = sym(&syms, f);
        assert!(r.posix_unsafe && !r.glibc_unsafe, "{f}: {r:?}");
    }
    let env = Env::new("cov_reasons_exec");
    let prog = env.compile_file("cov_call", &[]);
    let errs = run_representatives(&env, &prog, &syms, &reps);
    assert!(
        errs.is_empty(),
        "{} failures:\n{}",
        errs.len(),
        errs.join("\n\n")
    );
    // With the default (glibc) verdict they are safe: no report.
    for (_, f) in &reps {
        let out = env.run(&[prog.as_os_str(), f.as_ref()], true, "");
        out.assert_ok();
        assert_eq!(out.stdout, "child: exit 0\n", "{}", out.dump());
        assert!(
            out.reports().is_empty(),
            "{f} is glibc-safe:\n{}",
            out.dump()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3. musl's survey of libc-internal locks that break a multi-threaded fork child.

#[test]
fn musl_survey_of_internal_locks_is_reported() {
    let syms = symbols();
    let env = Env::new("cov_musl");
    let prog = env.compile_file("cov_call", &[]);
    let refs = undefined_names(&prog);
    // What the program asks for -> the libc.so.6 symbol the binary actually references.
    // atexit and pthread_atfork come from libc_nonshared.a, which calls __cxa_atexit and
    // __register_atfork (libc.so.6 exports neither atexit nor pthread_atfork).
    let survey: &[(&str, &str)] = &[
        ("atexit", "__cxa_atexit"),
        ("dlerror", "dlerror"),
        ("gettext", "gettext"),
        ("malloc", "malloc"),
        ("pthread_atfork", "__register_atfork"),
        ("random", "random"),
        ("sem_open", "sem_open"),
        ("fopen", "fopen"),
        ("fclose", "fclose"),
        ("syslog", "syslog"),
        ("localtime", "localtime"),
        ("tzset", "tzset"),
    ];
    for (called, symbol) in survey {
        assert!(
            refs.contains(*symbol),
            "cov_call should reference {symbol} for {called}: {refs:?}"
        );
        if called != symbol {
            assert!(
                !refs.contains(*called),
                "cov_call references {called} itself; the test expected {symbol}"
            );
        }
        let row = sym(&syms, symbol);
        assert!(
            row.interposed() && row.glibc_unsafe,
            "{symbol} must be interposed and glibc-unsafe: {row:?}"
        );
    }
    let mut cmd = vec![prog.as_os_str()];
    cmd.extend(survey.iter().map(|(c, _)| std::ffi::OsStr::new(*c)));
    let out = env.run(&cmd, true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n", "{}", out.dump());
    for (called, symbol) in survey {
        let reps = out.reports_for(symbol);
        assert_eq!(
            reps.len(),
            1,
            "{called} (as {symbol}) in the child of a multi-threaded fork: one report expected\n{}",
            out.dump()
        );
        let r = reps[0];
        assert_eq!(r["context"], "fork-child", "{r}");
        assert_eq!(r["reason"], sym(&syms, symbol).reason.as_str(), "{r}");
        assert!(
            site_module(r).ends_with("/cov_call"),
            "site in the program: {r}"
        );
    }
    let errs = check_reports_against_table(&out, &syms);
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    env.assert_transparent(&cmd);
}

// ---------------------------------------------------------------------------------------------
// 4. Variadic calls: the stubs pass %al, stack arguments and vector registers through.

const VARIADIC_EXPECTED: &str = "\
A -7 1.500000 str 123456789012 2.250000 3 4 5 6 7.125000 8.500000 9.750000 10.062500 11.500000 12.250000 13.500000 -99999999999 z|
printf returned 131
snprintf 128 [B 1 -1.500000 s2 -5 10000000000.000000 10 20 30 40 0.500000 0.250000 0.125000 0.062500 3.000000 4.000000 -2.500000 0xbeef 0x1234]
snprintf short 21 [truncat]
sscanf 9: 1 2 3 4 5 6 7.500000 -8.250000 word
C 1 1.000000 2 2.000000 3 3.000000 4 4.000000 5 5.000000 6 6.000000 7 7.000000
dprintf returned 79
";

const VARIADIC_EXPECTED_TAIL: &str = "\
open mode 604
fcntl 0 1 dup>=50
ioctl 0 avail 5
E a1 a2 a3 a4 a5 a6 a7 a8 a9 a10 a11 a12
";

fn check_variadic_stdout(stdout: &str, what: &str) {
    assert!(
        stdout.starts_with(VARIADIC_EXPECTED),
        "{what}: variadic output differs:\n{stdout}"
    );
    assert!(
        stdout.contains("sem_open ok value 3\n") || stdout.contains("sem_open failed value -1\n"),
        "{what}: sem_open line:\n{stdout}"
    );
    assert!(
        stdout.contains(VARIADIC_EXPECTED_TAIL),
        "{what}: open/fcntl/ioctl/execl output differs:\n{stdout}"
    );
}

#[test]
fn variadic_calls_are_unchanged_in_normal_context() {
    let env = Env::new("cov_variadic_normal");
    let prog = env.compile_file("cov_variadic", &[]);
    let cmd = [prog.as_os_str(), "normal".as_ref()];
    let (with, _) = env.assert_transparent(&cmd);
    with.assert_ok();
    check_variadic_stdout(&with.stdout, "normal");
    assert_eq!(
        with.stderr, "cov_variadic: D 1 2.500000 three 4 5.500000 6 7 8 9 10.500000\n",
        "syslog's LOG_PERROR copy"
    );
    assert!(
        with.reports().is_empty(),
        "normal context: no reports\n{}",
        with.dump()
    );
}

#[test]
fn variadic_calls_are_unchanged_in_a_reported_fork_child() {
    let syms = symbols();
    let env = Env::new("cov_variadic_child");
    let prog = env.compile_file("cov_variadic", &[]);
    let cmd = [prog.as_os_str(), "child".as_ref()];
    let (with, _) = env.assert_transparent(&cmd);
    with.assert_ok();
    check_variadic_stdout(&with.stdout, "child");
    assert!(
        with.stdout.ends_with("\nchild: exit 0\n"),
        "{}",
        with.dump()
    );
    assert_eq!(
        with.stderr, "cov_variadic: D 1 2.500000 three 4 5.500000 6 7 8 9 10.500000\n",
        "syslog's LOG_PERROR copy"
    );
    // The calls really took the slow path (they were reported), the exec family did not.
    let refs = undefined_names(&prog);
    for f in ["printf", "snprintf", "dprintf", "syslog", "sem_open"] {
        assert!(refs.contains(f), "cov_variadic references {f}");
        let r = with.reports_for(f);
        assert_eq!(
            r.len().min(1),
            1,
            "{f} reported in the child:\n{}",
            with.dump()
        );
        assert_eq!(r[0]["context"], "fork-child");
    }
    let scanf = if refs.contains("__isoc99_sscanf") {
        "__isoc99_sscanf"
    } else {
        "sscanf"
    };
    assert!(
        !with.reports_for(scanf).is_empty(),
        "{scanf} reported:\n{}",
        with.dump()
    );
    assert!(
        with.reports_for("execl").is_empty(),
        "execl is safe:\n{}",
        with.dump()
    );
    assert!(
        with.summaries()
            .iter()
            .any(|e| e["event"] == "exec" && e["path"] == "/bin/echo"),
        "exec summary for /bin/echo:\n{}",
        with.dump()
    );
    let errs = check_reports_against_table(&with, &syms);
    assert!(errs.is_empty(), "{}", errs.join("\n"));

    // The child printed exactly what the normal run printed.
    let normal = env.run(&[prog.as_os_str(), "normal".as_ref()], true, "");
    assert_eq!(
        with.stdout,
        format!("{}child: exit 0\n", normal.stdout),
        "child output differs from the normal run's"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Old symbol versions.

#[test]
fn old_versions_of_skipped_names_reach_their_own_version() {
    let syms = symbols();
    for f in ["realpath", "pthread_cond_destroy"] {
        let row = sym(&syms, f);
        assert_eq!(
            (row.class.as_str(), row.reason.as_str()),
            ("skip", "versioned"),
            "{f}: {row:?}"
        );
    }
    // Interposed per version instead (build.rs PER_VERSION): each version's stub reaches that
    // same version, which the run below checks for the old ones (tests/versions.rs for more).
    for (f, class) in [
        ("pthread_cond_wait", "unsafe"),
        ("pthread_cond_signal", "unsafe"),
        ("pthread_cond_broadcast", "unsafe"),
        ("pthread_cond_init", "init"),
    ] {
        assert_eq!(sym(&syms, f).class, class, "{f}");
        let exports = nm(&["-D", "--defined-only"], &library());
        for v in ["@@GLIBC_2.3.2", "@GLIBC_2.2.5"] {
            assert!(
                exports.lines().any(|l| l.ends_with(&format!(" {f}{v}"))),
                "the library exports {f}{v}"
            );
        }
    }
    assert_eq!(sym(&syms, "memcpy").class, "safe");
    let env = Env::new("cov_versions");
    let prog = env.compile_file("cov_versions", &[]);
    let refs = undefined_versioned(&prog);
    for v in [
        "realpath@GLIBC_2.2.5",
        "realpath@GLIBC_2.3",
        "memcpy@GLIBC_2.2.5",
        "pthread_cond_init@GLIBC_2.2.5",
        "pthread_cond_wait@GLIBC_2.2.5",
        "pthread_cond_signal@GLIBC_2.2.5",
        "pthread_cond_broadcast@GLIBC_2.2.5",
        "pthread_cond_destroy@GLIBC_2.2.5",
        "dlerror@GLIBC_2.2.5",
        "pthread_create@GLIBC_2.2.5",
    ] {
        assert!(
            refs.contains(v),
            "cov_versions must reference {v}: {refs:?}"
        );
    }
    let cmd = [prog.as_os_str(), "normal".as_ref()];
    let (with, _) = env.assert_transparent(&cmd);
    with.assert_ok();
    assert_eq!(
        with.stdout,
        "realpath@GLIBC_2.2.5(\"/\", NULL) = NULL errno=EINVAL\n\
         realpath@GLIBC_2.2.5(buf) = /proc/<pid>\n\
         realpath@@GLIBC_2.3(\"/\", NULL) = /\n\
         memcpy@GLIBC_2.2.5 overlap = 0120123456789abcdefghijklmnopqrstxyz\n\
         pthread_cond_*@GLIBC_2.2.5 rounds = 100 destroy = 0\n\
         dlerror@GLIBC_2.2.5 = NULL\n\
         pthread_create@GLIBC_2.2.5 = 0 ran = 1\n",
        "old versions under the preload:\n{}",
        with.dump()
    );
    assert!(with.reports().is_empty(), "{}", with.dump());
}

#[test]
fn old_versions_of_interposed_names_are_interposed() {
    // dlerror@GLIBC_2.2.5 and pthread_create@GLIBC_2.2.5 are the same code as the default
    // versions, so the unversioned stub serves references to either and the call is checked.
    let syms = symbols();
    let env = Env::new("cov_versions_child");
    let prog = env.compile_file("cov_versions", &[]);
    let refs = undefined_versioned(&prog);
    assert!(
        refs.contains("dlerror@GLIBC_2.2.5") && !refs.iter().any(|r| r.starts_with("dlerror@@"))
    );
    let cmd = [prog.as_os_str(), "child".as_ref()];
    let out = env.run(&cmd, true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n", "{}", out.dump());
    for f in ["dlerror", "pthread_create"] {
        let r = out.reports_for(f);
        assert_eq!(r.len(), 1, "{f}@GLIBC_2.2.5 reported once:\n{}", out.dump());
        assert_eq!(r[0]["context"], "fork-child");
        assert_eq!(r[0]["reason"], sym(&syms, f).reason.as_str());
        assert!(site_module(r[0]).ends_with("/cov_versions"), "{}", r[0]);
    }
    env.assert_transparent(&cmd);
}

// ---------------------------------------------------------------------------------------------
// 6. Asynchronous cancellation.

const ASYNC_CANCEL_STDOUT: &str = "result[0]=0\nresult[1]=0\nresult[2]=0\nresult[3]=0\n\
result[4]=0\nresult[5]=0\nhelper canceled\nallocated yes\n";

fn check_async_cancel(out: &Outcome) {
    out.assert_ok();
    assert_eq!(out.stdout, ASYNC_CANCEL_STDOUT, "{}", out.dump());
    let reps = out.reports();
    for r in &reps {
        assert!(
            !matches!(
                s(&r["function"]),
                "pthread_cancel" | "pthread_setcancelstate" | "pthread_setcanceltype"
            ),
            "POSIX allows this call with asynchronous cancellation: {r}"
        );
    }
    assert_eq!(
        reps.len(),
        1,
        "exactly one report (the malloc in the region; not the malloc after going back to \
         DEFERRED, nor calls libc or the loader make inside the allowed calls):\n{}",
        out.dump()
    );
    let r = reps[0];
    assert_eq!(r["context"], "async-cancel", "{r}");
    assert_eq!(r["function"], "malloc", "{r}");
    assert_eq!(r["reason"], "heap", "{r}");
    assert!(site_module(r).ends_with("/cov_async_cancel"), "{r}");
    assert_ne!(r["tid"], r["pid"], "reported on the worker thread: {r}");
}

#[test]
fn async_cancel_region_reports_unsafe_calls_only() {
    let env = Env::new("cov_async_cancel");
    let prog = env.compile_file("cov_async_cancel", &[]);
    let cmd = [prog.as_os_str(), "warm".as_ref()];
    let out = env.run(&cmd, true, "");
    check_async_cancel(&out);
    env.assert_transparent(&cmd);
}

/// The first pthread_cancel of the process dlopens libgcc_s: the loader's own malloc/calloc/free
/// calls happen inside an allowed call and are not the program's.
#[test]
fn async_cancel_first_pthread_cancel_does_not_report_loader_internals() {
    let env = Env::new("cov_async_cancel_cold");
    let prog = env.compile_file("cov_async_cancel", &[]);
    let out = env.run(&[&prog], true, "");
    check_async_cancel(&out);
}

// ---------------------------------------------------------------------------------------------
// 7. safe_list selects the verdict column.

#[test]
fn safe_list_follows_the_symbols_columns() {
    let syms = symbols();
    // posix unsafe / glibc safe: fileno, sysv_signal; posix safe / glibc unsafe: setuid, abort.
    let funcs = ["fileno", "sysv_signal", "setuid", "abort"];
    for f in funcs {
        let r = sym(&syms, f);
        assert!(r.interposed(), "{f} must be interposed: {r:?}");
        assert_ne!(
            r.posix_unsafe, r.glibc_unsafe,
            "{f}: the columns must differ: {r:?}"
        );
    }
    assert!(funcs.iter().any(|f| sym(&syms, f).posix_unsafe));
    assert!(funcs.iter().any(|f| sym(&syms, f).glibc_unsafe));

    let env = Env::new("cov_safe_list");
    let prog = env.compile_file("cov_call", &[]);
    let mut cmd = vec![prog.as_os_str()];
    cmd.extend(funcs.iter().map(std::ffi::OsStr::new));
    for (options, list) in [
        ("safe_list=posix", "posix"),
        ("safe_list=glibc", "glibc"),
        ("safe_list=strict", "strict"),
        ("", "glibc"),
    ] {
        let out = env.run(&cmd, true, options);
        assert!(out.bad_lines.is_empty(), "{}", out.dump());
        assert_eq!(
            out.stdout,
            "child: signal 6\n",
            "the child ends in abort:\n{}",
            out.dump()
        );
        let reported: BTreeSet<&str> = out.reports().iter().map(|r| s(&r["function"])).collect();
        let expected: BTreeSet<&str> = funcs
            .iter()
            .copied()
            .filter(|f| sym(&syms, f).unsafe_under(list))
            .collect();
        assert_eq!(
            reported,
            expected,
            "ASSAFE_OPTIONS+={options:?}: reported functions differ from symbols.txt's {list} \
             column:\n{}",
            out.dump()
        );
        for r in out.reports() {
            assert_eq!(r["context"], "fork-child", "{r}");
            assert_eq!(
                r["reason"],
                sym(&syms, s(&r["function"])).reason.as_str(),
                "{r}"
            );
        }
    }
    env.assert_transparent(&cmd);
}
