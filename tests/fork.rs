//! The core issue: async-signal-unsafe calls in the child of a multi-threaded fork.
//! The C programs live in tests/c/.

use assafe_tests::*;

// 1. + 14.
#[test]
fn mt_fork_child_malloc_is_reported() {
    let env = Env::new("mt_fork_child_malloc");
    let prog = env.compile_file("fork_malloc", &[]);
    let out = env.run(&[prog.as_os_str(), "mt".as_ref()], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n", "{}", out.dump());
    assert_eq!(
        out.stderr,
        "",
        "log_path is set: nothing on stderr\n{}",
        out.dump()
    );

    let reports = out.reports();
    assert_eq!(
        reports.len(),
        1,
        "exactly one report expected:\n{}",
        out.dump()
    );
    let r = reports[0];
    check_report_shape(r, "fork_malloc");
    assert_eq!(r["context"], "fork-child");
    assert_eq!(r["function"], "malloc");
    assert_eq!(r["reason"], "heap");
    assert!(n(&r["parent_threads"]) >= 2, "parent_threads: {r}");
    assert_eq!(
        n(&r["ppid"]),
        out.pid as u64,
        "ppid is the parent's pid: {r}"
    );
    assert_ne!(
        n(&r["pid"]),
        out.pid as u64,
        "the report comes from the child: {r}"
    );
    assert!(r.get("strict").is_none(), "not a strict-only report: {r}");
    let m0 = s(&r["stack"][0]["module"]);
    assert!(
        m0.ends_with("/fork_malloc"),
        "stack[0].module {m0} is not the program"
    );

    let sums = out.summaries();
    assert_eq!(
        sums.len(),
        1,
        "one summary (the child's exit):\n{}",
        out.dump()
    );
    let e = sums[0];
    assert_eq!(e["event"], "exit");
    assert_eq!(e["status"], 0);
    assert_eq!(e["pid"], r["pid"]);
    assert_eq!(e["context"], "fork-child");
    assert!(n(&e["unsafe_calls"]) >= 1, "{e}");
    let sites = e["sites"].as_array().unwrap();
    assert!(
        sites
            .iter()
            .any(|x| x["function"] == "malloc" && x["site"] == r["site"] && n(&x["count"]) == 1),
        "summary lists the malloc site once: {e}"
    );

    // A "start" record for the parent (at load) and one for the child, which inherits the loaded
    // library and writes its start in front of its first record.
    let starts = out.records_of("start");
    assert!(
        starts.iter().any(|x| n(&x["pid"]) == out.pid as u64),
        "parent start record:\n{}",
        out.dump()
    );
    let child: Vec<_> = starts.iter().filter(|x| x["pid"] == r["pid"]).collect();
    assert_eq!(child.len(), 1, "one child start record:\n{}", out.dump());
    assert_eq!(n(&child[0]["ppid"]), out.pid as u64, "{}", child[0]);

    env.assert_transparent(&[prog.as_os_str(), "mt".as_ref()]);
}

// 2.
#[test]
fn single_threaded_fork_is_quiet_unless_strict() {
    let env = Env::new("st_fork");
    let prog = env.compile_file("fork_malloc", &[]);
    let cmd = [prog.as_os_str(), "st".as_ref()];
    let out = env.run(&cmd, true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n");
    assert!(
        out.reports().is_empty(),
        "no report for a single-threaded parent:\n{}",
        out.dump()
    );
    assert!(
        out.summaries().is_empty(),
        "no summary either:\n{}",
        out.dump()
    );

    let strict = env.run(&cmd, true, "strict=1");
    strict.assert_ok();
    let reports = strict.reports_for("malloc");
    assert_eq!(
        reports.len(),
        1,
        "strict=1 reports the malloc:\n{}",
        strict.dump()
    );
    let r = reports[0];
    check_report_shape(r, "fork_malloc");
    assert_eq!(r["context"], "fork-child");
    assert_eq!(r["strict"], true, "strict-only report is marked: {r}");
    assert_eq!(n(&r["ppid"]), strict.pid as u64);

    env.assert_transparent(&cmd);
}

// 3.
#[test]
fn child_that_only_execs_is_not_reported() {
    let env = Env::new("fork_exec_clean");
    let prog = env.compile_file("fork_exec", &[]);
    let out = env.run(&[&prog], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n", "{}", out.dump());
    assert!(
        out.reports().is_empty(),
        "dup2/close/execve are safe:\n{}",
        out.dump()
    );
    // Every exec is recorded (issue 11: so a program exec'd without the library is named), with
    // nothing counted; no exit summary without unsafe calls.
    let sums = out.summaries();
    assert!(
        sums.iter()
            .all(|e| e["event"] == "exec" && n(&e["unsafe_calls"]) == 0),
        "only exec records, counting nothing:\n{}",
        out.dump()
    );
    assert_eq!(sums.len(), 1, "the child's exec:\n{}", out.dump());
    // /bin/true ran under the library too (follow_exec) and said so.
    assert!(
        out.records_of("start")
            .iter()
            .any(|x| x["pid"] != out.pid && s(&x["exe"]).ends_with("/true")),
        "/bin/true logged its start:\n{}",
        out.dump()
    );
    env.assert_transparent(&[&prog]);
}

// 4.
#[test]
fn underscore_fork_child_is_reported() {
    let env = Env::new("underscore_fork");
    let prog = env.compile_file("underscore_fork", &[]);
    let out = env.run(&[&prog], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n");
    let reports = out.reports_for("malloc");
    assert_eq!(
        reports.len(),
        1,
        "_Fork child malloc reported once:\n{}",
        out.dump()
    );
    let r = reports[0];
    check_report_shape(r, "underscore_fork");
    assert_eq!(r["context"], "fork-child");
    assert!(n(&r["parent_threads"]) >= 2, "{r}");
    assert_eq!(n(&r["ppid"]), out.pid as u64);
    env.assert_transparent(&[&prog]);
}

// 5.
#[test]
fn fortified_printf_is_reported_as_printf_chk() {
    let env = Env::new("fork_printf");
    let prog = env.compile_file("fork_printf", &["-O2", "-D_FORTIFY_SOURCE=2"]);
    let syms = nm(&["--undefined-only"], &prog);
    assert!(
        syms.lines().any(|l| l
            .split_whitespace()
            .last()
            .is_some_and(|s| s.starts_with("__printf_chk"))),
        "the binary must reference __printf_chk:\n{syms}"
    );
    let out = env.run(&[&prog], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "child says 42\nchild: exit 0\n");
    let r = out.reports_for("__printf_chk");
    assert_eq!(r.len(), 1, "__printf_chk reported once:\n{}", out.dump());
    check_report_shape(r[0], "fork_printf");
    assert_eq!(r[0]["context"], "fork-child");
    assert!(
        out.reports_for("printf").is_empty(),
        "reported as printf, not __printf_chk:\n{}",
        out.dump()
    );
    env.assert_transparent(&[&prog]);
}

// 6.
#[test]
fn child_that_closed_all_fds_still_reports_to_the_log() {
    let env = Env::new("fork_closeall");
    let prog = env.compile_file("fork_closeall", &[]);
    let out = env.run(&[&prog], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n");
    assert_eq!(out.stderr, "");
    let r = out.reports_for("malloc");
    assert_eq!(
        r.len(),
        1,
        "malloc after close_range reported:\n{}",
        out.dump()
    );
    check_report_shape(r[0], "fork_closeall");
    assert_eq!(r[0]["context"], "fork-child");
    let child = n(&r[0]["pid"]);
    assert!(
        out.log_files
            .iter()
            .any(|f| f.to_string_lossy().ends_with(&format!(".{child}"))),
        "child's own log file"
    );
    env.assert_transparent(&[&prog]);
}

// 7.
#[test]
fn repeated_calls_are_deduplicated_and_counted() {
    let env = Env::new("fork_loop");
    let prog = env.compile_file("fork_loop", &[]);
    let out = env.run(&[&prog], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "worker: exit 0\n");
    let r = out.reports_for("malloc");
    assert_eq!(
        r.len(),
        1,
        "one malloc report for one site:\n{}",
        out.dump()
    );
    check_report_shape(r[0], "fork_loop");
    let free = out.reports_for("free");
    assert!(free.len() <= 1, "at most one free report:\n{}", out.dump());
    let sums = out.summaries();
    assert_eq!(sums.len(), 1, "{}", out.dump());
    let e = sums[0];
    assert_eq!(e["event"], "exit");
    assert_eq!(e["dropped"], 0, "{e}");
    let sites = e["sites"].as_array().unwrap();
    let m: Vec<_> = sites.iter().filter(|x| x["function"] == "malloc").collect();
    assert_eq!(m.len(), 1, "one malloc site: {e}");
    assert_eq!(m[0]["site"], r[0]["site"], "{e}");
    assert_eq!(n(&m[0]["count"]), 100000, "every call counted: {e}");
    if let Some(f) = sites.iter().find(|x| x["function"] == "free") {
        assert_eq!(n(&f["count"]), 100000, "every free counted: {e}");
    }
    assert!(n(&e["unsafe_calls"]) >= 100000, "{e}");
    let total: u64 = out
        .log_files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert!(
        total < 64 * 1024,
        "log is {total} bytes; dedup should keep it small"
    );
    env.assert_transparent(&[&prog]);
}

// 8.
#[test]
fn nested_fork_grandchild_is_fork_child() {
    let env = Env::new("fork_nested");
    let prog = env.compile_file("fork_nested", &[]);
    let out = env.run(&[prog.as_os_str(), "pids".as_ref()], true, "");
    out.assert_ok();
    let g: u64 = stdout_value(&out, "grandchild_pid")
        .expect("grandchild pid printed")
        .parse()
        .unwrap();
    assert!(out.stdout.ends_with("child: exit 0\n"), "{}", out.dump());
    let r: Vec<_> = out
        .reports_for("malloc")
        .into_iter()
        .filter(|r| n(&r["pid"]) == g)
        .collect();
    assert_eq!(
        r.len(),
        1,
        "grandchild {g}'s malloc reported:\n{}",
        out.dump()
    );
    check_report_shape(r[0], "fork_nested");
    assert_eq!(
        r[0]["context"], "fork-child",
        "context persists through nested forks: {}",
        r[0]
    );
    assert!(
        n(&r[0]["parent_threads"]) >= 2,
        "the multi-threaded ancestor is remembered: {}",
        r[0]
    );
    let mid = n(&r[0]["ppid"]);
    assert_ne!(
        mid, out.pid as u64,
        "the grandchild's parent is the middle child"
    );
    env.assert_transparent(&[&prog]);
}

// 9.
#[test]
fn exec_summary_precedes_the_new_image_start() {
    let env = Env::new("fork_exec_summary");
    let prog = env.compile_file("fork_exec_summary", &[]);
    let out = env.run(&[&prog], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n");
    let r = out.reports_for("malloc");
    assert_eq!(r.len(), 1, "{}", out.dump());
    let child = n(&r[0]["pid"]);
    // Records of the child's log file, in order.
    let recs: Vec<&Value> = out
        .records
        .iter()
        .filter(|x| n(&x["_file_pid"]) == child)
        .collect();
    let exec_i = recs
        .iter()
        .position(|x| x["event"] == "exec")
        .unwrap_or_else(|| panic!("no exec summary:\n{}", out.dump()));
    let e = recs[exec_i];
    assert_eq!(e["path"], "/bin/true", "{e}");
    assert_eq!(e["context"], "fork-child", "{e}");
    assert!(n(&e["unsafe_calls"]) >= 1, "{e}");
    assert!(
        e["sites"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["function"] == "malloc"),
        "{e}"
    );
    // The file begins with the fork child's own start (written in front of its first report);
    // the exec'd program's start is the last one.
    assert_eq!(recs[0]["event"], "start", "{}", out.dump());
    assert_eq!(n(&recs[0]["pid"]), child, "{}", recs[0]);
    let start_i = recs
        .iter()
        .rposition(|x| x["event"] == "start" && n(&x["pid"]) == child)
        .unwrap_or_else(|| {
            panic!(
                "/bin/true (pid {child}) did not log a start record:\n{}",
                out.dump()
            )
        });
    assert!(
        exec_i < start_i,
        "exec summary must come before the exec'd program's start:\n{}",
        out.dump()
    );
    assert!(
        s(&recs[start_i]["exe"]).ends_with("true"),
        "{}",
        recs[start_i]
    );
    // /bin/true made no unsafe calls of its own: no exit summary after the exec.
    assert!(
        recs[start_i..].iter().all(|x| x["event"] != "exit"),
        "{}",
        out.dump()
    );
    env.assert_transparent(&[&prog]);
}

// 10.
#[test]
fn raw_clone_child_is_reported_with_unknown_thread_count() {
    let env = Env::new("raw_clone");
    let prog = env.compile_file("raw_clone", &[]);
    let out = env.run(&[&prog], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n");
    let r = out.reports_for("opendir");
    assert_eq!(
        r.len(),
        1,
        "opendir in a raw-clone child reported:\n{}",
        out.dump()
    );
    check_report_shape(r[0], "raw_clone");
    assert_eq!(r[0]["context"], "fork-child", "{}", r[0]);
    assert_eq!(r[0]["parent_threads"], 0, "unknown thread count: {}", r[0]);
    assert_eq!(n(&r[0]["ppid"]), out.pid as u64);
    env.assert_transparent(&[&prog]);
}

// 11.
#[test]
fn text_mode_report_on_stderr() {
    let env = Env::new("text_mode");
    let prog = env.compile_file("fork_malloc", &[]);
    let (pid, status, stdout, stderr) =
        env.run_raw_options(&[prog.as_os_str(), "mt".as_ref(), "pids".as_ref()], None);
    assert!(status.success(), "{status}\n{stderr}");
    let get = |k: &str| -> u32 {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("{k} in {stdout}"))
    };
    let (parent, child) = (get("parent_pid"), get("child_pid"));
    assert_eq!(parent, pid);
    let head = format!(
        "=={child}==ASSAFE: async-signal-unsafe call to malloc() in the child of a multi-threaded fork (parent {parent} had 2 threads) made by fork [portable]"
    );
    assert!(
        stderr.lines().any(|l| l == head),
        "missing line\n{head}\nin stderr:\n{stderr}"
    );
    let frame0 = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("#0 0x"))
        .unwrap_or_else(|| panic!("no #0 frame line:\n{stderr}"));
    assert!(
        frame0.contains("/fork_malloc+0x"),
        "frame #0 names the program with +0x: {frame0}"
    );
    // Every assafe line is prefixed with the child's pid or is an indented frame/summary line.
    for l in stderr.lines() {
        assert!(
            l.starts_with(&format!("=={child}==")) || l.starts_with("    "),
            "unexpected stderr line: {l}"
        );
    }
    let err = env.assert_transparent_text(&[prog.as_os_str(), "mt".as_ref()], None);
    assert!(
        err.contains("async-signal-unsafe call to malloc()"),
        "{err}"
    );
}

#[test]
fn strip_assafe_lines_keeps_program_output() {
    let e = "hello\n==12==ASSAFE: x\n    #0 0x1 (a+0x1)\n==12==ASSAFE:   in process\nworld\n    indented program line\n==x== not ours\n";
    assert_eq!(
        strip_assafe_lines(e),
        "hello\nworld\n    indented program line\n==x== not ours\n"
    );
}

// 12a.
#[test]
fn help_option_prints_options_and_program_runs() {
    let env = Env::new("opt_help");
    let prog = env.compile_file("fork_malloc", &[]);
    let cmd = [prog.as_os_str(), "st".as_ref()];
    let (_, st_with, out_with, err_with) = env.run_raw_options(&cmd, Some("help=1"));
    let without = env.run(&cmd, false, "");
    assert_eq!(st_with, without.status);
    assert_eq!(out_with, without.stdout);
    for key in [
        "strict",
        "log_path",
        "log_format",
        "halt_on_error",
        "verbosity",
        "help",
        "follow_exec",
        "safe_list",
        "suppressions",
    ] {
        assert!(
            err_with
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{key} (default:"))),
            "help lists {key}:\n{err_with}"
        );
    }
    assert!(err_with.contains("ASSAFE_OPTIONS"), "{err_with}");
}

// 12b.
#[test]
fn malformed_options_give_one_warning_and_keep_defaults() {
    let env = Env::new("opt_malformed");
    let prog = env.compile_file("fork_malloc", &[]);
    let cmd = [prog.as_os_str(), "st".as_ref()];
    // With the log in a file: nothing on stderr; the warning is in the (one) start record.
    let out = env.run(&cmd, true, "strict=maybe:nokey:foo=1");
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n");
    assert_eq!(out.stderr, "", "{}", out.dump());
    let starts: Vec<_> = out
        .records_of("start")
        .into_iter()
        .filter(|r| r["pid"] == out.pid)
        .collect();
    assert_eq!(starts.len(), 1, "{}", out.dump());
    assert!(
        starts[0]["warning"]
            .as_str()
            .is_some_and(|w| w.contains("strict=maybe")),
        "{}",
        out.dump()
    );
    assert!(
        out.reports().is_empty(),
        "strict stayed off:\n{}",
        out.dump()
    );
    // And in text mode on stderr: the warning is still the only line (no strict report).
    let (_, status, stdout, stderr) = env.run_raw_options(&cmd, Some("strict=maybe:nokey:foo=1"));
    assert!(status.success());
    assert_eq!(stdout, "child: exit 0\n");
    assert_eq!(
        stderr.lines().count(),
        1,
        "one warning, no report:\n{stderr}"
    );
    // A bad item does not spoil the good ones around it.
    let out = env.run(&cmd, true, "nokey:strict=1:foo=1");
    assert_eq!(out.stderr, "", "{}", out.dump());
    assert_eq!(
        out.reports_for("malloc").len(),
        1,
        "strict=1 still applied:\n{}",
        out.dump()
    );
}

// 12c.
#[test]
fn halt_on_error_aborts_the_child() {
    let env = Env::new("opt_halt");
    let prog = env.compile_file("fork_malloc", &[]);
    let out = env.run(&[prog.as_os_str(), "mt".as_ref()], true, "halt_on_error=1");
    assert!(
        out.status.success(),
        "the parent is not affected:\n{}",
        out.dump()
    );
    assert_eq!(
        out.stdout,
        format!("child: signal {}\n", 6),
        "child died by SIGABRT:\n{}",
        out.dump()
    );
    let r = out.reports_for("malloc");
    assert_eq!(
        r.len(),
        1,
        "the report is written before the abort:\n{}",
        out.dump()
    );
    assert_eq!(r[0]["context"], "fork-child");
}

// 13.
const PY_PREEXEC: &str = r#"
import subprocess, threading, time
threading.Thread(target=time.sleep, args=(3,), daemon=True).start()
r = subprocess.run(["/bin/true"], preexec_fn=lambda: None)
print("rc", r.returncode)
"#;

const PY_PLAIN: &str = r#"
import subprocess, threading, time
threading.Thread(target=time.sleep, args=(3,), daemon=True).start()
r = subprocess.run(["/bin/true"])
print("rc", r.returncode)
"#;

#[test]
fn python_preexec_fn_child_is_reported() {
    let env = Env::new("py_preexec");
    let py = python();
    let out = env.run(
        &[py.as_os_str(), "-c".as_ref(), PY_PREEXEC.as_ref()],
        true,
        "",
    );
    out.assert_ok();
    assert_eq!(out.stdout, "rc 0\n");
    let r = out.reports_in("fork-child");
    assert!(
        !r.is_empty(),
        "a preexec_fn child runs Python code: expected fork-child reports:\n{}",
        out.dump()
    );
    for x in &r {
        assert!(s(&x["exe"]).contains("python"), "{x}");
        assert!(n(&x["parent_threads"]) >= 2, "{x}");
    }
    // The child then execs /bin/true: its summary says so.
    let child = &r[0]["pid"];
    assert!(
        out.summaries().iter().any(|e| e["event"] == "exec"
            && &e["pid"] == child
            && e["context"] == "fork-child"
            && e["path"] == "/bin/true"),
        "exec summary for the preexec child:\n{}",
        out.dump()
    );
}

#[test]
fn python_subprocess_without_preexec_is_clean() {
    let env = Env::new("py_plain");
    let py = python();
    let out = env.run(
        &[py.as_os_str(), "-c".as_ref(), PY_PLAIN.as_ref()],
        true,
        "",
    );
    out.assert_ok();
    assert_eq!(out.stdout, "rc 0\n");
    // /bin/true ran under the library in its own process (so the child was observed at all).
    assert!(
        out.records_of("start")
            .iter()
            .any(|x| x["pid"] != out.pid && s(&x["exe"]).ends_with("true")),
        "no start record from the /bin/true child:\n{}",
        out.dump()
    );
    let bad: Vec<_> = out
        .reports()
        .into_iter()
        .filter(|r| r["context"] == "fork-child" || r["context"] == "vfork-child")
        .collect();
    assert!(
        bad.is_empty(),
        "no fork-child/vfork-child reports expected; got functions {:?}:\n{}",
        bad.iter()
            .map(|r| r["function"].to_string())
            .collect::<Vec<_>>(),
        out.dump()
    );
}
