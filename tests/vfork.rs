//! vfork children (they share the parent's memory and stack), and the process-spawning APIs that
//! use a vfork-like clone internally. The C programs live in tests/c/ (vfork_*.c, spawn_mt.c).

use assafe_tests::*;

fn pid_of(out: &Outcome, key: &str) -> u64 {
    stdout_value(out, key)
        .unwrap_or_else(|| panic!("{key} not printed:\n{}", out.dump()))
        .parse()
        .unwrap()
}

// 13.
#[test]
fn vfork_child_malloc_is_reported_and_parent_is_not() {
    let env = Env::new("vfork_malloc");
    let prog = env.compile_file("vfork_malloc", &[]);
    let out = env.run(&[prog.as_os_str(), "pids".as_ref()], true, "");
    out.assert_ok();
    assert!(out.stdout.ends_with("child: exit 0\n"), "{}", out.dump());
    let parent = pid_of(&out, "parent_pid");
    let child = pid_of(&out, "child_pid");
    assert_eq!(parent, out.pid as u64);

    let reports = out.reports();
    assert_eq!(reports.len(), 1, "only the child's malloc:\n{}", out.dump());
    let r = reports[0];
    check_report_shape(r, "vfork_malloc");
    check_site_in_program(r, "vfork_malloc");
    assert_eq!(r["context"], "vfork-child", "{r}");
    assert_eq!(r["function"], "malloc", "{r}");
    assert_eq!(r["reason"], "heap", "{r}");
    assert_eq!(n(&r["pid"]), child, "{r}");
    assert_eq!(n(&r["ppid"]), parent, "{r}");
    assert!(r.get("signal").is_none(), "{r}");
    // The parent is single-threaded and installs no handler: nothing can hold the heap lock or
    // interrupt the child (tests/precision.rs has the hazard cases).
    assert_eq!(n(&r["parent_threads"]), 1, "{r}");
    assert_eq!(r["handled_signals"], "0x0", "{r}");
    assert_eq!(r["severity"], "portable", "{r}");

    let sums = out.summaries();
    assert_eq!(sums.len(), 1, "the child's _exit summary:\n{}", out.dump());
    let e = sums[0];
    assert_eq!(e["event"], "exit", "{e}");
    assert_eq!(e["status"], 0, "{e}");
    assert_eq!(n(&e["pid"]), child, "{e}");
    assert_eq!(e["context"], "vfork-child", "{e}");
    assert!(
        e["sites"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["function"] == "malloc" && x["site"] == r["site"] && n(&x["count"]) == 1),
        "{e}"
    );
    assert!(
        out.records
            .iter()
            .all(|x| x["event"] == "start" || n(&x["pid"]) == child),
        "nothing from the parent but its start:\n{}",
        out.dump()
    );
    env.assert_transparent(&[&prog]);
}

// 14.
#[test]
fn vfork_child_that_only_execs_is_clean() {
    let env = Env::new("vfork_exec");
    let prog = env.compile_file("vfork_exec", &[]);
    let out = env.run(&[&prog], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n", "{}", out.dump());
    out.assert_started();
    assert!(
        out.reports().is_empty()
            && out
                .summaries()
                .iter()
                .all(|e| e["event"] == "exec" && n(&e["unsafe_calls"]) == 0),
        "dup2/close/execve in a vfork child are fine:\n{}",
        out.dump()
    );
    assert!(
        out.records_of("start")
            .iter()
            .any(|x| n(&x["pid"]) != out.pid as u64 && s(&x["exe"]).ends_with("/true")),
        "/bin/true logged its start (the exec happened under the library):\n{}",
        out.dump()
    );
    env.assert_transparent(&[&prog]);
}

// 15.
#[test]
fn a_thousand_vforks_from_different_depths() {
    let env = Env::new("vfork_many");
    let prog = env.compile_file("vfork_many", &[]);
    let sum: u64 = (0..1000u64).map(|k| k % 251).sum();
    let (with, _) = env.assert_transparent(&[&prog]);
    with.assert_ok();
    assert_eq!(
        with.stdout,
        format!("children=1000 sum={sum}\n"),
        "{}",
        with.dump()
    );
    with.assert_started();
    assert!(
        with.reports().is_empty() && with.summaries().is_empty(),
        "{}",
        with.dump()
    );
    assert!(
        with.records.iter().all(|x| x["event"] == "start"),
        "{}",
        with.dump()
    );
}

// 16.
#[test]
fn nested_vfork() {
    let env = Env::new("vfork_nested");
    let prog = env.compile_file("vfork_nested", &[]);
    let out = env.run(&[prog.as_os_str(), "pids".as_ref()], true, "");
    out.assert_ok();
    assert!(out.stdout.ends_with("child: exit 8\n"), "{}", out.dump());
    let parent = pid_of(&out, "parent_pid");
    let child = pid_of(&out, "child_pid");
    assert!(
        out.records
            .iter()
            .filter(|x| x["event"] != "start")
            .all(|x| n(&x["pid"]) == child),
        "only the middle child reports (the parent is clean, the grandchild only _exit()s):\n{}",
        out.dump()
    );
    // The middle child's malloc, after its own vfork child exited: still a vfork child.
    let m = out.reports_for("malloc");
    assert_eq!(m.len(), 1, "{}", out.dump());
    check_report_shape(m[0], "vfork_nested");
    check_site_in_program(m[0], "vfork_nested");
    assert_eq!(m[0]["context"], "vfork-child", "{}", m[0]);
    assert_eq!(n(&m[0]["pid"]), child, "{}", m[0]);
    assert_eq!(n(&m[0]["ppid"]), parent, "{}", m[0]);
    // vfork() itself in a vfork child may be reported (it is not async-signal-safe); nothing
    // else may.
    for r in out.reports() {
        assert!(
            r["function"] == "malloc" || r["function"] == "vfork",
            "unexpected report: {r}"
        );
    }
    env.assert_transparent(&[&prog]);
}

// 17.
#[test]
fn signal_handler_running_in_a_vfork_child_is_reported() {
    let env = Env::new("vfork_handler");
    let prog = env.compile_file("vfork_handler", &[]);
    let out = env.run(&[&prog], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "handler ran\nchild: exit 0\n", "{}", out.dump());
    let reports = out.reports();
    assert_eq!(reports.len(), 1, "{}", out.dump());
    let r = reports[0];
    assert!(
        r["context"] == "vfork-child" || r["context"] == "signal-handler",
        "{r}"
    );
    assert_ne!(n(&r["pid"]), out.pid as u64, "reported by the child: {r}");
    assert_eq!(n(&r["ppid"]), out.pid as u64, "{r}");
    assert_eq!(n(&r["signal"]), 10, "{r}");
    assert_eq!(r["signal_name"], "SIGUSR1", "{r}");
    // The report names the handler: its (only) frame is the handler function `h`.
    let syms = nm(&["--defined-only"], &prog);
    let h = syms
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some("h"))
        .map(|l| u64::from_str_radix(l.split_whitespace().next().unwrap(), 16).unwrap())
        .unwrap_or_else(|| panic!("no symbol h:\n{syms}"));
    assert_eq!(
        hex(&r["stack"][0]["offset"]),
        h,
        "the handler's address: {r}"
    );
    assert!(
        s(&r["stack"][0]["module"]).ends_with("/vfork_handler"),
        "{r}"
    );
    env.assert_transparent(&[&prog]);
}

// 18.
#[test]
fn posix_spawn_system_popen_from_a_threaded_program_are_clean() {
    let env = Env::new("spawn_mt");
    let prog = env.compile_file("spawn_mt", &[]);
    let out = env.run(&[&prog], true, "");
    out.assert_ok();
    let round =
        "posix_spawn: exit 0\nposix_spawnp: exit 0\nsystem: exit 0\npopen: read 0, exit 0\n";
    assert_eq!(out.stdout, round.repeat(3), "{}", out.dump());
    out.assert_started();
    assert!(
        out.reports().is_empty()
            && out
                .summaries()
                .iter()
                .all(|e| e["event"] == "exec" && n(&e["unsafe_calls"]) == 0),
        "glibc's internal clone children run no interposed function:\n{}",
        out.dump()
    );
    // The spawned programs ran under the library too (so their silence means something).
    let others = out
        .records_of("start")
        .iter()
        .filter(|x| n(&x["pid"]) != out.pid as u64)
        .count();
    assert!(
        others >= 12,
        "3 × (2 true + sh + sh) started:\n{}",
        out.dump()
    );
    env.assert_transparent(&[&prog]);
}

// 19.
#[test]
fn python_subprocess_from_a_threaded_interpreter_is_clean() {
    let env = Env::new("py_subprocess");
    let py = python();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/subprocess_mt.py");
    let cmd = [py.as_os_str(), script.as_os_str(), "20".as_ref()];
    let out = env.run(&cmd, true, "");
    out.assert_ok();
    assert_eq!(
        out.stdout,
        "use_vfork: True\nthreads alive: 2\nreturn codes: [0] count: 22\n",
        "CPython must take its vfork path for this test to mean anything:\n{}",
        out.dump()
    );
    out.assert_started();
    assert!(
        out.reports().is_empty()
            && out
                .summaries()
                .iter()
                .all(|e| e["event"] == "exec" && n(&e["unsafe_calls"]) == 0),
        "_posixsubprocess's vfork child is clean:\n{}",
        out.dump()
    );
    env.assert_transparent(&cmd);
}
