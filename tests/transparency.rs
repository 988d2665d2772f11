//! Transparency oracle: real test suites run with and without the preload, compared test by test
//! by `scripts/transparency` (CPython's test_subprocess, test_signal and test_os from the
//! interpreter's own test package, and a set of real programs: sort, tar+gzip, git, make+gcc,
//! compileall -j, multiprocessing, xargs -P, find -exec). A test that passes without the preload
//! and fails, hangs or goes missing with it — and does so again when re-run alone — is a
//! regression: each test here asserts there is none and prints the list.
//! See docs/reliability.md for the figures.

use assafe_tests::*;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `scripts/transparency --suite <suite>` and checks its JSON summary.
fn oracle(suite: &str, min_passed: u64) {
    let env = Env::new(&format!("transparency_{suite}"));
    let json = env.dir.join("summary.json");
    let work = env.dir.join("work");
    let mut c = Command::new(python());
    c.arg(repo_root().join("scripts/transparency"))
        .args(["--suite", suite, "--lib"])
        .arg(&env.lib)
        .arg("--json")
        .arg(&json)
        .arg("--keep")
        .arg(&work)
        .env_remove("LD_PRELOAD")
        .env_remove("ASSAFE_OPTIONS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let limit = Duration::from_secs(1500);
    let mut child = c.spawn().expect("run scripts/transparency");
    let pid = child.id() as i32;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let to = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let te = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            // SAFETY: kill(2) on the process group of our own child.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = child.wait();
            panic!("scripts/transparency --suite {suite} ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = to.join().unwrap();
    let stderr = te.join().unwrap();
    println!("{stdout}");
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| {
        panic!("no summary ({e}); status {status}\nstdout:\n{stdout}\nstderr:\n{stderr}")
    });
    let v: Value = serde_json::from_str(&text).unwrap();
    let s = &v[0];
    assert_eq!(s["suite"], suite);
    let passed = s["passed_both"].as_u64().unwrap();
    let preloaded = s["processes_preloaded"].as_u64().unwrap();
    // The comparison means something only if the suite ran and the library was really loaded.
    assert!(
        passed >= min_passed,
        "only {passed} tests passed both ways (expected >= {min_passed}):\n{stdout}"
    );
    assert!(
        preloaded > 0,
        "no process logged a start record: was the library loaded?\n{stdout}"
    );
    let regressions: Vec<String> = s["regressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    assert!(
        regressions.is_empty(),
        "{} test(s) pass without the preload and fail with it ({suite}):\n  {}\n(work dir kept: {})",
        regressions.len(),
        regressions.join("\n  "),
        work.display()
    );
    assert!(
        status.success(),
        "scripts/transparency failed: {status}\n{stdout}\n{stderr}"
    );
}

#[test]
fn cpython_test_subprocess() {
    oracle("test_subprocess", 250);
}

#[test]
fn cpython_test_signal() {
    oracle("test_signal", 40);
}

#[test]
fn cpython_test_os() {
    oracle("test_os", 200);
}

#[test]
fn real_programs() {
    oracle("tools", 7);
}
