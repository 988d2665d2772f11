//! `assafe run` over process trees that mix glibc and musl programs: one `LD_PRELOAD` entry
//! (`<cache>/preload-<hash>/$LIB/libassafe.so`) gives each program the build for its own C
//! library, and a program never gets a build it cannot load.
//!
//! Needs the musl build (`scripts/test` makes it) and Debian's `musl-gcc`; without `musl-gcc`
//! each test says it is skipped (a failure with `ASSAFE_REQUIRE_MUSL=1`, as `scripts/test` sets).
#![cfg(target_arch = "x86_64")]

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The musl build and a compiled musl program, or `None` when musl-gcc is missing.
fn musl_setup(test: &str, dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let ok = Command::new("musl-gcc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let msg = format!("{test} SKIPPED: musl-gcc not found (apt-get install musl-tools)");
        if std::env::var_os("ASSAFE_REQUIRE_MUSL").is_some_and(|v| v == "1") {
            panic!("{msg}; ASSAFE_REQUIRE_MUSL=1");
        }
        eprintln!("{msg}");
        return None;
    }
    let lib = assafe_tests::target_dir().join("x86_64-unknown-linux-musl/release/libassafe.so");
    assert!(
        lib.is_file(),
        "build the musl library first: RUSTFLAGS=\"-C target-feature=-crt-static\" cargo build \
         --release -p assafe --target x86_64-unknown-linux-musl ({} is missing)",
        lib.display()
    );
    let src = dir.join("musl_fork.c");
    // (Exit 0: the musl program must run as without assafe.)
    fs::write(&src, MT_FORK.replace("return 3;", "return 0;")).unwrap();
    let exe = dir.join("musl_fork");
    let o = Command::new("musl-gcc")
        .args(["-g", "-O1", "-pthread", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap();
    assert!(o.status.success(), "musl-gcc: {}", stderr(&o));
    Some((lib, exe))
}

/// `assafe run --format json` with the glibc library, `musl` as the musl build (`None`: none),
/// and a private cache directory. Returns the report and the exit status.
fn run_json(dir: &Path, musl: Option<&Path>, cmd: &[&str]) -> (Value, i32, String) {
    let out = dir.join("report.json");
    let mut c = assafe();
    c.arg("run")
        .arg("--lib")
        .arg(library())
        .args(["--format", "json", "--output"])
        .arg(&out)
        .arg("--")
        .args(cmd)
        .current_dir(dir)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env_remove("LD_PRELOAD")
        .env_remove("ASSAFE_OPTIONS");
    match musl {
        Some(m) => c.env("ASSAFE_MUSL_LIB", m),
        None => c.env("ASSAFE_MUSL_LIB", "none"),
    };
    let o = output(&mut c);
    let text =
        fs::read_to_string(&out).unwrap_or_else(|e| panic!("no report ({e}): {}", stderr(&o)));
    (json(&text), o.status.code().unwrap_or(-1), stderr(&o))
}

/// The programs a finding of `function` was seen in.
fn programs_of(r: &Value, function: &str) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["function"] == function)
        .flat_map(|f| f["programs"].as_array().unwrap().iter())
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn run_checks_a_tree_of_glibc_and_musl_programs() {
    let dir = tempfile::tempdir().unwrap();
    let Some((musl_lib, musl_prog)) =
        musl_setup("run_checks_a_tree_of_glibc_and_musl_programs", dir.path())
    else {
        return;
    };
    let glibc_prog = cc(dir.path(), "glibc_sig", SIGNAL, &["-g", "-O1"]);
    // A glibc shell runs the musl program (directly, and after `env -i` dropped LD_PRELOAD:
    // exec-following re-adds the `$LIB` entry, not the glibc build) and the glibc program.
    let script = format!(
        "{m}; env -i {m}; {g}",
        m = musl_prog.display(),
        g = glibc_prog.display()
    );
    let (r, status, err) = run_json(dir.path(), Some(&musl_lib), &["sh", "-c", &script]);
    // 66: there are findings (--error-exitcode); the command itself exited 0.
    assert_eq!(status, 66, "{err}");
    assert_eq!(r["command"]["status"], 0, "{err}");
    let musl_name = musl_prog.display().to_string();
    let mallocs = programs_of(&r, "malloc");
    assert!(
        mallocs.iter().any(|p| p.ends_with("/musl_fork")),
        "the musl program's fork child malloc is reported: {r:#}"
    );
    let printfs = programs_of(&r, "printf");
    assert!(
        printfs.iter().any(|p| p.ends_with("/glibc_sig")),
        "the glibc program's handler printf is reported: {r:#}"
    );
    let malloc = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"] == "malloc" && f["context"] == "fork-child")
        .unwrap();
    assert_eq!(malloc["processes"], 2, "both musl runs checked: {malloc:#}");
    // sh, the musl program twice, their fork children twice, env, the glibc program.
    assert!(r["processes_checked"].as_u64().unwrap() >= 6, "{r:#}");
    assert_eq!(r["processes_unchecked"], serde_json::json!([]), "{r:#}");
    assert!(!err.contains("Error relocating"), "{err} ({musl_name})");
}

/// Without a musl build, a musl program in the tree runs (unchecked, and said so), never with
/// the glibc build it cannot load (musl's loader would end it: exit 127).
#[test]
fn run_without_a_musl_build_never_preloads_glibc_into_musl() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_, musl_prog)) = musl_setup(
        "run_without_a_musl_build_never_preloads_glibc_into_musl",
        dir.path(),
    ) else {
        return;
    };
    let (r, status, err) = run_json(dir.path(), None, &[musl_prog.to_str().unwrap()]);
    assert_eq!(status, 0, "the program ran as without assafe: {err} {r:#}");
    assert!(!err.contains("Error relocating"), "{err}");
    let unchecked = r["processes_unchecked"].as_array().unwrap();
    assert_eq!(unchecked.len(), 1, "{r:#}");
    let why = unchecked[0]["why"].as_str().unwrap_or_default();
    assert!(why.contains("musl"), "{why}");
    assert!(
        err.contains("no musl build"),
        "the preflight says so: {err}"
    );
    // In a tree: the glibc shell is checked, the musl program runs.
    let script = format!("{}; echo after", musl_prog.display());
    let (r, _, err) = run_json(dir.path(), None, &["sh", "-c", &script]);
    assert_eq!(r["command"]["status"], 0, "{err}");
    assert!(r["processes_checked"].as_u64().unwrap() >= 1, "{r:#}");
}

/// `assafe lib` prints the one `LD_PRELOAD` entry for both builds: plain
/// `LD_PRELOAD="$(assafe lib)"` checks a musl program and a glibc program (each writes its start
/// record); the glibc build's own path (`assafe lib --glibc`, what `assafe lib` printed before)
/// would end the musl program with exit 127. `--musl` prints the musl build.
#[test]
fn lib_prints_one_preload_entry_for_glibc_and_musl() {
    let dir = tempfile::tempdir().unwrap();
    let Some((musl_lib, musl_prog)) = musl_setup(
        "lib_prints_one_preload_entry_for_glibc_and_musl",
        dir.path(),
    ) else {
        return;
    };
    let lib = |flag: Option<&str>| {
        let mut c = assafe();
        c.arg("lib")
            .arg("--lib")
            .arg(library())
            .args(flag)
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .env("ASSAFE_MUSL_LIB", &musl_lib);
        let o = output(&mut c);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).trim().to_owned()
    };
    let entry = lib(None);
    assert!(entry.ends_with("/$LIB/libassafe.so"), "{entry}");
    assert_eq!(Path::new(&lib(Some("--glibc"))), library().as_path());
    assert_eq!(
        Path::new(&lib(Some("--musl"))),
        musl_lib.canonicalize().unwrap().as_path()
    );
    let glibc_prog = cc(dir.path(), "glibc_sig", SIGNAL, &["-g", "-O1"]);
    for (prog, name) in [(&musl_prog, "musl"), (&glibc_prog, "glibc")] {
        let logs = dir.path().join(format!("logs-{name}"));
        fs::create_dir_all(&logs).unwrap();
        let o = output(Command::new(prog).env("LD_PRELOAD", &entry).env(
            "ASSAFE_OPTIONS",
            format!("log_format=json:log_path={}/assafe", logs.display()),
        ));
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        assert!(!stderr(&o).contains("Error relocating"), "{}", stderr(&o));
        let started = fs::read_dir(&logs)
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| fs::read_to_string(e.path()).is_ok_and(|t| t.contains("\"event\":\"start\"")));
        assert!(
            started,
            "the {name} program loaded its build through {entry}"
        );
    }
}

/// `assafe audit --packages` gives the tests the same `$LIB` entry as `assafe run` (readable by
/// every user a test may switch to): a musl program in a package's tests is checked with the
/// musl build and passes as it does without the library (with the glibc build's path, as
/// before, musl's loader ended it with exit 127 and the test failed).
#[test]
fn audit_packages_preloads_the_musl_build_into_musl_tests() {
    let dir = tempfile::tempdir().unwrap();
    let Some((musl_lib, musl_prog)) = musl_setup(
        "audit_packages_preloads_the_musl_build_into_musl_tests",
        dir.path(),
    ) else {
        return;
    };
    // (autopkgtest has no --version, and --help exits 20.)
    let ok = Command::new("autopkgtest").arg("--help").output().is_ok();
    if !ok {
        eprintln!("audit_packages_preloads_the_musl_build_into_musl_tests SKIPPED: no autopkgtest");
        return;
    }
    let src = dir.path().join("assafe-musl-sample");
    let tests = src.join("debian/tests");
    fs::create_dir_all(&tests).unwrap();
    fs::write(
        src.join("debian/control"),
        "Source: assafe-musl-sample\nSection: devel\nPriority: optional\n\
         Maintainer: assafe developers <dev@assafe.invalid>\nStandards-Version: 4.6.2\n\n\
         Package: assafe-musl-sample\nArchitecture: all\nDescription: sample\n sample\n",
    )
    .unwrap();
    fs::write(
        src.join("debian/changelog"),
        "assafe-musl-sample (1.0-1) unstable; urgency=medium\n\n  * Sample.\n\n \
         -- assafe developers <dev@assafe.invalid>  Mon, 19 May 2025 00:00:00 +0000\n",
    )
    .unwrap();
    fs::write(
        tests.join("control"),
        format!("Test-Command: {}\nDepends: libc6\n", musl_prog.display()),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = output(
        assafe()
            .args(["audit", "--packages", "--lib"])
            .arg(library())
            .arg("--output-dir")
            .arg(&out)
            .arg(&src)
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .env("ASSAFE_MUSL_LIB", &musl_lib),
    );
    let verdicts: Value = json(&fs::read_to_string(out.join("verdicts.json")).unwrap());
    let v = &verdicts[0];
    assert_eq!(
        v["baseline_verdicts"],
        serde_json::json!([["command1", "PASS"]]),
        "{v:#}"
    );
    assert_eq!(
        v["verdicts"],
        serde_json::json!([["command1", "PASS"]]),
        "{v:#}"
    );
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let r = json(&fs::read_to_string(out.join("assafe.json")).unwrap());
    assert!(
        programs_of(&r, "malloc")
            .iter()
            .any(|p| p.ends_with("/musl_fork")),
        "the musl test was checked: {r:#}"
    );
}
