//! Severity from what this C library does in this context, and the calls that are not findings
//! at all (issue 12, items 1–4 and 7). The C program is tests/c/precision.c, one mode per case.

use assafe_proto::{Severity, key, value};
use assafe_tests::*;

fn run_mode(env: &Env, prog: &std::path::Path, mode: &str, options: &str) -> Outcome {
    let out = env.run(&[prog.as_os_str(), mode.as_ref()], true, options);
    out.assert_ok();
    out
}

/// (function, severity) of every report, in log order.
fn verdicts(out: &Outcome) -> Vec<(String, String)> {
    out.reports()
        .iter()
        .map(|r| {
            (
                s(&r[key::FUNCTION]).to_owned(),
                s(&r[key::SEVERITY]).to_owned(),
            )
        })
        .collect()
}

/// Asserts the (function, severity) pairs of `out`'s reports, in order.
fn assert_verdicts(out: &Outcome, want: &[(&str, Severity)]) {
    assert_eq!(verdicts(out), pairs(want), "{}", out.dump());
}

fn pairs(v: &[(&str, Severity)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(f, s)| ((*f).to_owned(), s.name().to_owned()))
        .collect()
}

fn glibc_minor() -> u32 {
    // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
    let v = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
    let v = v.to_str().unwrap();
    let (major, minor) = v.split_once('.').unwrap();
    assert_eq!(major, "2", "{v}");
    minor.parse().unwrap()
}

#[test]
fn malloc_after_glibc_fork_is_portable_after_underscore_fork_a_hazard() {
    assert!(glibc_minor() >= 31, "fork-resets.tsv starts at glibc 2.31");
    let env = Env::new("precision_fork");
    let prog = env.compile_file("precision", &[]);

    let out = run_mode(&env, &prog, "fork-malloc", "");
    assert_verdicts(&out, &[("malloc", Severity::Portable)]);
    let r = out.reports()[0];
    assert_eq!(r[key::FORKED_BY], value::FORKED_BY_FORK, "{r}");
    assert_eq!(r[key::CONTEXT], "fork-child", "{r}");
    assert!(n(&r[key::PARENT_THREADS]) >= 2, "{r}");

    let out = run_mode(&env, &prog, "ufork-malloc", "");
    assert_verdicts(&out, &[("malloc", Severity::Hazard)]);
    assert_eq!(out.reports()[0][key::FORKED_BY], value::FORKED_BY_UFORK);

    // A program mutex made before the fork: fork() does not reset it.
    let out = run_mode(&env, &prog, "fork-mutex", "");
    assert_verdicts(
        &out,
        &[
            ("pthread_mutex_lock", Severity::Hazard),
            ("pthread_mutex_unlock", Severity::Hazard),
        ],
    );
}

#[test]
fn a_mutex_the_fork_child_initialised_is_not_a_hazard() {
    let env = Env::new("precision_own");
    let prog = env.compile_file("precision", &[]);
    let out = run_mode(&env, &prog, "own-mutex", "");
    assert_verdicts(
        &out,
        &[
            ("pthread_mutex_lock", Severity::Portable),
            ("pthread_mutex_unlock", Severity::Portable),
            ("pthread_mutex_lock", Severity::Hazard),
            ("pthread_mutex_unlock", Severity::Hazard),
        ],
    );
    let reports = out.reports();
    assert!(
        reports[..2].iter().all(|r| r[key::OWN_OBJECT] == true),
        "{}",
        out.dump()
    );
    assert!(
        reports[2..]
            .iter()
            .all(|r| r.get(key::OWN_OBJECT).is_none()),
        "{}",
        out.dump()
    );
}

#[test]
fn a_fault_in_program_code_is_not_a_finding_unless_asked_for() {
    let env = Env::new("precision_segv");
    let prog = env.compile_file("precision", &[]);

    let out = run_mode(&env, &prog, "segv-program", "");
    assert!(
        out.stdout.contains("caught 11\nrecovered\n"),
        "{}",
        out.dump()
    );
    assert!(out.reports().is_empty(), "{}", out.dump());

    let out = run_mode(&env, &prog, "segv-program", "report_sync_faults=1");
    let reports = out.reports();
    assert!(!reports.is_empty(), "{}", out.dump());
    for r in &reports {
        assert_eq!(r[key::SIGNAL_ORIGIN], value::ORIGIN_SYNCHRONOUS, "{r}");
        assert_eq!(r[key::CERTAINTY], value::OUTSIDE, "{r}");
        assert_eq!(r[key::SEVERITY], Severity::Portable.name(), "{r}");
    }
    assert!(
        reports.iter().any(|r| r[key::FUNCTION] == "printf"),
        "{}",
        out.dump()
    );

    // A fault in program code called by an unsafe function (a qsort comparator): the unwinding
    // finds qsort on the interrupted stack, so the handler did interrupt an unsafe function.
    let out = run_mode(&env, &prog, "segv-callback", "");
    let reports = out.reports();
    assert!(
        reports.iter().any(|r| r[key::FUNCTION] == "printf"
            && r[key::CERTAINTY] == value::DEFINITE
            && r[key::SEVERITY] == Severity::Definite.name()),
        "{}",
        out.dump()
    );

    // The same handler after a fault inside libc (strlen(NULL)): still reported.
    let out = run_mode(&env, &prog, "segv-libc", "");
    let reports = out.reports();
    assert!(
        reports.iter().any(|r| r[key::FUNCTION] == "printf"
            && r[key::SIGNAL_ORIGIN] == value::ORIGIN_SYNCHRONOUS
            && r[key::CERTAINTY] != value::OUTSIDE
            && r[key::SEVERITY] != Severity::Portable.name()),
        "{}",
        out.dump()
    );
}

#[test]
fn a_signal_a_single_threaded_process_sent_itself_is_portable_until_one_comes_from_elsewhere() {
    let env = Env::new("precision_self");
    let prog = env.compile_file("precision", &[]);
    let out = run_mode(&env, &prog, "self-signal", "");
    assert_verdicts(&out, &[("malloc", Severity::Portable)]);
    assert_eq!(out.reports()[0][key::SIGNAL_ORIGIN], value::ORIGIN_SELF);

    // The same site reported again, as a hazard, when another process sends the signal.
    let out = run_mode(&env, &prog, "self-then-async", "");
    assert_verdicts(
        &out,
        &[("malloc", Severity::Portable), ("malloc", Severity::Hazard)],
    );
    let r = out.reports();
    assert_eq!(r[0][key::SITE], r[1][key::SITE]);
    assert_eq!(r[1][key::SIGNAL_ORIGIN], value::ORIGIN_ASYNC);
}

#[test]
fn vfork_child_of_a_single_threaded_parent_where_no_handler_can_run_is_portable() {
    let env = Env::new("precision_vfork");
    let prog = env.compile_file("precision", &[]);
    let usr1: u64 = 1 << (libc::SIGUSR1 - 1);

    // Every signal blocked (as dash does around vfork), a SIGUSR1 handler installed.
    let out = run_mode(&env, &prog, "vfork-quiet", "");
    assert_verdicts(&out, &[("malloc", Severity::Portable)]);
    let r = out.reports()[0];
    assert_eq!(n(&r[key::PARENT_THREADS]), 1, "{r}");
    assert_ne!(
        hex(&r[key::BLOCKED_SIGNALS]) & (1 << (libc::SIGCHLD - 1)),
        0,
        "{r}"
    );
    assert_eq!(hex(&r[key::HANDLED_SIGNALS]), usr1, "{r}");

    // The same handler, nothing blocked: it can interrupt the child's malloc.
    let out = run_mode(&env, &prog, "vfork-loud", "");
    assert_verdicts(&out, &[("malloc", Severity::Hazard)]);
    let r = out.reports()[0];
    assert_eq!(hex(&r[key::BLOCKED_SIGNALS]), 0, "{r}");
    assert_eq!(hex(&r[key::HANDLED_SIGNALS]), usr1, "{r}");

    // No handler anywhere: nothing can interrupt it either.
    let out = run_mode(&env, &prog, "vfork-nohandler", "");
    assert_verdicts(&out, &[("malloc", Severity::Portable)]);
}

#[test]
fn the_parents_sigchld_handler_right_after_vfork_is_not_a_vfork_child_handler() {
    let env = Env::new("precision_sigchld");
    let prog = env.compile_file("precision", &[]);
    // 2000 vforks whose children exit at once: without the fix, the parent's SIGCHLD handler
    // runs between the system call and the wrapper's restoring of the state byte, and is
    // reported as "a signal handler in a vfork child" with the parent's pid (every run here).
    for _ in 0..3 {
        let out = run_mode(&env, &prog, "vfork-sigchld", "");
        assert!(out.stdout.contains("sigchld 1"), "{}", out.dump());
        assert!(out.reports().is_empty(), "{}", out.dump());
    }
}

#[test]
fn gdb_run_reports_no_handler_in_a_vfork_child() {
    let gdb = std::path::Path::new("/usr/bin/gdb");
    if !gdb.exists() {
        eprintln!("skipped: no gdb");
        return;
    }
    let env = Env::new("precision_gdb");
    for _ in 0..3 {
        let out = env.run(
            &[
                "/usr/bin/gdb",
                "--batch",
                "-ex",
                "run",
                "--args",
                "/bin/true",
            ],
            true,
            "",
        );
        assert!(
            out.reports()
                .iter()
                .all(|r| r[key::FUNCTION] != value::HANDLER_IN_VFORK_FUNCTION),
            "{}",
            out.dump()
        );
    }
}

#[test]
fn snprintf_is_explained_without_a_stream_and_vfork_text_without_vanished_threads() {
    let env = Env::new("precision_text");
    let prog = env.compile_file("precision", &[]);
    let out = run_mode(&env, &prog, "snprintf-handler", "");
    let r = out.reports_for("snprintf");
    assert_eq!(r.len(), 1, "{}", out.dump());
    assert_eq!(r[0][key::REASON], "format", "{}", out.dump());
    assert_eq!(r[0][key::SEVERITY], Severity::Hazard.name());

    // Text mode: the preload's own explanation.
    let (_, status, _, stderr) =
        env.run_raw_options(&[prog.as_os_str(), "snprintf-handler".as_ref()], None);
    assert!(status.success());
    let line = stderr
        .lines()
        .find(|l| l.contains("snprintf: format - "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        !line.contains("stream's lock") && line.contains("interrupt"),
        "{line}"
    );
    assert!(stderr.contains("[hazard]"), "{stderr}");

    let (_, status, _, stderr) =
        env.run_raw_options(&[prog.as_os_str(), "vfork-loud".as_ref()], None);
    assert!(status.success());
    assert!(stderr.contains("in a vfork child"), "{stderr}");
    assert!(
        stderr.contains("malloc: heap - the child shares"),
        "{stderr}"
    );
    assert!(!stderr.contains("no longer exists"), "{stderr}");
    assert!(!stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn after_glibc_fork_the_table_decides_per_function() {
    // data/fork-resets.tsv, glibc 2.35+: heap, stdio, format, the loader lock and the thread
    // library's stack cache are reset; NSS's, the locale's, the time zone's, random()'s and a
    // program's mutex are not.
    assert!(glibc_minor() >= 35, "the thread row starts at glibc 2.35");
    let env = Env::new("precision_table");
    let prog = env.compile_file("cov_call", &[]);
    let calls = [
        ("malloc", Severity::Portable),
        ("fputs", Severity::Portable),
        ("snprintf", Severity::Portable),
        ("dlerror", Severity::Portable),
        ("getpwuid", Severity::Hazard),
        ("setlocale", Severity::Hazard),
        ("localtime", Severity::Hazard),
        ("pthread_mutex_lock", Severity::Hazard),
        ("random", Severity::Hazard),
        ("pthread_create", Severity::Portable),
    ];
    let mut cmd: Vec<&std::ffi::OsStr> = vec![prog.as_os_str()];
    cmd.extend(calls.iter().map(|(f, _)| std::ffi::OsStr::new(*f)));
    let out = env.run(&cmd, true, "");
    out.assert_ok();
    for (f, sev) in calls {
        let r = out.reports_for(f);
        assert_eq!(r.len(), 1, "{f}:\n{}", out.dump());
        assert_eq!(r[0][key::SEVERITY], sev.name(), "{f}: {}", r[0]);
        assert_eq!(r[0][key::FORKED_BY], value::FORKED_BY_FORK, "{}", r[0]);
    }
    // pthread_create's own join of the thread it made (in cov_call): the stack-cache lock only.
    let j = out.reports_for("pthread_join");
    assert!(
        j.iter()
            .all(|r| r[key::SEVERITY] == Severity::Portable.name()),
        "{}",
        out.dump()
    );
}
