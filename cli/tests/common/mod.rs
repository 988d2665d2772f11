//! Helpers shared by the CLI tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `assafe` binary under test.
pub fn assafe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_assafe"))
}

/// Runs a command and returns its output (panics if it cannot start).
pub fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("command starts")
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

/// The workspace's target directory.
pub fn target_dir() -> PathBuf {
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")
}

/// `target/release/libassafe.so`, or a clear failure when it has not been built.
pub fn library() -> PathBuf {
    let lib = target_dir().join("release/libassafe.so");
    assert!(
        lib.is_file(),
        "build the library first: cargo build --release (no {})",
        lib.display()
    );
    lib.canonicalize().unwrap()
}

/// Parses the JSON report.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}
