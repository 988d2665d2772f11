//! Shared helpers for the integration tests: locate `libassafe.so`, compile small C programs into a
//! per-test temp dir, run them with or without the preload (always under a timeout), and read back
//! the JSON log records (see docs/log-format.md).

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub use assafe_proto as proto;
use proto::{event, key};
pub use serde_json::Value;

/// How long any single program may run before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The workspace root (the parent of `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, relative to the repository, or `target`).
pub fn target_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    if target.is_absolute() {
        target
    } else {
        repo_root().join(target)
    }
}

/// `target/release/libassafe.so` (respects `CARGO_TARGET_DIR`).
pub fn library() -> PathBuf {
    let lib = target_dir().join("release").join("libassafe.so");
    if !lib.is_file() {
        panic!(
            "build the library first: cargo build --release ({} is missing)",
            lib.display()
        );
    }
    lib
}

/// A per-test scratch directory; created fresh (emptied) by [`Env::new`], removed on drop unless
/// the test failed.
pub struct Env {
    pub name: String,
    pub dir: PathBuf,
    pub lib: PathBuf,
    runs: std::cell::Cell<u32>,
}

/// What one run of a program produced.
#[derive(Debug)]
pub struct Outcome {
    /// The pid of the program that was started.
    pub pid: u32,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Every JSON line of every log file, each with an extra `"_file_pid"` key (the pid in the
    /// file name). In file order within a file, files sorted by pid.
    pub records: Vec<Value>,
    pub log_files: Vec<PathBuf>,
    /// Log lines that were not valid JSON (should always be empty).
    pub bad_lines: Vec<String>,
}

impl Env {
    pub fn new(name: &str) -> Env {
        let dir = std::env::temp_dir().join("assafe-tests").join(format!(
            "{}-{}",
            name,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Env {
            name: name.to_string(),
            dir,
            lib: library(),
            runs: std::cell::Cell::new(0),
        }
    }

    /// Compiles `source` (C) into `<dir>/<name>` with `cc -g -O1 -pthread <extra_flags>`.
    pub fn compile_c(&self, name: &str, source: &str, extra_flags: &[&str]) -> PathBuf {
        let src = self.dir.join(format!("{name}.c"));
        std::fs::write(&src, source).expect("write C source");
        let exe = self.dir.join(name);
        let out = Command::new("cc")
            .args(["-g", "-O1", "-pthread", "-Wall"])
            .arg(format!(
                "-I{}",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("c").display()
            ))
            .args(extra_flags)
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .output()
            .expect("run cc");
        assert!(
            out.status.success(),
            "cc failed for {name}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        exe
    }

    /// Compiles `tests/c/<file>.c` into `<dir>/<file>`.
    pub fn compile_file(&self, file: &str, extra_flags: &[&str]) -> PathBuf {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("c")
            .join(format!("{file}.c"));
        let src = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        self.compile_c(file, &src, extra_flags)
    }

    /// Runs `cmd` (program + args) with `ASSAFE_OPTIONS=log_format=json:log_path=<fresh prefix>:<options>`
    /// and `LD_PRELOAD` when `preload`. Each run gets its own log prefix.
    pub fn run<S: AsRef<OsStr>>(&self, cmd: &[S], preload: bool, options: &str) -> Outcome {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let logdir = self.dir.join(format!("run{n}"));
        std::fs::create_dir_all(&logdir).expect("create log dir");
        let prefix = logdir.join("log");
        let mut opts = format!("log_format=json:log_path={}", prefix.display());
        if !options.is_empty() {
            opts.push(':');
            opts.push_str(options);
        }
        let mut env: Vec<(String, String)> = vec![("ASSAFE_OPTIONS".into(), opts)];
        if preload {
            env.push(("LD_PRELOAD".into(), self.lib.display().to_string()));
        }
        let (pid, status, stdout, stderr) = run_raw(cmd, &env, &["LD_PRELOAD", "ASSAFE_OPTIONS"]);
        let (records, log_files, bad_lines) = read_logs(&logdir);
        Outcome {
            pid,
            status,
            stdout,
            stderr,
            records,
            log_files,
            bad_lines,
        }
    }

    /// Runs `cmd` with exactly the given `ASSAFE_OPTIONS` (`None`: unset) and the preload, with
    /// no log_path added: for text-mode and option-parsing tests.
    /// Returns (pid, status, stdout, stderr).
    pub fn run_raw_options<S: AsRef<OsStr>>(
        &self,
        cmd: &[S],
        options: Option<&str>,
    ) -> (u32, ExitStatus, String, String) {
        let mut env: Vec<(String, String)> =
            vec![("LD_PRELOAD".into(), self.lib.display().to_string())];
        if let Some(o) = options {
            env.push(("ASSAFE_OPTIONS".into(), o.to_string()));
        }
        run_raw(cmd, &env, &["LD_PRELOAD", "ASSAFE_OPTIONS"])
    }

    /// Runs `cmd` with `LD_PRELOAD` set to `preload` exactly (this library together with others,
    /// in the order the test wants) and a JSON log at `<dir>/<prefix>.<pid>`. Returns status,
    /// stdout, stderr and the text of every log file of that prefix.
    pub fn run_preloaded<S: AsRef<OsStr>>(
        &self,
        cmd: &[S],
        preload: &str,
        prefix: &str,
    ) -> (ExitStatus, String, String, String) {
        let log = self.dir.join(prefix);
        let (_, status, stdout, stderr) = run_raw(
            cmd,
            &[
                ("LD_PRELOAD".into(), preload.to_string()),
                (
                    "ASSAFE_OPTIONS".into(),
                    format!("log_format=json:log_path={}", log.display()),
                ),
            ],
            &["LD_PRELOAD", "ASSAFE_OPTIONS"],
        );
        let logs = std::fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{prefix}."))
            })
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect();
        (status, stdout, stderr, logs)
    }

    /// Runs `cmd` with and without the preload and asserts equal exit status and stdout, and
    /// byte-identical stderr (log_path is set, so the library must not write to stderr).
    pub fn assert_transparent<S: AsRef<OsStr>>(&self, cmd: &[S]) -> (Outcome, Outcome) {
        let with = self.run(cmd, true, "");
        let without = self.run(cmd, false, "");
        let shown = cmd
            .iter()
            .map(|s| s.as_ref().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            with.status, without.status,
            "exit status differs with the preload: {shown}\nwith: {with:#?}\nwithout: {without:#?}"
        );
        assert_eq!(
            with.stdout, without.stdout,
            "stdout differs with the preload: {shown}"
        );
        assert_eq!(
            with.stderr, without.stderr,
            "stderr differs with the preload (log_path set): {shown}"
        );
        assert!(
            without.records.is_empty(),
            "log records without the preload?"
        );
        (with, without)
    }
}

impl Drop for Env {
    /// Removes the scratch directory when the test passed; keeps it (for inspection) when the
    /// test failed or `ASSAFE_KEEP_TEMP` is set.
    fn drop(&mut self) {
        if !std::thread::panicking() && std::env::var_os("ASSAFE_KEEP_TEMP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Removes the library's text-mode lines from `stderr`: lines starting with `==<digits>==` and
/// the indented lines (frames, summary sites) that follow them.
pub fn strip_assafe_lines(stderr: &str) -> String {
    let mut out = String::new();
    let mut in_block = false;
    for line in stderr.split_inclusive('\n') {
        let is_head = line
            .strip_prefix("==")
            .and_then(|r| r.split_once("=="))
            .is_some_and(|(d, _)| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()));
        if is_head {
            in_block = true;
            continue;
        }
        if in_block && line.starts_with("    ") {
            continue;
        }
        in_block = false;
        out.push_str(line);
    }
    out
}

impl Env {
    /// Text mode transparency: runs `cmd` with the preload and `ASSAFE_OPTIONS` = `options` (no
    /// log_path: reports go to stderr) and without the preload; asserts equal status and stdout,
    /// and stderr equal once the assafe lines are removed. Returns the preloaded stderr.
    pub fn assert_transparent_text<S: AsRef<OsStr>>(
        &self,
        cmd: &[S],
        options: Option<&str>,
    ) -> String {
        let (_, st1, out1, err1) = self.run_raw_options(cmd, options);
        let (_, st2, out2, err2) = run_raw(cmd, &[], &["LD_PRELOAD", "ASSAFE_OPTIONS"]);
        assert_eq!(
            st1, st2,
            "exit status differs with the preload\nstderr:\n{err1}"
        );
        assert_eq!(out1, out2, "stdout differs with the preload");
        assert_eq!(
            strip_assafe_lines(&err1),
            err2,
            "stderr differs beyond assafe lines"
        );
        err1
    }
}

/// Spawns `cmd` with `env` added (after removing `clear`), with a [`TIMEOUT`]. Panics on timeout.
/// Returns (pid, status, stdout, stderr).
pub fn run_raw<S: AsRef<OsStr>>(
    cmd: &[S],
    env: &[(String, String)],
    clear: &[&str],
) -> (u32, ExitStatus, String, String) {
    assert!(!cmd.is_empty(), "empty command");
    let mut c = Command::new(cmd[0].as_ref());
    c.args(&cmd[1..]);
    for k in clear {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let r = run_with_timeout(&mut c, TIMEOUT);
    (
        r.pid,
        r.status,
        String::from_utf8_lossy(&r.stdout).into_owned(),
        String::from_utf8_lossy(&r.stderr).into_owned(),
    )
}

/// What [`run_with_timeout`] saw.
#[derive(Debug)]
pub struct Ran {
    pub pid: u32,
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// From spawn to exit.
    pub elapsed: Duration,
}

/// The one way the tests run a program: `cmd` (already configured: program, arguments,
/// environment, `pre_exec`) with stdin on /dev/null, stdout and stderr captured, in its own
/// process group. When the program has not exited after `timeout`, or its output pipes are still
/// open then (a leftover grandchild), the whole group is killed and the test panics.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Ran {
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let pid = child.id();
    let kill_group = || {
        // SAFETY: kill(2) has no memory-safety preconditions; the target is the process group
        // created above for our own child (its pid is the group id).
        unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
    };
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let to = reader(Box::new(child.stdout.take().expect("stdout piped")));
    let te = reader(Box::new(child.stderr.take().expect("stderr piped")));
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > timeout {
            kill_group();
            let _ = child.wait();
            panic!("timeout (hang?): {cmd:?} ran longer than {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    // Grandchildren may hold the pipes open (e.g. a daemon child); don't wait forever.
    let join = |h: std::thread::JoinHandle<Vec<u8>>| {
        while !h.is_finished() {
            if start.elapsed() > timeout {
                kill_group();
                panic!(
                    "timeout: output pipe of {cmd:?} still open after {timeout:?} (a leftover process?)"
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        h.join().expect("reader thread")
    };
    let stdout = join(to);
    let stderr = join(te);
    Ran {
        pid,
        status,
        stdout,
        stderr,
        elapsed,
    }
}

/// Reads `<logdir>/log.<pid>` files: (records, files, lines that are not JSON).
pub fn read_logs(logdir: &Path) -> (Vec<Value>, Vec<PathBuf>, Vec<String>) {
    let mut files: Vec<(u64, PathBuf)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(logdir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name
                .strip_prefix("log.")
                .and_then(|p| p.parse::<u64>().ok())
            {
                files.push((pid, e.path()));
            }
        }
    }
    files.sort();
    let mut records = Vec::new();
    let mut bad = Vec::new();
    for (pid, path) in &files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(mut m)) => {
                    m.insert("_file_pid".into(), Value::from(*pid));
                    records.push(Value::Object(m));
                }
                _ => bad.push(line.to_string()),
            }
        }
    }
    (records, files.into_iter().map(|(_, p)| p).collect(), bad)
}

impl Outcome {
    fn events<'a>(&'a self, ev: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.records.iter().filter(move |r| r[key::EVENT] == ev)
    }

    /// All `"event":"report"` records of async-signal-safety findings (not the process-hygiene
    /// findings, which carry a `kind`: [`Outcome::hygiene_reports`]).
    pub fn reports(&self) -> Vec<&Value> {
        self.events(event::REPORT)
            .filter(|r| r.get(key::KIND).is_none())
            .collect()
    }

    /// The process-hygiene `"event":"report"` records (with a `kind`, issue 14).
    pub fn hygiene_reports(&self) -> Vec<&Value> {
        self.events(event::REPORT)
            .filter(|r| r.get(key::KIND).is_some())
            .collect()
    }

    /// Reports whose `function` is `f`.
    pub fn reports_for(&self, f: &str) -> Vec<&Value> {
        self.reports()
            .into_iter()
            .filter(|r| r[key::FUNCTION] == f)
            .collect()
    }

    /// Reports with the given `context`.
    pub fn reports_in(&self, ctx: &str) -> Vec<&Value> {
        self.reports()
            .into_iter()
            .filter(|r| r[key::CONTEXT] == ctx)
            .collect()
    }

    /// `"exit"` and `"exec"` summaries.
    pub fn summaries(&self) -> Vec<&Value> {
        self.records
            .iter()
            .filter(|r| r[key::EVENT] == event::EXIT || r[key::EVENT] == event::EXEC)
            .collect()
    }

    /// Records of one event kind ([`proto::event`]: `"start"`, `"errno"`, …).
    pub fn records_of<'a>(&'a self, ev: &'a str) -> Vec<&'a Value> {
        self.events(ev).collect()
    }

    /// A readable dump for assertion messages.
    pub fn dump(&self) -> String {
        let mut s = format!(
            "status: {}\nstdout:\n{}\nstderr:\n{}\nrecords:\n",
            self.status, self.stdout, self.stderr
        );
        for r in &self.records {
            s.push_str(&r.to_string());
            s.push('\n');
        }
        if !self.bad_lines.is_empty() {
            s.push_str(&format!("non-JSON log lines: {:?}\n", self.bad_lines));
        }
        s
    }

    /// Asserts the program exited with status 0 and that every log line was valid JSON.
    pub fn assert_ok(&self) {
        assert!(self.status.success(), "program failed:\n{}", self.dump());
        assert!(
            self.bad_lines.is_empty(),
            "non-JSON log lines:\n{}",
            self.dump()
        );
    }
}

/// Parses a `"0x…"` address string.
pub fn hex(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    u64::from_str_radix(
        s.strip_prefix("0x").unwrap_or_else(|| panic!("no 0x: {s}")),
        16,
    )
    .unwrap_or_else(|e| panic!("bad hex {s}: {e}"))
}

/// Parses `KEY=value` lines of the programs' stdout (`parent_pid=123`).
pub fn stdout_value(out: &Outcome, key: &str) -> Option<String> {
    out.stdout.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix('='))
            .map(|v| v.trim().to_string())
    })
}

/// Runs `nm <args> <file>` and returns its stdout.
pub fn nm(args: &[&str], file: &Path) -> String {
    let out = Command::new("nm")
        .args(args)
        .arg(file)
        .output()
        .expect("run nm");
    assert!(
        out.status.success(),
        "nm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The real Python interpreter (`sys.executable`), so that a `python3` wrapper script on PATH
/// (pyenv shims run several processes) does not end up under the preload.
pub fn python() -> PathBuf {
    static PY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PY.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 on PATH");
        assert!(
            out.status.success(),
            "python3 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(p.is_file(), "sys.executable {} is not a file", p.display());
        p
    })
    .clone()
}

/// Checks the keys every `"event":"report"` record must have and their consistency: the program,
/// the log file it is in, and `frames`/`stack`/`site` agreeing (docs/log-format.md).
pub fn check_report_shape(r: &Value, prog: &str) {
    assert_eq!(r[key::EVENT], event::REPORT);
    let exe = r[key::EXE].as_str().unwrap_or("");
    assert!(
        exe.ends_with(&format!("/{prog}")),
        "exe {exe} does not end in {prog}: {r}"
    );
    assert_eq!(
        r[key::PID],
        r["_file_pid"],
        "report in another process's log file: {r}"
    );
    let frames = r[key::FRAMES].as_array().expect("frames array");
    assert!(!frames.is_empty(), "no frames: {r}");
    assert_eq!(frames[0], r[key::SITE], "frames[0] != site: {r}");
    let stack = r[key::STACK].as_array().expect("stack array");
    assert_eq!(
        stack.len(),
        frames.len(),
        "stack and frames differ in length: {r}"
    );
    for (f, st) in frames.iter().zip(stack) {
        assert_eq!(&st[key::ADDR], f, "stack addr != frame: {r}");
        hex(&st[key::OFFSET]);
    }
    hex(&r[key::SITE]);
}

/// The report's call site (frame 0) lies in the program `prog` itself.
pub fn check_site_in_program(r: &Value, prog: &str) {
    let module = r[key::STACK][0][key::MODULE].as_str().unwrap_or("");
    assert!(
        module.ends_with(&format!("/{prog}")),
        "the call site is in the program: {r}"
    );
}

/// A JSON string field (panics with the value when it is not a string).
pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// A JSON number field (panics with the value when it is not an unsigned number).
pub fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

impl Outcome {
    /// The library was loaded into the started program (so "no report" means something).
    pub fn assert_started(&self) {
        assert!(
            self.records_of(event::START)
                .iter()
                .any(|x| n(&x[key::PID]) == self.pid as u64),
            "the program did not log its start (library not loaded?):\n{}",
            self.dump()
        );
    }
}

/// Can `strace` trace here? In CI a missing strace is a broken setup (scripts/test installs it):
/// asserted. A container may forbid ptrace: then false, and the caller skips, saying why.
pub fn strace_usable() -> bool {
    if Command::new("strace").arg("-V").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "strace is missing in CI");
        eprintln!("SKIPPED: no strace (apt-get install strace)");
        return false;
    }
    let probe = Command::new("strace")
        .args(["-f", "-c", "-o", "/dev/null", "true"])
        .output()
        .unwrap();
    if !probe.status.success() {
        eprintln!(
            "SKIPPED: strace cannot trace here: {}",
            String::from_utf8_lossy(&probe.stderr).trim()
        );
        return false;
    }
    true
}

/// Runs `cmd` under `strace ARGS -o FILE` (in `dir`) with `LD_PRELOAD=preload` and no
/// `ASSAFE_OPTIONS`, asserts that it succeeded, and returns what strace wrote.
pub fn strace_output<S: AsRef<OsStr>>(
    dir: &Path,
    args: &[&str],
    cmd: &[S],
    preload: &OsStr,
) -> String {
    let out_file = dir.join("strace.txt");
    let out = Command::new("strace")
        .args(args)
        .arg("-o")
        .arg(&out_file)
        .args(cmd)
        .env("LD_PRELOAD", preload)
        .env_remove("ASSAFE_OPTIONS")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    std::fs::read_to_string(&out_file).unwrap()
}
