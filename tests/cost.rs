//! Per-call cost of the stubs, counted by callgrind (instructions, not time): the slope over two
//! loop lengths, so load-time work cancels out.

use assafe_tests::*;
use std::process::Command;

/// Runs `prog n` under callgrind, with or without the preload, writing its output to `out`
/// (a `%p` in it: one file per process).
fn callgrind(env: &Env, prog: &std::path::Path, n: u64, preload: bool, out: &std::path::Path) {
    let mut c = Command::new("valgrind");
    c.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(prog)
        .arg(n.to_string())
        .env_remove("LD_PRELOAD")
        .env_remove("ASSAFE_OPTIONS");
    if preload {
        c.env("LD_PRELOAD", &env.lib);
    }
    let r = c.output().expect("run valgrind");
    assert!(r.status.success(), "valgrind: {r:?}");
}

/// The total instructions of a callgrind output file.
fn total(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.trim().parse().ok())
}

/// Instructions callgrind counts for `prog n`, with or without the preload.
fn instructions(env: &Env, prog: &std::path::Path, n: u64, preload: bool) -> u64 {
    let out = env.dir.join(format!("cg.{n}.{preload}"));
    callgrind(env, prog, n, preload, &out);
    total(&std::fs::read_to_string(&out).expect("callgrind output")).expect("callgrind total")
}

/// Extra instructions per interposed call of `file` (a benchmark making 2 calls per iteration),
/// built with the extra compiler flags `cflags`.
fn per_call_with(name: &str, file: &str, cflags: &[&str]) -> f64 {
    let env = Env::new(name);
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scripts/bench.d")
            .join(file),
    )
    .unwrap();
    let prog = env.compile_c(name, &src, &[&["-O2", "-pthread"], cflags].concat());
    let (n1, n2) = (20_000u64, 40_000u64);
    let b =
        instructions(&env, &prog, n2, false) as f64 - instructions(&env, &prog, n1, false) as f64;
    let p = instructions(&env, &prog, n2, true) as f64 - instructions(&env, &prog, n1, true) as f64;
    (p - b) / (2.0 * (n2 - n1) as f64)
}

/// Asserts that `per_call_with(name, file, cflags)` lies in `range` (when valgrind is there).
fn assert_per_call(name: &str, file: &str, cflags: &[&str], range: std::ops::RangeInclusive<f64>) {
    if have_valgrind() {
        let per = per_call_with(name, file, cflags);
        assert!(
            range.contains(&per),
            "{name}: +{per} instructions per call (expected {range:?})"
        );
    }
}

fn have_valgrind() -> bool {
    if Command::new("valgrind").arg("--version").output().is_ok() {
        return true;
    }
    // scripts/test installs valgrind: in CI a missing one is a broken setup, not a skip.
    assert!(
        std::env::var_os("CI").is_none(),
        "valgrind is missing in CI"
    );
    eprintln!("SKIPPED: no valgrind (apt-get install valgrind)");
    false
}

/// The hot stubs: one thread-local test, +4 instructions per call.
#[test]
fn malloc_free_cost_four_instructions() {
    assert_per_call("cost_malloc", "mallocbench.c", &[], 3.5..=4.5);
}

/// syscall(SYS_futex) (Rust's std locks and parking) stays on the fast path of syscall()'s stub.
#[test]
fn futex_syscall_costs_six_instructions() {
    assert_per_call("cost_futex", "futexbench.c", &[], 5.5..=6.5);
}

/// Instructions callgrind counts in the parent of `forkbench n` (each process writes its own
/// file; the parent, which outlives its children and counts everything before each fork as they
/// do too, has the largest total).
fn parent_instructions(env: &Env, prog: &std::path::Path, n: u64, preload: bool) -> u64 {
    let dir = env.dir.join(format!("cgfork.{n}.{preload}"));
    std::fs::create_dir_all(&dir).unwrap();
    callgrind(env, prog, n, preload, &dir.join("cg.%p"));
    std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| total(&std::fs::read_to_string(e.ok()?.path()).ok()?))
        .max()
        .expect("callgrind total")
}

/// What a fork costs the parent (a fork of a process with a second thread, the checked case):
/// the caller's frame and stack are recorded at every fork (process hygiene), through the
/// unwinder's rule cache (~6 k instructions; ~25 k when every fork ran the CFI programs again).
#[test]
fn fork_cost_in_parent() {
    if !have_valgrind() {
        return;
    }
    const LIMIT: f64 = 10_000.0;
    let env = Env::new("cost_fork");
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/bench.d/forkbench.c"),
    )
    .unwrap();
    let prog = env.compile_c("forkbench", &src, &["-O2", "-pthread"]);
    let (n1, n2) = (20u64, 60u64);
    let b = parent_instructions(&env, &prog, n2, false) as f64
        - parent_instructions(&env, &prog, n1, false) as f64;
    let p = parent_instructions(&env, &prog, n2, true) as f64
        - parent_instructions(&env, &prog, n1, true) as f64;
    let per = (p - b) / (n2 - n1) as f64;
    eprintln!("fork: +{per:.0} instructions per fork in the parent");
    assert!(
        per <= LIMIT,
        "+{per:.0} instructions per fork in the parent (limit {LIMIT})"
    );
}

/// The fd-making calls (class `fd`: open, pipe, socket, dup3, …) that ask for close-on-exec
/// cannot leak an fd: their stubs test the flag and take the hot fast path, +6 instructions.
#[test]
fn an_fd_making_call_that_asks_for_close_on_exec_costs_six_instructions() {
    assert_per_call("cost_fd", "fdbench.c", &[], 5.5..=6.5);
}

/// Without close-on-exec (open without O_CLOEXEC, dup) the slow path sends the call to a
/// trampoline that notes its caller (an fstat and a getpid besides): about +220 instructions.
#[test]
fn an_fd_making_call_without_close_on_exec_notes_its_caller() {
    assert_per_call("cost_fd_plain", "fdbench.c", &["-DPLAIN"], 100.0..=400.0);
}

/// Page faults (times 100, what the `tests/c/*_faults.c` programs print) of `cmd`.
fn faults_x100(cmd: &mut Command) -> i64 {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The extra page faults (times 100) of the library over a preloaded library that does nothing
/// (the floor of any LD_PRELOAD), lower of two runs each, after one run that warms the page
/// cache (fault-around maps only cached pages). `run(preload)` gives one measurement.
fn faults_over_empty(env: &Env, what: &str, limit: i64, run: impl Fn(&std::path::Path) -> i64) {
    let empty = env.compile_c(
        "libempty.so",
        "int assafe_test_empty;\n",
        &["-shared", "-fPIC"],
    );
    run(&env.lib);
    let base = run(&empty).min(run(&empty));
    let ours = run(&env.lib).min(run(&env.lib));
    let extra = ours - base;
    eprintln!(
        "+{}.{:02} page faults per {what} over an empty preload",
        extra / 100,
        extra % 100
    );
    assert!(
        extra <= limit,
        "+{extra}/100 page faults per {what} (limit {limit}/100)"
    );
}

/// What loading the library costs every program that starts, in page faults (each a trip into
/// the kernel, most of the per-exec cost on exec-heavy workloads): `/bin/true` exec'd with the
/// library preloaded against a preloaded library that does nothing. The statics written at load
/// sit together (`assafe_hot`, a page-aligned slot table and snapshot, the executable's path used
/// in place), and the library is linked without the C start files, whose destructor wrote a flag
/// alone on a page of `.bss` at every exit and called `__cxa_finalize` through a stub of ours:
/// +16.3 faults; +21.7 with the start files, +29 when the statics were spread over the data
/// segment. +14.2 since the load reads each module's `.eh_frame_hdr` no more, maps no fork
/// sentinel and reads nothing from `/proc`.
#[test]
fn load_page_faults_per_exec() {
    let env = Env::new("cost_load_faults");
    let prog = env.compile_c("exec_faults", include_str!("c/exec_faults.c"), &["-O2"]);
    faults_over_empty(&env, "exec", 1700, |preload| {
        faults_x100(
            Command::new(&prog)
                .args(["300".as_ref(), preload.as_os_str()])
                .env_remove("LD_PRELOAD")
                .env_remove("ASSAFE_OPTIONS"),
        )
    });
}

/// The system calls of a run of `prog` (their names, in order), traced by strace.
fn syscall_names(env: &Env, prog: &std::path::Path, preload: &std::path::Path) -> Vec<String> {
    let text = strace_output(&env.dir, &[], &[prog], preload.as_os_str());
    text.lines()
        .filter_map(|l| l.split('(').next())
        .filter(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'))
        .map(str::to_string)
        .collect()
}

/// Loading the library makes one system call of its own in a program that does nothing
/// interesting (most processes of a build): the `SIGCHLD` query. This one also registers an exit
/// handler, as most programs do: the library notes which process registered it (`getpid`) and
/// classifies it by module without reading the executable's path; and it opens a file without
/// close-on-exec, as `cat` and the compilers do, which the fd-leak check notes (`getpid`, and the
/// file's identity with the `newfstatat` the loader itself made, so no `/proc` read to learn
/// first whether a seccomp filter forbids it). Whether a seccomp filter came
/// with the exec (`/proc/self/status`), the program's path (`/proc/self/exe`) and the fork
/// sentinel (a mapping and `madvise`) wait until a process needs them; the first `/proc` access
/// of a process was the largest single cost of loading the library (~15 µs of ~65 µs per exec).
/// The loader's own calls for the library (opening and mapping it, its `.bss`) are not counted:
/// the run is compared with one under a preloaded library that does nothing.
#[test]
fn load_makes_one_system_call_of_its_own() {
    if !strace_usable() {
        return;
    }
    let env = Env::new("cost_load_syscalls");
    let prog = env.compile_c(
        "plain",
        "#include <fcntl.h>\n#include <stdlib.h>\n#include <unistd.h>\n\
         static void bye(void) {}\n\
         int main(void) { atexit(bye); close(open(\"/dev/null\", O_RDONLY)); return 0; }\n",
        &[],
    );
    let empty = env.compile_c(
        "libempty.so",
        "int assafe_test_empty;\n",
        &["-shared", "-fPIC"],
    );
    let mut extra = syscall_names(&env, &prog, &env.lib);
    for name in syscall_names(&env, &prog, &empty) {
        if let Some(i) = extra.iter().position(|n| *n == name) {
            extra.remove(i);
        }
    }
    // The loader maps the library's .bss (the empty one has none): one anonymous mmap.
    if let Some(i) = extra.iter().position(|n| n == "mmap") {
        extra.remove(i);
    }
    assert_eq!(
        extra,
        ["rt_sigaction", "getpid", "getpid", "newfstatat"],
        "system calls beyond an empty preload's"
    );
}

/// What a fork costs in page faults, parent and child together, for what a shell's `$(...)` does
/// (a pipe without close-on-exec, a fork, a dup2 and `_exit` in the child), against a preloaded
/// library that does nothing. The library writes at fork only what changes, in as few pages as
/// it can (each page written on either side is a copy-on-write fault), and the parent resolves
/// the slots a child usually needs before its first fork: +11 faults per fork on an idle machine
/// (+13 on a busy one: the count moves by one or two with the load); +18 to +20 before.
#[test]
fn fork_page_faults() {
    let env = Env::new("cost_fork_faults");
    let prog = env.compile_c("fork_faults", include_str!("c/fork_faults.c"), &["-O2"]);
    faults_over_empty(&env, "fork", 1600, |preload| {
        faults_x100(
            Command::new(&prog)
                .arg("300")
                .env("LD_PRELOAD", preload)
                .env_remove("ASSAFE_OPTIONS"),
        )
    });
}

/// A shell's `$(echo …)` child calls functions its parent never called (`fflush`, `putc`, …).
/// A slot resolved in a child is lost with it, so once a process has forked 16 times the parent
/// resolves every slot, and such a child runs those calls at the cost of the stubs alone. Counted
/// by callgrind in the child itself (from a `CALLGRIND_ZERO_STATS` after the fork to its exit)
/// against a preloaded library that does nothing: +91 instructions for the nine calls and
/// `_exit`; +3.7 k when the child looked each name up again (and faulted in libc's hash table
/// pages and a copy of the slot page, 2 to 4 page faults per fork).
#[test]
fn fork_child_calls_resolve_nothing() {
    if !have_valgrind() {
        return;
    }
    const LIMIT: u64 = 1000;
    let env = Env::new("cost_fork_child_calls");
    let prog = env.compile_c(
        "fork_child_calls",
        include_str!("c/fork_child_calls.c"),
        &["-O2"],
    );
    let empty = env.compile_c(
        "libempty.so",
        "int assafe_test_empty;\n",
        &["-shared", "-fPIC"],
    );
    let child = |preload: &std::path::Path, tag: &str| -> u64 {
        let dir = env.dir.join(format!("cg-{tag}"));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg("--trace-children=yes")
            .arg(format!("--callgrind-out-file={}/cg.%p", dir.display()))
            .arg(&prog)
            .arg("20")
            .env("LD_PRELOAD", preload)
            .env_remove("ASSAFE_OPTIONS")
            .output()
            .expect("run valgrind");
        assert!(out.status.success(), "{out:?}");
        let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let text = std::fs::read_to_string(dir.join(format!("cg.{pid}"))).expect("child's output");
        total(&text).expect("callgrind total")
    };
    let base = child(&empty, "empty");
    let ours = child(&env.lib, "lib");
    eprintln!("the fork child's stdio calls: {ours} instructions with the library, {base} without");
    assert!(
        ours <= base + LIMIT,
        "+{} instructions in the child (limit {LIMIT}): is it resolving slots its parent could \
         have resolved?",
        ours.saturating_sub(base)
    );
}

/// What a report costs in page faults: vfork children (a shell's, each calling `malloc`) write
/// their records from the process's reused spare memory, not from a fresh mapping per record:
/// +0.45 faults per report; +5.45 with a mapping per record.
#[test]
fn vfork_child_report_page_faults() {
    const LIMIT: i64 = 150; // faults per report, times 100
    let env = Env::new("cost_report_faults");
    let prog = env.compile_c(
        "vfork_report_faults",
        include_str!("c/vfork_report_faults.c"),
        &["-O2"],
    );
    let logs = env.dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let faults = |m: &str| -> i64 {
        faults_x100(
            Command::new(&prog)
                .args(["200", m])
                .env("LD_PRELOAD", &env.lib)
                .env(
                    "ASSAFE_OPTIONS",
                    format!("log_format=json:log_path={}/a", logs.display()),
                ),
        )
    };
    let extra = faults("1") - faults("0");
    let reports = std::fs::read_dir(&logs)
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .map(|t| t.matches("\"event\":\"report\"").count())
        .sum::<usize>();
    assert_eq!(reports, 200, "one report per child");
    eprintln!(
        "report: +{}.{:02} page faults per report",
        extra / 100,
        extra % 100
    );
    assert!(
        extra <= LIMIT,
        "+{extra}/100 page faults per report (limit {LIMIT}/100)"
    );
}
