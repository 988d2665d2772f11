//! Symbolization is proportional to the findings, not to the size of the binaries' debug info:
//! a real program linked with a big library (its own, with hundreds of compile units of DWARF,
//! whose code makes the unsafe call), another library it calls before (not in the stack) and libc
//! (whose separate debug info, when installed, is tens of megabytes, compressed) makes one
//! finding; the report must open only the modules its stack names, parse only the compile units
//! its frames fall in, never libc's DWARF, and inflate nothing. Counts, not timings (see
//! `assafe_cli::symbolize::SymbolizerStats`).

mod common;

use assafe_cli::analyze;
use assafe_cli::logs::Logs;
use assafe_cli::symbolize::Symbolizer;
use common::*;
use std::fmt::Write;
use std::fs;
use std::path::Path;
use std::process::Command;

/// Compile units in the big library (besides the one that makes the call).
const UNITS: usize = 300;

fn cc_cmd(args: &[&str], out: &Path, inputs: &[&Path], after: &[&str]) {
    let o = Command::new("cc")
        .args(args)
        .arg("-o")
        .arg(out)
        .args(inputs)
        .args(after)
        .output()
        .unwrap();
    assert!(o.status.success(), "cc: {}", stderr(&o));
}

const ENTRY: &str = r#"#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
static void *spin(void *a) { (void)a; for (;;) pause(); return 0; }
__attribute__((noinline)) void big_child(void) {
    void *m = malloc(100); /* BUG */
    __asm__ volatile("" :: "r"(m) : "memory");
    _exit(0);
}
int big_entry(void) {
    pthread_t t;
    pthread_create(&t, 0, spin, 0);
    pid_t p = fork();
    if (p == 0)
        big_child();
    int st;
    waitpid(p, &st, 0);
    return 0;
}
"#;

const PROG: &str = r#"int big_entry(void);
int big_7(int);
int other(int);
int main(void) {
    if (big_7(1) != 8 || other(1) != 2) return 9;
    return big_entry();
}
"#;

#[test]
fn one_finding_reads_only_what_its_stack_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // libbig.so: UNITS compile units with debug info, and the one whose code makes the call.
    let mut objs = Vec::new();
    for i in 0..UNITS {
        let mut src = String::new();
        writeln!(src, "int big_{i}(int x) {{ return x * {i} + 1; }}").unwrap();
        writeln!(src, "struct s_{i} {{ int a[{i} + 1]; double d; }} v_{i};").unwrap();
        let c = d.join(format!("big_{i}.c"));
        fs::write(&c, src).unwrap();
        let o = d.join(format!("big_{i}.o"));
        cc_cmd(&["-g", "-O1", "-fPIC", "-c"], &o, &[&c], &[]);
        objs.push(o);
    }
    let entry = d.join("big_entry.c");
    fs::write(&entry, ENTRY).unwrap();
    let mut inputs: Vec<&Path> = objs.iter().map(|p| p.as_path()).collect();
    inputs.push(&entry);
    let lib = d.join("libbig.so");
    cc_cmd(
        &["-g", "-O1", "-fPIC", "-shared", "-pthread"],
        &lib,
        &inputs,
        &[],
    );
    // Another library with debug info, called before the fork: not in the stack.
    let other_src = d.join("other.c");
    fs::write(&other_src, "int other(int x) { return x + 1; }\n").unwrap();
    cc_cmd(
        &["-g", "-O1", "-fPIC", "-shared"],
        &d.join("libother.so"),
        &[&other_src],
        &[],
    );
    let prog_src = d.join("prog.c");
    fs::write(&prog_src, PROG).unwrap();
    let prog = d.join("prog");
    let lib_dir = format!("-L{}", d.display());
    let rpath = format!("-Wl,-rpath,{}", d.display());
    cc_cmd(
        &["-g", "-O1"],
        &prog,
        &[&prog_src],
        &[&lib_dir, &rpath, "-lbig", "-lother"],
    );

    let logs_dir = d.join("logs");
    let o = output(
        assafe()
            .args(["run", "--keep-logs"])
            .arg(&logs_dir)
            .arg("--lib")
            .arg(library())
            .arg("--")
            .arg(&prog),
    );
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));

    let logs = Logs::read(std::slice::from_ref(&logs_dir)).unwrap();
    let mut sym = Symbolizer::new();
    let report = analyze::analyze(&logs, &[], &mut sym, Vec::new());
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    let f = &report.findings[0];
    assert_eq!(f.function, "malloc");
    // Still symbolized: the program's and the library's frames by DWARF, libc's by its symbol
    // tables.
    let names: Vec<&str> = f
        .stack
        .iter()
        .filter_map(|fr| fr.function.as_deref())
        .collect();
    for want in ["big_child", "big_entry", "main"] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    let user = f
        .user_frame
        .map(|i| &f.stack[i])
        .expect("a frame in your code");
    assert_eq!(user.function.as_deref(), Some("big_child"));
    assert!(
        user.file
            .as_deref()
            .is_some_and(|p| p.ends_with("big_entry.c")),
        "{user:?}"
    );
    assert_eq!(user.line, Some(line_of(ENTRY, "/* BUG */")), "{user:?}");
    let main = f
        .stack
        .iter()
        .find(|fr| fr.function.as_deref() == Some("main"))
        .unwrap();
    assert_eq!(
        main.line,
        Some(line_of(PROG, "return big_entry")),
        "{main:?}"
    );
    assert!(
        f.stack
            .iter()
            .any(|fr| fr.module.as_deref().is_some_and(|m| m.contains("libc.so"))),
        "the stack goes through libc: {:#?}",
        f.stack
    );

    let stats = &sym.stats;
    // Only the modules the stack names: never libother.so.
    assert!(
        !stats.modules_opened.iter().any(|m| m.contains("libother")),
        "{stats:#?}"
    );
    // DWARF for the library and the program only: libc's (compressed, when libc6-dbg is
    // installed) is never prepared, nothing is inflated.
    let want = vec![
        lib.to_string_lossy().into_owned(),
        prog.to_string_lossy().into_owned(),
    ];
    assert_eq!(stats.dwarf_modules, want, "{stats:#?}");
    assert_eq!(stats.bytes_decompressed, 0, "{stats:#?}");
    // One compile unit each (big_entry.c, prog.c), not the library's UNITS others.
    assert_eq!(stats.units_parsed, 2, "{stats:#?}");
    assert_eq!(stats.whole_modules, 0, "{stats:#?}");
}
