//! One finding per root cause, the "your code" frame, signal frames and stack depth, with real
//! programs run under `assafe run` and the real library (target/release/libassafe.so).

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

/// A SIGUSR1 handler with unsafe calls at several call sites (a fortified printf among them),
/// entered three times; then, later, a multi-threaded fork whose child calls malloc, free and
/// exit (libstdc++ and libm are linked: their destructors call `__cxa_finalize` when the child
/// exits).
const PROG: &str = r#"#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
volatile int hits;
__attribute__((noinline)) static void log_it(const char *s) {
    char *d = strdup(s); /* STRDUP */
    fputs(d, stdout);
    free(d);
}
__attribute__((noinline)) static void handler(int sig) {
    printf("got %d\n", sig); /* PRINTF */
    log_it("again\n");
    fflush(stdout);
    hits++;
}
static void *spin(void *a) { (void)a; for (;;) pause(); return 0; }
__attribute__((noinline)) static void child_work(void) {
    void *m = malloc(100); /* MALLOC */
    __asm__ volatile("" :: "r"(m) : "memory");
    free(m);
    exit(0); /* EXIT */
}
int main(void) {
    signal(SIGUSR1, handler);
    for (int i = 0; i < 3; i++)
        kill(getpid(), SIGUSR1);
    pthread_t t;
    pthread_create(&t, 0, spin, 0);
    pid_t p = fork();
    if (p == 0)
        child_work();
    int st;
    waitpid(p, &st, 0);
    return hits == 3 ? 0 : 1;
}
"#;

fn run(dir: &Path, exe: &Path, format: &str, extra: &[&str]) -> String {
    let out = dir.join(format!("report.{format}"));
    let o = output(
        assafe()
            .arg("run")
            .arg("--lib")
            .arg(library())
            .args(["--format", format, "--output"])
            .arg(&out)
            .args(extra)
            .arg("--")
            .arg(exe),
    );
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    fs::read_to_string(&out).unwrap_or_else(|e| panic!("no report ({e}): {}", stderr(&o)))
}

fn build(dir: &Path) -> std::path::PathBuf {
    cc(
        dir,
        "prog",
        PROG,
        &[
            "-O2",
            "-g",
            "-D_FORTIFY_SOURCE=2",
            "-pthread",
            "-Wl,--no-as-needed",
            "-lstdc++",
            "-lm",
        ],
    )
}

fn group<'a>(r: &'a Value, context: &str) -> &'a Value {
    r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["context"] == context)
        .unwrap_or_else(|| panic!("no {context} group: {r:#}"))
}

fn functions(g: &Value) -> Vec<&str> {
    g["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["function"].as_str().unwrap())
        .collect()
}

#[test]
fn one_group_per_root_cause_in_first_occurrence_order() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build(dir.path());
    let r = json(&run(dir.path(), &exe, "json", &[]));
    let groups = r["groups"].as_array().unwrap();
    // The handler's calls are one group, the fork child's another: two root causes.
    assert_eq!(groups.len(), 2, "{r:#}");
    // First occurrence first: the handler ran before the fork (by name, fork-child sorts first).
    assert_eq!(groups[0]["context"], "signal-handler", "{r:#}");
    let h = group(&r, "signal-handler");
    assert_eq!(h["root"]["kind"], "handler");
    assert_eq!(h["root"]["frame"]["function"], "handler", "{h:#}");
    let hf = functions(h);
    for f in ["__printf_chk", "strdup", "fflush"] {
        assert!(hf.contains(&f), "{f} not in {hf:?}");
    }
    assert!(h["findings"].as_array().unwrap().len() >= 4, "{h:#}");
    assert_eq!(h["signal_origins"], serde_json::json!(["self"]));

    let c = group(&r, "fork-child");
    assert_eq!(c["root"]["kind"], "child");
    assert_eq!(c["root"]["frame"]["function"], "child_work", "{c:#}");
    let cf = functions(c);
    assert!(cf.contains(&"malloc") && cf.contains(&"free"), "{cf:?}");
    // Every library's destructor calls __cxa_finalize when the child exits: one finding,
    // judged at the program's call to exit.
    let fin: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["function"] == "__cxa_finalize")
        .collect();
    assert_eq!(fin.len(), 1, "{fin:#?}");
    let fin = fin[0];
    let user = &fin["stack"][fin["user_frame"].as_u64().unwrap() as usize];
    assert_eq!(user["function"], "child_work", "{fin:#}");
    assert_eq!(user["line"], line_of(PROG, "/* EXIT */"));
    assert_eq!(fin["group"], c["id"]);

    // The fortified printf: "your code" is the handler's line, not bits/stdio2.h.
    let printf = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"] == "__printf_chk")
        .unwrap();
    let stack = printf["stack"].as_array().unwrap();
    let u = printf["user_frame"].as_u64().unwrap() as usize;
    assert!(
        stack[u]["file"].as_str().unwrap().ends_with("prog.c"),
        "{printf:#}"
    );
    assert_eq!(stack[u]["line"], line_of(PROG, "/* PRINTF */"));
    // The signal frame is marked, and the frame after it is the interrupted kill().
    let s = stack
        .iter()
        .position(|f| f["signal_frame"] == true)
        .expect("a signal frame");
    assert!(
        stack[s + 1]["function"]
            .as_str()
            .is_some_and(|f| f.contains("kill")),
        "{printf:#}"
    );
}

#[test]
fn text_prints_one_block_per_root_with_signal_frames_and_capped_stacks() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build(dir.path());
    let t = run(dir.path(), &exe, "text", &["--max-frames", "5"]);
    let blocks = t.lines().filter(|l| l.starts_with("==assafe== ")).count();
    assert_eq!(blocks, 2, "{t}");
    assert!(t.contains("in signal handler handler (SIGUSR1)"), "{t}");
    assert!(t.contains("SIGUSR1 (self signal), latent"), "{t}");
    assert!(
        t.contains("in the child of a multi-threaded fork, from child_work"),
        "{t}"
    );
    assert!(t.contains(" frames …\n"), "{t}");
    // At most 5 frames (plus the one through "your code") per stack.
    let frames = t
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .count();
    assert!(frames <= 2 * 6, "{t}");
    assert!(t.contains("SUMMARY: assafe: 2 findings at "), "{t}");
    let whole = run(dir.path(), &exe, "text", &["--max-frames", "0"]);
    assert!(
        whole.contains("#2 <signal handler called>") || whole.contains("<signal handler called>")
    );
    assert!(!whole.contains(" frames …\n"), "{whole}");

    let sarif = json(&run(dir.path(), &exe, "sarif", &[]));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{sarif:#}");
    for res in results {
        assert!(res["partialFingerprints"]["assafeFingerprint/v2"].is_string());
    }
}

/// A handler that tail-calls printf is recorded by its own address: it is named as itself, not
/// as the function before it (address − 1).
#[test]
fn a_tail_calling_handler_is_named_by_its_own_address() {
    const TAIL: &str = r#"#include <signal.h>
#include <stdio.h>
#include <unistd.h>
__attribute__((noinline, used)) void before_handler(int *p) { *p += 1; }
void handler(int sig) { printf("got %d\n", sig); }
int main(void) {
    signal(SIGUSR1, handler);
    kill(getpid(), SIGUSR1);
    return 0;
}
"#;
    let dir = tempfile::tempdir().unwrap();
    let exe = cc(dir.path(), "tail", TAIL, &["-O2", "-g"]);
    let r = json(&run(dir.path(), &exe, "json", &[]));
    let f = &r["findings"][0];
    let stack = f["stack"].as_array().unwrap();
    let named: Vec<&str> = stack
        .iter()
        .filter_map(|x| x["function"].as_str())
        .collect();
    assert!(!named.contains(&"before_handler"), "{f:#}");
    assert_eq!(
        r["groups"][0]["root"]["frame"]["function"], "handler",
        "{r:#}"
    );
}

/// The SARIF fingerprint of a root cause comes from its root (here the handler), not from the
/// stack: the same handler reached through different outer code keeps it; another handler
/// does not.
#[test]
fn sarif_fingerprints_survive_changes_in_outer_code() {
    let src = |outer: &str, name: &str| {
        format!(
            r#"#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((noinline)) static void {name}(int sig) {{
    char *p = malloc(32);
    snprintf(p, 32, "%d", sig);
    free(p);
}}
__attribute__((noinline)) static void deep(void) {{ kill(getpid(), SIGUSR1); }}
__attribute__((noinline)) static void outer(void) {{ {outer}; }}
int main(void) {{
    signal(SIGUSR1, {name});
    outer();
    return 0;
}}
"#
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let fp = |build: &str, src: String| {
        // One program name (the root names its module), three builds.
        let d = dir.path().join(build);
        fs::create_dir_all(&d).unwrap();
        let exe = cc(&d, "prog", &src, &["-O1", "-g"]);
        let s = json(&run(&d, &exe, "sarif", &[]));
        let results = s["runs"][0]["results"].as_array().unwrap().clone();
        assert_eq!(results.len(), 1, "{s:#}");
        results[0]["partialFingerprints"]["assafeFingerprint/v2"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let a = fp("a", src("kill(getpid(), SIGUSR1)", "on_usr1"));
    let b = fp("b", src("deep(); deep()", "on_usr1"));
    let c = fp("c", src("kill(getpid(), SIGUSR1)", "other_handler"));
    assert_eq!(a, b, "same handler, different outer code");
    assert_ne!(a, c, "another handler");
}

/// The HTML report shows what the text report shows: one block per root cause (the report's
/// `groups`, first seen first), each with its functions, call sites and first call's stack cut
/// at --max-frames; checked in headless chromium by scripts/html-check.py against the JSON
/// report of the same logs.
#[test]
fn html_shows_the_groups() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build(dir.path());
    let logs = dir.path().join("logs");
    let o = output(
        assafe()
            .args(["run", "--lib"])
            .arg(library())
            .arg("--keep-logs")
            .arg(&logs)
            .args(["--format", "json", "--"])
            .arg(&exe),
    );
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    let report = |format: &str, extra: &[&str]| {
        let out = dir.path().join(format!("r{}.{format}", extra.len()));
        let o = output(
            assafe()
                .args(["report", "--format", format, "--output"])
                .arg(&out)
                .args(extra)
                .arg(&logs),
        );
        assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
        out
    };
    let json_path = report("json", &[]);
    let r = json(&fs::read_to_string(&json_path).unwrap());
    // Two groups (the handler's, the child's) over more call sites: the page must not list
    // call sites as findings.
    assert_eq!(r["groups"].as_array().unwrap().len(), 2, "{r:#}");
    assert!(r["findings"].as_array().unwrap().len() > 3, "{r:#}");
    let root = assafe_tests::repo_root();
    for max in [None, Some("3")] {
        let extra: Vec<&str> = max.map(|m| vec!["--max-frames", m]).unwrap_or_default();
        let html = report("html", &extra);
        let page = fs::read_to_string(&html).unwrap();
        assert!(
            page.contains(&format!("data-max-frames=\"{}\"", max.unwrap_or("16"))),
            "the page cuts stacks as --max-frames says"
        );
        let o = output(
            std::process::Command::new("python3")
                .arg(root.join("scripts/html-check.py"))
                .arg(&html)
                .arg(&json_path),
        );
        assert!(
            o.status.success(),
            "html-check failed (max-frames {max:?}):\n{}\n{}",
            stdout(&o),
            stderr(&o)
        );
        let out = stdout(&o);
        assert!(out.contains("groups in the report's order"), "{out}");
        if max.is_some() {
            assert!(
                out.contains("elided: 1"),
                "a stack is cut at 3 frames:\n{out}"
            );
        }
    }
}
