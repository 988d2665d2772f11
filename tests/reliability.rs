//! Reliability under stress and faults (docs/reliability.md): fork and signal storms, nasty option
//! strings, log sinks that fail, secure mode and planted symlinks, and what the library binary
//! must not contain. Every case runs real preloaded processes with a bounded wait.
//! C programs: tests/c/rel_*.c (and fork_malloc.c, fork_closeall.c).

use assafe_tests::*;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// What a run produced (raw bytes).
#[derive(Debug)]
struct Raw {
    pid: u32,
    status: ExitStatus,
    stdout: String,
    stderr: String,
    secs: f64,
}

/// Runs a fully configured `Command` under [`run_with_timeout`] (stdin is /dev/null unless the
/// caller's `pre_exec` closes it).
fn run_bounded(mut c: Command, timeout: Duration) -> Raw {
    let r = run_with_timeout(&mut c, timeout);
    Raw {
        pid: r.pid,
        status: r.status,
        stdout: String::from_utf8_lossy(&r.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&r.stderr).into_owned(),
        secs: r.elapsed.as_secs_f64(),
    }
}

/// A command with the preload environment scrubbed; `preload` adds LD_PRELOAD=`lib`.
fn cmd<S: AsRef<OsStr>>(
    prog: &Path,
    args: &[S],
    lib: Option<&Path>,
    options: Option<&OsStr>,
) -> Command {
    let mut c = Command::new(prog);
    c.args(args)
        .env_remove("LD_PRELOAD")
        .env_remove("ASSAFE_OPTIONS");
    if let Some(l) = lib {
        c.env("LD_PRELOAD", l);
    }
    if let Some(o) = options {
        c.env("ASSAFE_OPTIONS", o);
    }
    c
}

/// Every line of every file in `dir`, parsed as JSON (fails on a line that is not).
fn json_lines_in(dir: &Path) -> Vec<Value> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).expect("read log dir").flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        for line in text.lines() {
            let r: Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("{}: not JSON ({err}): {line}", e.path().display()));
            v.push(r);
        }
    }
    v
}

/// Lines of `stderr` that are assafe warnings, per pid.
fn warnings_per_pid(stderr: &str) -> BTreeMap<u32, Vec<String>> {
    let mut m: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for l in stderr.lines() {
        if let Some(rest) = l.strip_prefix("==")
            && let Some((pid, tail)) = rest.split_once("==")
            && tail.starts_with("ASSAFE: warning:")
        {
            m.entry(pid.parse().unwrap_or(0))
                .or_default()
                .push(l.to_string());
        }
    }
    m
}

/// JSON records found on stderr (lines starting with '{').
fn json_on_stderr(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("stderr record not JSON ({e}): {l}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Fork storm

#[test]
fn fork_storm_loses_and_doubles_no_record() {
    let env = Env::new("rel_fork_storm");
    let prog = env.compile_file("rel_fork_storm", &[]);
    let (forkers, each) = (8usize, 1000usize);
    let logs = env.dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let opts = format!("log_format=json:log_path={}/log", logs.display());
    let args = [forkers.to_string(), each.to_string()];
    let r = run_bounded(
        cmd(&prog, &args, Some(&env.lib), Some(OsStr::new(&opts))),
        Duration::from_secs(120),
    );
    let total = forkers * each;
    assert!(
        r.status.success(),
        "fork storm failed: {}\nstderr:\n{}",
        r.status,
        r.stderr
    );
    assert!(
        r.stdout.ends_with(&format!("forks={total} ok={total}\n")),
        "not every child exited 0:\n{}",
        r.stdout
            .lines()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(r.stderr, "", "log_path is set: nothing on stderr");
    // Children reaped, by pid (a pid may come round again on a 32768-pid system: count them).
    let mut kids: BTreeMap<u64, u64> = BTreeMap::new();
    for l in r.stdout.lines().filter(|l| l.starts_with("child ")) {
        let mut it = l.split_whitespace().skip(1);
        let pid: u64 = it.next().unwrap().parse().unwrap();
        let st: i32 = it.next().unwrap().parse().unwrap();
        assert_eq!(st, 0, "child {pid} wait status {st:#x}");
        *kids.entry(pid).or_default() += 1;
    }
    assert_eq!(
        kids.values().sum::<u64>(),
        total as u64,
        "one line per child"
    );

    let records = json_lines_in(&logs); // fails on any non-JSON line
    let mut reports: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    let mut exits: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    // One fork record per child (a JSON log_path counts every fork child), checked.
    let mut forks: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    // One start per file: the parent's at load, each child's in front of its first record (a pid
    // that came round again appends to the file its first use created).
    let mut starts: BTreeMap<u64, u64> = BTreeMap::new();
    for rec in &records {
        let pid = n(&rec["pid"]);
        match rec["event"].as_str() {
            Some("report") => reports.entry(pid).or_default().push(rec),
            Some("exit") => exits.entry(pid).or_default().push(rec),
            Some("fork") => forks.entry(pid).or_default().push(rec),
            Some("start") => {
                assert!(
                    pid == r.pid as u64 || n(&rec["ppid"]) == r.pid as u64,
                    "start record from a stranger: {rec}"
                );
                *starts.entry(pid).or_default() += 1;
            }
            _ => panic!("unexpected record: {rec}"),
        }
    }
    for e in std::fs::read_dir(&logs).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        let first: Value = serde_json::from_str(text.lines().next().unwrap_or_default()).unwrap();
        assert_eq!(first["event"], "start", "{}: {first}", e.path().display());
    }
    assert_eq!(starts.get(&(r.pid as u64)), Some(&1), "the parent's start");
    let mut problems = Vec::new();
    for (&pid, &times) in &kids {
        let rs = reports.get(&pid).map_or(&[][..], |v| &v[..]);
        let es = exits.get(&pid).map_or(&[][..], |v| &v[..]);
        let fs = forks.get(&pid).map_or(&[][..], |v| &v[..]);
        if rs.len() as u64 != 3 * times || es.len() as u64 != times || fs.len() as u64 != times {
            problems.push(format!(
                "pid {pid} (x{times}): {} reports, {} exit summaries, {} fork records",
                rs.len(),
                es.len(),
                fs.len()
            ));
            continue;
        }
        for f in fs {
            if f["checked"] != true || n(&f["ppid"]) != r.pid as u64 || n(&f["parent_threads"]) < 2
            {
                problems.push(format!("pid {pid}: fork record {f}"));
            }
        }
        if starts.get(&pid) != Some(&1) {
            problems.push(format!("pid {pid}: {:?} start records", starts.get(&pid)));
        }
        let funcs: BTreeSet<&str> = rs.iter().map(|x| x["function"].as_str().unwrap()).collect();
        if times == 1 && funcs != BTreeSet::from(["malloc", "getenv", "opendir"]) {
            problems.push(format!("pid {pid}: functions {funcs:?}"));
        }
        for e in es {
            if n(&e["unsafe_calls"]) != 3
                || n(&e["distinct"]) != 3
                || e["status"] != 0
                || n(&e["ppid"]) != r.pid as u64
            {
                problems.push(format!("pid {pid}: summary {e}"));
            }
        }
        for x in rs {
            if x["context"] != "fork-child" || n(&x["ppid"]) != r.pid as u64 {
                problems.push(format!("pid {pid}: report {x}"));
            }
        }
    }
    let strangers: Vec<_> = reports
        .keys()
        .chain(exits.keys())
        .chain(forks.keys())
        .filter(|p| !kids.contains_key(p))
        .collect();
    assert!(
        strangers.is_empty(),
        "records from pids that were not children: {strangers:?}"
    );
    assert!(
        problems.is_empty(),
        "{} of {} children with lost/doubled records, e.g.:\n{}",
        problems.len(),
        kids.len(),
        problems
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!(
        "fork storm: {forkers} threads x {each} forks = {total} children ({} distinct pids), {} records, {:.1} s",
        kids.len(),
        records.len(),
        r.secs
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Signal storm from another process

#[test]
fn signal_storm_from_another_process() {
    let env = Env::new("rel_sig_storm");
    let prog = env.compile_file("rel_sig_storm", &[]);
    let sent = 100_000u64;
    let args = [sent.to_string()];
    // Without the preload first: the program itself must be sound (no deadlock of its own).
    // 100 000 handshakes take ~8 s alone, near a minute on a loaded 2-core machine: the bounds
    // catch a deadlock, not slowness.
    let plain = run_bounded(cmd(&prog, &args, None, None), Duration::from_secs(240));
    let expect = format!("sent={sent} handled={sent} sender=0\n");
    assert!(plain.status.success(), "without preload: {plain:?}");
    assert_eq!(plain.stdout, expect);

    let logs = env.dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let opts = format!("log_format=json:log_path={}/log", logs.display());
    let r = run_bounded(
        cmd(&prog, &args, Some(&env.lib), Some(OsStr::new(&opts))),
        Duration::from_secs(240),
    );
    assert!(
        r.status.success(),
        "with preload: {} (stderr: {})",
        r.status,
        r.stderr
    );
    assert_eq!(r.stdout, expect, "every signal handled exactly once");
    assert_eq!(r.stderr, "");
    let records = json_lines_in(&logs);
    let mine: Vec<&Value> = records
        .iter()
        .filter(|x| n(&x["pid"]) == r.pid as u64)
        .collect();
    let printf: Vec<&Value> = mine
        .iter()
        .copied()
        .filter(|x| x["event"] == "report" && x["function"] == "printf")
        .collect();
    // Deduplicated: one report per (site, certainty) — the library keeps a "definite" (handler
    // interrupted malloc) and a "latent" report apart (src/dedup.rs `variant`).
    let keys: BTreeSet<(String, String)> = printf
        .iter()
        .map(|x| (x["site"].to_string(), x["certainty"].to_string()))
        .collect();
    assert!(
        !printf.is_empty() && printf.len() == keys.len() && printf.len() <= 2,
        "printf reports not deduplicated: {} reports, {} distinct (site, certainty)",
        printf.len(),
        keys.len()
    );
    let sites: BTreeSet<String> = printf.iter().map(|x| x["site"].to_string()).collect();
    assert_eq!(sites.len(), 1, "one call site");
    for x in &printf {
        assert_eq!(x["context"], "signal-handler", "{x}");
        assert_eq!(x["signal_name"], "SIGUSR1", "{x}");
        assert_eq!(x["signal_origin"], "async", "sent by another process: {x}");
    }
    let others: Vec<_> = mine
        .iter()
        .filter(|x| x["event"] == "report" && x["function"] != "printf")
        .collect();
    assert!(
        others.is_empty(),
        "only printf is called in the handler: {others:?}"
    );
    let exits: Vec<&&Value> = mine.iter().filter(|x| x["event"] == "exit").collect();
    assert_eq!(exits.len(), 1, "one exit summary for the program");
    let e = exits[0];
    let printf_count: u64 = e["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["function"] == "printf")
        .map(|s| n(&s["count"]))
        .sum();
    assert_eq!(
        printf_count, sent,
        "summary's printf count == handler runs: {e}"
    );
    assert_eq!(n(&e["unsafe_calls"]), sent, "{e}");
    assert_eq!(n(&e["dropped"]), 0, "{e}");
    println!(
        "signal storm: {sent} SIGUSR1 from another process handled, {} printf report(s), {:.1} s with preload ({:.1} s without)",
        printf.len(),
        r.secs,
        plain.secs
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Nasty option strings on a real program

fn nasty_options() -> Vec<(&'static str, Vec<u8>, bool)> {
    // (label, ASSAFE_OPTIONS bytes, malformed?)
    vec![
        ("huge 100 KiB", vec![b'a'; 100 * 1024], true),
        (
            "huge valid-looking",
            b"strict=1:".repeat(100 * 1024 / 9),
            true,
        ),
        (
            "non-UTF-8",
            b"x\xff\xfe=1:log_format=\xc3\x28".to_vec(),
            true,
        ),
        ("non-UTF-8 value", b"strict=\xff".to_vec(), true),
        ("= only", b"=".to_vec(), true),
        (":::", b":::".to_vec(), false),
        ("repeated keys", b"strict=0:strict=1".to_vec(), false),
        (
            "unknown keys",
            b"frobnicate=1:colour=red:verbose".to_vec(),
            true,
        ),
        ("empty log_path", b"log_path=".to_vec(), true),
        (
            "5000-char log_path",
            [b"log_path=/tmp/".to_vec(), vec![b'p'; 5000]].concat(),
            true,
        ),
        (
            "embedded newline",
            b"strict=1\nlog_format=json".to_vec(),
            true,
        ),
        (
            "newline item",
            b"log_format=json:\n:strict=1".to_vec(),
            false,
        ),
        ("control bytes", b"\x01\x02=\x1b[31m".to_vec(), true),
        ("whitespace", b"  strict = 1  ".to_vec(), true),
    ]
}

#[test]
fn nasty_option_strings_never_harm_the_host() {
    let env = Env::new("rel_nasty_options");
    let prog = env.compile_file("fork_malloc", &[]);
    for mode in ["mt", "st"] {
        let base = run_bounded(cmd(&prog, &[mode], None, None), Duration::from_secs(30));
        assert!(base.status.success());
        for (label, opts, malformed) in nasty_options() {
            let os = OsStr::from_bytes(&opts);
            let r = run_bounded(
                cmd(&prog, &[mode], Some(&env.lib), Some(os)),
                Duration::from_secs(30),
            );
            assert_eq!(
                r.status, base.status,
                "[{label}/{mode}] exit status changed\n{}",
                r.stderr
            );
            assert_eq!(r.stdout, base.stdout, "[{label}/{mode}] stdout changed");
            let w = warnings_per_pid(&r.stderr);
            for (pid, lines) in &w {
                assert_eq!(
                    lines.len(),
                    1,
                    "[{label}/{mode}] pid {pid}: more than one warning line:\n{}",
                    r.stderr
                );
                assert!(
                    lines[0].contains("ASSAFE_OPTIONS"),
                    "[{label}] {}",
                    lines[0]
                );
            }
            let parent_warned = w.contains_key(&r.pid);
            assert_eq!(
                parent_warned, malformed,
                "[{label}/{mode}] warning expected: {malformed}\nstderr:\n{}",
                r.stderr
            );
            // The child inherits the parsed options: it never warns again.
            assert!(
                w.keys().all(|&p| p == r.pid),
                "[{label}/{mode}] a child warned too:\n{}",
                r.stderr
            );
            // Reports still work after a bad string (defaults kept): the mt child is reported.
            let reported = r.stderr.contains("async-signal-unsafe call to malloc")
                || r.stderr.contains("\"function\":\"malloc\"");
            let strict = label == "repeated keys" || label == "newline item";
            let want_report = mode == "mt" || strict;
            assert_eq!(
                reported, want_report,
                "[{label}/{mode}] report expected: {want_report}\nstderr:\n{}",
                r.stderr
            );
        }
    }
    // Last wins, both ways.
    let r = run_bounded(
        cmd(
            &prog,
            &["st"],
            Some(&env.lib),
            Some(OsStr::new("strict=1:strict=0")),
        ),
        Duration::from_secs(30),
    );
    assert!(
        !r.stderr.contains("malloc"),
        "strict=1:strict=0 is not strict:\n{}",
        r.stderr
    );
    let r = run_bounded(
        cmd(
            &prog,
            &["st"],
            Some(&env.lib),
            Some(OsStr::new("strict=0:strict=1:log_format=json")),
        ),
        Duration::from_secs(30),
    );
    let recs = json_on_stderr(&r.stderr);
    assert!(
        recs.iter()
            .any(|x| x["function"] == "malloc" && x["strict"] == true),
        "strict=0:strict=1 is strict:\n{}",
        r.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Sink faults

/// Runs fork_malloc mt with `log_path` = `path` (+ json), with and without the preload; asserts
/// the host is unharmed and nothing of ours reaches its stderr.
fn unwritable_log(env: &Env, what: &str, log_prefix: &Path, setup: impl Fn(&mut Command)) {
    let prog = env.compile_file("fork_malloc", &[]);
    let opts = format!("log_format=json:log_path={}", log_prefix.display());
    let mut base = cmd(&prog, &["mt"], None, None);
    setup(&mut base);
    let base = run_bounded(base, Duration::from_secs(30));
    assert_eq!(
        base.stdout, "child: exit 0\n",
        "[{what}] the program itself: {base:?}"
    );
    let mut c = cmd(&prog, &["mt"], Some(&env.lib), Some(OsStr::new(&opts)));
    setup(&mut c);
    let r = run_bounded(c, Duration::from_secs(30));
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (base.status, base.stdout.as_str()),
        "[{what}] the host program was harmed (status {:?}, signal {:?})\nstderr:\n{}",
        r.status.code(),
        r.status.signal(),
        r.stderr
    );
    // With log_path set nothing of ours goes to the program's stderr (issue 11): the records
    // that cannot be written are counted as lost (here nowhere can take the count either).
    assert_eq!(
        r.stderr, base.stderr,
        "[{what}] nothing of ours on the program's stderr"
    );
}

#[test]
fn log_path_in_a_missing_directory() {
    let env = Env::new("rel_sink_enoent");
    let p = env.dir.join("no/such/dir/log");
    unwritable_log(&env, "ENOENT", &p, |_| {});
}

#[test]
fn log_path_under_a_regular_file() {
    let env = Env::new("rel_sink_enotdir");
    let f = env.dir.join("plainfile");
    std::fs::write(&f, "x").unwrap();
    unwritable_log(&env, "ENOTDIR", &f.join("log"), |_| {});
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "x");
}

/// A full disk, simulated with RLIMIT_FSIZE: the write fails with EFBIG and the kernel sends
/// SIGXFSZ, whose default action kills the process. The host program writes only to pipes, so
/// without the library it is never affected; the library must not get it killed.
#[test]
fn log_write_beyond_rlimit_fsize_does_not_kill_the_host() {
    // Both limits run; the failures are reported together.
    let mut failures = Vec::new();
    for limit in [0u64, 200] {
        let one = std::panic::catch_unwind(move || fsize_case(limit));
        if let Err(e) = one {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(msg);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 2 RLIMIT_FSIZE cases failed:\n{}",
        failures.len(),
        failures.join("\n---\n")
    );
}

fn fsize_case(limit: u64) {
    {
        let env = Env::new(&format!("rel_sink_fsize{limit}"));
        let logs = env.dir.join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        unwritable_log(
            &env,
            &format!("RLIMIT_FSIZE={limit}"),
            &logs.join("log"),
            move |c| {
                // SAFETY: setrlimit is async-signal-safe; runs in the child between fork and exec.
                unsafe {
                    c.pre_exec(move || {
                        let rl = libc::rlimit {
                            rlim_cur: limit,
                            rlim_max: limit,
                        };
                        if libc::setrlimit(libc::RLIMIT_FSIZE, &rl) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
            },
        );
    }
}

#[test]
fn started_with_fds_0_1_2_closed() {
    let env = Env::new("rel_closed_fds");
    let prog = env.compile_file("rel_closed_fds", &[]);
    let mut results = Vec::new();
    for preload in [false, true] {
        let data = env.dir.join(format!("data-{preload}"));
        let logs = env.dir.join(format!("logs-{preload}"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&logs).unwrap();
        let opts = format!("log_format=json:log_path={}/log", logs.display());
        let mut c = cmd(
            &prog,
            &[&data],
            preload.then_some(env.lib.as_path()),
            Some(OsStr::new(&opts)),
        );
        // SAFETY: close(2) only, between fork and exec.
        unsafe {
            c.pre_exec(|| {
                for fd in 0..3 {
                    libc::close(fd);
                }
                Ok(())
            });
        }
        let r = run_bounded(c, Duration::from_secs(30));
        let result = std::fs::read_to_string(data.join("result")).unwrap_or_default();
        assert!(
            r.status.success(),
            "[preload={preload}] status {} result {result:?}",
            r.status
        );
        assert_eq!(
            result, "closed_at_start=3 child=0x0 sizes=0,0,0\n",
            "[preload={preload}]"
        );
        let recs = json_lines_in(&logs);
        if preload {
            assert!(
                recs.iter()
                    .any(|x| x["event"] == "report" && x["function"] == "malloc"),
                "the child's report reached the log file: {recs:?}"
            );
        } else {
            assert!(recs.is_empty());
        }
        results.push((r.status, result));
    }
    assert_eq!(results[0], results[1]);
}

#[test]
fn child_that_closed_every_fd_and_an_unwritable_log() {
    let env = Env::new("rel_closeall");
    let prog = env.compile_file("fork_closeall", &[]);
    let base = run_bounded(
        cmd(&prog, &[] as &[&str], None, None),
        Duration::from_secs(30),
    );
    assert_eq!(base.stdout, "child: exit 0\n");
    // Writable log: the report arrives although the child closed fd 0..∞.
    let logs = env.dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let opts = format!("log_format=json:log_path={}/log", logs.display());
    let r = run_bounded(
        cmd(
            &prog,
            &[] as &[&str],
            Some(&env.lib),
            Some(OsStr::new(&opts)),
        ),
        Duration::from_secs(30),
    );
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (base.status, base.stdout.as_str()),
        "{}",
        r.stderr
    );
    let recs = json_lines_in(&logs);
    assert!(
        recs.iter()
            .any(|x| x["event"] == "report" && x["function"] == "malloc"),
        "{recs:?}"
    );
    // Unwritable log: the fallback (fd 2) is closed too; the host must not notice.
    let opts = format!("log_format=json:log_path={}/missing/log", env.dir.display());
    let r = run_bounded(
        cmd(
            &prog,
            &[] as &[&str],
            Some(&env.lib),
            Some(OsStr::new(&opts)),
        ),
        Duration::from_secs(30),
    );
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (base.status, base.stdout.as_str()),
        "{}",
        r.stderr
    );
    // Nothing of ours on the program's stderr (issue 11: the lost records are only counted).
    assert_eq!(r.stderr, base.stderr);
}

#[test]
fn program_that_replaces_environ_before_forking() {
    let env = Env::new("rel_environ");
    let prog = env.compile_file("rel_environ", &[]);
    for mode in ["null", "fresh", "clear"] {
        let base = run_bounded(cmd(&prog, &[mode], None, None), Duration::from_secs(30));
        assert_eq!(base.stdout, "child: exit 0\n", "[{mode}] {base:?}");
        let logs = env.dir.join(format!("logs-{mode}"));
        std::fs::create_dir_all(&logs).unwrap();
        let opts = format!("log_format=json:log_path={}/log", logs.display());
        let r = run_bounded(
            cmd(&prog, &[mode], Some(&env.lib), Some(OsStr::new(&opts))),
            Duration::from_secs(30),
        );
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (base.status, base.stdout.as_str()),
            "[{mode}] {}",
            r.stderr
        );
        assert_eq!(r.stderr, "", "[{mode}]");
        let recs = json_lines_in(&logs);
        let child_reports: BTreeSet<&str> = recs
            .iter()
            .filter(|x| x["event"] == "report" && x["context"] == "fork-child")
            .map(|x| x["function"].as_str().unwrap())
            .collect();
        assert_eq!(
            child_reports,
            BTreeSet::from(["malloc", "getenv"]),
            "[{mode}] {recs:?}"
        );
        let execs: Vec<_> = recs.iter().filter(|x| x["event"] == "exec").collect();
        assert_eq!(execs.len(), 1, "[{mode}] exec summary: {recs:?}");
        assert_eq!(n(&execs[0]["unsafe_calls"]), 2, "[{mode}]");
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Secure mode, planted symlinks, file modes

/// Removes a file when dropped (the library copy installed in a system directory).
struct RemoveOnDrop(PathBuf);
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// AT_SECURE: a setuid-root copy of a program run by `nobody`. glibc then preloads only a
/// library named without '/' that lies in a standard directory and is itself setuid, so the test
/// installs such a copy under a unique name for the duration of the test (needs root).
#[test]
fn secure_mode_ignores_log_path_from_the_environment() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 || !Path::new("/usr/bin/setpriv").exists() {
        panic!("this test needs root and setpriv (util-linux): run the suite as root as CI does");
    }
    let env = Env::new("rel_secure");
    let prog = env.compile_file("fork_malloc", &[]);
    let libdir = [
        "/usr/lib/x86_64-linux-gnu",
        "/lib/x86_64-linux-gnu",
        "/usr/lib",
    ]
    .iter()
    .map(Path::new)
    .find(|d| d.is_dir())
    .expect("a standard library directory");
    let libname = format!("libassafe-reltest-{}.so", std::process::id());
    let installed = RemoveOnDrop(libdir.join(&libname));
    std::fs::copy(&env.lib, &installed.0).unwrap();
    std::fs::set_permissions(&installed.0, std::fs::Permissions::from_mode(0o4755)).unwrap();
    // World-accessible directories for `nobody`.
    for d in [&env.dir, &env.dir.parent().unwrap().to_path_buf()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run_as_nobody = |setuid: bool, tag: &str| {
        let exe = env.dir.join(format!("prog-{tag}"));
        std::fs::copy(&prog, &exe).unwrap();
        std::fs::set_permissions(
            &exe,
            std::fs::Permissions::from_mode(if setuid { 0o4755 } else { 0o755 }),
        )
        .unwrap();
        let logs = env.dir.join(format!("logs-{tag}"));
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o777)).unwrap();
        // setpriv drops to nobody without the preload; env(1), already nobody, sets it for the
        // program only.
        let mut c = Command::new("/usr/bin/setpriv");
        c.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "/usr/bin/env",
        ])
        .arg(format!("LD_PRELOAD={libname}"))
        .arg(format!(
            "ASSAFE_OPTIONS=log_format=json:log_path={}/log",
            logs.display()
        ))
        .arg(&exe)
        .arg("mt")
        .env_remove("LD_PRELOAD")
        .env_remove("ASSAFE_OPTIONS");
        let r = run_bounded(c, Duration::from_secs(30));
        let files: Vec<PathBuf> = std::fs::read_dir(&logs)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        (r, files)
    };
    // Control: not setuid, same library, same environment → the log file is used.
    let (r, files) = run_as_nobody(false, "plain");
    assert_eq!(r.stdout, "child: exit 0\n", "{r:?}");
    assert!(r.status.success());
    assert!(
        !files.is_empty() && json_on_stderr(&r.stderr).is_empty(),
        "control run (no AT_SECURE) writes the log file: files {files:?}\nstderr:\n{}",
        r.stderr
    );
    // Secure: setuid root run by nobody → AT_SECURE; the library is loaded (reports appear) but
    // never opens the path from the environment: the records go to stderr.
    let (r, files) = run_as_nobody(true, "setuid");
    assert!(r.status.success(), "{r:?}");
    assert_eq!(r.stdout, "child: exit 0\n");
    assert!(files.is_empty(), "secure mode created log files: {files:?}");
    let recs = json_on_stderr(&r.stderr);
    assert!(
        recs.iter()
            .any(|x| x["event"] == "report" && x["function"] == "malloc"),
        "the library ran in secure mode and reported on stderr:\n{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("cannot write log file"),
        "log_path was not even tried:\n{}",
        r.stderr
    );
}

#[test]
fn planted_symlink_at_the_log_file_is_not_followed() {
    let env = Env::new("rel_symlink");
    let prog = env.compile_file("rel_symlink", &[]);
    let logs = env.dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let prefix = logs.join("log");
    let victim = env.dir.join("victim");
    let dangling = env.dir.join("would-be-created");
    for target in [&victim, &dangling] {
        std::fs::write(&victim, "original\n").unwrap();
        let _ = std::fs::remove_file(&dangling);
        for f in std::fs::read_dir(&logs).unwrap().flatten() {
            std::fs::remove_file(f.path()).unwrap();
        }
        let opts = format!("log_format=json:log_path={}", prefix.display());
        let mut c = cmd(
            &prog,
            &[prefix.as_os_str(), target.as_os_str()],
            Some(&env.lib),
            Some(OsStr::new(&opts)),
        );
        // SAFETY: umask(2) only: with umask 0 the files must still be created 0600.
        unsafe {
            c.pre_exec(|| {
                libc::umask(0);
                Ok(())
            });
        }
        let r = run_bounded(c, Duration::from_secs(30));
        assert!(r.status.success(), "{r:?}");
        assert_eq!(r.stdout, "child: exit 0\n");
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "original\n",
            "written through the symlink!"
        );
        assert!(
            !dangling.exists(),
            "created the symlink's target {}",
            dangling.display()
        );
        // The child's record is lost (counted, not written through the link, nothing on stderr).
        assert_eq!(r.stderr, "", "nothing of ours on stderr");
        // The parent's own log file (start record) is a regular file with mode 0600.
        let own = PathBuf::from(format!("{}.{}", prefix.display(), r.pid));
        let md =
            std::fs::symlink_metadata(&own).unwrap_or_else(|e| panic!("{}: {e}", own.display()));
        assert!(md.file_type().is_file());
        assert_eq!(
            md.permissions().mode() & 0o7777,
            0o600,
            "log file mode (umask 0)"
        );
        let links = std::fs::read_dir(&logs)
            .unwrap()
            .flatten()
            .filter(|e| e.file_type().unwrap().is_symlink())
            .count();
        assert_eq!(links, 1, "the planted symlink is still there, not replaced");
    }
}

// ---------------------------------------------------------------------------------------------
// 7. The library binary

#[test]
fn library_has_no_allocator_panic_or_unwind_symbols() {
    let lib = library();
    const BANNED: &[&str] = &[
        "__rust_alloc",
        "__rust_dealloc",
        "__rust_realloc",
        "__rust_alloc_zeroed",
        "__rdl_alloc",
        "__rdl_dealloc",
        "__rg_alloc",
        "rust_panic",
        "_Unwind_Resume",
        "_Unwind_RaiseException",
    ];
    let mut seen = 0;
    let mut bad = Vec::new();
    for args in [&["-D"][..], &[][..]] {
        let text = nm(args, &lib);
        for line in text.lines() {
            let Some(sym) = line.split_whitespace().last() else {
                continue;
            };
            seen += 1;
            let name = sym.split('@').next().unwrap();
            for b in BANNED {
                // Plain, or v0-mangled as a rustc-internal item (`…7___rustc12___rust_alloc`).
                let mangled = format!("{}{}", b.len(), b);
                if name == *b || (name.starts_with("_R") && name.ends_with(&mangled)) {
                    bad.push(format!("nm {args:?}: {line}"));
                }
            }
        }
    }
    assert!(
        seen > 100,
        "nm listed almost nothing ({seen} symbols): stripped library?"
    );
    assert!(
        bad.is_empty(),
        "allocator/panic/unwind symbols in libassafe.so:\n{}",
        bad.join("\n")
    );
}

/// The library exports the functions of symbols.txt and nothing else: any other exported name
/// comes first in every program's global scope and takes the place of the program's own.
#[test]
fn library_exports_only_the_interposed_functions() {
    let table = std::fs::read_to_string(repo_root().join("symbols.txt")).unwrap();
    let names: BTreeSet<&str> = table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert!(names.len() > 500, "symbols.txt read wrong: {}", names.len());
    let text = nm(&["-D", "--defined-only"], &library());
    let extra: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|s| s.split('@').next().unwrap())
        .filter(|n| !names.contains(n))
        .collect();
    assert!(
        extra.is_empty(),
        "exported but not in symbols.txt: {extra:?}"
    );
}

/// A Rust program linked with the shared libstd (`-C prefer-dynamic`) catches its panics under the
/// preload. The library's own `rust_eh_personality` (the precompiled `core` refers to one) was
/// exported and bound in place of libstd's: every panic aborted ("failed to initiate panic").
#[test]
fn rust_program_with_shared_libstd_catches_panics() {
    let env = Env::new("rel_dynstd");
    let src = env.dir.join("dynstd.rs");
    std::fs::write(
        &src,
        r#"fn main() {
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(|| panic!("boom"));
    println!("caught: {}", r.is_err());
}
"#,
    )
    .unwrap();
    let exe = env.dir.join("dynstd");
    let ok = Command::new("rustc")
        .args(["-C", "prefer-dynamic", "-O", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("rustc");
    assert!(ok.success());
    let libdir = Command::new("rustc")
        .args(["--print", "target-libdir"])
        .output()
        .expect("rustc --print target-libdir");
    let libdir = String::from_utf8(libdir.stdout).unwrap().trim().to_string();
    for preload in [false, true] {
        let mut vars = vec![("LD_LIBRARY_PATH".to_string(), libdir.clone())];
        if preload {
            vars.push(("LD_PRELOAD".into(), library().display().to_string()));
        }
        let (_, status, stdout, stderr) =
            run_raw(&[&exe], &vars, &["LD_PRELOAD", "ASSAFE_OPTIONS"]);
        assert!(
            status.success() && stdout == "caught: true\n",
            "preload {preload}: {status:?}\nstdout: {stdout}\nstderr: {stderr}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Found by the transparency oracle (CPython's test_signal.test_interprocess_signal hangs under the
// preload): subprocess.Popen vforks, and the vfork child resets the parent's handled signals to
// SIG_DFL with sigaction before exec. The kernel changes only the child's dispositions; the
// parent's handler must keep running.

#[test]
fn sigaction_in_a_vfork_child_does_not_change_the_parents_handler() {
    let env = Env::new("rel_vfork_sigaction");
    let prog = env.compile_file("rel_vfork_sigaction", &[]);
    let want = "child: exit 0\nhandler runs: 1\n";
    let base = run_bounded(
        cmd(&prog, &[] as &[&str], None, None),
        Duration::from_secs(30),
    );
    assert_eq!(
        (base.status.code(), base.stdout.as_str()),
        (Some(0), want),
        "{base:?}"
    );
    let logs = env.dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let opts = format!("log_format=json:log_path={}/log", logs.display());
    let r = run_bounded(
        cmd(
            &prog,
            &[] as &[&str],
            Some(&env.lib),
            Some(OsStr::new(&opts)),
        ),
        Duration::from_secs(30),
    );
    assert_eq!(
        (r.status.code(), r.stdout.as_str()),
        (Some(0), want),
        "the parent's SIGHUP handler was lost after a vfork child's sigaction(SIG_DFL)\nstderr:\n{}",
        r.stderr
    );
}
