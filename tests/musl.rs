//! The musl build of the library (`x86_64-unknown-linux-musl`, `-C target-feature=-crt-static`,
//! built by `scripts/test`) preloaded into programs built with Debian's `musl-gcc`, and the one
//! `LD_PRELOAD` entry `<dir>/$LIB/libassafe.so` that serves glibc and musl programs alike.
//!
//! Without the toolchain (`musl-gcc` from Debian's musl-tools) each test says why it is skipped;
//! with `ASSAFE_REQUIRE_MUSL=1` (set by `scripts/test`, which installs it) that is a failure.
#![cfg(target_arch = "x86_64")]

use std::path::{Path, PathBuf};
use std::process::Command;

use assafe_tests::*;

/// The musl build, or `None` (with the reason printed) when the suite must be skipped.
fn musl_library(test: &str) -> Option<PathBuf> {
    let gcc = Command::new("musl-gcc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !gcc {
        let msg =
            format!("musl test {test} SKIPPED: musl-gcc not found (apt-get install musl-tools)");
        if std::env::var_os("ASSAFE_REQUIRE_MUSL").is_some_and(|v| v == "1") {
            panic!("{msg}; ASSAFE_REQUIRE_MUSL=1");
        }
        eprintln!("{msg}");
        return None;
    }
    let lib = target_dir().join("x86_64-unknown-linux-musl/release/libassafe.so");
    assert!(
        lib.is_file(),
        "build the musl library first: RUSTFLAGS=\"-C target-feature=-crt-static\" cargo build \
         --release -p assafe --target x86_64-unknown-linux-musl ({} is missing)",
        lib.display()
    );
    Some(lib)
}

/// An [`Env`] whose preload is the musl build.
fn musl_env(test: &str) -> Option<Env> {
    let lib = musl_library(test)?;
    let mut env = Env::new(test);
    env.lib = lib;
    Some(env)
}

/// Compiles `source` with `musl-gcc -g -O1 -pthread` (tests/c on the include path).
fn musl_cc(env: &Env, name: &str, source: &str) -> PathBuf {
    let src = env.dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let exe = env.dir.join(name);
    let out = Command::new("musl-gcc")
        .args(["-g", "-O1", "-pthread", "-Wall"])
        .arg(format!(
            "-I{}",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("c").display()
        ))
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("run musl-gcc");
    assert!(
        out.status.success(),
        "musl-gcc failed for {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        interpreter(&exe),
        "/lib/ld-musl-x86_64.so.1",
        "{name} is a musl program"
    );
    exe
}

/// A program's PT_INTERP.
fn interpreter(exe: &Path) -> String {
    let o = Command::new("readelf").arg("-l").arg(exe).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.lines()
        .find_map(|l| l.split("interpreter: ").nth(1))
        .map(|s| s.trim_end_matches(']').to_owned())
        .unwrap_or_default()
}

/// A handler that calls `what` on a raised SIGUSR1.
fn handler_program(call: &str) -> String {
    format!(
        r#"#include <signal.h>
#include <stdio.h>
static volatile int x;
static void handler(int sig) {{
    int v = sig;
    {call};
    x = v;
}}
int main(void) {{
    signal(SIGUSR1, handler);
    raise(SIGUSR1);
    printf("x=%d\n", x);
    return 0;
}}
"#
    )
}

#[test]
fn musl_mt_fork_child_malloc_is_reported() {
    let Some(env) = musl_env("musl_fork_malloc") else {
        return;
    };
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("c/fork_malloc.c"))
            .unwrap();
    let prog = musl_cc(&env, "fork_malloc", &src);
    let out = env.run(&[prog.as_os_str(), "mt".as_ref()], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "child: exit 0\n", "{}", out.dump());
    assert_eq!(out.stderr, "", "{}", out.dump());
    let r = out.reports();
    assert_eq!(r.len(), 1, "one report:\n{}", out.dump());
    assert_eq!(r[0]["context"], "fork-child");
    assert_eq!(r[0]["function"], "malloc");
    // The parent's thread count comes from musl's thread list and /proc.
    assert!(n(&r[0]["parent_threads"]) >= 2, "{}", r[0]);
    // No call reached the "function this libc lacks" fallback (the atfork hook once called
    // glibc's __register_atfork on musl: one ENOSYS in every musl process).
    let exits = out.records_of("exit");
    assert!(!exits.is_empty(), "{}", out.dump());
    for s in exits {
        assert!(s.get("unresolved_calls").is_none(), "{}", out.dump());
    }
    // A single-threaded parent's child is not checked (musl's thread list says "alone").
    let st = env.run(&[prog.as_os_str(), "st".as_ref()], true, "");
    st.assert_ok();
    assert!(st.reports().is_empty(), "{}", st.dump());
}

#[test]
fn musl_printf_and_sscanf_in_a_handler_are_reported() {
    let Some(env) = musl_env("musl_handler") else {
        return;
    };
    for (name, call, function) in [
        ("printf", r#"printf("in handler %d\n", v)"#, "printf"),
        ("sscanf", r#"sscanf("12", "%d", &v)"#, "sscanf"),
    ] {
        let prog = musl_cc(&env, name, &handler_program(call));
        let out = env.run(&[&prog], true, "");
        out.assert_ok();
        assert_eq!(out.stderr, "", "{}", out.dump());
        let r = out.reports_for(function);
        assert_eq!(r.len(), 1, "one {function} report:\n{}", out.dump());
        assert_eq!(r[0]["context"], "signal-handler");
        assert_eq!(out.reports().len(), 1, "only {function}:\n{}", out.dump());
    }
}

/// libstdc++ and others probe `__cxa_thread_atexit_impl` (glibc has it, musl does not) with a
/// weak reference and with dlsym: the preload must not make a function appear that the libc
/// lacks.
#[test]
fn musl_weak_probe_sees_the_same_functions() {
    let Some(env) = musl_env("musl_weak_probe") else {
        return;
    };
    let prog = musl_cc(
        &env,
        "probe",
        r#"#include <dlfcn.h>
#include <stdio.h>
extern int __cxa_thread_atexit_impl(void (*)(void *), void *, void *) __attribute__((weak));
int main(void) {
    printf("weak=%d dlsym=%d\n", &__cxa_thread_atexit_impl != 0,
           dlsym(RTLD_DEFAULT, "__cxa_thread_atexit_impl") != 0);
    return 0;
}
"#,
    );
    let (with, without) = env.assert_transparent(&[&prog]);
    assert_eq!(without.stdout, "weak=0 dlsym=0\n");
    with.assert_started();
}

/// Makes `<dir>/$LIB/libassafe.so`: the glibc build in every directory glibc may expand `$LIB`
/// to, the musl build in the literal directory `$LIB` (what `assafe run` and the Debian package
/// lay out, with links; copies here, so that /proc/self/maps tells which one a process mapped).
fn layout(dir: &Path, musl: &Path) -> String {
    let link = |sub: &str, target: &Path| {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(target, d.join("libassafe.so")).unwrap();
    };
    for sub in ["lib/x86_64-linux-gnu", "lib64", "lib"] {
        link(sub, &library());
    }
    link("$LIB", musl);
    format!("{}/$LIB/libassafe.so", dir.display())
}

/// Prints which libassafe.so this process mapped (its /proc/self/maps paths).
const WHICH: &str = r#"#include <stdio.h>
#include <string.h>
#include <stdlib.h>
int main(void) {
    char line[4096];
    FILE *f = fopen("/proc/self/maps", "r");
    char *last = 0;
    while (f && fgets(line, sizeof line, f)) {
        char *p = strchr(line, '/');
        if (p && strstr(p, "libassafe") && (!last || strcmp(last, p) != 0)) {
            free(last);
            last = strdup(p);
            printf("mapped %s", p);
        }
    }
    return 0;
}
"#;

#[test]
fn one_lib_entry_serves_glibc_and_musl_programs() {
    let Some(env) = musl_env("musl_dollar_lib") else {
        return;
    };
    let musl_prog = musl_cc(&env, "which_musl", WHICH);
    let glibc_prog = env.compile_c("which_glibc", WHICH, &[]);
    let entry = layout(&env.dir.join("layout"), &env.lib);
    let (status, stdout, stderr, logs) = env.run_preloaded(
        &[
            "sh",
            "-c",
            "\"$0\"; \"$1\"",
            musl_prog.to_str().unwrap(),
            glibc_prog.to_str().unwrap(),
        ],
        &entry,
        "log",
    );
    assert!(status.success(), "{status:?}\n{stderr}");
    assert_eq!(stderr, "", "nothing from either loader");
    let mapped: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        mapped.len(),
        2,
        "each program mapped one libassafe.so:\n{stdout}"
    );
    // musl opened the literal `$LIB` directory: the musl build, never the glibc one.
    assert!(mapped[0].ends_with("/layout/$LIB/libassafe.so"), "{stdout}");
    // glibc expanded `$LIB`: the glibc build.
    assert!(
        !mapped[1].contains("$LIB") && mapped[1].contains("/layout/lib"),
        "{stdout}"
    );
    // Both programs started with the library (a start record names each).
    for prog in ["which_musl", "which_glibc"] {
        let started = logs
            .lines()
            .any(|l| l.contains("\"event\":\"start\"") && l.contains(&format!("/{prog}\"")));
        assert!(started, "no start record of {prog}:\n{logs}");
    }
}

/// Without the layout, the glibc build aborts musl's loader: the reason for it.
#[test]
fn glibc_build_cannot_load_into_a_musl_program() {
    let Some(env) = musl_env("musl_glibc_build") else {
        return;
    };
    let prog = musl_cc(&env, "which", WHICH);
    let (status, _, stderr, _) = env.run_preloaded(&[&prog], library().to_str().unwrap(), "log");
    assert_eq!(status.code(), Some(127), "{stderr}");
    assert!(stderr.contains("Error relocating"), "{stderr}");
}

/// trixie's musl 1.2.5, unpacked by `scripts/libc-matrix` (None, with the reason printed, when
/// the matrix is not prepared; a failure with `ASSAFE_REQUIRE_MATRIX=1`).
fn musl_1_2_5() -> Option<PathBuf> {
    let dir = std::env::var_os("ASSAFE_MATRIX_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/assafe"));
    let so = dir.join("libc/musl-trixie/usr/lib/x86_64-linux-musl/libc.so");
    if so.is_file() {
        return Some(so);
    }
    let why = format!(
        "musl 1.2.5 not prepared ({} missing): run scripts/libc-matrix",
        so.display()
    );
    if std::env::var("ASSAFE_REQUIRE_MATRIX").as_deref() == Ok("1") {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}

/// A copy of musl 1.2.5's libc.so (its own loader) in `dir` with one exported name changed
/// ("setkey" -> "setkez" in its string table): a musl whose exports no table knows.
fn renamed_musl(libc125: &Path, dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(libc125).unwrap();
    let at = bytes
        .windows(8)
        .position(|w| w == b"\0setkey\0")
        .expect("setkey in musl 1.2.5's string table");
    bytes[at + 6] = b'z';
    let fake = dir.join("libc-renamed.so");
    std::fs::write(&fake, bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    fake
}

/// musl has no version nodes and its libc.so no `DT_SONAME`: the library names the running musl
/// by its exports (build.rs's table of data/reference/exports/musl-*.tsv). The build for this
/// machine's musl (1.2.3) run by trixie's musl 1.2.5 (its own loader, `libc.so prog`) says
/// "musl 1.2.5" and partially checked, still reports; a musl whose exports match no known one
/// (1.2.5 with one export renamed) is an unknown musl; the build's own musl is not "another libc".
#[test]
fn musl_version_is_told_by_its_exports() {
    let Some(env) = musl_env("musl_version") else {
        return;
    };
    let Some(libc125) = musl_1_2_5() else {
        return;
    };
    let prog = musl_cc(
        &env,
        "printf",
        &handler_program(r#"printf("in handler %d\n", v)"#),
    );
    let start = |out: &Outcome| {
        let st = out.records_of(proto::event::START);
        assert_eq!(st.len(), 1, "{}", out.dump());
        st[0].clone()
    };
    let own = env.run(&[&prog], true, "");
    own.assert_ok();
    assert!(
        start(&own).get(proto::key::LIBC).is_none(),
        "the build's own musl: {}",
        own.dump()
    );
    let check = |loader: &Path, want: &str| {
        let out = env.run(&[loader.as_os_str(), prog.as_os_str()], true, "");
        out.assert_ok();
        assert_eq!(out.stdout, "in handler 10\nx=10\n", "{}", out.dump());
        assert_eq!(out.reports_for("printf").len(), 1, "{}", out.dump());
        let st = start(&out);
        assert_eq!(st[proto::key::LIBC], want, "{}", out.dump());
        assert!(n(&st[proto::key::UNKNOWN_FUNCTIONS]) > 0, "{}", out.dump());
    };
    check(&libc125, "musl 1.2.5");
    // The same file with one exported name changed ("setkey" -> "setkez" in its string table):
    // the same loader, exports no table knows.
    let fake = renamed_musl(&libc125, &env.dir);
    check(&fake, "musl (unknown version)");
}

/// The musl rows of data/fork-resets.tsv decide the severity in the child of a multi-threaded
/// fork, by the running musl's version: `malloc` (musl's fork resets malloc's lock since 1.2.2)
/// is `portable`; `fflush(stdout)` (a FILE's own lock: never reset) is a `hazard`;
/// `pthread_key_create` is a `hazard` on 1.2.3 and `portable` from 1.2.4 on (`__pthread_key_atfork`);
/// on a musl no table knows, nothing is assumed reset: all three are `hazard`.
#[test]
fn musl_fork_resets_decide_the_severity_by_version() {
    let Some(env) = musl_env("musl_fork_resets") else {
        return;
    };
    let prog = musl_cc(
        &env,
        "resets",
        r#"#include "mt.h"
static void nothing(void *p) { (void)p; }
int main(void) {
    mt_start();
    pid_t pid = fork();
    if (pid == 0) {
        pthread_key_t k;
        void *p = v_malloc(32);
        int bad = p == NULL || pthread_key_create(&k, nothing) != 0;
        bad |= fflush(stdout) != 0;
        _exit(bad);
    }
    wait_print(pid, "child");
    mt_stop();
    return 0;
}
"#,
    );
    // safe_list=posix: musl's (and glibc's) verdict for pthread_key_create is safe, POSIX's not.
    let severities = |argv: &[&std::ffi::OsStr]| {
        let out = env.run(argv, true, "safe_list=posix");
        out.assert_ok();
        assert_eq!(out.stdout, "child: exit 0\n", "{}", out.dump());
        ["malloc", "pthread_key_create", "fflush"].map(|f| {
            let r = out.reports_for(f);
            assert_eq!(r.len(), 1, "{f}:\n{}", out.dump());
            assert_eq!(r[0]["context"], "fork-child");
            r[0]["severity"].as_str().unwrap().to_owned()
        })
    };
    // The build's own musl (Debian 12's 1.2.3).
    assert_eq!(
        severities(&[prog.as_os_str()]),
        ["portable", "hazard", "hazard"]
    );
    let Some(libc125) = musl_1_2_5() else {
        return;
    };
    assert_eq!(
        severities(&[libc125.as_os_str(), prog.as_os_str()]),
        ["portable", "portable", "hazard"]
    );
    // musl 1.2.5 with one export renamed: a musl the table does not know.
    let fake = renamed_musl(&libc125, &env.dir);
    assert_eq!(
        severities(&[fake.as_os_str(), prog.as_os_str()]),
        ["hazard", "hazard", "hazard"]
    );
}

/// fd-leak at musl's posix_spawn and posix_spawnp: the file actions are musl's linked list
/// (src/process/fdop.h); `cat` and `true` are the host's glibc programs (the `$LIB` layout
/// gives them the glibc build).
#[test]
fn musl_posix_spawn_fd_leak_reads_musls_file_actions() {
    let Some(env) = musl_env("musl_spawn") else {
        return;
    };
    let src = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("c/hy_spawn.c"))
        .unwrap();
    let prog = musl_cc(&env, "hy_spawn", &src);
    let entry = layout(&env.dir.join("layout"), &env.lib);
    for (k, mode) in [
        "leak",
        "leakp",
        "closed",
        "cloexec",
        "dup2",
        "named",
        "dup2-self",
    ]
    .into_iter()
    .enumerate()
    {
        let prefix = format!("log{k}");
        let (status, stdout, stderr, logs) =
            env.run_preloaded(&[prog.to_str().unwrap(), mode], &entry, &prefix);
        assert!(status.success(), "{mode}: {status:?}\n{stderr}");
        assert_eq!(stderr, "", "{mode}");
        let leaks: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("\"kind\":\"fd-leak\""))
            .collect();
        if mode.starts_with("leak") {
            assert!(stdout.contains("cat did not see EOF"), "{mode}: {stdout}");
            let func = if mode == "leak" {
                "posix_spawn"
            } else {
                "posix_spawnp"
            };
            assert_eq!(leaks.len(), 1, "{mode}:\n{logs}");
            assert!(
                leaks[0].contains("\"function\":\"pipe\"")
                    && leaks[0].contains(&format!(
                        "(write end), made by pipe() without close-on-exec, is inherited by \
                         the program {func} starts"
                    )),
                "{mode}: {}",
                leaks[0]
            );
        } else {
            assert!(leaks.is_empty(), "{mode}:\n{logs}");
            assert!(!stdout.contains("did not see EOF"), "{mode}: {stdout}");
        }
    }
}
