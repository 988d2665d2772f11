//! Process-hygiene findings (issue 14) in the CLI's reports: text, JSON and SARIF list them after
//! the async-signal findings, each kind with its SARIF rule and severity, and the kind's name is
//! a suppression word.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

/// An async-signal bug (malloc in a multi-threaded fork child), a child never waited for, and
/// signal() installing a handler.
const PROG: &str = r#"#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
static void *spin(void *a) { (void)a; for (;;) pause(); return 0; }
static void h(int s) { (void)s; }
int main(void) {
    signal(SIGINT, h); /* PORTABILITY */
    pthread_t t;
    pthread_create(&t, 0, spin, 0);
    pid_t p = fork(); /* ZOMBIE */
    if (p == 0) {
        void *volatile m = malloc(100); /* BUG */
        (void)m;
        _exit(0);
    }
    usleep(200000);
    return 0;
}
"#;

fn run(dir: &Path, format: &str, extra: &[&str]) -> (String, String) {
    let exe = dir.join("hy");
    let o = output(
        assafe()
            .arg("run")
            .arg("--lib")
            .arg(library())
            .args([
                "--format",
                format,
                "--option",
                "report_signal_portability=1",
            ])
            .args(extra)
            .arg("--")
            .arg(&exe),
    );
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    (stdout(&o), stderr(&o))
}

#[test]
fn hygiene_findings_follow_the_async_signal_ones_in_text_json_and_sarif() {
    let dir = tempfile::tempdir().unwrap();
    cc(dir.path(), "hy", PROG, &["-g", "-O1", "-pthread"]);

    let (_, text) = run(dir.path(), "text", &[]);
    let malloc = text
        .find("async-signal-unsafe call to malloc()")
        .expect(&text);
    let zombie = text.find("] zombie: children that exited").expect(&text);
    let port = text
        .find("] signal-portability: signal(SIGINT")
        .expect(&text);
    assert!(malloc < zombie && zombie < port, "{text}");
    let zl = format!("hy.c:{}", line_of(PROG, "/* ZOMBIE */"));
    assert!(text[zombie..port].contains(&zl), "the fork's stack: {text}");

    let (_, j) = run(dir.path(), "json", &[]);
    let r = json(&j);
    let f: Vec<(&str, &str, &str)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["context"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
                f["level"].as_str().unwrap(),
            )
        })
        .collect();
    // (malloc after glibc's fork() is portable: glibc resets the heap lock in the child.)
    assert_eq!(
        f,
        [
            ("fork-child", "portable", "warning"),
            ("zombie", "hazard", "warning"),
            ("signal-portability", "portable", "note")
        ],
        "{r:#}"
    );

    let (_, s) = run(dir.path(), "sarif", &[]);
    let s = json(&s);
    let run0 = &s["runs"][0];
    let rules: Vec<&str> = run0["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results: Vec<(&str, &str, usize)> = run0["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["ruleId"].as_str().unwrap(),
                x["level"].as_str().unwrap(),
                x["ruleIndex"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(
        results.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
        [
            ("fork-child", "warning"),
            ("zombie", "warning"),
            ("signal-portability", "note")
        ]
    );
    for (id, _, i) in &results {
        assert_eq!(rules[*i], *id);
    }

    // The kind's name is its suppression word.
    let supp = dir.path().join("supp");
    fs::write(&supp, "zombie:main\n").unwrap();
    let (_, j) = run(
        dir.path(),
        "json",
        &["--suppressions", supp.to_str().unwrap()],
    );
    let r: Value = json(&j);
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["context"] != "zombie"),
        "{r:#}"
    );
    assert_eq!(r["suppressed"][0]["context"], "zombie", "{r:#}");
}

/// A pipe made without O_CLOEXEC whose write end leaks into an exec'd program.
const LEAK: &str = r#"#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    int p[2];
    if (pipe(p)) return 1; /* CREATED */
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[0], 0);
        execlp("true", "true", (char *)0); /* EXEC */
        _exit(127);
    }
    close(p[0]);
    close(p[1]);
    waitpid(pid, 0, 0);
    return 0;
}
"#;

#[test]
fn an_fd_leak_is_shown_at_the_call_that_made_the_fd_with_its_source_line() {
    let dir = tempfile::tempdir().unwrap();
    cc(dir.path(), "leak", LEAK, &["-g", "-O0"]);
    let o = output(
        assafe()
            .arg("run")
            .arg("--lib")
            .arg(library())
            .arg("--")
            .arg(dir.path().join("leak")),
    );
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    let text = stderr(&o);
    assert!(
        text.contains("fd-leak: fd 4 pipe:[")
            && text.contains("(write end), made by pipe() without close-on-exec before the fork"),
        "{text}"
    );
    // The group's stack is the pipe() call, symbolized to its source line.
    let created = format!(
        "in main {}:{}",
        dir.path().join("leak.c").display(),
        line_of(LEAK, "CREATED")
    );
    let at = text
        .find(&created)
        .unwrap_or_else(|| panic!("{created} in {text}"));
    assert!(
        text[at..]
            .lines()
            .next()
            .unwrap()
            .contains("first frame in your code"),
        "{text}"
    );
}
