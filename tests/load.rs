//! Load-time and process-tree behaviour: calls that arrive before the library's constructor,
//! modules loaded with dlopen, following exec into a stripped environment, and the preload's own
//! suppressions.

use assafe_tests::*;

/// Runs `fork_malloc mt` with another preloaded library (`ctor_src`, whose constructor may run
/// before ours) in both preload orders: the program starts (its stdout begins with `greeting`),
/// and the library still reports the fork child's malloc exactly once.
fn with_early_constructor(name: &str, ctor_src: &str, greeting: &str) {
    let env = Env::new(name);
    let ctor = env.compile_c(&format!("lib{name}.so"), ctor_src, &["-shared", "-fPIC"]);
    let prog = env.compile_file("fork_malloc", &[]);
    for (i, order) in [
        format!("{} {}", ctor.display(), env.lib.display()),
        format!("{} {}", env.lib.display(), ctor.display()),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, stdout, _, logs) = env.run_preloaded(
            &[prog.as_os_str(), "mt".as_ref()],
            &order,
            &format!("ctor{i}"),
        );
        assert!(status.success(), "{order}: {status}");
        assert!(stdout.starts_with(greeting), "{order}: {stdout}");
        let reports = logs
            .lines()
            .filter(|l| l.contains("\"event\":\"report\"") && l.contains("\"function\":\"malloc\""))
            .count();
        assert_eq!(reports, 1, "{order}: expected the child's malloc report");
    }
}

/// Another preloaded library's constructor calls malloc (possibly before ours runs): it works,
/// and the library still checks the program afterwards.
#[test]
fn malloc_before_our_constructor_works() {
    with_early_constructor(
        "load_ctor",
        include_str!("c/load_ctor.c"),
        "ctor malloc ok\n",
    );
}

/// A thread started by another preloaded library's constructor (possibly before ours runs)
/// makes the process's first interposed calls: they work, and the library checks the program
/// afterwards.
#[test]
fn thread_started_before_our_constructor_works() {
    with_early_constructor(
        "load_ctor_thread",
        include_str!("c/load_ctor_thread.c"),
        "ctor thread ok\n",
    );
}

/// A report from code in a dlopen'ed library names that library (the module table is refreshed
/// after dlopen).
#[test]
fn dlopened_module_is_named_in_stacks() {
    let env = Env::new("load_dlopen");
    let plugin = env.compile_c(
        "libplug.so",
        include_str!("c/load_plugin.c"),
        &["-shared", "-fPIC"],
    );
    let prog = env.compile_c("load_dlopen", include_str!("c/load_dlopen.c"), &["-ldl"]);
    let out = env.run(&[prog.as_os_str(), plugin.as_os_str()], true, "");
    out.assert_ok();
    assert!(
        out.stdout.contains("plugin child status 0"),
        "{}",
        out.stdout
    );
    let r = out.reports_for("malloc");
    assert_eq!(r.len(), 1, "{}", out.dump());
    let module = r[0]["stack"][0]["module"].as_str().unwrap();
    assert!(
        module.ends_with("libplug.so"),
        "frame 0 module {module}: {}",
        out.dump()
    );
    assert!(
        r[0]["stack"][0]["offset"]
            .as_str()
            .unwrap()
            .starts_with("0x")
    );
}

/// A program that execs with a stripped environment (`env -i` style): the new program is still
/// checked (it writes its own start record), unless follow_exec=0.
#[test]
fn exec_with_stripped_environment_is_followed() {
    let env = Env::new("load_envi");
    let prog = env.compile_c("load_envi", include_str!("c/load_envi.c"), &[]);
    let target = env.compile_file("fork_malloc", &[]);
    let out = env.run(
        &[prog.as_os_str(), target.as_os_str(), "mt".as_ref()],
        true,
        "",
    );
    out.assert_ok();
    let starts = out.records_of("start");
    assert!(
        starts
            .iter()
            .any(|s| s["exe"].as_str().unwrap().ends_with("/fork_malloc")),
        "the exec'd program did not load the library: {}",
        out.dump()
    );
    assert_eq!(out.reports_for("malloc").len(), 1, "{}", out.dump());

    let out = env.run(
        &[prog.as_os_str(), target.as_os_str(), "mt".as_ref()],
        true,
        "follow_exec=0",
    );
    out.assert_ok();
    assert!(
        !out.records_of("start")
            .iter()
            .any(|s| s["exe"].as_str().unwrap().ends_with("/fork_malloc")),
        "follow_exec=0 still followed: {}",
        out.dump()
    );
    assert!(out.reports().is_empty(), "{}", out.dump());
}

/// `ASSAFE_OPTIONS=suppressions=FILE`: a matching report is not written, is counted in the
/// summary, and an unreadable file gets one warning.
#[test]
fn preload_applies_suppressions() {
    let env = Env::new("load_supp");
    let prog = env.compile_file("fork_malloc", &[]);
    let supp = env.dir.join("supp.txt");
    std::fs::write(&supp, "# hide the child's malloc\nfork:mall*\n").unwrap();
    let out = env.run(
        &[prog.as_os_str(), "mt".as_ref()],
        true,
        &format!("suppressions={}", supp.display()),
    );
    out.assert_ok();
    assert!(out.reports_for("malloc").is_empty(), "{}", out.dump());
    // By module name (the program's file name) too.
    std::fs::write(&supp, "fork:fork_malloc\n").unwrap();
    let out = env.run(
        &[prog.as_os_str(), "mt".as_ref()],
        true,
        &format!("suppressions={}", supp.display()),
    );
    assert!(out.reports_for("malloc").is_empty(), "{}", out.dump());
    // A pattern for another context does not hide it.
    std::fs::write(&supp, "signal:malloc\n").unwrap();
    let out = env.run(
        &[prog.as_os_str(), "mt".as_ref()],
        true,
        &format!("suppressions={}", supp.display()),
    );
    assert_eq!(out.reports_for("malloc").len(), 1, "{}", out.dump());
    // Unreadable file: one warning (in the JSON log's start record, not on the program's
    // stderr), reports as usual.
    let out = env.run(
        &[prog.as_os_str(), "mt".as_ref()],
        true,
        "suppressions=/nonexistent/supp.txt",
    );
    assert!(!out.stderr.contains("ASSAFE"), "{}", out.dump());
    let starts = out.records_of("start");
    assert!(!starts.is_empty(), "{}", out.dump());
    assert!(
        starts.iter().all(|r| r["warning"]
            .as_str()
            .is_some_and(|w| w.contains("/nonexistent/supp.txt"))),
        "{}",
        out.dump()
    );
    assert_eq!(out.reports_for("malloc").len(), 1, "{}", out.dump());
    // Without a log the warning is a line on stderr, once.
    let (_, _, _, stderr) = env.run_raw_options(
        &[prog.as_os_str(), "st".as_ref()],
        Some("suppressions=/nonexistent/supp.txt"),
    );
    let warnings = stderr
        .lines()
        .filter(|l| l.contains("ASSAFE: warning"))
        .count();
    assert_eq!(warnings, 1, "{stderr}");
}

/// With `log_path` set, nothing of the library's reaches the program's stderr, not even a
/// complaint about the other options: a malformed option, `help=1` and an unreadable
/// suppressions file go to a text log as lines, to a JSON log in the `start` record's `warning`;
/// without `log_path` they are lines on stderr.
#[test]
fn option_feedback_goes_to_the_log() {
    let env = Env::new("load_optlog");
    let prog = env.compile_c(
        "quiet",
        "#include <stdio.h>\nint main(void) { puts(\"out\"); return 0; }\n",
        &[],
    );
    let cmd = [prog.as_os_str()];
    // JSON log (Env::run adds log_format=json:log_path=…).
    for (opts, word) in [
        ("no_such_option=1", "no_such_option"),
        ("verbosity=many", "verbosity"),
        ("help=1", "help=1"),
        ("suppressions=/nonexistent/s.txt", "/nonexistent/s.txt"),
    ] {
        let out = env.run(&cmd, true, opts);
        out.assert_ok();
        assert_eq!(out.stdout, "out\n", "{opts}: {}", out.dump());
        assert_eq!(out.stderr, "", "{opts}: {}", out.dump());
        let starts = out.records_of("start");
        assert_eq!(starts.len(), 1, "{opts}: {}", out.dump());
        let w = starts[0]["warning"].as_str().unwrap_or_default();
        assert!(w.contains(word), "{opts}: warning {w:?}: {}", out.dump());
    }
    // A clean run's start record has no warning.
    let out = env.run(&cmd, true, "");
    assert!(
        out.records_of("start")[0].get("warning").is_none(),
        "{}",
        out.dump()
    );
    // Text log: the lines go to the log file.
    for (i, (opts, word)) in [
        ("no_such_option=1", "no_such_option"),
        ("help=1", "log_format"),
        ("suppressions=/nonexistent/s.txt", "/nonexistent/s.txt"),
    ]
    .into_iter()
    .enumerate()
    {
        let log = env.dir.join(format!("text{i}.log"));
        let (_, status, stdout, stderr) =
            env.run_raw_options(&cmd, Some(&format!("log_path={}:{opts}", log.display())));
        assert!(status.success(), "{opts}: {status}");
        assert_eq!(stdout, "out\n", "{opts}");
        assert_eq!(stderr, "", "{opts}");
        let text: String = std::fs::read_dir(&env.dir)
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("text{i}.log."))
            })
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect();
        assert!(text.contains(word), "{opts}: log {text:?}");
    }
    // No log: on stderr, as before.
    let (_, _, _, stderr) = env.run_raw_options(&cmd, Some("no_such_option=1"));
    assert!(
        stderr.contains("ASSAFE: warning") && stderr.contains("no_such_option"),
        "{stderr}"
    );
}

/// A handler installed before the library loaded (here by an earlier constructor, with the raw
/// rt_sigaction syscall so that nothing could intercept it) is wrapped at load: unsafe calls in it
/// are reported.
#[test]
fn handler_installed_before_load_is_wrapped() {
    let env = Env::new("load_rawhandler");
    let lib = env.compile_c(
        "librawh.so",
        include_str!("c/load_rawhandler.c"),
        &["-shared", "-fPIC"],
    );
    let prog = env.compile_c(
        "raiser",
        "#include <signal.h>\nint main(void) { raise(SIGUSR1); return 0; }\n",
        &[],
    );
    // The loader runs the later preload's constructor first: librawh installs its handler, then
    // libassafe's constructor finds it.
    let (status, stdout, _, text) = env.run_preloaded(
        &[&prog],
        &format!("{} {}", env.lib.display(), lib.display()),
        "log",
    );
    assert!(status.success(), "{status}");
    assert_eq!(stdout, "handled\n");
    assert!(
        text.lines().any(|l| l.contains("\"event\":\"report\"")
            && l.contains("\"function\":\"malloc\"")
            && l.contains("\"signal_name\":\"SIGUSR1\"")),
        "no handler report:\n{text}"
    );
}

/// `verbosity=2` notes every fork child and whether it is checked; `verbosity=1` says the library
/// loaded; the default says nothing.
#[test]
fn verbosity_levels() {
    let env = Env::new("load_verbosity");
    let prog = env.compile_file("fork_malloc", &[]);
    let out = env.run(&[prog.as_os_str(), "mt".as_ref()], true, "verbosity=2");
    out.assert_ok();
    let forks = out.records_of("fork");
    assert_eq!(forks.len(), 1, "{}", out.dump());
    assert_eq!(forks[0]["checked"], true);
    assert!(forks[0]["parent_threads"].as_u64().unwrap() >= 2);
    let out = env.run(&[prog.as_os_str(), "st".as_ref()], true, "verbosity=2");
    let forks = out.records_of("fork");
    assert_eq!(forks.len(), 1, "{}", out.dump());
    assert_eq!(forks[0]["checked"], false);
    assert_eq!(forks[0]["parent_threads"], 1);
    let (_, _, _, stderr) =
        env.run_raw_options(&[prog.as_os_str(), "st".as_ref()], Some("verbosity=1"));
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("ASSAFE: libassafe loaded"))
            .count(),
        1,
        "{stderr}"
    );
    let (_, _, _, stderr) = env.run_raw_options(&[prog.as_os_str(), "st".as_ref()], None);
    assert!(!stderr.contains("ASSAFE"), "{stderr}");
    // With a log, the notice never reaches the program's stderr: a text log gets it, a JSON log's
    // start record says as much.
    let out = env.run(&[prog.as_os_str(), "st".as_ref()], true, "verbosity=1");
    out.assert_ok();
    assert!(!out.stderr.contains("ASSAFE"), "{}", out.dump());
    assert!(!out.records_of("start").is_empty(), "{}", out.dump());
    let log = env.dir.join("verbosity-text.log");
    let (_, _, _, stderr) = env.run_raw_options(
        &[prog.as_os_str(), "st".as_ref()],
        Some(&format!("verbosity=1:log_path={}", log.display())),
    );
    assert!(!stderr.contains("ASSAFE"), "{stderr}");
    let text: String = std::fs::read_dir(&env.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("verbosity-text.log.")
        })
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(text.contains("ASSAFE: libassafe loaded"), "{text}");
}

/// Text mode names the function of each frame from the module's symbol table (C and Rust).
#[test]
fn text_mode_names_functions() {
    let env = Env::new("load_textnames");
    let prog = env.compile_file("fork_malloc", &[]);
    let (_, status, _, stderr) = env.run_raw_options(&[prog.as_os_str(), "mt".as_ref()], None);
    assert!(status.success());
    assert!(
        stderr.lines().any(|l| l.trim_start().starts_with("#0 0x")
            && l.contains(" in main (")
            && l.contains("/fork_malloc+0x")),
        "{stderr}"
    );
    // A Rust pre_exec closure that allocates: the frame is named after the closure.
    let src = env.dir.join("pre_exec.rs");
    std::fs::write(
        &src,
        r#"use std::os::unix::process::CommandExt;
fn main() {
    let _t = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(2)));
    let mut c = std::process::Command::new("true");
    unsafe { c.pre_exec(|| { let v = vec![1u8; 100]; std::hint::black_box(&v); Ok(()) }) };
    assert!(c.status().unwrap().success());
}
"#,
    )
    .unwrap();
    let exe = env.dir.join("pre_exec");
    let rustc = std::process::Command::new("rustc")
        .args(["-O", "-g", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("rustc");
    assert!(rustc.success());
    let (_, status, _, stderr) = env.run_raw_options(&[&exe], None);
    assert!(status.success());
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("#0 0x") && l.contains(" in pre_exec::main::{{closure}} (")),
        "{stderr}"
    );
}

/// Every exec-family function, with a stripped environment, runs the new program with the library
/// and the options re-added (execl's arguments come from registers and the caller's stack), and
/// with the program's own arguments and variables untouched.
#[test]
fn every_exec_function_is_followed() {
    let env = Env::new("load_execs");
    let prog = env.compile_file("load_execs", &[]);
    for how in [
        "execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle",
    ] {
        let out = env.run(&[prog.as_os_str(), how.as_ref()], true, "strict=1");
        out.assert_ok();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert!(
            lines.contains(&"PATH=/usr/bin:/bin"),
            "{how}: {}",
            out.stdout
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("LD_PRELOAD=") && l.contains("libassafe.so")),
            "{how}: LD_PRELOAD not re-added: {}",
            out.stdout
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("ASSAFE_OPTIONS=") && l.contains("strict=1")),
            "{how}: ASSAFE_OPTIONS not re-added: {}",
            out.stdout
        );
        assert_eq!(
            lines.len(),
            3,
            "{how}: exactly the three variables: {}",
            out.stdout
        );
        assert!(
            out.records_of("start")
                .iter()
                .any(|s| s["exe"].as_str().unwrap().ends_with("/env")),
            "{how}: env did not load the library: {}",
            out.dump()
        );
        // Without the preload, only PATH.
        let plain = env.run(&[prog.as_os_str(), how.as_ref()], false, "");
        assert_eq!(plain.stdout, "PATH=/usr/bin:/bin\n", "{how}");
    }
}

/// With a bare `LD_PRELOAD` (no `ASSAFE_OPTIONS`) an exec passes the program's environment on as
/// it is: nothing is added where the library is already preloaded (a shell's every command would
/// pay a mapping and a copy), and a stripped environment gets `LD_PRELOAD` back but no empty
/// `ASSAFE_OPTIONS=`.
#[test]
fn exec_without_options_adds_no_options() {
    let env = Env::new("load_noopts");
    let (_, status, stdout, stderr) =
        env.run_raw_options(&["/bin/sh", "-c", "exec /usr/bin/env"], None);
    assert!(status.success(), "{stderr}");
    assert!(
        stdout.lines().any(|l| l.starts_with("LD_PRELOAD=")),
        "{stdout}"
    );
    assert!(
        !stdout.contains("ASSAFE_OPTIONS"),
        "an empty ASSAFE_OPTIONS was added: {stdout}"
    );
    let prog = env.compile_file("load_execs", &[]);
    let (_, status, stdout, stderr) = env.run_raw_options(&[prog.as_os_str()], None);
    assert!(status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "PATH and LD_PRELOAD only: {stdout}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("LD_PRELOAD=") && l.contains("libassafe.so")),
        "LD_PRELOAD not re-added: {stdout}"
    );
}

/// A renamed copy of the library (a distribution's own name, a test's scratch copy) counts as
/// preloaded: an exec passes `LD_PRELOAD` on as it is. It was added again at every exec, the entry
/// one copy longer in each generation.
#[test]
fn renamed_library_is_not_added_again_at_exec() {
    let env = Env::new("load_renamed");
    let copy = env.dir.join("renamed-copy.so");
    std::fs::copy(library(), &copy).unwrap();
    let (_, status, stdout, stderr) = run_raw(
        &[
            "/bin/sh",
            "-c",
            "exec /bin/sh -c 'exec /bin/sh -c \"exec /usr/bin/env\"'",
        ],
        &[("LD_PRELOAD".into(), copy.display().to_string())],
        &["LD_PRELOAD", "ASSAFE_OPTIONS"],
    );
    assert!(status.success(), "{stderr}");
    let want = format!("LD_PRELOAD={}", copy.display());
    assert!(stdout.lines().any(|l| l == want), "want {want}: {stdout}");
}

/// Real functions are resolved on first use (`libc::symbols`): a function whose first call in
/// the process is made by racing threads, in a signal handler, in the child of a multi-threaded
/// fork or in a vfork child works there, and is reported as in any other call.
#[test]
fn first_call_resolves_in_every_context() {
    let env = Env::new("load_lazy");
    let prog = env.compile_file("load_lazy", &[]);
    let out = env.run(&[prog.as_os_str()], true, "");
    out.assert_ok();
    assert_eq!(
        out.stdout,
        "threads ok\nhandler 1\nfork child: exit 0\nvfork child: exit 0\nmain set 1 1\n",
        "{}",
        out.dump()
    );
    for (function, context) in [
        ("getenv", "signal-handler"),
        ("strdup", "fork-child"),
        ("localeconv", "vfork-child"),
    ] {
        let r = out.reports_for(function);
        assert_eq!(r.len(), 1, "{function}: {}", out.dump());
        assert_eq!(r[0]["context"], context, "{function}: {}", out.dump());
    }
    assert!(out.reports_for("random").is_empty(), "{}", out.dump());
    assert_eq!(out.reports().len(), 3, "{}", out.dump());
}

/// A name whose next definition is an IFUNC outside glibc is resolved at load, in normal
/// context: the foreign resolver never runs lazily (here: in a signal handler).
#[test]
fn foreign_ifunc_is_resolved_at_load() {
    let env = Env::new("load_ifunc");
    let ifunc = env.compile_c(
        "libifunc.so",
        include_str!("c/load_ifunc_lib.c"),
        &["-shared", "-fPIC"],
    );
    let prog = env.compile_file("load_ifunc", &[]);
    let (status, stdout, stderr, reports) = env.run_preloaded(
        &[prog.as_os_str()],
        &format!("{} {}", env.lib.display(), ifunc.display()),
        "log",
    );
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(stdout, "resolver\nmain start\nhandler ifunc\n", "{stderr}");
    assert!(
        reports.contains("\"function\":\"getenv\"") && reports.contains("signal-handler"),
        "{reports}"
    );
}

/// The library's own hidden `memcpy`, `memmove`, `memset`, `memcmp`/`bcmp` and `strlen` (x86_64:
/// six names the loader no longer resolves in every process) behave as the C library's: their
/// assembly, taken from `src/platform/arch/x86_64.rs` with the names prefixed, against libc's
/// on 200 000 random cases (lengths 0..200, every alignment, overlapping moves both ways).
#[cfg(target_arch = "x86_64")]
#[test]
fn hidden_mem_functions_match_libc() {
    let env = Env::new("load_mem");
    let src = std::fs::read_to_string(repo_root().join("src/platform/arch/x86_64.rs")).unwrap();
    let start = src
        .find("\".pushsection .text.assafe_mem")
        .expect("the mem functions' assembly");
    let end = start + src[start..].find("\".popsection\"").unwrap();
    let mut asm = String::from(".intel_syntax noprefix\n");
    for line in src[start..end].lines() {
        let l = line.trim();
        let Some(l) = l.strip_prefix('"').and_then(|l| l.strip_suffix("\",")) else {
            continue;
        };
        let mut l = l.replace("\\\"", "\"");
        for n in ["memcpy", "memmove", "memset", "memcmp", "bcmp", "strlen"] {
            l = l
                .split_inclusive(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map(|w| {
                    let word = w.trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
                    if word == n {
                        format!("my_{w}")
                    } else {
                        w.to_string()
                    }
                })
                .collect();
        }
        asm.push_str(&l);
        asm.push('\n');
    }
    asm.push_str(".section .note.GNU-stack,\"\",@progbits\n");
    let s = env.dir.join("mem.S");
    std::fs::write(&s, asm).unwrap();
    let prog = env.compile_c(
        "memtest",
        r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
void *my_memcpy(void *, const void *, size_t);
void *my_memmove(void *, const void *, size_t);
void *my_memset(void *, int, size_t);
int my_memcmp(const void *, const void *, size_t);
int my_bcmp(const void *, const void *, size_t);
size_t my_strlen(const char *);
static int sgn(int x) { return (x > 0) - (x < 0); }
int main(void) {
    unsigned char a[600], b[600], c[600], d[600];
    srand(1);
    for (int it = 0; it < 200000; it++) {
        for (int i = 0; i < 600; i++) a[i] = rand();
        memcpy(b, a, 600); memcpy(c, a, 600);
        size_t n = rand() % 200, s = rand() % 200, t = rand() % 200;
        if (my_memmove(b + t, b + s, n) != b + t) return 1;
        memmove(c + t, c + s, n);
        if (memcmp(b, c, 600)) { puts("memmove"); return 1; }
        if (my_memcpy(b + t, a + 300 + s, n) != b + t) return 1;
        memcpy(c + t, a + 300 + s, n);
        if (memcmp(b, c, 600)) { puts("memcpy"); return 1; }
        int v = rand();
        if (my_memset(b + s, v, n) != b + s) return 1;
        memset(c + s, v, n);
        if (memcmp(b, c, 600)) { puts("memset"); return 1; }
        memcpy(d, b, 600);
        if (rand() % 2 && n) d[s + rand() % n] ^= 1 + rand() % 255;
        if (sgn(my_memcmp(b + s, d + s, n)) != sgn(memcmp(b + s, d + s, n))) { puts("memcmp"); return 1; }
        if (!my_bcmp(b + s, d + s, n) != !memcmp(b + s, d + s, n)) { puts("bcmp"); return 1; }
        for (int i = 0; i < 600; i++) if (!a[i]) a[i] = 1;
        a[599] = 0; a[s + n] = 0;
        if (my_strlen((char *)a + s) != strlen((char *)a + s)) { puts("strlen"); return 1; }
    }
    puts("ok");
    return 0;
}
"#,
        &[s.to_str().unwrap()],
    );
    let out = std::process::Command::new(&prog).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
