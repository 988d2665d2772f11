//! Finding the runs under the paths given to `assafe report`: log directories kept with
//! `--keep-logs`, autopkgtest output directories (one per package test run, as debci workers
//! leave them), or whole trees of them collected from many workers.
//!
//! The result does not depend on the order of the paths or of directory entries: runs are sorted
//! by (package, version, path), so merging artifacts from any number of workers, in any order,
//! gives the same report.

use crate::logs::RunSource;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// How deep below a given directory runs are looked for (an autopkgtest output directory keeps
/// its logs in `artifacts/assafe/`; a fleet's collection adds a level or two above).
const MAX_DEPTH: usize = 8;

/// autopkgtest writes the tested source package and version here (`"pkg 1.2-3"`).
pub const TESTPKG_VERSION: &str = "testpkg-version";

/// `name.<digits>`.
fn has_pid_suffix(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.rsplit_once('.'))
        .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether the file starts like a record of the library's JSON log (`{"event":`).
fn looks_like_log(p: &Path) -> bool {
    let mut head = [0u8; 10];
    fs::File::open(p)
        .and_then(|mut f| f.read(&mut head))
        .is_ok_and(|n| head[..n].starts_with(b"{\"event\":"))
}

/// Whether `dir` directly holds log files. `lenient`: any `name.<pid>` file counts (a directory
/// named on the command line); else the file must also start like a log record.
fn holds_logs(dir: &Path, lenient: bool) -> bool {
    fs::read_dir(dir).is_ok_and(|rd| {
        rd.filter_map(Result::ok).any(|e| {
            let p = e.path();
            e.file_type().is_ok_and(|t| t.is_file())
                && has_pid_suffix(&p)
                && (lenient || looks_like_log(&p))
        })
    })
}

/// The package an autopkgtest output directory tested: `dir` or one of its few nearest parents
/// holds `testpkg-version`; verdicts from its `summary`.
fn package_of(dir: &Path) -> RunSource {
    for anc in dir.ancestors().take(4) {
        let Ok(text) = fs::read_to_string(anc.join(TESTPKG_VERSION)) else {
            continue;
        };
        let mut words = text.split_whitespace();
        return RunSource {
            package: words.next().map(str::to_owned),
            version: words.next().map(str::to_owned),
            path: dir.to_path_buf(),
            verdicts: verdicts(anc),
        };
    }
    RunSource {
        path: dir.to_path_buf(),
        ..Default::default()
    }
}

/// `(test, verdict)` pairs from autopkgtest's `summary` file (`name PASS`, `name FAIL reason`…).
pub fn verdicts(outdir: &Path) -> Vec<(String, String)> {
    let Ok(text) = fs::read_to_string(outdir.join("summary")) else {
        return Vec::new();
    };
    let mut v: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_owned(), w.next()?.to_owned()))
        })
        .collect();
    v.sort();
    v
}

/// Whether an autopkgtest output directory without logs ran with the library: its `log` names
/// libassafe in the command line (`--env=LD_PRELOAD=…libassafe.so`). Such a run checked no
/// process (the tests never loaded the library), which the report must say rather than skip it.
fn ran_with_library(outdir: &Path) -> bool {
    let mut head = String::new();
    let _ = fs::File::open(outdir.join("log")).map(|f| f.take(64 * 1024).read_to_string(&mut head));
    head.lines()
        .take(20)
        .any(|l| l.contains("command line:") && l.contains("libassafe"))
}

fn source(dir: &Path) -> RunSource {
    package_of(dir)
}

fn walk(dir: &Path, depth: usize, top: bool, out: &mut Vec<RunSource>) -> io::Result<()> {
    let mut found_here = false;
    if holds_logs(dir, top) {
        out.push(source(dir));
        found_here = true;
    }
    let before = out.len();
    if depth < MAX_DEPTH {
        let mut subdirs: Vec<PathBuf> = fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        subdirs.sort();
        for d in subdirs {
            walk(&d, depth + 1, false, out)?;
        }
    }
    // An autopkgtest output directory that ran with the library but left no logs: a package
    // with no process checked.
    if !found_here
        && out.len() == before
        && dir.join(TESTPKG_VERSION).is_file()
        && ran_with_library(dir)
    {
        out.push(source(dir));
    }
    Ok(())
}

/// The runs under `paths`: each given log file is a run; each directory is searched for
/// directories of logs (a directory given that holds `name.<pid>` files is itself a run). A
/// directory in which nothing is found is kept as an empty run (a clean or empty log directory).
pub fn discover(paths: &[PathBuf]) -> io::Result<Vec<RunSource>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = fs::metadata(p)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
        if !meta.is_dir() {
            out.push(source(p.parent().unwrap_or(Path::new("."))));
            out.last_mut().expect("pushed").path = p.clone();
            continue;
        }
        let before = out.len();
        walk(p, 0, true, &mut out)?;
        if out.len() == before {
            out.push(source(p));
        }
    }
    for r in &mut out {
        r.path = r.path.canonicalize().unwrap_or_else(|_| r.path.clone());
    }
    out.sort();
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}
