//! Running a command under `libassafe.so` with a private log directory.

use crate::analyze::Unchecked;
use crate::logs::Logs;
use crate::preflight;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const LIB_NAME: &str = "libassafe.so";

/// The Debian multiarch directory name of this architecture (`/usr/lib/<this>/libassafe.so`).
pub const MULTIARCH: &str = if cfg!(target_arch = "x86_64") {
    "x86_64-linux-gnu"
} else if cfg!(target_arch = "aarch64") {
    "aarch64-linux-gnu"
} else {
    "unknown-linux-gnu"
};

/// Finds `libassafe.so`: `--lib`, else `$ASSAFE_LIB`, else next to the `assafe` binary, else in
/// `../lib/<multiarch>/` or `../lib/` relative to it (an installed package), else the library
/// embedded in this binary (written once to a cache directory: `cargo install`), else in
/// `target/release` or `target/debug` of a cargo tree above it.
pub fn find_library(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return check_lib(p, "--lib");
    }
    if let Some(p) = std::env::var_os("ASSAFE_LIB").filter(|p| !p.is_empty()) {
        return check_lib(Path::new(&p), "ASSAFE_LIB");
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own binary: {e}"))?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let installed = [
        dir.join(LIB_NAME),
        dir.join("../lib").join(MULTIARCH).join(LIB_NAME),
        dir.join("../lib").join(LIB_NAME),
    ];
    for c in &installed {
        if c.is_file() {
            return Ok(c.canonicalize().unwrap_or_else(|_| c.clone()));
        }
    }
    let embedded_error = if crate::embedded::available() {
        match crate::embedded::extract() {
            Ok(p) => return Ok(p),
            Err(e) => Some(e),
        }
    } else {
        None
    };
    let mut candidates = Vec::new();
    for anc in dir.ancestors() {
        if anc.file_name() == Some(OsStr::new("target")) {
            candidates.push(anc.join("release").join(LIB_NAME));
            candidates.push(anc.join("debug").join(LIB_NAME));
        }
        candidates.push(anc.join("target/release").join(LIB_NAME));
        candidates.push(anc.join("target/debug").join(LIB_NAME));
    }
    for c in &candidates {
        if c.is_file() {
            return Ok(c.canonicalize().unwrap_or_else(|_| c.clone()));
        }
    }
    Err(format!(
        "cannot find {LIB_NAME} (looked next to {}, in ../lib/{MULTIARCH}, ../lib and in target/release and target/debug above it{}); pass --lib PATH or set ASSAFE_LIB, or build it: cargo build --release",
        exe.display(),
        embedded_error.map(|e| format!("; {e}")).unwrap_or_default()
    ))
}

fn check_lib(p: &Path, what: &str) -> Result<PathBuf, String> {
    if !p.is_file() {
        return Err(format!("{what}: {} is not a file", p.display()));
    }
    p.canonicalize()
        .map_err(|e| format!("{what}: {}: {e}", p.display()))
}

/// Which C library a build of `libassafe.so` is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Libc {
    Glibc,
    Musl,
}

/// The C library `lib` was built for: the musl build imports musl's `_dl_debug_addr` (the glibc
/// build imports `_r_debug` instead). `None` when the file cannot be read as ELF. Only the ELF
/// header, the section headers and the dynamic symbol and string tables are read (bounded
/// `pread`s), not the library.
pub fn libc_of(lib: &Path) -> Option<Libc> {
    use object::elf::{FileHeader64, SHT_DYNSYM, SectionHeader64, Sym64};
    use object::read::elf::{FileHeader, SectionHeader, Sym};
    use object::{Endianness, pod};
    use std::os::unix::fs::FileExt;
    /// Larger tables are not a build of libassafe.so.
    const MAX_TABLE: u64 = 8 << 20;
    let f = fs::File::open(lib).ok()?;
    let read = |off: u64, len: u64| -> Option<Vec<u8>> {
        if len > MAX_TABLE {
            return None;
        }
        let mut buf = vec![0u8; usize::try_from(len).ok()?];
        f.read_exact_at(&mut buf, off).ok()?;
        Some(buf)
    };
    let head = read(0, 64)?;
    let hdr = FileHeader64::<Endianness>::parse(&head[..]).ok()?;
    let e = hdr.endian().ok()?;
    let shnum = u64::from(hdr.e_shnum(e));
    let shentsize = std::mem::size_of::<SectionHeader64<Endianness>>() as u64;
    if u64::from(hdr.e_shentsize(e)) != shentsize || shnum == 0 {
        return None;
    }
    let table = read(hdr.e_shoff(e), shnum * shentsize)?;
    let (sections, _) =
        pod::slice_from_bytes::<SectionHeader64<Endianness>>(&table, shnum as usize).ok()?;
    let dynsym = sections.iter().find(|s| s.sh_type(e) == SHT_DYNSYM)?;
    let strtab = sections.get(dynsym.sh_link(e) as usize)?;
    let syms = read(dynsym.sh_offset(e), dynsym.sh_size(e))?;
    let strs = read(strtab.sh_offset(e), strtab.sh_size(e))?;
    let n = syms.len() / std::mem::size_of::<Sym64<Endianness>>();
    let (syms, _) = pod::slice_from_bytes::<Sym64<Endianness>>(&syms, n).ok()?;
    const WANT: &[u8] = b"_dl_debug_addr\0";
    let musl = syms.iter().any(|s| {
        s.is_undefined(e)
            && strs
                .get(s.st_name(e) as usize..)
                .is_some_and(|t| t.starts_with(WANT))
    });
    Some(if musl { Libc::Musl } else { Libc::Glibc })
}

/// The two builds that serve a process tree, from the one `find_library` found: that one, and
/// the build for the other C library: `$ASSAFE_MUSL_LIB` (`none`: no musl build), else the
/// installed layout (`…/lib/x86_64-linux-gnu/libassafe.so` beside `…/lib/x86_64-linux-musl/`),
/// else cargo's (`target/release/` beside `target/x86_64-unknown-linux-musl/release/`), else the
/// build embedded in this binary. Returns (glibc build, musl build). Worked out once per process
/// for a given `lib` (the preflight and the preload entry both ask).
pub fn libraries(lib: &Path) -> (Option<PathBuf>, Option<PathBuf>) {
    type Pair = (Option<PathBuf>, Option<PathBuf>);
    static SEEN: std::sync::Mutex<Vec<(PathBuf, Pair)>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, pair)) = seen.iter().find(|(p, _)| p == lib) {
        return pair.clone();
    }
    let pair = match libc_of(lib) {
        Some(Libc::Musl) => {
            let glibc = crate::embedded::available()
                .then(crate::embedded::extract)
                .and_then(Result::ok);
            (glibc, Some(lib.to_path_buf()))
        }
        _ => (Some(lib.to_path_buf()), musl_library(lib)),
    };
    seen.push((lib.to_path_buf(), pair.clone()));
    pair
}

/// The musl build that goes with the glibc build `lib` (see [`libraries`]).
fn musl_library(lib: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ASSAFE_MUSL_LIB").filter(|p| !p.is_empty()) {
        if p == "none" {
            return None;
        }
        return Some(Path::new(&p).canonicalize().unwrap_or_else(|_| p.into()));
    }
    if !cfg!(target_arch = "x86_64") {
        return None;
    }
    let dir = lib.parent()?;
    let mut candidates = Vec::new();
    if dir.ends_with(Path::new("lib").join(MULTIARCH)) {
        candidates.push(dir.with_file_name("x86_64-linux-musl").join(LIB_NAME));
    }
    if dir.file_name() == Some(OsStr::new("release")) {
        let target = dir.parent()?;
        candidates.push(
            target
                .join("x86_64-unknown-linux-musl/release")
                .join(LIB_NAME),
        );
    }
    for c in candidates {
        if c.is_file() && libc_of(&c) == Some(Libc::Musl) {
            return Some(c.canonicalize().unwrap_or(c));
        }
    }
    crate::embedded::musl_available()
        .then(crate::embedded::extract_musl)
        .and_then(Result::ok)
}

/// The package's own layout, `/usr/lib/assafe/` beside `/usr/lib/<multiarch>/libassafe.so`
/// (scripts/build-deb), when its links lead to exactly these two builds: then nothing is written
/// to a cache directory.
fn installed_layout(glibc: Option<&Path>, musl: Option<&Path>) -> Option<PathBuf> {
    let glibc = glibc?;
    let dir = glibc.parent()?.parent()?.join("assafe");
    let same = |p: PathBuf, want: Option<&Path>| match (p.canonicalize().ok(), want) {
        (Some(got), Some(w)) => w.canonicalize().is_ok_and(|w| w == got),
        (None, None) => !p.exists(),
        _ => false,
    };
    let glibc_ok = crate::embedded::glibc_lib_dirs()
        .iter()
        .all(|sub| same(dir.join(sub).join(LIB_NAME), Some(glibc)));
    (glibc_ok && same(dir.join("$LIB").join(LIB_NAME), musl)).then_some(dir)
}

/// The `LD_PRELOAD` entry `assafe run` gives the program: `<dir>/$LIB/libassafe.so` (see
/// `embedded::preload_layout`), so that each program of the tree loads the build for its own C
/// library and none loads a build it cannot. The layout is the package's, else one in the
/// private cache directory, else (no cache directory usable) one in `run_dir`, the run's private
/// directory. Only when none can be made: `lib` itself, with a warning (glibc programs checked;
/// a musl program of the tree would not start).
pub fn preload_entry(lib: &Path, run_dir: &Path) -> (OsString, Option<String>) {
    let (glibc, musl) = libraries(lib);
    let made = shared_preload_entry(lib).or_else(|e| {
        crate::embedded::preload_layout_in(
            vec![run_dir.join(".preload")],
            glibc.as_deref(),
            musl.as_deref(),
        )
        .map_err(|e2| format!("{e}; {e2}"))
    });
    preload_or_lib(lib, made)
}

/// The `LD_PRELOAD` entry for the builds that go with `lib` (see [`libraries`]) that lasts
/// beyond a run: the package's layout, else one in the private cache directory. What
/// `assafe lib` prints.
pub fn shared_preload_entry(lib: &Path) -> Result<PathBuf, String> {
    let (glibc, musl) = libraries(lib);
    if let Some(dir) = installed_layout(glibc.as_deref(), musl.as_deref()) {
        return Ok(dir.join("$LIB").join(LIB_NAME));
    }
    crate::embedded::preload_layout(glibc.as_deref(), musl.as_deref())
}

/// The `LD_PRELOAD` entry for `assafe audit --packages`: the package's layout, else one made
/// (mode 0755, readable by tests that drop privileges) in `dir`, else `lib` alone, with a
/// warning.
pub fn audit_preload_entry(lib: &Path, dir: &Path) -> (OsString, Option<String>) {
    let (glibc, musl) = libraries(lib);
    let made = match installed_layout(glibc.as_deref(), musl.as_deref()) {
        Some(d) => Ok(d.join("$LIB").join(LIB_NAME)),
        None => {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            let _ = fs::DirBuilder::new().mode(0o755).create(dir);
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
            crate::embedded::preload_layout_mode(
                vec![dir.to_path_buf()],
                glibc.as_deref(),
                musl.as_deref(),
                0o755,
            )
        }
    };
    preload_or_lib(lib, made)
}

/// `made` as an `LD_PRELOAD` entry, else `lib` alone with a warning saying what that means.
pub fn preload_or_lib(lib: &Path, made: Result<PathBuf, String>) -> (OsString, Option<String>) {
    match made {
        Ok(p) => (p.into_os_string(), None),
        Err(e) => (
            lib.as_os_str().to_os_string(),
            Some(format!(
                "{e}: preloading {} alone (a program of another C library in the tree cannot load it)",
                lib.display()
            )),
        ),
    }
}

/// How to run the command.
#[derive(Clone, Debug, Default)]
pub struct RunConfig {
    /// `None`: run without the library (audit mode when it is missing).
    pub lib: Option<PathBuf>,
    pub strict: bool,
    pub follow_exec: bool,
    /// `key=value` pairs for `ASSAFE_OPTIONS`.
    pub options: Vec<String>,
    pub suppressions: Vec<PathBuf>,
    /// Keep the logs in this directory instead of a temporary one.
    pub keep_logs: Option<PathBuf>,
}

/// What happened.
pub struct Outcome {
    /// Shell-style status: the exit code, or 128+N when killed by signal N.
    pub status: i32,
    /// The signal that killed the program (`assafe run` then ends by the same signal, see
    /// [`die_of`]).
    pub signal: Option<i32>,
    pub logs: Logs,
    pub unchecked: Vec<Unchecked>,
    /// Kept alive until the report is written; deleted on drop.
    _tmp: Option<tempfile::TempDir>,
}

/// Checks one `--option` value.
pub fn validate_option(kv: &str) -> Result<(), String> {
    let Some((k, _)) = kv.split_once('=') else {
        return Err(format!("--option {kv:?}: expected key=value"));
    };
    if k.is_empty() || kv.contains(':') {
        return Err(format!(
            "--option {kv:?}: expected key=value without ':' (':' separates options)"
        ));
    }
    if k == "log_path" || k == "log_format" {
        return Err(format!(
            "--option {kv:?}: the CLI sets {k} itself (use --keep-logs DIR to keep the logs)"
        ));
    }
    if k == "help" {
        return Err(format!(
            "--option {kv:?}: help would print into the program's stderr (`assafe run --help`, or ASSAFE_OPTIONS=help=1 without assafe run, lists the options)"
        ));
    }
    // The library's own parser: an item it would refuse must not become a warning line on the
    // program's stderr in every process.
    let mut o = Box::new(assafe_pure::options::Options::defaults());
    let problems = assafe_pure::options::parse(&mut o, kv.as_bytes());
    if problems.count > 0 {
        let mut buf = [0u8; 512];
        let mut b = assafe_pure::fmt::Buf::new(&mut buf);
        assafe_pure::options::warning(&problems, &mut b);
        return Err(format!(
            "--option {kv:?}: {}",
            String::from_utf8_lossy(b.as_bytes())
        ));
    }
    Ok(())
}

/// Builds `ASSAFE_OPTIONS` for the child.
pub fn assafe_options(cfg: &RunConfig, inherited: Option<&str>, log_prefix: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(inh) = inherited {
        parts.extend(
            inh.split(':')
                .filter(|kv| {
                    !kv.is_empty() && !kv.starts_with("log_path=") && !kv.starts_with("log_format=")
                })
                .map(str::to_owned),
        );
    }
    parts.extend(cfg.options.iter().cloned());
    if cfg.strict {
        parts.push("strict=1".to_owned());
    }
    if !cfg.follow_exec {
        parts.push("follow_exec=0".to_owned());
    }
    if let [one] = cfg.suppressions.as_slice() {
        let abs = one.canonicalize().unwrap_or_else(|_| one.clone());
        parts.push(format!("suppressions={}", abs.display()));
    }
    parts.push("log_format=json".to_owned());
    parts.push(format!("log_path={}", log_prefix.display()));
    parts.join(":")
}

fn has_logs(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|rd| {
        rd.filter_map(Result::ok).any(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.strip_prefix("assafe.")
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
    })
}

/// The signals `assafe run` passes on to the program it supervises.
const FORWARDED: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// The program's pid while it runs (0 before and after), for the forwarding handler.
static CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _uc: *mut libc::c_void) {
    // A signal the kernel generated (^C, ^\ at the terminal, a hangup) went to the whole
    // foreground process group, the program included: passing it on would deliver it twice.
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    if !info.is_null() && unsafe { (*info).si_code } == libc::SI_KERNEL {
        return;
    }
    let pid = CHILD.load(std::sync::atomic::Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe; pid is our own child, not yet reaped.
        unsafe { libc::kill(pid, sig) };
    } else {
        // The program is not started yet: passed on as soon as it is.
        PENDING.fetch_or(1 << sig, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Signals that arrived before the program started (bit n for signal n).
static PENDING: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// While the program runs, SIGTERM, SIGINT, SIGHUP and SIGQUIT sent to `assafe run` go to the
/// program (as a shell's `exec` would let them), and `assafe run` waits for it, reports what was
/// collected, removes its temporary directory and ends as the program did.
struct Forwarder {
    old: [libc::sigaction; 4],
}
// (The handlers restore nothing: `Drop` puts the old actions back after the program ended.)

impl Forwarder {
    /// Installs the handlers (before the program starts: a signal that arrives meanwhile is
    /// kept and passed on by [`Forwarder::started`]).
    fn new() -> Self {
        CHILD.store(0, std::sync::atomic::Ordering::SeqCst);
        PENDING.store(0, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: all-zero is a valid sigaction; the handler only reads an atomic and calls kill.
        unsafe {
            let mut old: [libc::sigaction; 4] = std::mem::zeroed();
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = forward as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            for (i, &sig) in FORWARDED.iter().enumerate() {
                libc::sigaction(sig, &sa, &mut old[i]);
            }
            Forwarder { old }
        }
    }

    /// The program runs as `pid`: signals from now on go to it, and so do those kept meanwhile.
    fn started(&self, pid: u32) {
        CHILD.store(pid as i32, std::sync::atomic::Ordering::SeqCst);
        let pending = PENDING.swap(0, std::sync::atomic::Ordering::SeqCst);
        for &sig in &FORWARDED {
            if pending & (1 << sig) != 0 {
                // SAFETY: our own child, not yet reaped.
                unsafe { libc::kill(pid as i32, sig) };
            }
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        CHILD.store(0, std::sync::atomic::Ordering::Relaxed);
        for (i, &sig) in FORWARDED.iter().enumerate() {
            // SAFETY: restores the action `new` saved.
            unsafe { libc::sigaction(sig, &self.old[i], std::ptr::null_mut()) };
        }
    }
}

/// Ends this process the way the program ended: killed by signal `sig` (so a shell prints
/// "Segmentation fault" and `$?` is 128+sig). No core dump of `assafe` itself.
pub fn die_of(sig: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: plain libc calls on our own process.
    unsafe {
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
    // A signal whose default action does not end a process.
    std::process::exit(128 + sig)
}

/// Runs `argv` with the library preloaded, waits, and reads the logs.
pub fn run(argv: &[OsString], cfg: &RunConfig) -> Result<Outcome, String> {
    let (prog, args) = argv.split_first().ok_or("no command given")?;
    let (tmp, dir) = match &cfg.keep_logs {
        Some(d) => {
            fs::create_dir_all(d).map_err(|e| format!("--keep-logs {}: {e}", d.display()))?;
            let d = d
                .canonicalize()
                .map_err(|e| format!("{}: {e}", d.display()))?;
            if has_logs(&d) {
                return Err(format!(
                    "--keep-logs {}: the directory already holds assafe logs; use an empty one (or `assafe report` to read them)",
                    d.display()
                ));
            }
            (None, d)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("assafe.")
                .tempdir()
                .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
            let d = t.path().to_path_buf();
            (Some(t), d)
        }
    };
    let mut cmd = Command::new(prog);
    cmd.args(args);
    let mut layout_warning = None;
    if let Some(lib) = &cfg.lib {
        let (entry, warning) = preload_entry(lib, &dir);
        layout_warning = warning;
        let preload = match std::env::var_os("LD_PRELOAD").filter(|p| !p.is_empty()) {
            Some(old) => {
                let mut s = entry;
                s.push(":");
                s.push(old);
                s
            }
            None => entry,
        };
        let inherited = std::env::var("ASSAFE_OPTIONS").ok();
        cmd.env("LD_PRELOAD", preload).env(
            "ASSAFE_OPTIONS",
            assafe_options(cfg, inherited.as_deref(), &dir.join("assafe")),
        );
    }
    let forwarder = Forwarder::new();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", prog.to_string_lossy()))?;
    let pid = i64::from(child.id());
    let status = {
        forwarder.started(child.id());
        let _forwarder = forwarder;
        child
            .wait()
            .map_err(|e| format!("waiting for {}: {e}", prog.to_string_lossy()))?
    };
    use std::os::unix::process::ExitStatusExt;
    let signal = status.signal();
    let status = status
        .code()
        .or_else(|| signal.map(|s| 128 + s))
        .unwrap_or(1);

    let mut logs =
        Logs::read(std::slice::from_ref(&dir)).map_err(|e| format!("reading the logs: {e}"))?;
    logs.warnings.extend(layout_warning);
    logs.warnings.extend(still_running(&logs));
    let mut unchecked = Vec::new();
    let resolved = preflight::resolve(prog, std::env::var_os("PATH").as_deref());
    if !logs.processes.contains_key(&(0, pid)) {
        let exe = resolved
            .as_deref()
            .unwrap_or(Path::new(prog))
            .display()
            .to_string();
        let why = if cfg.lib.is_none() {
            "ran without the library (libassafe.so was not found)".to_owned()
        } else {
            match resolved.as_deref().and_then(preflight::why_unchecked) {
                Some(w) => w,
                None => "it never loaded the library (no start record in the logs)".to_owned(),
            }
        };
        unchecked.push(Unchecked {
            pid: Some(pid),
            exe,
            why,
            package: None,
        });
    }
    unchecked.extend(exec_unchecked(&logs));
    Ok(Outcome {
        status,
        signal,
        logs,
        unchecked,
        _tmp: tmp,
    })
}

/// Processes of the run that are still alive after the program ended (a daemon such as
/// gpg-agent): checked until now; what they do later is in no report.
fn still_running(logs: &Logs) -> Vec<String> {
    let mut out = Vec::new();
    for p in logs.processes.values() {
        let Ok(pid) = i32::try_from(p.pid) else {
            continue;
        };
        if pid <= 0 || !p.started {
            continue;
        }
        // SAFETY: signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            continue;
        }
        // The pid may have been reused: it must still run one of the images it logged.
        let exe = fs::read_link(format!("/proc/{pid}/exe")).ok();
        if let Some(e) = &exe
            && !p.exes.iter().any(|x| Path::new(x) == e)
        {
            continue;
        }
        out.push(format!(
            "process {pid} ({}) is still running after the program ended: checked until now; \
             what it does later is in no report (its records go to this run's log directory, \
             removed now unless --keep-logs was given)",
            p.exes.last().map_or("?", String::as_str)
        ));
    }
    out
}

/// Processes whose exec'd program could not load the library (static, setuid, …): the exec
/// summary is their last record and no `start` record followed.
pub fn exec_unchecked(logs: &Logs) -> Vec<Unchecked> {
    let mut out = Vec::new();
    for p in logs.processes.values() {
        if let Some(path) = &p.exec_without_start {
            let r = preflight::resolve(OsStr::new(path), std::env::var_os("PATH").as_deref());
            let why = match r.as_deref() {
                // Not there (or relative to a directory we do not know): the exec failed, or
                // the path cannot be checked; a failed exec writes no later record when the
                // image then makes no unsafe call before it exits.
                None => None,
                Some(exe) if !exe.is_file() => None,
                Some(exe) => Some(preflight::why_unchecked(exe).map_or_else(
                    || {
                        "the new program wrote no record: it could not reach the log directory (a change of uid or root before the exec?) or died before the library started"
                            .to_owned()
                    },
                    |why| format!("exec'd without the library: {why}"),
                )),
            };
            if let Some(why) = why {
                out.push(Unchecked {
                    pid: Some(p.pid),
                    exe: path.clone(),
                    why,
                    package: logs.package(p.run).map(str::to_owned),
                });
            }
        }
    }
    out
}
