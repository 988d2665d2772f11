//! `assafe run` / `assafe audit` with the real library (target/release/libassafe.so).
//! These fail with "build the library first: cargo build --release" when it is missing.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::Command;

/// A Rust program whose `pre_exec` closure allocates while a second thread runs.
const PRE_EXEC: &str = r#"use std::os::unix::process::CommandExt;
use std::process::Command;
fn main() {
    std::thread::spawn(|| loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
    });
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut cmd = Command::new("true");
    // SAFETY: a test of exactly this bug: the closure allocates in the fork child.
    unsafe {
        cmd.pre_exec(|| {
            let v = vec![1u8; 100];
            std::hint::black_box(&v);
            Ok(())
        });
    }
    let status = cmd.status().unwrap();
    std::process::exit(if status.success() { 0 } else { 1 });
}
"#;

fn run_json(dir: &Path, args: &[&str], cmd: &[&str]) -> (Value, i32) {
    let out = dir.join("report.json");
    let o = output(
        assafe()
            .arg("run")
            .arg("--lib")
            .arg(library())
            .args(["--format", "json", "--output"])
            .arg(&out)
            .args(args)
            .arg("--")
            .args(cmd),
    );
    let text =
        fs::read_to_string(&out).unwrap_or_else(|e| panic!("no report ({e}): {}", stderr(&o)));
    (json(&text), o.status.code().unwrap_or(-1))
}

fn findings<'a>(r: &'a Value, function: &str) -> Vec<&'a Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["function"] == function)
        .collect()
}

#[test]
fn run_exit_status_passthrough() {
    let lib = library();
    let o = output(
        assafe()
            .arg("run")
            .arg("--lib")
            .arg(&lib)
            .args(["--", "sh", "-c", "exit 3"]),
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("SUMMARY: assafe: 0 findings"),
        "{}",
        stderr(&o)
    );
    let o = output(assafe().arg("run").arg("--lib").arg(&lib).args([
        "--",
        "sh",
        "-c",
        "kill -TERM $$",
    ]));
    // Killed by SIGTERM: assafe ends by the same signal (a shell shows $? = 143).
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(o.status.signal(), Some(15), "{:?}", o.status);
    // stdout of the command is untouched.
    let o = output(
        assafe()
            .arg("run")
            .arg("--lib")
            .arg(&lib)
            .args(["--", "echo", "hello"]),
    );
    assert_eq!(stdout(&o), "hello\n");
}

#[test]
fn run_finds_malloc_in_mt_fork_child() {
    let lib = library();
    let dir = tempfile::tempdir().unwrap();
    let exe = cc(dir.path(), "mt", MT_FORK, &["-g", "-O1", "-pthread"]);
    let o = output(
        assafe()
            .arg("run")
            .arg("--lib")
            .arg(&lib)
            .arg("--")
            .arg(&exe),
    );
    let t = stderr(&o);
    assert_eq!(o.status.code(), Some(66), "{t}");
    assert!(
        t.contains("async-signal-unsafe call to malloc() in the child of a multi-threaded fork"),
        "{t}"
    );
    let want = format!("mt.c:{}", line_of(MT_FORK, "/* BUG */"));
    let marked = t
        .lines()
        .find(|l| l.contains("<== first frame in your code"))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(marked.contains(&want), "{marked}\n{t}");
    // JSON: the user frame is child_work (or main when inlined) at the BUG line.
    let (r, status) = run_json(dir.path(), &[], &[exe.to_str().unwrap()]);
    assert_eq!(status, 66);
    let m = findings(&r, "malloc");
    assert_eq!(m.len(), 1, "{r:#}");
    let uf = m[0]["user_frame"].as_u64().expect("a user frame") as usize;
    assert_eq!(m[0]["stack"][uf]["line"], line_of(MT_FORK, "/* BUG */"));
    assert!(r["processes_checked"].as_u64().unwrap() >= 2);
    assert_eq!(r["command"]["status"], 3);
    // --error-exitcode 0 keeps the command's status.
    let (_, status) = run_json(
        dir.path(),
        &["--error-exitcode", "0"],
        &[exe.to_str().unwrap()],
    );
    assert_eq!(status, 3);
    // A suppression hides it: the command's status again.
    let supp = dir.path().join("supp");
    fs::write(&supp, "fork:child_work\n").unwrap();
    let (r, status) = run_json(
        dir.path(),
        &["--suppressions", supp.to_str().unwrap()],
        &[exe.to_str().unwrap()],
    );
    assert_eq!(status, 3, "{r:#}");
    assert_eq!(r["suppressions_matched"][0]["count"], 1);
}

#[test]
fn run_follows_env_i_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    let exe = cc(dir.path(), "mt", MT_FORK, &["-g", "-O1", "-pthread"]);
    // sh → env -i (clears LD_PRELOAD and ASSAFE_OPTIONS) → mt → fork child mallocs.
    let script = format!("env -i {} ; exit 0", exe.display());
    let (r, status) = run_json(dir.path(), &[], &["sh", "-c", &script]);
    assert_eq!(status, 66, "{r:#}");
    // (The shell itself may have findings of its own: dash mallocs in its vfork child.)
    let m: Vec<&Value> = findings(&r, "malloc")
        .into_iter()
        .filter(|f| {
            f["programs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == exe.to_str().unwrap())
        })
        .collect();
    assert_eq!(m.len(), 1, "no finding from the env -i grandchild:\n{r:#}");
    assert_eq!(m[0]["context"], "fork-child");
}

#[test]
fn run_rust_pre_exec_closure() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("pre_exec.rs");
    fs::write(&src, PRE_EXEC).unwrap();
    let exe = dir.path().join("pre_exec");
    let o = output(
        Command::new("rustc")
            .args(["-g", "-O", "--edition", "2021", "-o"])
            .arg(&exe)
            .arg(&src),
    );
    assert!(o.status.success(), "rustc: {}", stderr(&o));
    let (r, status) = run_json(dir.path(), &[], &[exe.to_str().unwrap()]);
    assert_eq!(status, 66, "{r:#}");
    let fork: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["context"] == "fork-child")
        .collect();
    let closure = fork.iter().find(|f| {
        let uf = f["user_frame"].as_u64();
        uf.is_some_and(|i| {
            f["stack"][i as usize]["function"]
                .as_str()
                .is_some_and(|s| s.contains("closure") && s.contains("main"))
        })
    });
    assert!(
        closure.is_some(),
        "no finding blaming the pre_exec closure:\n{r:#}"
    );
    let c = closure.unwrap();
    let uf = c["user_frame"].as_u64().unwrap() as usize;
    assert!(
        c["stack"][uf]["file"]
            .as_str()
            .unwrap()
            .ends_with("pre_exec.rs"),
        "{c:#}"
    );
}

#[test]
fn run_signal_handler_printf() {
    let dir = tempfile::tempdir().unwrap();
    let exe = cc(dir.path(), "sig", SIGNAL, &["-g", "-O1"]);
    let (r, status) = run_json(dir.path(), &[], &[exe.to_str().unwrap()]);
    assert_eq!(status, 66, "{r:#}");
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["context"] == "signal-handler")
        .unwrap_or_else(|| panic!("{r:#}"));
    assert_eq!(f["signals"][0], "SIGUSR1");
    let uf = f["user_frame"].as_u64().unwrap() as usize;
    assert_eq!(f["stack"][uf]["line"], line_of(SIGNAL, "/* BUG */"));
    // raise() in a single-threaded process: portable; the title keeps the raw report's wording.
    assert_eq!(f["severity"], "portable", "{f:#}");
    assert_eq!(f["signal_origins"][0], "self", "{f:#}");
    let title = f["title"].as_str().unwrap();
    assert!(
        title.ends_with("in a signal handler (SIGUSR1; self signal), latent"),
        "{title}"
    );
}

#[test]
fn run_static_binary_listed_unchecked() {
    let lib = library();
    let dir = tempfile::tempdir().unwrap();
    let Ok(o) = Command::new("cc").arg("-print-file-name=libc.a").output() else {
        panic!("cc missing");
    };
    if !Path::new(String::from_utf8_lossy(&o.stdout).trim()).is_file() {
        eprintln!(
            "SKIPPED run_static_binary_listed_unchecked: no libc.a (apt-get install -y libc6-dev)"
        );
        return;
    }
    let exe = cc(
        dir.path(),
        "st",
        "int main(void){return 4;}\n",
        &["-static"],
    );
    let o = output(
        assafe()
            .arg("run")
            .arg("--lib")
            .arg(&lib)
            .arg("--")
            .arg(&exe),
    );
    let t = stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{t}");
    assert!(t.contains("static binary"), "{t}");
    assert!(t.contains("0 processes checked, 1 not checked"), "{t}");
    assert!(!t.contains("0 not checked"), "{t}");
}

#[test]
fn run_keep_logs_then_report() {
    let lib = library();
    let dir = tempfile::tempdir().unwrap();
    let exe = cc(dir.path(), "mt", MT_FORK, &["-g", "-O1", "-pthread"]);
    let logs = dir.path().join("logs");
    let o = output(
        assafe()
            .arg("run")
            .arg("--lib")
            .arg(&lib)
            .arg("--keep-logs")
            .arg(&logs)
            .arg("--")
            .arg(&exe),
    );
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert!(fs::read_dir(&logs).unwrap().count() >= 2);
    let o = output(assafe().arg("report").arg(&logs));
    assert_eq!(o.status.code(), Some(66));
    assert!(stdout(&o).contains("malloc()"));
    // Reusing a directory that has logs is refused.
    let o = output(
        assafe()
            .arg("run")
            .arg("--lib")
            .arg(&lib)
            .arg("--keep-logs")
            .arg(&logs)
            .arg("--")
            .arg("true"),
    );
    assert_eq!(o.status.code(), Some(125));
}

#[test]
fn audit_keeps_status_and_writes_artifacts() {
    let lib = library();
    let dir = tempfile::tempdir().unwrap();
    let exe = cc(dir.path(), "mt", MT_FORK, &["-g", "-O1", "-pthread"]);
    let art = dir.path().join("artifacts");
    let o = output(
        assafe()
            .env("AUTOPKGTEST_ARTIFACTS", &art)
            .arg("audit")
            .arg("--lib")
            .arg(&lib)
            .arg("--")
            .arg(&exe),
    );
    assert_eq!(o.status.code(), Some(3), "the command's own status");
    assert!(o.stderr.is_empty(), "audit wrote to stderr: {}", stderr(&o));
    let r = json(&fs::read_to_string(art.join("assafe.json")).unwrap());
    assert_eq!(findings(&r, "malloc").len(), 1);
    let s = json(&fs::read_to_string(art.join("assafe.sarif")).unwrap());
    assert_eq!(s["runs"][0]["results"].as_array().unwrap().len(), 1);
}

/// Load cost per exec, in instructions counted by callgrind (deterministic, not a timing): what
/// the library adds to `/bin/true`. Resolving all ~1000 interposed names at load cost ~516 k;
/// since real functions are resolved on first use (issue 13) it was ~57.6 k here (6.5 k of it
/// only under valgrind, whose own handlers made every signal look caught when the library asked
/// about each one `/proc/self/status` showed a handler for); ~35.3 k since the load reads nothing
/// from `/proc`, arms no fork sentinel and asks only about SIGCHLD. The limit (the first goal of
/// issue 13 was 60 k) is a ratchet: the library before that change (+43.7 k here) fails it.
const LOAD_COST_LIMIT: u64 = 40_000;

fn callgrind_instructions(dir: &Path, preload: Option<&Path>, name: &str) -> Option<u64> {
    let out = dir.join(name);
    let mut c = Command::new("valgrind");
    c.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg("/bin/true")
        .env_remove("LD_PRELOAD")
        .env_remove("ASSAFE_OPTIONS");
    if let Some(p) = preload {
        c.env("LD_PRELOAD", p);
    }
    let o = c.output().ok()?;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = fs::read_to_string(&out).ok()?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn load_cost_per_exec_within_limit() {
    let lib = library();
    if Command::new("valgrind").arg("--version").output().is_err() {
        // scripts/test installs valgrind: in CI a missing one is a broken setup, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "valgrind is missing in CI: the load-cost guard cannot run"
        );
        eprintln!(
            "SKIPPED load_cost_per_exec_within_limit: no valgrind (apt-get install valgrind)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = callgrind_instructions(dir.path(), None, "base").expect("callgrind output");
    let with = callgrind_instructions(dir.path(), Some(&lib), "with").expect("callgrind output");
    let cost = with.saturating_sub(base);
    eprintln!("load cost: /bin/true {base} vs {with} instructions: +{cost} per exec");
    assert!(
        with > base,
        "the library was not loaded: {with} vs {base} instructions"
    );
    assert!(
        cost <= LOAD_COST_LIMIT,
        "load cost regressed: +{cost} instructions per exec (limit {LOAD_COST_LIMIT})"
    );
}

/// What `cargo install` gives: the `assafe` binary alone, with no library beside it. It carries
/// the library, writes it once to a private cache keyed by its hash, and `run` works.
#[test]
fn installed_binary_alone_uses_its_embedded_library() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin/assafe");
    fs::create_dir_all(bin.parent().unwrap()).unwrap();
    fs::copy(env!("CARGO_BIN_EXE_assafe"), &bin).unwrap();
    let home = dir.path().join("home");
    let lib_cmd = || {
        let mut c = Command::new(&bin);
        c.arg("lib")
            .env("HOME", &home)
            .env_remove("XDG_CACHE_HOME")
            .env_remove("ASSAFE_LIB");
        c
    };
    let o = output(lib_cmd().arg("--glibc"));
    assert!(o.status.success(), "{}", stderr(&o));
    let path = stdout(&o).trim().to_owned();
    assert!(
        path.starts_with(home.join(".cache/assafe/libassafe-").to_str().unwrap()),
        "{path}"
    );
    // Without --glibc: the one `$LIB` entry for both builds, in the same cache.
    let o = output(&mut lib_cmd());
    let entry = stdout(&o).trim().to_owned();
    assert!(
        entry.starts_with(home.join(".cache/assafe/preload-").to_str().unwrap())
            && entry.ends_with("/$LIB/libassafe.so"),
        "{entry}"
    );
    let meta = fs::metadata(&path).unwrap();
    let first = meta.modified().unwrap();
    // Written once: a second call reuses it.
    let o = output(lib_cmd().arg("--glibc"));
    assert_eq!(stdout(&o).trim(), path);
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), first);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(Path::new(&path).parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "the cache directory is private");
    }
    // The embedded library works under `run`.
    let exe = cc(dir.path(), "mt", MT_FORK, &["-g", "-O1", "-pthread"]);
    let o = output(
        Command::new(&bin)
            .args(["run", "--format", "json", "--"])
            .arg(&exe)
            .env("HOME", &home)
            .env_remove("ASSAFE_LIB"),
    );
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    let r = json(&stderr(&o));
    assert!(!findings(&r, "malloc").is_empty(), "{r:#}");
}

/// A process that dies of a fatal signal writes no summary (no code runs): its findings stand,
/// and the run lists it as partially checked, its counts lower bounds.
#[test]
fn run_lists_a_process_killed_by_a_signal_as_partially_checked() {
    let dir = tempfile::tempdir().unwrap();
    let src = r#"#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void *spin(void *a) { (void)a; for (;;) pause(); }
int main(void) {
    pthread_t t;
    pthread_create(&t, 0, spin, 0);
    pid_t p = fork();
    if (p == 0) {
        void *volatile m = malloc(10);
        (void)m;
        raise(SIGKILL);
    }
    int st;
    waitpid(p, &st, 0);
    return WIFSIGNALED(st) ? 0 : 1;
}
"#;
    let exe = cc(dir.path(), "killed", src, &["-g", "-pthread"]);
    let (r, status) = run_json(dir.path(), &[], &[exe.to_str().unwrap()]);
    assert_eq!(status, 66, "{r:#}");
    assert_eq!(r["command"]["status"], 0, "{r:#}");
    assert_eq!(findings(&r, "malloc").len(), 1, "{r:#}");
    let partial = r["processes_partially_checked"].as_array().unwrap();
    assert_eq!(partial.len(), 1, "{r:#}");
    assert_ne!(partial[0]["pid"], r["command"]["pid"], "{r:#}");
    assert!(
        partial[0]["why"].as_str().unwrap().contains("no summary"),
        "{r:#}"
    );
    let o = output(
        assafe()
            .arg("run")
            .arg("--lib")
            .arg(library())
            .arg("--")
            .arg(&exe),
    );
    let t = stderr(&o);
    assert!(t.contains(": partially checked (no summary"), "{t}");
    assert!(t.contains("checked (1 partially), 0 not checked"), "{t}");
    // SARIF: a tool notification, as for processes not checked.
    let sarif = dir.path().join("r.sarif");
    output(
        assafe()
            .arg("run")
            .arg("--lib")
            .arg(library())
            .args(["--format", "sarif", "--output"])
            .arg(&sarif)
            .arg("--")
            .arg(&exe),
    );
    let s = json(&fs::read_to_string(&sarif).unwrap());
    let notes = s["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap_or_else(|| panic!("no notifications: {s:#}"));
    assert!(
        notes.iter().any(|n| n["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("partially checked: pid ")),
        "{s:#}"
    );
}

/// A program exec'd after a change of uid that its previous image could not hand the kept log
/// file to (here `follow_exec=0`; see tests/sandbox.rs for the hand-over) cannot create its log
/// file in the run's 0700 directory: it is listed as not checked (never silently counted as
/// clean). A failed exec of a missing path is not a process of its own.
#[test]
fn run_lists_a_program_execd_after_a_uid_change_as_not_checked() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = r#"#include <unistd.h>
int main(void) {
    execl("/nonexistent/prog", "prog", (char *)0);
    if (setgid(65534) || setuid(65534)) return 3;
    execl("/bin/true", "true", (char *)0);
    return 4;
}
"#;
    let exe = cc(dir.path(), "dropexec", src, &[]);
    let (r, status) = run_json(
        dir.path(),
        &["--option", "follow_exec=0"],
        &[exe.to_str().unwrap()],
    );
    // (Not checked is listed, not a finding: the command's own status.)
    assert_eq!(status, 0, "{r:#}");
    let unchecked = r["processes_unchecked"].as_array().unwrap();
    assert_eq!(unchecked.len(), 1, "{r:#}");
    assert_eq!(unchecked[0]["exe"], "/bin/true", "{r:#}");
    assert!(
        unchecked[0]["why"]
            .as_str()
            .unwrap()
            .contains("wrote no record"),
        "{r:#}"
    );
}

/// The MT_FORK program with `_Fork()` in place of `fork()`: nothing is reset in the child.
fn ufork_source() -> String {
    MT_FORK
        .replace(
            "#include <pthread.h>",
            "#include <pthread.h>\nextern pid_t _Fork(void);",
        )
        .replace("pid_t p = fork();", "pid_t p = _Fork();")
}

#[test]
fn fail_on_hazard_passes_portable_findings_and_sarif_levels_follow_severity() {
    let dir = tempfile::tempdir().unwrap();
    let portable = cc(dir.path(), "mt", MT_FORK, &["-g", "-O1", "-pthread"]);
    let hazard = cc(
        dir.path(),
        "uf",
        &ufork_source(),
        &["-g", "-O1", "-pthread"],
    );
    let portable = portable.to_str().unwrap();
    let hazard = hazard.to_str().unwrap();

    // malloc after glibc's fork(): portable. The default fails on it, --fail-on hazard not.
    let (r, code) = run_json(dir.path(), &[], &[portable]);
    assert_eq!(code, 66, "{r}");
    let f = findings(&r, "malloc");
    assert_eq!(f.len(), 1, "{r}");
    assert_eq!(f[0]["severity"], "portable", "{r}");
    assert_eq!(f[0]["level"], "warning", "{r}");
    assert!(
        f[0]["explanation"]
            .as_str()
            .unwrap()
            .contains("re-initialises the heap lock"),
        "{r}"
    );
    let (_, code) = run_json(dir.path(), &["--fail-on", "hazard"], &[portable]);
    assert_eq!(code, 3, "the program's own status");
    let (_, code) = run_json(dir.path(), &["--fail-on", "portable"], &[portable]);
    assert_eq!(code, 66);

    // After _Fork(): a hazard, which --fail-on hazard fails on.
    let (r, code) = run_json(dir.path(), &["--fail-on", "hazard"], &[hazard]);
    assert_eq!(code, 66, "{r}");
    assert_eq!(findings(&r, "malloc")[0]["severity"], "hazard", "{r}");

    // SARIF level: warning for portable, error for hazard; text shows the severity.
    for (exe, level, sev) in [
        (portable, "warning", "portable"),
        (hazard, "error", "hazard"),
    ] {
        let sarif = dir.path().join("r.sarif");
        let o = output(
            assafe()
                .arg("run")
                .arg("--lib")
                .arg(library())
                .args(["--format", "sarif", "--output"])
                .arg(&sarif)
                .args(["--", exe]),
        );
        assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
        let s = json(&fs::read_to_string(&sarif).unwrap());
        let results = s["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "{s}");
        assert_eq!(results[0]["level"], level, "{s}");
        assert_eq!(results[0]["properties"]["severity"], sev, "{s}");
        let o = output(
            assafe()
                .arg("run")
                .arg("--lib")
                .arg(library())
                .args(["--", exe]),
        );
        let t = stderr(&o);
        assert!(t.contains(&format!("==assafe== [{sev}] ")), "{t}");
        assert!(t.contains(&format!("; 1 {sev}\n")), "{t}");
    }
}

/// An `--option` the library would refuse (an unknown key, a bad value) or `help` would put a
/// line on the program's stderr in every process: `assafe run` refuses it before running anything.
#[test]
fn run_refuses_options_the_library_would_print_about() {
    for bad in ["no_such_option=1", "strict=maybe", "help=1"] {
        let o = output(
            assafe()
                .arg("run")
                .arg("--lib")
                .arg(library())
                .args(["--option", bad, "--", "sh", "-c", "echo ran"]),
        );
        assert_ne!(o.status.code(), Some(0), "{bad}: {}", stderr(&o));
        assert!(!stdout(&o).contains("ran"), "{bad}: the program ran");
        assert!(
            stderr(&o).contains(&format!("--option \"{bad}\"")),
            "{bad}: {}",
            stderr(&o)
        );
    }
}
