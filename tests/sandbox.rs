//! Issue 11: seccomp filters, chroot, dropped privileges and the end of a process. Each program
//! runs preloaded with a private log directory; the records must arrive there (or be counted as
//! lost), and nothing of ours may reach the program's stdout or stderr.

use assafe_tests::*;

fn exe_is(r: &Value, prog: &str) {
    let e = s(&r["exe"]);
    assert!(e.ends_with(prog), "exe {e:?} is not {prog}: {r}");
}

#[test]
fn strict_seccomp_filter_in_a_handler_survives_and_reports() {
    let env = Env::new("sb_seccomp_handler");
    let prog = env.compile_file("sb_seccomp", &["-pthread"]);
    let out = env.run(&[prog.as_os_str(), "handler".as_ref()], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "handler: survived\n", "{}", out.dump());
    assert_eq!(out.stderr, "", "{}", out.dump());
    let reports = out.reports_for("malloc");
    assert_eq!(reports.len(), 1, "{}", out.dump());
    let r = reports[0];
    assert_eq!(r["context"], "signal-handler");
    assert_eq!(r["signal_name"], "SIGALRM");
    assert_eq!(n(&r["pid"]), out.pid as u64, "{r}");
    exe_is(r, "sb_seccomp");
    assert!(
        r.get("truncated").is_none(),
        "the pipe reader read the stack: {r}"
    );
    assert!(
        r["frames"].as_array().unwrap().len() >= 2,
        "the handler's caller is found through the pipe reader: {r}"
    );
    let sums = out.summaries();
    assert_eq!(sums.len(), 1, "{}", out.dump());
    assert_eq!(sums[0]["status"], 0);
    assert!(n(&sums[0]["unsafe_calls"]) >= 3, "{}", sums[0]);
    assert!(sums[0].get("lost").is_none(), "{}", sums[0]);
    assert_eq!(sums[0]["signals"], serde_json::json!(["SIGALRM"]));
}

/// Under a filter that allows the program's own `sigaction` (rt_sigaction) and nothing else of
/// what the library's writer lock used (rt_sigprocmask, sched_yield), installing a handler
/// survives, and `oldact` shows it.
#[test]
fn strict_seccomp_filter_allows_the_programs_own_sigaction() {
    let env = Env::new("sb_seccomp_sigaction");
    let prog = env.compile_file("sb_seccomp", &["-pthread"]);
    let out = env.run(&[prog.as_os_str(), "sigaction".as_ref()], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "sigaction: survived\n", "{}", out.dump());
    assert_eq!(out.stderr, "", "{}", out.dump());
}

/// `halt_on_error=1` under a strict filter: the process stops with exit status 134 (what
/// abort's SIGABRT would give a shell), not with SIGSYS from a call the filter forbids.
#[test]
fn halt_on_error_under_a_strict_filter_exits_134() {
    let env = Env::new("sb_seccomp_halt");
    let prog = env.compile_file("sb_seccomp", &["-pthread"]);
    let out = env.run(
        &[prog.as_os_str(), "halt".as_ref()],
        true,
        "halt_on_error=1",
    );
    assert_eq!(out.status.code(), Some(134), "{}", out.dump());
    assert_eq!(out.stderr, "", "{}", out.dump());
    assert_eq!(out.reports_for("malloc").len(), 1, "{}", out.dump());
}

#[test]
fn strict_seccomp_filter_in_a_mt_fork_child_survives_and_reports() {
    let env = Env::new("sb_seccomp_fork");
    let prog = env.compile_file("sb_seccomp", &["-pthread"]);
    let out = env.run(&[prog.as_os_str(), "forkchild".as_ref()], true, "");
    out.assert_ok();
    assert_eq!(
        out.stdout,
        "child: survived\nchild: exit 0\n",
        "{}",
        out.dump()
    );
    assert_eq!(out.stderr, "", "{}", out.dump());
    let reports = out.reports_in("fork-child");
    let malloc: Vec<_> = reports
        .iter()
        .filter(|r| r["function"] == "malloc")
        .collect();
    assert_eq!(malloc.len(), 1, "{}", out.dump());
    let r = malloc[0];
    assert_ne!(n(&r["pid"]), out.pid as u64);
    assert_eq!(n(&r["ppid"]), out.pid as u64);
    exe_is(r, "sb_seccomp");
    let child = n(&r["pid"]);
    let sums: Vec<_> = out
        .summaries()
        .into_iter()
        .filter(|e| n(&e["pid"]) == child)
        .collect();
    assert_eq!(sums.len(), 1, "{}", out.dump());
    assert!(sums[0].get("lost").is_none(), "{}", sums[0]);
    // The child's file begins with its start record.
    assert!(
        out.records
            .iter()
            .any(|x| x["event"] == "start" && n(&x["pid"]) == child),
        "{}",
        out.dump()
    );
}

/// A seccomp filter that came with the exec (a sandboxing parent, systemd's `SystemCallFilter=`):
/// the library learns of it from `/proc/self/status` before its first system call that such a
/// filter could forbid (here: the unwinder's `process_vm_readv`, `readlinkat` for the program's
/// path), not at load, and then works as under a filter it saw installed: the handler's `malloc`
/// is reported, with a stack read through the pipe reader, and the program runs to its end. The
/// filter kills on those calls, so a library that made one would end the program with SIGSYS.
#[test]
fn seccomp_filter_inherited_at_exec_is_learnt_before_it_matters() {
    let env = Env::new("sb_inherited");
    let prog = env.compile_file("sb_inherited", &[]);
    let out = env.run(&[prog.as_os_str(), "launch".as_ref()], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "target: survived\n", "{}", out.dump());
    assert_eq!(out.stderr, "", "{}", out.dump());
    let r = out.reports_for("malloc");
    assert_eq!(r.len(), 1, "{}", out.dump());
    assert_eq!(r[0]["context"], "signal-handler", "{}", r[0]);
    exe_is(r[0], "sb_inherited");
    assert!(
        r[0]["frames"].as_array().unwrap().len() >= 2,
        "the handler's caller is found through the pipe reader: {}",
        r[0]
    );
    for sum in out.summaries() {
        assert!(sum.get("lost").is_none(), "{sum}");
    }
}

/// Runs `sb_chroot MODE EMPTY` (the MT fork child chroots into an empty directory, or the whole
/// process chroots first): it succeeds with nothing on stderr, and its child's one malloc report
/// reached the log directory with `exe` set. Returns that report and the test's `Env` (whose
/// directory holds `empty/`).
fn chroot_run(name: &str, mode: &str) -> (serde_json::Value, Env) {
    let env = Env::new(name);
    let prog = env.compile_file("sb_chroot", &["-pthread"]);
    let empty = env.dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = env.run(
        &[prog.as_os_str(), mode.as_ref(), empty.as_os_str()],
        true,
        "",
    );
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n", "{}", out.dump());
    assert_eq!(out.stderr, "", "{}", out.dump());
    let r: Vec<_> = out
        .reports_in("fork-child")
        .into_iter()
        .filter(|r| r["function"] == "malloc")
        .collect();
    assert_eq!(r.len(), 1, "{}", out.dump());
    exe_is(r[0], "sb_chroot");
    let r = r[0].clone();
    (r, env)
}

#[test]
fn chroot_child_reports_reach_the_log_directory() {
    let (r, env) = chroot_run("sb_chroot", "child");
    assert!(n(&r["parent_threads"]) >= 2, "{r}");
    assert_eq!(
        std::fs::read_dir(env.dir.join("empty")).unwrap().count(),
        0,
        "nothing written inside the chroot"
    );
}

#[test]
fn without_proc_the_mt_fork_child_is_still_checked() {
    let (r, _) = chroot_run("sb_chroot_first", "first");
    assert_eq!(n(&r["parent_threads"]), 0, "count unknown: {r}");
}

/// Runs `sb_setuid MODE` (tests/c/sb_setuid.c) as root, or `None` (skipped) when not root, and
/// checks what every mode shares: the program's own output, nothing on stderr, one `malloc`
/// report from the child of a multi-threaded fork, no record lost anywhere. Returns the outcome
/// and that child's pid.
fn setuid_run(mode: &str, stdout: &str) -> Option<(Outcome, u64)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } != 0 {
        eprintln!("skipped: needs root");
        return None;
    }
    let env = Env::new(&format!("sb_setuid_{mode}"));
    let prog = env.compile_file("sb_setuid", &["-pthread"]);
    let out = env.run(&[prog.as_os_str(), mode.as_ref()], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, stdout, "{}", out.dump());
    assert_eq!(out.stderr, "", "{}", out.dump());
    let r: Vec<_> = out
        .reports_in("fork-child")
        .into_iter()
        .filter(|r| r["function"] == "malloc")
        .collect();
    assert_eq!(r.len(), 1, "{}", out.dump());
    let child = n(&r[0]["pid"]);
    assert!(
        out.summaries().iter().all(|e| e.get("lost").is_none()),
        "{}",
        out.dump()
    );
    let sums = out
        .summaries()
        .into_iter()
        .filter(|e| n(&e["pid"]) == child)
        .count();
    assert_eq!(sums, 1, "the child's summary: {}", out.dump());
    Some((out, child))
}

#[test]
fn a_child_that_drops_to_nobody_still_reports() {
    setuid_run("child-drops", "child: exit 0\n");
}

/// A process that has dropped privileges forks: the child cannot create its own file in the
/// root-owned 0700 log directory, so its records (its own start record first) go to the file the
/// parent kept open when it dropped privileges.
#[test]
fn fork_child_of_a_process_that_dropped_privileges_reports_through_the_kept_file() {
    let Some((out, child)) = setuid_run("drop-fork", "child: exit 0\n") else {
        return;
    };
    let starts = out
        .records_of("start")
        .into_iter()
        .filter(|e| n(&e["pid"]) == child)
        .count();
    assert_eq!(starts, 1, "the child's start record: {}", out.dump());
}

/// A process drops to nobody and execs: the new image cannot reach the root-owned 0700 log
/// directory, so the first image hands its kept file over through the exec. The new image's
/// records (its start, and its fork child's report) arrive.
#[test]
fn a_program_execd_after_dropping_privileges_reports_through_the_handed_over_file() {
    let Some((out, child)) = setuid_run("drop-exec", "exec'd image: uid 65534, child exit 0\n")
    else {
        return;
    };
    let starts = out
        .records_of("start")
        .into_iter()
        .filter(|e| n(&e["pid"]) == out.pid as u64)
        .count();
    assert_eq!(starts, 2, "both images of the process: {}", out.dump());
    let r = out.reports_for("malloc");
    assert_eq!(n(&r[0]["pid"]), child);
    assert_eq!(n(&r[0]["ppid"]), out.pid as u64, "{}", out.dump());
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[test]
fn return_from_main_writes_the_exact_summary_with_every_signal() {
    let env = Env::new("sb_return");
    let prog = env.compile_file("sb_return", &[]);
    let out = env.run(&[prog.as_os_str()], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "done\n", "{}", out.dump());
    let sums = out.summaries();
    assert_eq!(sums.len(), 1, "{}", out.dump());
    let e = sums[0];
    assert_eq!(e["event"], "exit");
    assert!(e.get("status").is_none(), "no exit call was seen: {e}");
    assert_eq!(n(&e["unsafe_calls"]), 6, "{e}");
    assert_eq!(e["signals"], serde_json::json!(["SIGUSR1", "SIGUSR2"]));
}

/// Runs `prog` with this library and, after it, the counting preload (tests/c/chain_counter.c),
/// and checks what every chaining test shares: the program succeeds and says `done`, and its
/// SIGUSR1 handler is still wrapped and checked (a malloc report). Returns its stdout (with the
/// counter's line) and stderr.
fn run_with_counter(env: &Env, prog: &std::path::Path) -> (String, String) {
    let counter = env.compile_file("chain_counter", &["-shared", "-fPIC", "-ldl"]);
    run_with_preload_after(env, prog, &counter)
}

/// [`run_with_counter`] with the preload `counter` after this library.
fn run_with_preload_after(
    env: &Env,
    prog: &std::path::Path,
    counter: &std::path::Path,
) -> (String, String) {
    let (status, stdout, stderr, text) = env.run_preloaded(
        &[prog],
        &format!("{} {}", env.lib.display(), counter.display()),
        "log",
    );
    assert!(status.success(), "{status}\n{stderr}");
    assert!(stdout.contains("done\n"), "{stdout:?}\n{stderr}");
    assert!(
        text.lines().any(|l| l.contains("\"event\":\"report\"")
            && l.contains("\"function\":\"malloc\"")
            && l.contains("\"signal_name\":\"SIGUSR1\"")),
        "the handler is still wrapped and checked:\n{text}"
    );
    (stdout, stderr)
}

/// Item 7: `signal()` reaches a preload loaded after this one (as `sigaction()` does), and the
/// handler is still checked.
#[test]
fn signal_reaches_a_later_preload() {
    let env = Env::new("sb_chain");
    let prog = env.compile_file("sb_return", &[]);
    let (stdout, stderr) = run_with_counter(&env, &prog);
    // (The counter's destructor writes before stdio's buffer is flushed at exit.)
    assert!(
        stdout.contains("counter: signal=2 sigaction=1 sigset=0\n"),
        "both signal() calls reach the second preload: {stdout:?}\n{stderr}"
    );
}

/// With the C library's own `signal` next (no other preload defines it), `signal()` becomes one
/// `sigaction` (one `rt_sigaction`): a preload after this one that defines only `sigaction`
/// sees exactly one call per `signal()`. Before, each `signal()` asked for the old action, let
/// libc's `signal` set the program's handler, then installed the wrapper: three system calls,
/// two of them through `sigaction`.
#[test]
fn signal_with_libc_next_is_one_sigaction() {
    let env = Env::new("sb_signal_once");
    let counter = env.compile_c(
        "sigaction_counter",
        r#"#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static int n;
int sigaction(int sig, const struct sigaction *a, struct sigaction *o) {
    if (sig == SIGUSR1) n++;
    int (*next)(int, const struct sigaction *, struct sigaction *) =
        (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
    return next(sig, a, o);
}
__attribute__((destructor)) static void counts(void) {
    char b[32];
    int k = snprintf(b, sizeof b, "sigaction=%d\n", n);
    (void)!write(1, b, k);
}
"#,
        &["-shared", "-fPIC", "-ldl"],
    );
    let prog = env.compile_c(
        "signal_thrice",
        r#"#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
static void h(int s) { void *(*volatile m)(size_t) = malloc; (void)s; free(m(8)); }
static void g(int s) { (void)s; }
int main(void) {
    if (signal(SIGUSR1, g) != SIG_DFL || signal(SIGUSR1, g) != g || signal(SIGUSR1, h) != g)
        return 1;
    raise(SIGUSR1);
    puts("done");
    fflush(stdout);
    return 0;
}
"#,
        &[],
    );
    let (stdout, stderr) = run_with_preload_after(&env, &prog, &counter);
    assert!(
        stdout.contains("sigaction=3\n"),
        "one sigaction per signal(): {stdout:?}\n{stderr}"
    );
}

/// `sigset` (System V) reaches a later preload too, for a handler and for `SIG_HOLD`, and the
/// handler it installs is still wrapped and checked.
#[test]
fn sigset_reaches_a_later_preload() {
    let env = Env::new("sb_chain_sigset");
    let prog = env.compile_c(
        "sigset_user",
        r#"#define _XOPEN_SOURCE 700
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
static void h(int s) { void *(*volatile m)(size_t) = malloc; (void)s; free(m(8)); }
int main(void) {
    sigset(SIGUSR2, SIG_HOLD);
    sigset(SIGUSR1, h);
    raise(SIGUSR1);
    puts("done");
    return 0;
}
"#,
        &[],
    );
    let (stdout, stderr) = run_with_counter(&env, &prog);
    assert!(
        stdout.contains("sigset=2\n"),
        "both sigset() calls reach the second preload: {stdout:?}\n{stderr}"
    );
}

/// `process_vm_readv` answering ENOSYS (qemu-user) or EPERM: the unwinder falls back to its pipe
/// reader (here through a filter the library cannot see, installed with a raw system call).
#[test]
fn stacks_are_read_without_process_vm_readv() {
    let env = Env::new("sb_enosys");
    let prog = env.compile_file("sb_enosys", &[]);
    let out = env.run(&[&prog], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "ok\n", "{}", out.dump());
    let r = out.reports_for("malloc");
    assert_eq!(r.len(), 1, "{}", out.dump());
    let frames = r[0]["frames"].as_array().unwrap();
    assert!(
        frames.len() >= 3,
        "the handler's callers were found through the pipe reader: {}",
        r[0]
    );
    assert!(r[0].get("truncated").is_none(), "{}", r[0]);
}
