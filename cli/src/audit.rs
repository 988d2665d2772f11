//! `assafe audit --packages`: runs the autopkgtests of source packages (names, source directories
//! or `.dsc` files) with the library injected, through the `autopkgtest` tool and its runner
//! (default `null`: this machine), each package in its own output directory, once without the
//! library (the baseline) and once with it, and compares the verdicts test by test.
//!
//! Nothing is shared while a package runs: its logs go to its own directory, which is moved into
//! that run's `artifacts/assafe/` afterwards, so the output directories are exactly what separate
//! autopkgtest workers would leave, and `assafe report` merges them.

use crate::collect;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How to audit.
pub struct PackagesConfig {
    pub lib: PathBuf,
    /// Extra `key=value` items for `ASSAFE_OPTIONS`.
    pub options: Vec<String>,
    pub output_dir: PathBuf,
    /// Also run each package without the library and compare verdicts.
    pub baseline: bool,
    /// Extra arguments for autopkgtest (before the package).
    pub autopkgtest_args: Vec<String>,
    /// The virtualisation runner and its arguments (after `--`); default `null`.
    pub runner: Vec<String>,
}

/// What happened to one package.
#[derive(Debug, serde::Serialize)]
pub struct PackageOutcome {
    pub package: String,
    /// The output directory of the run with the library.
    pub output: PathBuf,
    /// autopkgtest's exit status with the library (0 all pass, 2 some skipped, 4 some failed,
    /// 8 no tests, 12/14/16/20 errors).
    pub status: Option<i32>,
    pub baseline_status: Option<i32>,
    /// Test → verdict, with and without the library.
    pub verdicts: Vec<(String, String)>,
    pub baseline_verdicts: Vec<(String, String)>,
    /// With the baseline: whether every test has the same verdict (and autopkgtest the same
    /// status) with and without the library.
    pub same_verdicts: Option<bool>,
    pub log_files: usize,
}

fn name_of(spec: &str) -> String {
    let p = Path::new(spec);
    let base = if p.exists() {
        let n = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "source".to_owned());
        n.trim_end_matches(".dsc")
            .split('_')
            .next()
            .unwrap_or("source")
            .to_owned()
    } else {
        spec.to_owned()
    };
    base.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+-.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn autopkgtest(
    cfg: &PackagesConfig,
    spec: &str,
    out: &Path,
    env: &[String],
    log: &Path,
) -> Option<i32> {
    let _ = fs::remove_dir_all(out);
    let mut cmd = Command::new("autopkgtest");
    cmd.arg("--output-dir").arg(out);
    for e in env {
        cmd.arg(format!("--env={e}"));
    }
    cmd.args(&cfg.autopkgtest_args);
    if spec.ends_with("//") {
        // A local source tree: its tests need no binaries built from it.
        cmd.arg("--no-built-binaries");
    }
    cmd.arg(spec).arg("--");
    if cfg.runner.is_empty() {
        cmd.arg("null");
    } else {
        cmd.args(&cfg.runner);
    }
    let log = fs::File::create(log).ok()?;
    let err = log.try_clone().ok()?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err));
    cmd.status().ok().and_then(|s| s.code())
}

/// Runs every package; never stops at one that fails.
pub fn run_packages(specs: &[String], cfg: &PackagesConfig) -> Vec<PackageOutcome> {
    let mut outcomes = Vec::new();
    // One `$LIB` entry for the glibc and the musl builds, as `assafe run` preloads them: a musl
    // program of a test gets the musl build (or, without one, runs unchecked) instead of the
    // glibc build, which its loader cannot load. Made for this audit (readable by every user the
    // tests may switch to) unless the package's own layout is installed.
    let preload_dir =
        std::env::temp_dir().join(format!("assafe-audit.{}.preload", std::process::id()));
    let (preload, warning) = crate::run::audit_preload_entry(&cfg.lib, &preload_dir);
    if let Some(w) = warning {
        eprintln!("assafe: {w}");
    }
    for spec in specs {
        let name = name_of(spec);
        let dir = cfg.output_dir.join(&name);
        let _ = fs::create_dir_all(&dir);
        // A source directory is given as a built tree (`DIR//`): its tests run as they are,
        // without building the package first.
        let spec_arg = match Path::new(spec).canonicalize() {
            Ok(p) if p.is_dir() => format!("{}//", p.display()),
            Ok(p) => p.display().to_string(),
            Err(_) => spec.clone(),
        };
        let (baseline_status, baseline_verdicts) = if cfg.baseline {
            let out = dir.join("baseline");
            let st = autopkgtest(cfg, &spec_arg, &out, &[], &dir.join("baseline.out"));
            (st, collect::verdicts(&out))
        } else {
            (None, Vec::new())
        };
        // A log directory for this run only, that every process of the tests can write to: tests
        // that drop privileges (daemontools' `setuidgid`, `su nobody`…) still log there, where a
        // root-only directory would make the library warn on their stderr. Under the temporary
        // directory (traversable by all, unlike an output directory made by `mktemp -d`), mode
        // 1777 like /tmp: the library opens `assafe.<pid>` with O_NOFOLLOW|O_CREAT, mode 0600.
        let logs = std::env::temp_dir().join(format!(
            "assafe-audit.{}.{}",
            std::process::id(),
            name.replace('/', "_")
        ));
        let _ = fs::remove_dir_all(&logs);
        let _ = fs::create_dir_all(&logs);
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&logs, fs::Permissions::from_mode(0o1777));
        }
        let mut options: Vec<String> = cfg.options.clone();
        options.push("log_format=json".to_owned());
        options.push(format!("log_path={}", logs.join("assafe").display()));
        let env = [
            format!("LD_PRELOAD={}", preload.to_string_lossy()),
            format!("ASSAFE_OPTIONS={}", options.join(":")),
        ];
        let out = dir.join("assafe");
        let status = autopkgtest(cfg, &spec_arg, &out, &env, &dir.join("assafe.out"));
        // Into the run's own artifacts, as a worker would keep them.
        let dest = out.join("artifacts/assafe");
        let _ = fs::create_dir_all(&dest);
        let mut log_files = 0;
        if let Ok(rd) = fs::read_dir(&logs) {
            for e in rd.filter_map(Result::ok) {
                if fs::rename(e.path(), dest.join(e.file_name())).is_ok() {
                    log_files += 1;
                }
            }
        }
        let _ = fs::remove_dir(&logs);
        let verdicts = collect::verdicts(&out);
        let same_verdicts = cfg
            .baseline
            .then(|| verdicts == baseline_verdicts && status == baseline_status);
        let o = PackageOutcome {
            package: name,
            output: out,
            status,
            baseline_status,
            verdicts,
            baseline_verdicts,
            same_verdicts,
            log_files,
        };
        let _ = fs::write(
            dir.join("assafe-audit.json"),
            serde_json::to_string_pretty(&o).unwrap_or_default() + "\n",
        );
        outcomes.push(o);
    }
    let _ = fs::remove_dir_all(&preload_dir);
    outcomes
}
