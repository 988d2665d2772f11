//! Issue 10: the library on every x86_64 glibc, in a matrix built on this machine from Debian's
//! own packages by `scripts/libc-matrix` (cached under /var/cache/assafe):
//! - glibc 2.31: a debootstrap chroot of bullseye (programs compiled and run inside it, with
//!   /proc mounted in a private mount namespace);
//! - glibc 2.36: this machine;
//! - glibc 2.41: a chroot of trixie (its headers bind `sscanf` to `__isoc23_sscanf`);
//! - the newest glibc (experimental's libc6, 2.44 when written): unpacked, and programs compiled
//!   in the trixie chroot run through its own loader (`ld-linux-x86-64.so.2 --library-path`).
//!
//! On each, two libraries: the one built for that libc (`ASSAFE_LIBC`, fully checked: the same
//! reports, the weak-reference and `dlsym` probes answer as without it), and the one built for
//! this machine's libc (it must warn once, say "partially checked", and never break a program).
//!
//! Without the prepared matrix (not root, no network) the tests say so and pass, unless
//! `ASSAFE_REQUIRE_MATRIX=1` (set by scripts/test after scripts/libc-matrix), then they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use assafe_tests::*;

fn matrix_dir() -> PathBuf {
    std::env::var_os("ASSAFE_MATRIX_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/assafe"))
}

/// Where the programs of one libc are compiled and run.
#[derive(Clone)]
enum Place {
    /// This machine.
    Host,
    /// Inside a chroot (compiled there too).
    Chroot(PathBuf),
    /// Compiled in the chroot `compile`, run on this machine through `ld` with `libpath`.
    Loader {
        compile: PathBuf,
        ld: PathBuf,
        libpath: String,
    },
}

struct Libc {
    label: &'static str,
    place: Place,
    /// libassafe.so built for this libc.
    own: PathBuf,
}

fn libc(label: &str) -> Option<Libc> {
    let d = matrix_dir();
    let lib = |l: &str| repo_root().join(format!("target/libc-matrix/libassafe-{l}.so"));
    let (label, place, own): (&'static str, Place, PathBuf) = match label {
        "2.31" => (
            "2.31",
            Place::Chroot(d.join("chroots/bullseye")),
            lib("glibc-2.31"),
        ),
        "2.36" => ("2.36", Place::Host, library()),
        "2.41" => (
            "2.41",
            Place::Chroot(d.join("chroots/trixie")),
            lib("glibc-2.41"),
        ),
        "newest" => {
            let root = d.join("libc/experimental/usr/lib/x86_64-linux-gnu");
            let trixie = d.join("chroots/trixie");
            (
                "newest",
                Place::Loader {
                    ld: root.join("ld-linux-x86-64.so.2"),
                    libpath: format!(
                        "{}:{}",
                        root.display(),
                        trixie.join("usr/lib/x86_64-linux-gnu").display()
                    ),
                    compile: trixie,
                },
                lib("glibc-newest"),
            )
        }
        _ => unreachable!(),
    };
    let present = match &place {
        Place::Host => true,
        Place::Chroot(r) => r.join("usr/bin/gcc").exists(),
        Place::Loader { ld, compile, .. } => ld.exists() && compile.join("usr/bin/gcc").exists(),
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if present && own.exists() && root {
        return Some(Libc { label, place, own });
    }
    let why = format!(
        "libc matrix for glibc {label} not prepared ({} or {} missing, or not root): run scripts/libc-matrix",
        matrix_dir().display(),
        own.display()
    );
    if std::env::var("ASSAFE_REQUIRE_MATRIX").as_deref() == Ok("1") {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}

/// A scratch directory for one test, inside the chroot where its programs are compiled (so
/// that they, the library and the logs are visible there).
struct Work {
    /// Path on this machine.
    host: PathBuf,
    /// The chroot holding it (None: this machine).
    root: Option<PathBuf>,
    runs: std::cell::Cell<u32>,
}

impl Work {
    fn new(l: &Libc, name: &str) -> Work {
        let root = match &l.place {
            Place::Host => None,
            Place::Chroot(r) | Place::Loader { compile: r, .. } => Some(r.clone()),
        };
        let inner = format!("tmp/assafe-matrix/{name}-{}", std::process::id());
        let host = match &root {
            Some(r) => r.join(&inner),
            None => std::env::temp_dir().join(&inner["tmp/".len()..]),
        };
        let _ = std::fs::remove_dir_all(&host);
        std::fs::create_dir_all(&host).unwrap();
        Work {
            host,
            root,
            runs: std::cell::Cell::new(0),
        }
    }

    /// The path a program in the place sees for `p` (a path under `host`).
    fn seen(&self, l: &Libc, p: &Path) -> PathBuf {
        match (&l.place, &self.root) {
            (Place::Chroot(_), Some(r)) => Path::new("/").join(p.strip_prefix(r).unwrap()),
            _ => p.to_path_buf(),
        }
    }

    /// Compiles tests/c/<file> (C or C++ by extension) with the place's compiler and headers.
    fn compile(&self, file: &str, flags: &[&str]) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("c").join(file);
        std::fs::copy(&src, self.host.join(file)).unwrap();
        let exe = self.host.join(file.split('.').next().unwrap());
        let cxx = file.ends_with(".cc");
        let compiler = if cxx { "g++" } else { "gcc" };
        let in_root = |p: &Path| match &self.root {
            Some(r) => Path::new("/").join(p.strip_prefix(r).unwrap()),
            None => p.to_path_buf(),
        };
        let mut c = match &self.root {
            Some(r) => {
                let mut c = Command::new("/usr/sbin/chroot");
                c.arg(r).arg(compiler);
                c
            }
            None => Command::new(compiler),
        };
        c.args(["-O1", "-g", "-o"])
            .arg(in_root(&exe))
            .arg(in_root(&self.host.join(file)))
            .args(flags)
            .env("PATH", "/usr/bin:/bin");
        let out = c.output().expect("run the compiler");
        assert!(
            out.status.success(),
            "{compiler} {file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        exe
    }

    /// Runs `argv` (argv[0] a path on this machine or, for a chroot, in it) in the libc's place,
    /// preloading `lib` (copied into the work directory) when given, with
    /// `ASSAFE_OPTIONS=<options>`; `log`: add a JSON log_path of a fresh directory.
    fn run(
        &self,
        l: &Libc,
        argv: &[&Path],
        lib: Option<&Path>,
        log: bool,
        options: &str,
    ) -> Outcome {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let logdir = self.host.join(format!("run{n}"));
        std::fs::create_dir_all(&logdir).unwrap();
        let mut opts = String::new();
        if log {
            opts = format!(
                "log_format=json:log_path={}",
                self.seen(l, &logdir.join("log")).display()
            );
        }
        if !options.is_empty() {
            if !opts.is_empty() {
                opts.push(':');
            }
            opts.push_str(options);
        }
        let mut env: Vec<String> = vec!["PATH=/usr/bin:/bin".into(), "LC_ALL=C".into()];
        if !opts.is_empty() {
            env.push(format!("ASSAFE_OPTIONS={opts}"));
        }
        if let Some(lib) = lib {
            let copy = self.host.join(format!("libassafe-{n}.so"));
            std::fs::copy(lib, &copy).unwrap();
            env.push(format!("LD_PRELOAD={}", self.seen(l, &copy).display()));
        }
        let mut c = match &l.place {
            Place::Host => {
                let mut c = Command::new("env");
                c.arg("-i").args(&env).args(argv);
                c
            }
            Place::Chroot(r) => {
                let mut c = Command::new("unshare");
                c.args(["--mount", "--fork", "--", "sh", "-c"])
                    .arg("mount -t proc proc \"$0/proc\" && exec /usr/sbin/chroot \"$0\" /usr/bin/env -i \"$@\"")
                    .arg(r)
                    .args(&env)
                    .args(argv);
                c
            }
            Place::Loader { ld, libpath, .. } => {
                let mut c = Command::new("env");
                c.arg("-i")
                    .args(&env)
                    .arg(ld)
                    .arg("--library-path")
                    .arg(libpath)
                    .args(argv);
                c
            }
        };
        let r = run_with_timeout(&mut c, TIMEOUT);
        let (records, log_files, bad_lines) = read_logs(&logdir);
        Outcome {
            pid: r.pid,
            status: r.status,
            stdout: String::from_utf8_lossy(&r.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&r.stderr).into_owned(),
            records,
            log_files,
            bad_lines,
        }
    }

    /// Runs `argv` with and without `lib` (JSON log): same status, stdout and stderr.
    fn assert_transparent(&self, l: &Libc, argv: &[&Path], lib: &Path) -> Outcome {
        let with = self.run(l, argv, Some(lib), true, "");
        let without = self.run(l, argv, None, true, "");
        assert_eq!(
            (with.status.code(), &with.stdout, &with.stderr),
            (without.status.code(), &without.stdout, &without.stderr),
            "glibc {}: {argv:?} differs under the preload\n{}",
            l.label,
            with.dump()
        );
        assert!(with.status.success(), "{}", with.dump());
        with
    }
}

const PERL: &str = "my %h = (b => 2, a => 1); print join(',', map { \"$_=$h{$_}\" } sort keys %h), \"\\n\"; \
    my $pid = fork(); if ($pid == 0) { exit 3 } waitpid($pid, 0); print 'child ', $? >> 8, \"\\n\"";

/// The name `sscanf` binds to in `exe` (what the library must report).
fn sscanf_name(exe: &Path) -> &'static str {
    let syms = nm(&["-D", "--undefined-only"], exe);
    if syms.contains("__isoc23_sscanf") {
        "__isoc23_sscanf"
    } else if syms.contains("__isoc99_sscanf") {
        "__isoc99_sscanf"
    } else {
        "sscanf"
    }
}

/// The start records of a run: none may name another libc (`full`), or every one must (with
/// functions unknown to this build).
fn check_starts(l: &Libc, out: &Outcome, full: bool) {
    let starts = out.records_of(proto::event::START);
    assert!(!starts.is_empty(), "{}", out.dump());
    for st in starts {
        if full {
            assert!(
                st.get(proto::key::LIBC).is_none(),
                "glibc {}: the library built for it sees another libc: {st}",
                l.label
            );
        } else {
            assert!(
                st.get(proto::key::LIBC).is_some() && n(&st[proto::key::UNKNOWN_FUNCTIONS]) > 0,
                "glibc {}: the host's library must say it runs on another libc: {st}",
                l.label
            );
        }
    }
}

/// MT fork child `malloc`, `printf` and `sscanf` in a handler, a C++ program with threads and a
/// Perl one-liner, with `lib` (built for this libc when `full`).
fn check_libc(l: &Libc, lib: &Path, full: bool) {
    let w = Work::new(
        l,
        &format!("{}-{}", l.label, if full { "own" } else { "host" }),
    );
    // fork_malloc.c includes mt.h from its own directory.
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("c/mt.h"),
        w.host.join("mt.h"),
    )
    .unwrap();
    let fork = w.compile("fork_malloc.c", &["-pthread"]);
    let handler = w.compile("lm_handler.c", &[]);
    let cxx = w.compile("lm_thread.cc", &["-pthread"]);
    let seen = |p: &Path| w.seen(l, p);

    let out = w.run(l, &[&seen(&fork), Path::new("mt")], Some(lib), true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n", "{}", out.dump());
    let m = out.reports_for("malloc");
    assert_eq!(
        m.len(),
        1,
        "glibc {}: MT fork child malloc\n{}",
        l.label,
        out.dump()
    );
    assert_eq!(m[0]["context"], "fork-child");
    check_starts(l, &out, full);

    let out = w.run(
        l,
        &[&seen(&handler), Path::new("printf")],
        Some(lib),
        true,
        "",
    );
    out.assert_ok();
    assert_eq!(out.stdout, "in handler 4\ngot=1\n", "{}", out.dump());
    let p = out.reports_for("printf");
    assert_eq!(
        p.len(),
        1,
        "glibc {}: printf in a handler\n{}",
        l.label,
        out.dump()
    );
    assert_eq!(p[0]["context"], "signal-handler");

    let name = sscanf_name(&handler);
    let out = w.run(
        l,
        &[&seen(&handler), Path::new("sscanf")],
        Some(lib),
        true,
        "",
    );
    out.assert_ok();
    assert_eq!(out.stdout, "got=42\n", "{}", out.dump());
    let s = out.reports_for(name);
    if full || name != "__isoc23_sscanf" {
        assert_eq!(
            s.len(),
            1,
            "glibc {}: {name} in a handler\n{}",
            l.label,
            out.dump()
        );
        assert_eq!(s[0]["context"], "signal-handler");
    } else {
        // The host's glibc 2.36 has no __isoc23_sscanf: that build cannot see it (the process
        // is only partially checked, which its start record says).
        assert!(s.is_empty(), "{}", out.dump());
    }

    let out = w.assert_transparent(l, &[&seen(&cxx)], lib);
    assert_eq!(out.stdout, "caught\nn=4 inits=1\n");
    // Without -pthread: on glibc 2.31 no libpthread, so libstdc++'s and libgcc_s's weak probes
    // find a stub of the host's build, whose missing functions must keep the program working.
    let nothread = w.compile("lm_nothread.cc", &[]);
    let out = w.assert_transparent(l, &[&seen(&nothread)], lib);
    assert_eq!(out.stdout, "caught\nstatic-local n=1\n");
    let perl: PathBuf = match &l.place {
        Place::Loader { compile, .. } => compile.join("usr/bin/perl"),
        _ => PathBuf::from("/usr/bin/perl"),
    };
    let out = w.assert_transparent(l, &[&perl, Path::new("-e"), Path::new(PERL)], lib);
    assert_eq!(out.stdout, "a=1,b=2\nchild 3\n");
    check_starts(l, &out, full);

    if !full {
        // One warning line on stderr without a log (and none with one: see assert_transparent).
        let out = w.run(
            l,
            &[&seen(&handler), Path::new("printf")],
            Some(lib),
            false,
            "",
        );
        out.assert_ok();
        let warnings: Vec<&str> = out
            .stderr
            .lines()
            .filter(|x| x.contains("ASSAFE: warning: built for"))
            .collect();
        assert_eq!(
            warnings.len(),
            1,
            "glibc {}: warn once\n{}",
            l.label,
            out.stderr
        );
        assert!(
            warnings[0].contains("partially checked (")
                && warnings[0].contains("functions unknown to this build"),
            "{}",
            warnings[0]
        );
    }
    let _ = std::fs::remove_dir_all(&w.host);
}

/// glibc 2.31 without libpthread: the weak `__pthread_key_create` and the `dlsym` probes answer
/// as without the preload.
fn check_probes(l: &Libc, lib: &Path) {
    let w = Work::new(l, &format!("{}-probes", l.label));
    let exe = w.compile("lm_weak.c", &["-ldl"]);
    let out = w.assert_transparent(l, &[&w.seen(l, &exe)], lib);
    assert!(
        out.stdout
            .contains("__pthread_key_create: absent\narc4random: absent\npthread_once: absent\npthread_key_create: absent\npthread_create: absent\n"),
        "glibc 2.31 without libpthread: {}",
        out.stdout
    );
    let _ = std::fs::remove_dir_all(&w.host);
}

/// glibc 2.31: the functions only libpthread, libdl and librt export are interposed (hidden
/// versioned stubs), whether the library is loaded at start or by a later `dlopen`.
fn check_side(l: &Libc, lib: &Path) {
    let w = Work::new(l, &format!("{}-side", l.label));
    let exe = w.compile(
        "lm_side.c",
        &["-DLM_SIDE_START", "-pthread", "-ldl", "-lrt"],
    );
    // safe_list=posix: glibc's manual calls sem_wait AS-Safe, POSIX does not list it.
    let posix = "safe_list=posix";
    let out = w.run(
        l,
        &[&w.seen(l, &exe), Path::new("start")],
        Some(lib),
        true,
        posix,
    );
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n", "{}", out.dump());
    for f in ["pthread_rwlock_wrlock", "sem_wait", "dlopen"] {
        let r = out.reports_for(f);
        assert_eq!(
            r.len(),
            1,
            "glibc {}: {f} in an MT fork child\n{}",
            l.label,
            out.dump()
        );
        assert_eq!(r[0]["context"], "fork-child");
    }
    assert!(out.reports_for("sem_post").is_empty(), "{}", out.dump());
    let sums = out.summaries();
    assert!(
        sums.iter().all(|s| s
            .get(proto::key::UNRESOLVED_CALLS)
            .is_none_or(|v| n(v) == 0)),
        "{}",
        out.dump()
    );
    // libpthread loaded by a dlopen: the plugin makes the thread, the child's sem_wait (the
    // plugin's call, bound to the stub) is reported with the real function behind it.
    let w2 = Work::new(l, &format!("{}-side-late", l.label));
    let plugin = w2.compile("lm_side_plugin.c", &["-shared", "-fPIC", "-pthread"]);
    let exe = w2.compile("lm_side.c", &["-ldl"]);
    let argv = [&w2.seen(l, &exe), Path::new("late"), &w2.seen(l, &plugin)];
    let without = w2.run(l, &argv, None, true, "");
    assert_eq!(without.stdout, "child: exit 0\n", "{}", without.dump());
    let out = w2.run(l, &argv, Some(lib), true, posix);
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n", "{}", out.dump());
    let r = out.reports_for("sem_wait");
    assert_eq!(
        r.len(),
        1,
        "glibc {}: late libpthread\n{}",
        l.label,
        out.dump()
    );
    assert_eq!(r[0]["context"], "fork-child");
    let sums = out.summaries();
    assert!(
        sums.iter().all(|s| s
            .get(proto::key::UNRESOLVED_CALLS)
            .is_none_or(|v| n(v) == 0)),
        "{}",
        out.dump()
    );
    let _ = std::fs::remove_dir_all(&w.host);
    let _ = std::fs::remove_dir_all(&w2.host);
}

/// Both versions of `pthread_cond_*` (build.rs PER_VERSION) on this glibc: a condvar a fork
/// child initialised is its own (`portable`), one from before the fork a `hazard`, and the old
/// GLIBC_2.2.5 versions still run the old code (tests/c/own_cond.c checks that itself).
fn check_cond(l: &Libc, lib: &Path) {
    let w = Work::new(l, &format!("{}-cond", l.label));
    let exe = w.compile("own_cond.c", &["-pthread"]);
    for mode in ["new", "old"] {
        let out = w.run(l, &[&w.seen(l, &exe), Path::new(mode)], Some(lib), true, "");
        out.assert_ok();
        assert_eq!(out.stdout, "child: exit 0\n", "{mode}: {}", out.dump());
        let got: Vec<(String, String)> = out
            .reports()
            .iter()
            .map(|r| {
                (
                    r["function"].as_str().unwrap().to_owned(),
                    r["severity"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let want = [
            ("pthread_cond_signal", "portable"),
            ("pthread_cond_broadcast", "portable"),
            ("pthread_cond_signal", "hazard"),
        ]
        .map(|(f, s)| (f.to_owned(), s.to_owned()));
        assert_eq!(got, want, "glibc {} {mode}: {}", l.label, out.dump());
    }
    let _ = std::fs::remove_dir_all(&w.host);
}

#[test]
fn glibc_2_31_with_its_own_build_is_fully_checked_and_probes_see_no_stub() {
    let Some(l) = libc("2.31") else { return };
    check_libc(&l, &l.own, true);
    check_probes(&l, &l.own);
    check_side(&l, &l.own);
    check_cond(&l, &l.own);
}

#[test]
fn glibc_2_31_with_the_host_build_warns_once_and_runs() {
    let Some(l) = libc("2.31") else { return };
    check_libc(&l, &library(), false);
    // A function glibc 2.31 lacks, reached through the host build's stub (dlsym finds it): the
    // call fails with ENOSYS and is counted, never a jump to address 0.
    let w = Work::new(&l, "2.31-enosys");
    let exe = w.compile("lm_weak.c", &["-ldl"]);
    let exe = w.seen(&l, &exe);
    let without = w.run(&l, &[&exe, Path::new("call")], None, true, "");
    assert_eq!(without.stdout, "arc4random: absent\n", "{}", without.dump());
    let unresolved = |out: &Outcome| {
        let sums = out.summaries();
        assert_eq!(sums.len(), 1, "{}", out.dump());
        n(&sums[0][proto::key::UNRESOLVED_CALLS])
    };
    // Without the call: libdl's own weak probe finds the stub of __pthread_key_create (libpthread
    // is not loaded), whose call fails the same way — counted, and libdl goes on (the limit of
    // a library built for another libc; the one built for 2.31 has no such stub, see
    // check_probes).
    let base = w.run(&l, &[&exe], Some(&library()), true, "");
    base.assert_ok();
    let out = w.run(&l, &[&exe, Path::new("call")], Some(&library()), true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "arc4random: ENOSYS\n", "{}", out.dump());
    assert_eq!(unresolved(&out), unresolved(&base) + 1, "{}", out.dump());
    let _ = std::fs::remove_dir_all(&w.host);
}

#[test]
fn glibc_2_36_host() {
    let Some(l) = libc("2.36") else { return };
    check_libc(&l, &library(), true);
}

#[test]
fn glibc_2_41_with_its_own_build_checks_isoc23_sscanf() {
    let Some(l) = libc("2.41") else { return };
    check_libc(&l, &l.own, true);
    check_cond(&l, &l.own);
}

#[test]
fn glibc_2_41_with_the_host_build_is_partially_checked() {
    let Some(l) = libc("2.41") else { return };
    check_libc(&l, &library(), false);
}

#[test]
fn newest_glibc_with_its_own_build_is_fully_checked() {
    let Some(l) = libc("newest") else { return };
    check_libc(&l, &l.own, true);
}

#[test]
fn newest_glibc_is_unknown_to_the_host_build_which_warns_once_and_never_crashes() {
    let Some(l) = libc("newest") else { return };
    check_libc(&l, &library(), false);
    // `assafe run` says so instead of "clean".
    let Place::Loader { ld, libpath, .. } = &l.place else {
        unreachable!()
    };
    let w = Work::new(&l, "newest-cli");
    let exe = w.compile("lm_handler.c", &[]);
    let cli = target_dir().join("release/assafe");
    let mut c = Command::new(&cli);
    c.arg("run")
        .arg("--lib")
        .arg(library())
        .arg("--")
        .arg(ld)
        .arg("--library-path")
        .arg(libpath)
        .arg(&exe)
        .arg("sscanf");
    let r = run_with_timeout(&mut c, TIMEOUT);
    let text =
        String::from_utf8_lossy(&r.stdout).into_owned() + &String::from_utf8_lossy(&r.stderr);
    assert!(
        text.contains(": partially checked (")
            && text.contains(" functions unknown to this build: libc 2."),
        "assafe run on an unknown libc:\n{text}"
    );
    let _ = std::fs::remove_dir_all(&w.host);
}
