//! Transparency oracle: real test suites run with and without the preload, compared test by test
//! by `scripts/transparency` (CPython's test_subprocess, test_signal and test_os from the
//! interpreter's own test package, and a set of real programs: sort, tar+gzip, git, make+gcc,
//! compileall -j, multiprocessing, xargs -P, find -exec). A test that passes without the preload
//! and fails, hangs or goes missing with it — and does so again when re-run alone — is a
//! regression: each test here asserts there is none and prints the list.
//! See docs/reliability.md for the figures.

use assafe_tests::*;
use std::process::Command;
use std::time::Duration;

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
        .env_remove("ASSAFE_OPTIONS");
    let r = run_with_timeout(&mut c, Duration::from_secs(1500));
    let (status, stdout, stderr) = (
        r.status,
        String::from_utf8_lossy(&r.stdout).into_owned(),
        String::from_utf8_lossy(&r.stderr).into_owned(),
    );
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
