//! Detection of programs that LD_PRELOAD cannot reach (no library needed).

mod common;

use assafe_cli::preflight::why_unchecked;
use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

const HELLO: &str = "int main(void) { return 0; }\n";

fn static_libc_available() -> bool {
    let o = Command::new("cc").arg("-print-file-name=libc.a").output();
    o.is_ok_and(|o| {
        let p = String::from_utf8_lossy(&o.stdout).trim().to_owned();
        p.starts_with('/') && std::path::Path::new(&p).is_file()
    })
}

#[test]
fn static_binary_is_detected() {
    if !static_libc_available() {
        eprintln!("SKIPPED static_binary_is_detected: no libc.a (apt-get install -y libc6-dev)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = cc(dir.path(), "hello", HELLO, &["-static", "-O1"]);
    let why = why_unchecked(&exe).expect("static binary reported");
    assert!(why.contains("static binary"), "{why}");
    // static-pie too
    let exe = cc(dir.path(), "hello_pie", HELLO, &["-static-pie", "-O1"]);
    let why = why_unchecked(&exe).expect("static-pie binary reported");
    assert!(why.contains("static binary"), "{why}");
    // A script whose interpreter is static.
    let script = dir.path().join("script");
    fs::write(
        &script,
        format!("#!{}\n", dir.path().join("hello").display()),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let why = why_unchecked(&script).expect("script with static interpreter reported");
    assert!(
        why.contains("is a script run by") && why.contains("static binary"),
        "{why}"
    );
    // The CLI says so before running (no library needed for the message itself: --lib /dev/null
    // is not a file, so use a dummy file; the message comes before anything runs).
    let dummy = dir.path().join("libassafe.so");
    fs::write(&dummy, b"").unwrap();
    let o = output(
        assafe()
            .arg("run")
            .arg("--lib")
            .arg(&dummy)
            .arg("--")
            .arg(dir.path().join("hello")),
    );
    let err = stderr(&o);
    assert!(
        err.contains("assafe: cannot check this program:") && err.contains("static binary"),
        "{err}"
    );
    assert!(err.contains("1 not checked"), "{err}");
    assert!(err.contains("0 processes checked"), "{err}");
    assert_eq!(o.status.code(), Some(0), "the static program's own status");
}

#[test]
fn dynamic_binaries_and_scripts_are_fine() {
    let dir = tempfile::tempdir().unwrap();
    let exe = cc(dir.path(), "hello", HELLO, &["-O1"]);
    assert_eq!(why_unchecked(&exe), None);
    let script = dir.path().join("s.sh");
    fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    assert_eq!(why_unchecked(&script), None);
    let env_script = dir.path().join("e.sh");
    fs::write(&env_script, "#!/usr/bin/env sh\nexit 0\n").unwrap();
    assert_eq!(why_unchecked(&env_script), None);
}

#[test]
fn setuid_binary_is_detected() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "SKIPPED setuid_binary_is_detected: needs root to make a setuid copy owned by another user"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = cc(dir.path(), "hello", HELLO, &["-O1"]);
    // Owned by someone else (nobody), mode 4755: the loader runs it in secure mode.
    let c = std::ffi::CString::new(exe.to_str().unwrap()).unwrap();
    // SAFETY: c is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::chown(c.as_ptr(), 65534, 65534) }, 0);
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o4755)).unwrap();
    let why = why_unchecked(&exe).expect("setuid reported");
    assert!(why.contains("setuid"), "{why}");
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o2755)).unwrap();
    let why = why_unchecked(&exe).expect("setgid reported");
    assert!(why.contains("setgid"), "{why}");
    // setuid to ourselves changes nothing: not reported.
    // SAFETY: c is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::chown(c.as_ptr(), 0, 0) }, 0);
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o4755)).unwrap();
    assert_eq!(why_unchecked(&exe), None);
}

#[test]
fn file_capabilities_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let exe = cc(dir.path(), "hello", HELLO, &["-O1"]);
    let ok = Command::new("setcap")
        .arg("cap_net_raw+ep")
        .arg(&exe)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "SKIPPED file_capabilities_are_detected: setcap (libcap2-bin) missing or not permitted"
        );
        return;
    }
    let why = why_unchecked(&exe).expect("capabilities reported");
    assert!(why.contains("file capabilities"), "{why}");
}

#[test]
fn foreign_elf_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let exe = cc(dir.path(), "hello", HELLO, &["-O1"]);
    let mut data = fs::read(&exe).unwrap();
    // e_machine (offset 18) = EM_AARCH64 (183) on x86_64, EM_X86_64 (62) elsewhere.
    let other: u16 = if cfg!(target_arch = "x86_64") {
        183
    } else {
        62
    };
    data[18..20].copy_from_slice(&other.to_le_bytes());
    let arch = dir.path().join("arch");
    fs::write(&arch, &data).unwrap();
    let why = why_unchecked(&arch).expect("foreign arch reported");
    assert!(why.contains("another architecture"), "{why}");
    // A musl program: rewrite the interpreter path in place.
    let mut data = fs::read(&exe).unwrap();
    let from = b"/lib64/ld-linux-x86-64.so.2\0";
    if let Some(pos) = data.windows(from.len()).position(|w| w == from) {
        let to = b"/lib/ld-musl-x86_64.so.1\0\0\0\0";
        data[pos..pos + from.len()].copy_from_slice(to);
        let musl = dir.path().join("musl");
        fs::write(&musl, &data).unwrap();
        // Without a musl build of the library (this process told the preflight of none).
        let why = why_unchecked(&musl).expect("musl reported");
        assert!(
            why.contains("musl program") && why.contains("ld-musl"),
            "{why}"
        );
        let mut data = fs::read(&exe).unwrap();
        let to = b"/lib/ld-uClibc.so.0\0\0\0\0\0\0\0\0\0";
        data[pos..pos + from.len()].copy_from_slice(to);
        let other = dir.path().join("uclibc");
        fs::write(&other, &data).unwrap();
        let why = why_unchecked(&other).expect("uClibc reported");
        assert!(
            why.contains("another C library") && why.contains("ld-uClibc"),
            "{why}"
        );
    }
}

/// The preflight reads the ELF header, the program headers and PT_INTERP, never the whole file:
/// a 1 TiB (sparse) program is judged at once. Reading it whole cannot even allocate the buffer,
/// so a preflight that does would answer "cannot tell" (None) here.
#[test]
fn preflight_reads_headers_only() {
    let dir = tempfile::tempdir().unwrap();
    let exe = cc(dir.path(), "hello", HELLO, &["-O1"]);
    let mut data = fs::read(&exe).unwrap();
    let from = b"/lib64/ld-linux-x86-64.so.2\0";
    let pos = data
        .windows(from.len())
        .position(|w| w == from)
        .expect("PT_INTERP string in a dynamic x86_64 program");
    data[pos..pos + from.len()].copy_from_slice(b"/lib/ld-musl-x86_64.so.1\0\0\0\0");
    let big = dir.path().join("big");
    fs::write(&big, &data).unwrap();
    let f = fs::OpenOptions::new().write(true).open(&big).unwrap();
    if f.set_len(1 << 40).is_err() {
        eprintln!("SKIPPED preflight_reads_headers_only: no sparse 1 TiB file on this filesystem");
        return;
    }
    let t = std::time::Instant::now();
    let why = why_unchecked(&big).expect("a musl program, judged from its headers");
    assert!(why.contains("musl program"), "{why}");
    assert!(
        t.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        t.elapsed()
    );
    // A script whose interpreter is that program: still only headers.
    let script = dir.path().join("script");
    fs::write(&script, format!("#!{}\n", big.display())).unwrap();
    let why = why_unchecked(&script).expect("script run by a musl program");
    assert!(why.contains("is a script run by"), "{why}");
}
