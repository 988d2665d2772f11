//! Async-signal-unsafe calls inside signal handlers, and the transparency of the library's
//! sigaction wrapper (the program must see its own handlers, masks and flags).
//! The C programs live in tests/c/ (sig_*.c, sig.h); the signal-hook program in
//! tests/programs/sighook/.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use assafe_tests::*;

/// Checks a signal-handler report made by the program itself (pid == the started process).
fn check_handler_report(out: &Outcome, r: &Value, prog: &str, sig: u64, name: &str) {
    check_report_shape(r, prog);
    check_site_in_program(r, prog);
    assert_eq!(r["context"], "signal-handler", "{r}");
    assert_eq!(n(&r["signal"]), sig, "{r}");
    assert_eq!(r["signal_name"], name, "{r}");
    assert_eq!(n(&r["pid"]), out.pid as u64, "{r}");
    let origin = s(&r["signal_origin"]);
    assert!(
        ["synchronous", "self", "async"].contains(&origin),
        "signal_origin {origin}: {r}"
    );
    let certainty = s(&r["certainty"]);
    assert!(
        ["definite", "latent"].contains(&certainty),
        "certainty {certainty}: {r}"
    );
    assert!(n(&r["handler_depth"]) >= 1, "{r}");
}

/// The ELF address of a symbol of `exe` (for comparing with a stack frame's offset).
fn symbol_addr(exe: &Path, name: &str) -> u64 {
    let syms = nm(&["--defined-only"], exe);
    let line = syms
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(name))
        .unwrap_or_else(|| panic!("no symbol {name} in {}:\n{syms}", exe.display()));
    u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
}

fn undefined_symbols(exe: &Path) -> Vec<String> {
    nm(&["--undefined-only"], exe)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|s| s.split('@').next().unwrap().to_string())
        .collect()
}

// 1.
#[test]
fn unsafe_calls_in_a_sigusr1_handler_are_reported() {
    let env = Env::new("sig_unsafe");
    let plain = env.compile_file("sig_unsafe", &[]);
    let fort = {
        let src =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("c/sig_unsafe.c"))
                .unwrap();
        env.compile_c(
            "sig_unsafe_fortified",
            &src,
            &["-O2", "-D_FORTIFY_SOURCE=2"],
        )
    };
    let undef = undefined_symbols(&fort);
    for f in ["__printf_chk", "__syslog_chk"] {
        assert!(
            undef.iter().any(|u| u == f),
            "fortified build must call {f}: {undef:?}"
        );
    }
    for (prog, name, mode, function, reason) in [
        (&plain, "sig_unsafe", "printf", "printf", "stdio"),
        (
            &fort,
            "sig_unsafe_fortified",
            "printf",
            "__printf_chk",
            "stdio",
        ),
        (&plain, "sig_unsafe", "malloc", "malloc", "heap"),
        (&plain, "sig_unsafe", "syslog", "syslog", "syslog"),
        (
            &fort,
            "sig_unsafe_fortified",
            "syslog",
            "__syslog_chk",
            "syslog",
        ),
    ] {
        let cmd = [prog.as_os_str(), mode.as_ref()];
        let out = env.run(&cmd, true, "");
        out.assert_ok();
        assert!(
            out.stdout.ends_with(if mode == "printf" {
                "main: flag=0 runs=1\n"
            } else {
                "main: flag=1 runs=1\n"
            }),
            "{}",
            out.dump()
        );
        let reports = out.reports();
        assert_eq!(
            reports.len(),
            1,
            "{mode}: exactly one report (the handler's {function}; main's printf is normal code):\n{}",
            out.dump()
        );
        let r = reports[0];
        check_handler_report(&out, r, name, 10, "SIGUSR1");
        assert_eq!(r["function"], function, "{r}");
        assert_eq!(r["reason"], reason, "{r}");
        assert_eq!(r["signal_origin"], "self", "raise() is self-sent: {r}");
        assert_eq!(n(&r["handler_depth"]), 1, "{r}");
        assert_eq!(
            r["certainty"], "latent",
            "raise() interrupts no unsafe function: {r}"
        );
        assert!(r.get("parent_threads").is_none(), "no fork-child keys: {r}");
        assert!(out.records_of("errno").is_empty(), "{}", out.dump());
        env.assert_transparent(&cmd);
    }
}

// 1c. A handler whose last statement is `printf(...)` is compiled (-O2) as a tail call: printf
// returns straight into the library's handler wrapper. The report must still honour the record
// contract (frames[0] == site) and not blame the library's own code.
#[test]
fn tail_called_printf_in_a_handler() {
    let env = Env::new("sig_tailcall");
    let prog = env.compile_file("sig_tailcall", &["-O2"]);
    let out = env.run(&[&prog], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "handler: signal 10\nmain: done\n");
    let r = out.reports_for("printf");
    assert_eq!(r.len(), 1, "{}", out.dump());
    let r = r[0];
    assert_eq!(r["context"], "signal-handler", "{r}");
    assert_eq!(r["signal_name"], "SIGUSR1", "{r}");
    assert_eq!(
        r["frames"][0], r["site"],
        "docs/log-format.md: frames[0] == site: {r}"
    );
    assert!(
        r["stack"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| !s(&f["module"]).ends_with("libassafe.so")),
        "the report points into the library itself: {r}"
    );
    env.assert_transparent(&[&prog]);
}

// 1b. A process whose only unsafe calls were in a handler writes a summary at exit(); it is not a
// fork child, so the summary must not say it is.
#[test]
fn handler_only_summary_is_not_labelled_fork_child() {
    let env = Env::new("sig_summary");
    let prog = env.compile_file("sig_unsafe", &[]);
    let out = env.run(
        &[prog.as_os_str(), "malloc".as_ref(), "exit".as_ref()],
        true,
        "",
    );
    out.assert_ok();
    let r = out.reports_for("malloc");
    assert_eq!(r.len(), 1, "{}", out.dump());
    let sums = out.summaries();
    assert_eq!(sums.len(), 1, "exit() writes one summary:\n{}", out.dump());
    let e = sums[0];
    assert_eq!(e["event"], "exit", "{e}");
    assert_eq!(n(&e["pid"]), out.pid as u64, "{e}");
    assert!(
        e["sites"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["function"] == "malloc" && x["site"] == r[0]["site"] && n(&x["count"]) == 1),
        "{e}"
    );
    assert_eq!(
        e["context"], "signal-handler",
        "the process never forked; its unsafe calls were all in a handler: {e}"
    );
}

// 2.
#[test]
fn safe_handlers_are_not_reported() {
    let env = Env::new("sig_safe");
    let prog = env.compile_file("sig_unsafe", &[]);
    for mode in ["flag", "write"] {
        let cmd = [prog.as_os_str(), mode.as_ref()];
        let out = env.run(&cmd, true, "");
        out.assert_ok();
        let expected = if mode == "write" {
            "handler: write\nmain: flag=1 runs=1\n"
        } else {
            "main: flag=1 runs=1\n"
        };
        assert_eq!(out.stdout, expected, "{}", out.dump());
        out.assert_started();
        assert!(
            out.reports().is_empty()
                && out.summaries().is_empty()
                && out.records_of("errno").is_empty(),
            "{mode}: a safe handler is not reported:\n{}",
            out.dump()
        );
        // The same run with exit(): still no summary (nothing unsafe happened).
        let out = env.run(
            &[prog.as_os_str(), mode.as_ref(), "exit".as_ref()],
            true,
            "",
        );
        out.assert_ok();
        assert!(
            out.reports().is_empty() && out.summaries().is_empty(),
            "{}",
            out.dump()
        );
        env.assert_transparent(&cmd);
    }
}

// 3.
#[test]
fn every_way_of_installing_a_handler_is_seen() {
    let env = Env::new("sig_install");
    let prog = env.compile_file("sig_install", &[]);
    for how in ["signal", "sysv_signal", "sigaction", "siginfo"] {
        let cmd = [prog.as_os_str(), how.as_ref()];
        let out = env.run(&cmd, true, "");
        out.assert_ok();
        let expected = if how == "siginfo" {
            // SI_TKILL (-6): raise() uses tgkill.
            "siginfo handler: sig=10 si_signo=10 si_code=-6 run=1\n\
             siginfo handler: sig=10 si_signo=10 si_code=-6 run=2\nmain: runs=2\n"
        } else {
            "plain handler: sig=10 run=1\nplain handler: sig=10 run=2\nmain: runs=2\n"
        };
        assert_eq!(out.stdout, expected, "{how}:\n{}", out.dump());
        let r = out.reports_for("printf");
        assert_eq!(
            r.len(),
            1,
            "{how}: the handler's printf, once (deduplicated):\n{}",
            out.dump()
        );
        check_handler_report(&out, r[0], "sig_install", 10, "SIGUSR1");
        assert_eq!(r[0]["signal_origin"], "self", "{}", r[0]);
        assert!(
            out.reports()
                .iter()
                .all(|x| x["context"] == "signal-handler"),
            "{}",
            out.dump()
        );
        env.assert_transparent(&cmd);
    }
}

// 4.
#[test]
fn oldact_round_trip_is_transparent() {
    let env = Env::new("sig_oldact");
    let prog = env.compile_file("sig_oldact", &[]);
    let (with, without) = env.assert_transparent(&[&prog]);
    with.assert_ok();
    // The reference run says what the kernel and glibc report; check that the program really
    // exercised the interesting cases (the equality above is the actual test).
    for needle in [
        "query after h1: handler=h1 flags=0x54000000\n  mask: 12 14\n",
        "query after h2: handler=h2 flags=0xc000004\n  mask: 12\n",
        "h2 ran: sig=10 si_signo=10\n  mask inside h2: 10 12\n",
        "mask inside h3: 14 15\n",
        "oldact of SIG_DFL install: handler=h2 flags=0x14000004\n",
        "signal(): p1_is_dfl=1 p2_is_h1=1 p3_is_h3=1\n",
        "sigaction(SIGKILL): r=-1 errno=22\n",
    ] {
        assert!(
            without.stdout.contains(needle),
            "reference output lacks {needle:?}:\n{}",
            without.stdout
        );
    }
    // Field by field, for a readable failure (assert_transparent compared the whole text).
    for (a, b) in with.stdout.lines().zip(without.stdout.lines()) {
        assert_eq!(a, b);
    }
    assert!(
        with.reports().is_empty(),
        "the handlers call nothing unsafe:\n{}",
        with.dump()
    );
}

// 5.
#[test]
fn sa_resethand_reads_back_sig_dfl() {
    let env = Env::new("sig_resethand");
    let prog = env.compile_file("sig_resethand", &[]);
    for mode in ["sigaction", "siginfo", "sysv"] {
        let cmd = [prog.as_os_str(), mode.as_ref()];
        let (with, without) = env.assert_transparent(&cmd);
        with.assert_ok();
        assert!(
            without
                .stdout
                .contains("after first delivery: handler=SIG_DFL")
                && without.stdout.contains("runs=1\n")
                && without.stdout.contains("killed by signal 10\n")
                && without.stdout.ends_with("main: runs=1\n"),
            "{mode}: reference output:\n{}",
            without.stdout
        );
        let r = with.reports_for("printf");
        assert_eq!(
            r.len(),
            1,
            "{mode}: the one handler run's printf:\n{}",
            with.dump()
        );
        check_handler_report(&with, r[0], "sig_resethand", 10, "SIGUSR1");
    }
}

// 6.
#[test]
fn nested_handler_reports_depth_two() {
    let env = Env::new("sig_nested");
    let prog = env.compile_file("sig_nested", &[]);
    let out = env.run(&[&prog], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "ok1=1 ok2=1 p=1\n");
    let m = out.reports_for("malloc");
    assert_eq!(
        m.len(),
        1,
        "only the SIGUSR2 handler's malloc (main's is normal code):\n{}",
        out.dump()
    );
    check_handler_report(&out, m[0], "sig_nested", 12, "SIGUSR2");
    assert_eq!(n(&m[0]["handler_depth"]), 2, "{}", m[0]);
    let c = out.reports_for("calloc");
    assert_eq!(c.len(), 1, "{}", out.dump());
    check_handler_report(&out, c[0], "sig_nested", 10, "SIGUSR1");
    assert_eq!(
        n(&c[0]["handler_depth"]),
        1,
        "back in the outer handler after the inner one returned: {}",
        c[0]
    );
    assert_eq!(out.reports().len(), 2, "{}", out.dump());
    env.assert_transparent(&[&prog]);
}

// 7.
#[test]
fn jumping_out_of_a_handler_ends_the_handler_context() {
    let env = Env::new("sig_longjmp");
    let plain = env.compile_file("sig_longjmp", &[]);
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("c/sig_longjmp.c"))
            .unwrap();
    let fort = env.compile_c(
        "sig_longjmp_fortified",
        &src,
        &["-O2", "-D_FORTIFY_SOURCE=2"],
    );
    let undef = undefined_symbols(&fort);
    assert!(
        undef.iter().any(|u| u == "__longjmp_chk"),
        "the fortified build must call __longjmp_chk: {undef:?}"
    );
    assert!(
        !undef.iter().any(|u| u == "longjmp" || u == "siglongjmp"),
        "{undef:?}"
    );
    let expected = "round 0: back in main with 10, after the jump, p=1\n\
                    round 1: back in main with 10, after the jump, p=1\n\
                    round 2: back in main with 10, after the jump, p=1\n\
                    jumps=3 q=1\n";
    for (prog, name) in [(&plain, "sig_longjmp"), (&fort, "sig_longjmp_fortified")] {
        for mode in ["siglongjmp", "longjmp"] {
            let cmd = [prog.as_os_str(), mode.as_ref()];
            let out = env.run(&cmd, true, "");
            out.assert_ok();
            assert_eq!(out.stdout, expected, "{name} {mode}:\n{}", out.dump());
            let c = out.reports_for("calloc");
            assert_eq!(
                c.len(),
                1,
                "{name} {mode}: the handler's calloc was seen:\n{}",
                out.dump()
            );
            check_handler_report(&out, c[0], name, 10, "SIGUSR1");
            assert_eq!(n(&c[0]["handler_depth"]), 1, "{}", c[0]);
            assert_eq!(
                out.reports().len(),
                1,
                "{name} {mode}: malloc/strdup/printf after the jump are normal code:\n{}",
                out.dump()
            );
            env.assert_transparent(&cmd);
        }
    }
}

// 8.
#[test]
fn handler_on_an_alternate_stack() {
    let env = Env::new("sig_altstack");
    let prog = env.compile_file("sig_altstack", &[]);
    for size in ["sigstksz", "16k", "tiny"] {
        let cmd = [prog.as_os_str(), size.as_ref()];
        let (with, without) = env.assert_transparent(&cmd);
        assert!(
            without.status.success() && without.stdout.ends_with("main: runs=2 on_alt=1\n"),
            "{size}: the program must work without the preload:\n{}",
            without.dump()
        );
        with.assert_ok();
        let r = with.reports_for("printf");
        assert_eq!(r.len(), 1, "{size}:\n{}", with.dump());
        check_handler_report(&with, r[0], "sig_altstack", 10, "SIGUSR1");
    }
}

// 9.
#[test]
fn handler_that_changes_errno_is_reported() {
    let env = Env::new("sig_errno");
    let prog = env.compile_file("sig_errno", &[]);

    let cmd = [prog.as_os_str(), "spoil".as_ref()];
    let out = env.run(&cmd, true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "errno after the handler: 99\n");
    let e = out.records_of("errno");
    assert_eq!(e.len(), 1, "{}", out.dump());
    let e = e[0];
    assert_eq!(e["context"], "signal-handler", "{e}");
    assert_eq!(n(&e["pid"]), out.pid as u64, "{e}");
    assert_eq!(n(&e["signal"]), 10, "{e}");
    assert_eq!(e["signal_name"], "SIGUSR1", "{e}");
    assert_eq!(e["errno_before"], 7, "{e}");
    assert_eq!(e["errno_after"], 99, "{e}");
    assert_eq!(
        hex(&e["stack"][0]["offset"]),
        symbol_addr(&prog, "spoil"),
        "the site is the handler function: {e}"
    );
    assert!(out.reports().is_empty(), "{}", out.dump());
    env.assert_transparent(&cmd);

    let off = env.run(&cmd, true, "report_errno_spoil=0");
    off.assert_ok();
    assert!(
        off.records_of("errno").is_empty(),
        "report_errno_spoil=0:\n{}",
        off.dump()
    );

    for (mode, stdout) in [
        ("restore", "errno after the handler: 7\n"),
        ("sigterm", "errno after the handler: 99\n"),
    ] {
        let cmd = [prog.as_os_str(), mode.as_ref()];
        let out = env.run(&cmd, true, "");
        out.assert_ok();
        assert_eq!(out.stdout, stdout, "{mode}");
        out.assert_started();
        assert!(
            out.records_of("errno").is_empty() && out.reports().is_empty(),
            "{mode}: no errno record:\n{}",
            out.dump()
        );
        env.assert_transparent(&cmd);
    }
}

// 10a.
#[test]
fn handler_interrupting_malloc_is_definite() {
    let env = Env::new("sig_definite");
    let prog = env.compile_file("sig_definite", &[]);
    let cmd = [prog.as_os_str(), "definite".as_ref()];
    // A delivery lands inside malloc/free most of the time; allow two more runs for bad luck.
    let mut last = None;
    for _ in 0..3 {
        let out = env.run(&cmd, true, "");
        out.assert_ok();
        assert_eq!(out.stdout, "handled>=20: 1, loops>0: 1\n", "{}", out.dump());
        let m = out.reports_for("malloc");
        assert!(!m.is_empty(), "{}", out.dump());
        for r in &m {
            check_handler_report(&out, r, "sig_definite", 10, "SIGUSR1");
            // pthread_kill from another thread of the same process.
            assert_eq!(r["signal_origin"], "self", "{r}");
        }
        assert!(
            m.len() <= 2,
            "one report per site and certainty:\n{}",
            out.dump()
        );
        if m.iter().any(|r| r["certainty"] == "definite") {
            let d = m.iter().find(|r| r["certainty"] == "definite").unwrap();
            // The interrupted context is inside libc's malloc/free: some frame is in libc.
            assert!(
                d["stack"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| s(&f["module"]).contains("libc.so")),
                "{d}"
            );
            return;
        }
        last = Some(out.dump());
    }
    panic!(
        "no definite report in 3 runs of ~300 signals each:\n{}",
        last.unwrap()
    );
}

// 10c. The summary lists each (function, call site) pair once (docs/log-format.md: `distinct`
// counts distinct pairs), even when the same site was reported both as definite and as latent.
#[test]
fn summary_lists_a_site_once_across_certainties() {
    let env = Env::new("sig_summary_certainty");
    let prog = env.compile_file("sig_definite", &[]);
    let cmd = [prog.as_os_str(), "definite".as_ref()];
    for _ in 0..3 {
        let out = env.run(&cmd, true, "");
        out.assert_ok();
        let m = out.reports_for("malloc");
        // One report per site, plus one more only when a definite call follows latent ones.
        let definite = m.iter().filter(|r| r["certainty"] == "definite").count();
        let latent = m.iter().filter(|r| r["certainty"] == "latent").count();
        assert!(
            definite <= 1 && latent <= 1,
            "a site reported twice with one certainty:\n{}",
            out.dump()
        );
        if definite == 1 && latent == 1 {
            assert_eq!(m[0]["site"], m[1]["site"], "one call site:\n{}", out.dump());
            assert_eq!(
                m[0]["certainty"],
                "latent",
                "the upgrade comes second:\n{}",
                out.dump()
            );
        } else if definite + latent == 0 {
            continue;
        }
        let sums = out.summaries();
        assert_eq!(sums.len(), 1, "exit() writes one summary:\n{}", out.dump());
        let e = sums[0];
        let sites = e["sites"].as_array().unwrap();
        let mut pairs: Vec<(String, String)> = sites
            .iter()
            .map(|x| (s(&x["function"]).to_string(), s(&x["site"]).to_string()))
            .collect();
        let listed = pairs.len();
        pairs.sort();
        pairs.dedup();
        assert_eq!(
            listed,
            pairs.len(),
            "a (function, site) pair listed twice: {e}"
        );
        assert_eq!(n(&e["distinct"]), pairs.len() as u64, "{e}");
        return;
    }
    panic!("no run had a malloc report");
}

// 10b.
#[test]
fn handler_interrupting_pure_computation_is_latent_and_async() {
    let env = Env::new("sig_latent");
    let prog = env.compile_file("sig_definite", &[]);
    let cmd = [prog.as_os_str(), "latent".as_ref()];
    let out = env.run(&cmd, true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "handled>=5: 1\n");
    let m = out.reports_for("malloc");
    assert_eq!(m.len(), 1, "{}", out.dump());
    check_handler_report(&out, m[0], "sig_definite", 14, "SIGALRM");
    assert_eq!(m[0]["certainty"], "latent", "{}", m[0]);
    assert_eq!(
        m[0]["signal_origin"], "async",
        "the kernel's timer sent it: {}",
        m[0]
    );
    env.assert_transparent(&cmd);
}

/// Builds tests/programs/sighook (a copy, under the test target's tmp dir) and returns the binary.
fn build_sighook() -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/sighook");
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sighook");
    std::fs::create_dir_all(work.join("src")).unwrap();
    for f in ["Cargo.toml", "src/main.rs"] {
        std::fs::copy(src.join(f), work.join(f)).unwrap_or_else(|e| panic!("copy {f}: {e}"));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = |offline: bool| {
        let mut c = Command::new(&cargo);
        c.args(["build", "--release", "--quiet"]);
        if offline {
            c.arg("--offline");
        }
        c.current_dir(&work)
            .env("CARGO_TARGET_DIR", work.join("target"))
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            .output()
            .expect("run cargo")
    };
    let mut out = build(true);
    if !out.status.success() {
        out = build(false);
    }
    assert!(
        out.status.success(),
        "cargo build of {} failed:\n{}",
        work.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let exe = work.join("target/release/sighook");
    assert!(exe.is_file());
    exe
}

// 11.
#[test]
fn signal_hook_handlers_are_clean() {
    let env = Env::new("sig_hook");
    let exe = build_sighook();
    let out = env.run(&[&exe], true, "");
    out.assert_ok();
    assert_eq!(out.stdout, "flag=true\ncount=7\n", "{}", out.dump());
    out.assert_started();
    assert!(
        out.reports().is_empty()
            && out.records_of("errno").is_empty()
            && out.summaries().is_empty(),
        "signal-hook's handler is async-signal-safe:\n{}",
        out.dump()
    );
    env.assert_transparent(&[&exe]);
}

// 12.
#[test]
fn signal_storm_with_concurrent_reinstalls() {
    let env = Env::new("sig_storm");
    let prog = env.compile_file("sig_storm", &[]);
    const N: u64 = 100_000;
    let count = N.to_string();
    let cmd = [prog.as_os_str(), count.as_ref()];
    let t = Instant::now();
    let out = env.run(&cmd, true, "");
    let took = t.elapsed();
    out.assert_ok();
    assert_eq!(
        out.stdout,
        format!("handler runs: {N}\nreinstalls>0: 1\n"),
        "{}",
        out.dump()
    );
    let r = out.reports_for("printf");
    assert_eq!(r.len(), 1, "one printf report:\n{}", out.dump());
    assert_eq!(out.reports().len(), 1, "{}", out.dump());
    check_handler_report(&out, r[0], "sig_storm", 10, "SIGUSR1");
    let sums = out.summaries();
    assert_eq!(sums.len(), 1, "{}", out.dump());
    let counted: u64 = sums[0]["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["function"] == "printf" && x["site"] == r[0]["site"])
        .map(|x| n(&x["count"]))
        .sum();
    assert_eq!(counted, N, "every handler run counted: {}", sums[0]);
    assert!(
        took < Duration::from_secs(30),
        "{N} signals took {took:?} under the preload"
    );
}

/// A fork child of a process whose other thread was setting a handler (the library's writer flag
/// for that signal held, by a thread the child does not have) can still set the handler itself:
/// the wait for the flag is bounded. It used to spin forever.
#[test]
fn sigaction_in_a_fork_child_of_a_busy_setter_returns() {
    let env = Env::new("sig_fork_busy");
    let prog = env.compile_c(
        "sigaction_fork_busy",
        include_str!("c/sigaction_fork_busy.c"),
        &["-O2", "-pthread"],
    );
    let out = env.run(&[prog.as_os_str()], true, "");
    assert!(out.status.success(), "{}", out.dump());
    assert_eq!(out.stdout, "forks ok\n", "{}", out.dump());
}

/// `rt_sigaction` calls `strace -f -c` counts for `cmd` (None when strace is missing outside CI).
fn rt_sigaction_calls(env: &Env, cmd: &[&std::path::Path], preload: &str) -> Option<u64> {
    if !strace_usable() {
        return None;
    }
    let text = strace_output(
        &env.dir,
        &["-f", "-c", "-e", "trace=rt_sigaction"],
        cmd,
        preload.as_ref(),
    );
    Some(
        text.lines()
            .find(|l| l.trim_end().ends_with("rt_sigaction"))
            .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
            .unwrap_or(0),
    )
}

/// A program initialised from an earlier constructor (a library's constructor made an interposed
/// call before ours ran, as libselinux's does in sed, mv, mkdir…): our constructor asks the
/// kernel only about the signals `/proc/self/status` shows a handler for, not all 62 (it made
/// 61 `rt_sigaction` calls in every such process).
#[test]
fn early_initialisation_asks_about_few_signals() {
    let env = Env::new("early_init_signals");
    let early = env.compile_c(
        "libearly.so",
        "#include <stdlib.h>\n\
         __attribute__((constructor)) static void early(void) {\n\
             void *(*volatile m)(size_t) = malloc;\n\
             free(m(16));\n\
         }\n",
        &["-shared", "-fPIC"],
    );
    let prog = env.compile_c("plain", "int main(void) { return 0; }\n", &[]);
    let with_lib = format!("{} {}", env.lib.display(), early.display());
    let Some(n) = rt_sigaction_calls(&env, &[&prog], &with_lib) else {
        return;
    };
    let Some(base) = rt_sigaction_calls(&env, &[&prog], &early.display().to_string()) else {
        return;
    };
    eprintln!("rt_sigaction: {n} with the library, {base} without");
    assert!(
        n <= base + 4,
        "{n} rt_sigaction calls with the library, {base} without: all 62 signals asked about?"
    );
}
