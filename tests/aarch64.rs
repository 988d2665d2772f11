//! aarch64 smoke suite: the library cross-built for aarch64
//! (`cargo build --release --target aarch64-unknown-linux-gnu -p assafe`, done by
//! `scripts/test`) preloaded into small C programs cross-compiled with `aarch64-linux-gnu-gcc`,
//! run under `qemu-aarch64 -L /usr/aarch64-linux-gnu` (`QEMU_SET_ENV` carries `LD_PRELOAD` and
//! `ASSAFE_OPTIONS` into the guest). Asserts on the JSON log records.
//!
//! qemu-user is not a kernel: `process_vm_readv` fails there (so stacks are cut short to what
//! needs no stack read), `MADV_WIPEONFORK` is not applied, and `/proc/self/stat` reports 0
//! threads. The library must degrade without crashing; these tests check that it does.
//!
//! Without the toolchain (Debian's `gcc-aarch64-linux-gnu`, `libc6-dev-arm64-cross`,
//! `qemu-user`) each test prints why it is skipped; with `ASSAFE_REQUIRE_AARCH64=1` (set by
//! `scripts/test`, which installs them) a missing piece is a failure instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use assafe_tests::{TIMEOUT, Value, repo_root, run_with_timeout, target_dir};

const SYSROOT: &str = "/usr/aarch64-linux-gnu";
const CC: &str = "aarch64-linux-gnu-gcc";
const QEMU: &str = "qemu-aarch64";

/// Why the suite cannot run here, if it cannot.
fn missing_toolchain() -> Option<String> {
    for tool in [CC, QEMU] {
        let ok = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            return Some(format!("{tool} not found"));
        }
    }
    let libc = Path::new(SYSROOT).join("lib/libc.so.6");
    if !libc.is_file() {
        return Some(format!("{} missing", libc.display()));
    }
    None
}

/// The aarch64 library, or `None` (with the reason printed) when the suite must be skipped.
fn setup(test: &str) -> Option<(PathBuf, PathBuf)> {
    if let Some(why) = missing_toolchain() {
        let msg = format!(
            "aarch64 smoke test {test} SKIPPED: {why} (apt-get install gcc-aarch64-linux-gnu \
             libc6-dev-arm64-cross qemu-user)"
        );
        if std::env::var_os("ASSAFE_REQUIRE_AARCH64").is_some_and(|v| v == "1") {
            panic!("{msg}; ASSAFE_REQUIRE_AARCH64=1");
        }
        eprintln!("{msg}");
        return None;
    }
    let lib = target_dir().join("aarch64-unknown-linux-gnu/release/libassafe.so");
    assert!(
        lib.is_file(),
        "cross-build the library first: cargo build --release --target \
         aarch64-unknown-linux-gnu -p assafe ({} is missing)",
        lib.display()
    );
    let dir = std::env::temp_dir()
        .join("assafe-tests")
        .join(format!("aarch64-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    Some((lib, dir))
}

/// Cross-compiles `tests/c/<file>.c`.
fn compile(dir: &Path, file: &str) -> PathBuf {
    let c = repo_root().join("tests/c");
    let exe = dir.join(file);
    let out = Command::new(CC)
        .args(["-g", "-O1", "-pthread", "-Wall"])
        .arg(format!("-I{}", c.display()))
        .arg("-o")
        .arg(&exe)
        .arg(c.join(format!("{file}.c")))
        .output()
        .expect("run aarch64-linux-gnu-gcc");
    assert!(
        out.status.success(),
        "{CC} failed for {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
    records: Vec<Value>,
}

impl Run {
    fn reports(&self) -> Vec<&Value> {
        self.records
            .iter()
            .filter(|r| r["event"] == "report")
            .collect()
    }

    fn has_report(&self, context: &str, function: &str) -> bool {
        self.reports()
            .iter()
            .any(|r| r["context"] == context && r["function"] == function)
    }
}

/// Runs `exe args` under qemu with the library preloaded and JSON logs in a fresh directory.
fn run(lib: &Path, dir: &Path, exe: &Path, args: &[&str], options: &str) -> Run {
    let logs = dir.join(format!("logs-{}", args.join("-")));
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).expect("create log dir");
    let mut opts = format!("log_format=json:log_path={}", logs.join("log").display());
    if !options.is_empty() {
        opts.push(':');
        opts.push_str(options);
    }
    let mut cmd = Command::new(QEMU);
    cmd.arg("-L").arg(SYSROOT).arg(exe).args(args);
    cmd.env_remove("LD_PRELOAD").env_remove("ASSAFE_OPTIONS");
    cmd.env(
        "QEMU_SET_ENV",
        format!("LD_PRELOAD={},ASSAFE_OPTIONS={opts}", lib.display()),
    );
    let ran = run_with_timeout(&mut cmd, TIMEOUT);
    let mut records = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&logs)
        .expect("read log dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read log");
        for line in text.lines() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad JSON line in {}: {e}: {line}", f.display()));
            records.push(v);
        }
    }
    Run {
        ok: ran.status.success(),
        stdout: String::from_utf8_lossy(&ran.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&ran.stderr).into_owned(),
        records,
    }
}

fn check_clean_exit(r: &Run, what: &str) {
    assert!(
        r.ok,
        "{what}: the program failed under the preload\nstdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    assert!(
        r.stderr.is_empty(),
        "{what}: output on stderr with log_path set: {}",
        r.stderr
    );
    // Under qemu-user `process_vm_readv` fails (ENOSYS): stacks degrade to what needs no stack
    // read, which still begins at the call site.
    for rep in r.reports() {
        let stack = rep["stack"].as_array();
        assert!(
            stack.is_some_and(|s| !s.is_empty()),
            "{what}: a report without a stack: {rep}"
        );
        assert_eq!(
            rep["stack"][0]["addr"], rep["site"],
            "{what}: the stack does not begin at the call site: {rep}"
        );
    }
}

#[test]
fn fork_child_malloc_is_reported() {
    let Some((lib, dir)) = setup("fork") else {
        return;
    };
    let exe = compile(&dir, "fork_malloc");
    let r = run(&lib, &dir, &exe, &["mt"], "");
    check_clean_exit(&r, "fork_malloc mt");
    assert_eq!(r.stdout, "child: exit 0\n");
    assert!(
        r.has_report("fork-child", "malloc"),
        "no fork-child malloc report: {:#?}",
        r.records
    );
    // Single-threaded: no report (the control).
    let st = run(&lib, &dir, &exe, &["st"], "");
    check_clean_exit(&st, "fork_malloc st");
    assert!(st.reports().is_empty(), "{:#?}", st.records);
}

#[test]
fn printf_in_handler_is_reported() {
    let Some((lib, dir)) = setup("handler") else {
        return;
    };
    let exe = compile(&dir, "arm_smoke");
    let r = run(&lib, &dir, &exe, &["handler"], "");
    check_clean_exit(&r, "handler");
    assert_eq!(r.stdout, "in handler 10\n");
    let rep = r
        .reports()
        .into_iter()
        .find(|x| x["context"] == "signal-handler" && x["function"] == "printf")
        .unwrap_or_else(|| panic!("no printf report: {:#?}", r.records));
    assert_eq!(rep["signal_name"], "SIGUSR1");
}

#[test]
fn variadic_printf_arguments_arrive_intact() {
    let Some((lib, dir)) = setup("variadic") else {
        return;
    };
    let exe = compile(&dir, "arm_smoke");
    let r = run(&lib, &dir, &exe, &["variadic"], "");
    check_clean_exit(&r, "variadic");
    let mut want = String::new();
    for who in ["normal", "handler", "after"] {
        want.push_str(&format!("{who} mix: 1 2.25 3 4.50 5 6.75 7 8.12 9\n"));
        want.push_str(&format!(
            "{who} ints: 11 12 13 14 15 16 17 18 19 doubles: 1.5 2.5 3.5 4.5 5.5 6.5 7.5 8.5 9.5\n"
        ));
    }
    assert_eq!(r.stdout, want, "printf's arguments changed on their way");
    // The handler's calls took the slow path (reported), the others the fast path.
    assert!(r.has_report("signal-handler", "printf"), "{:#?}", r.records);
    assert!(
        r.reports().iter().all(|x| x["context"] == "signal-handler"),
        "{:#?}",
        r.records
    );
}

#[test]
fn vfork_child_that_only_execs_is_clean() {
    let Some((lib, dir)) = setup("vfork") else {
        return;
    };
    let exe = compile(&dir, "arm_smoke");
    // follow_exec=0: the exec'd /bin/true is a host (x86_64) program under qemu-user, which the
    // aarch64 library must not be preloaded into.
    let r = run(&lib, &dir, &exe, &["vfork_exec"], "follow_exec=0");
    check_clean_exit(&r, "vfork_exec");
    assert_eq!(r.stdout, "child: 0\n");
    assert!(r.reports().is_empty(), "{:#?}", r.records);
    // The control: a vfork child that calls malloc is reported.
    let m = run(&lib, &dir, &exe, &["vfork_malloc"], "");
    check_clean_exit(&m, "vfork_malloc");
    assert_eq!(m.stdout, "child: 0\n");
    assert!(m.has_report("vfork-child", "malloc"), "{:#?}", m.records);
}

#[test]
fn siglongjmp_out_of_a_handler() {
    let Some((lib, dir)) = setup("siglongjmp") else {
        return;
    };
    let exe = compile(&dir, "sig_longjmp");
    let r = run(&lib, &dir, &exe, &["siglongjmp"], "");
    check_clean_exit(&r, "sig_longjmp siglongjmp");
    assert_eq!(
        r.stdout,
        "round 0: back in main with 10, after the jump, p=1\n\
         round 1: back in main with 10, after the jump, p=1\n\
         round 2: back in main with 10, after the jump, p=1\n\
         jumps=3 q=1\n"
    );
    // Only the handler's calloc is reported: after each jump main is in normal context again.
    assert!(r.has_report("signal-handler", "calloc"), "{:#?}", r.records);
    assert!(
        r.reports().iter().all(|x| x["function"] == "calloc"),
        "a call after the jump was reported as in the handler: {:#?}",
        r.records
    );
    // A jump that stays inside the handler keeps the handler context (the jmp_buf's stack
    // pointer, unmangled with glibc's pointer guard, lies below the handler's entry).
    let smoke = compile(&dir, "arm_smoke");
    let i = run(&lib, &dir, &smoke, &["inner_jump"], "");
    check_clean_exit(&i, "inner_jump");
    assert_eq!(i.stdout, "inner jump done 1\n");
    assert!(i.has_report("signal-handler", "malloc"), "{:#?}", i.records);
}

/// fd-leak at posix_spawn under qemu-user: `process_vm_readv` fails there, so the file actions
/// are read through a pipe; the spawned `cat`/`true` are host programs, given an empty
/// environment (no aarch64 LD_PRELOAD).
#[test]
fn posix_spawn_fd_leak_reads_the_file_actions_without_process_vm_readv() {
    let Some((lib, dir)) = setup("spawn") else {
        return;
    };
    let exe = compile(&dir, "hy_spawn");
    let leaks = |r: &Run| -> Vec<Value> {
        r.reports()
            .into_iter()
            .filter(|x| x["kind"] == "fd-leak")
            .cloned()
            .collect()
    };
    let r = run(&lib, &dir, &exe, &["leak", "noenv"], "");
    check_clean_exit(&r, "hy_spawn leak");
    assert!(r.stdout.contains("cat did not see EOF"), "{}", r.stdout);
    let l = leaks(&r);
    assert_eq!(l.len(), 1, "{:#?}", r.records);
    assert_eq!(l[0]["function"], "pipe");
    let d = l[0]["detail"].as_str().unwrap_or("");
    assert!(
        d.starts_with("fd 4 pipe:[")
            && d.ends_with("is inherited by the program posix_spawn starts"),
        "{d}"
    );
    // Both ends closed by the file actions (read through the pipe): clean.
    for mode in ["closed", "dup2", "dup2-self"] {
        let c = run(&lib, &dir, &exe, &[mode, "noenv"], "");
        check_clean_exit(&c, mode);
        assert!(leaks(&c).is_empty(), "{mode}: {:#?}", c.records);
    }
}
