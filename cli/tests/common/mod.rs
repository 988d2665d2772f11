//! Helpers shared by the CLI tests.
#![allow(dead_code)]

use assafe_proto::schema::{self, Field, Presence, Type};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `assafe` binary under test.
pub fn assafe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_assafe"))
}

/// Runs a command under the tests' one timeout helper and returns its output (panics if it cannot
/// start or runs longer than [`assafe_tests::TIMEOUT`]).
pub fn output(cmd: &mut Command) -> Output {
    let r = assafe_tests::run_with_timeout(cmd, assafe_tests::TIMEOUT);
    Output {
        status: r.status,
        stdout: r.stdout,
        stderr: r.stderr,
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Compiles a C source with `cc` into `dir/name`; panics with cc's output on failure.
pub fn cc(dir: &Path, name: &str, source: &str, flags: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let exe = dir.join(name);
    let o = Command::new("cc")
        .args(flags)
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("cc runs");
    assert!(
        o.status.success(),
        "cc {flags:?} {name}.c failed:\n{}",
        stderr(&o)
    );
    exe
}

/// 1-based line of the first line of `source` containing `marker`.
pub fn line_of(source: &str, marker: &str) -> u32 {
    source
        .lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("marker {marker} not in source")) as u32
        + 1
}

/// `target/release/libassafe.so`, or a clear failure when it has not been built (the one lookup,
/// shared with the integration tests).
#[allow(unused_imports)] // not every test file that includes this module runs the library
pub use assafe_tests::library;

/// Parses the JSON report.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// Checks a log record against `assafe-proto`'s schema of its event: every key known and of the
/// right type, every always-present key there. Records of unknown events pass (readers skip them).
pub fn check_record(v: &Value) {
    let ev = v["event"]
        .as_str()
        .unwrap_or_else(|| panic!("no event: {v}"));
    if let Some(s) = schema::of(ev) {
        check_object(s.fields, v, ev);
    }
}

pub fn check_type(ty: Type, v: &Value, what: &str) {
    let ok = match ty {
        Type::Str => v.is_string(),
        Type::Uint => v.is_u64(),
        Type::Int => v.is_i64() || v.is_u64(),
        Type::Bool => v.is_boolean(),
        Type::Hex => is_hex(v),
        Type::HexArray => v.as_array().is_some_and(|a| a.iter().all(is_hex)),
        Type::StrArray => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        Type::Stack => v.as_array().is_some_and(|a| {
            a.iter()
                .all(|f| check_object(&schema::STACK_FRAME, f, what))
        }),
        Type::Sites => v.as_array().is_some_and(|a| {
            a.iter()
                .all(|f| check_object(&schema::SUMMARY_SITE, f, what))
        }),
    };
    assert!(ok, "{what}: {v} is not a {ty:?}");
}

pub fn is_hex(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.strip_prefix("0x").is_some_and(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        })
    })
}

/// Every key of `v` is in `fields` with the right type; every `Always` field is present.
pub fn check_object(fields: &[Field], v: &Value, what: &str) -> bool {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {v}"));
    for (k, val) in obj {
        if k == "_file_pid" {
            continue; // added by the test helper
        }
        let f = fields
            .iter()
            .find(|f| f.key == k)
            .unwrap_or_else(|| panic!("{what}: key {k} is not in the schema: {v}"));
        check_type(f.ty, val, &format!("{what}.{k}"));
    }
    for f in fields.iter().filter(|f| f.presence == Presence::Always) {
        assert!(obj.contains_key(f.key), "{what}: no {}: {v}", f.key);
    }
    true
}

/// A multi-threaded parent whose fork child calls malloc (a real bug).
pub const MT_FORK: &str = r#"#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
static void *spin(void *a) { (void)a; for (;;) pause(); return 0; }
__attribute__((noinline)) static void child_work(void) {
    void *m = malloc(100); /* BUG */
    __asm__ volatile("" :: "r"(m) : "memory");
    _exit(0);
}
int main(void) {
    pthread_t t;
    pthread_create(&t, 0, spin, 0);
    pid_t p = fork();
    if (p == 0)
        child_work();
    int st;
    waitpid(p, &st, 0);
    return 3;
}
"#;

/// A handler that calls printf on a raised SIGUSR1.
pub const SIGNAL: &str = r#"#include <signal.h>
#include <stdio.h>
static void handler(int sig) {
    printf("got %d\n", sig); /* BUG */
}
int main(void) {
    signal(SIGUSR1, handler);
    raise(SIGUSR1);
    return 0;
}
"#;
