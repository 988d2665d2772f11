//! `assafe run` as a supervisor (issue 11, item 5): signals sent to it reach the program, the
//! report of what was collected is still printed, the temporary directory is removed, and it ends
//! as the program did (by the same signal).

mod common;

use common::*;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Makes a real finding (malloc in the child of a multi-threaded fork), says it is ready by
/// creating argv[1], then waits for a signal.
const WAITER: &str = r#"#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void *spin(void *a) { (void)a; for (;;) pause(); return 0; }
int main(int argc, char **argv) {
    pthread_t t;
    pthread_create(&t, 0, spin, 0);
    pid_t p = fork();
    if (p == 0) { void *volatile m = malloc(100); (void)m; _exit(0); }
    int st;
    waitpid(p, &st, 0);
    close(open(argv[1], O_CREAT | O_WRONLY, 0600));
    for (;;) pause();
}
"#;

fn assafe_temp_dirs(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("assafe."))
        .collect()
}

#[test]
fn sigterm_reaches_the_program_and_assafe_ends_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let prog = cc(dir.path(), "waiter", WAITER, &["-pthread"]);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let ready = dir.path().join("ready");
    let child = assafe()
        .arg("run")
        .arg("--")
        .arg(&prog)
        .arg(&ready)
        .env("TMPDIR", &tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ready.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "program never got ready"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(assafe_temp_dirs(&tmp).len(), 1, "the run's log directory");
    let k = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    // Bounded wait: the watchdog kills assafe (and fails the test) if it hangs.
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    });
    let out = child.wait_with_output().unwrap();
    drop(watchdog);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc_sigterm()),
        "assafe ends by the program's signal (a shell shows 143): {:?}\n{stdout}\n{stderr}",
        out.status,
    );
    assert!(
        stderr.contains("malloc") && stderr.contains("SUMMARY: assafe: 1 finding"),
        "the report of what was collected is printed:\n{stderr}"
    );
    assert!(
        assafe_temp_dirs(&tmp).is_empty(),
        "temporary directory removed: {:?}",
        assafe_temp_dirs(&tmp)
    );
}

fn libc_sigterm() -> i32 {
    15
}

#[test]
fn a_program_killed_by_sigsegv_takes_assafe_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let prog = cc(
        dir.path(),
        "segv",
        "#include <signal.h>\n#include <sys/resource.h>\nint main(void) { struct rlimit r = {0, 0}; setrlimit(RLIMIT_CORE, &r); raise(SIGSEGV); return 0; }\n",
        &[],
    );
    let out = output(assafe().arg("run").arg("--").arg(&prog));
    assert_eq!(
        out.status.signal(),
        Some(11),
        "{:?}\n{}\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
}

/// Item 6: a process of the run that outlives the program is named at the end.
#[test]
fn a_process_that_outlives_the_program_is_named() {
    let out = output(assafe().arg("run").arg("--").args([
        "sh",
        "-c",
        "sleep 3 </dev/null >/dev/null 2>&1 & sleep 0.5; exit 0",
    ]));
    // (dash's own vfork-child malloc is a finding: the status is not the point here.)
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("is still running after the program ended"),
        "{all}"
    );
    assert!(all.contains("sleep"), "{all}");
}

/// Item 6: a static program started by a process that made no unsafe call (`env ./static`) is
/// named as not checked: every exec is recorded.
#[test]
fn a_static_program_started_by_a_clean_process_is_not_checked() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("st.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nint main(void) { puts(\"static ok\"); return 0; }\n",
    )
    .unwrap();
    let exe = dir.path().join("st");
    let cc = std::process::Command::new("cc")
        .arg("-static")
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap();
    if !cc.status.success() {
        eprintln!(
            "skipped: no static libc ({})",
            String::from_utf8_lossy(&cc.stderr)
        );
        return;
    }
    let out = output(assafe().arg("run").arg("--").arg("env").arg(&exe));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "static ok\n");
    let err = stderr(&out);
    assert!(
        err.contains("not checked")
            && err.contains("static binary")
            && err.contains("1 not checked"),
        "{err}"
    );
}
