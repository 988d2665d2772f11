//! Symbolization is proportional to the findings, not to the size of the binaries' debug info:
//! a real program linked with a big library (its own, with hundreds of compile units of DWARF)
//! and libc (whose separate debug info, when installed, is tens of megabytes, compressed) makes
//! one finding; the report must open only the modules its stack names, prepare DWARF only for
//! the program's own module, and inflate nothing. Counts, not timings (see
//! `assafe_cli::symbolize::SymbolizerStats`).

mod common;

use assafe_cli::analyze;
use assafe_cli::logs::Logs;
use assafe_cli::symbolize::Symbolizer;
use common::*;
use std::fmt::Write;
use std::fs;

/// Compile units in the big library.
const UNITS: usize = 300;

#[test]
fn one_finding_reads_only_what_its_stack_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // libbig.so: UNITS compile units with debug info, one of them called before the fork.
    let mut objs = Vec::new();
    for i in 0..UNITS {
        let mut src = String::new();
        writeln!(src, "int big_{i}(int x) {{ return x * {i} + 1; }}").unwrap();
        writeln!(src, "struct s_{i} {{ int a[{i} + 1]; double d; }} v_{i};").unwrap();
        let c = d.join(format!("big_{i}.c"));
        fs::write(&c, src).unwrap();
        let o = d.join(format!("big_{i}.o"));
        let st = std::process::Command::new("cc")
            .args(["-g", "-O1", "-fPIC", "-c", "-o"])
            .arg(&o)
            .arg(&c)
            .status()
            .unwrap();
        assert!(st.success());
        objs.push(o);
    }
    let lib = d.join("libbig.so");
    let st = std::process::Command::new("cc")
        .args(["-shared", "-o"])
        .arg(&lib)
        .args(&objs)
        .status()
        .unwrap();
    assert!(st.success());
    let prog_src = r#"#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
int big_7(int);
static void *spin(void *a) { (void)a; for (;;) pause(); return 0; }
__attribute__((noinline)) static void child_work(void) {
    void *m = malloc(100); /* BUG */
    __asm__ volatile("" :: "r"(m) : "memory");
    _exit(0);
}
int main(void) {
    pthread_t t;
    pthread_create(&t, 0, spin, 0);
    if (big_7(1) != 8) return 9;
    pid_t p = fork();
    if (p == 0)
        child_work();
    int st;
    waitpid(p, &st, 0);
    return 0;
}
"#;
    let lib_dir = format!("-L{}", d.display());
    let rpath = format!("-Wl,-rpath,{}", d.display());
    fs::write(d.join("prog.c"), prog_src).unwrap();
    let prog = d.join("prog");
    let st = std::process::Command::new("cc")
        .args(["-g", "-O1", "-pthread", "-o"])
        .arg(&prog)
        .arg(d.join("prog.c"))
        .args([&lib_dir, &rpath, "-lbig"])
        .status()
        .unwrap();
    assert!(st.success());

    let logs_dir = d.join("logs");
    let o = output(
        assafe()
            .args(["run", "--keep-logs"])
            .arg(&logs_dir)
            .arg("--")
            .arg(&prog)
            .env("ASSAFE_LIB", library()),
    );
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));

    let logs = Logs::read(std::slice::from_ref(&logs_dir)).unwrap();
    let mut sym = Symbolizer::new();
    let report = analyze::analyze(&logs, &[], &mut sym, Vec::new());
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    let f = &report.findings[0];
    assert_eq!(f.function, "malloc");
    // Still symbolized: the program's frames by DWARF, libc's by its symbol tables.
    let names: Vec<&str> = f
        .stack
        .iter()
        .filter_map(|fr| fr.function.as_deref())
        .collect();
    assert!(names.contains(&"child_work"), "{names:?}");
    assert!(names.contains(&"main"), "{names:?}");
    let user = f
        .user_frame
        .map(|i| &f.stack[i])
        .expect("a frame in the program");
    assert_eq!(user.line, Some(line_of(prog_src, "/* BUG */")));
    assert!(
        f.stack
            .iter()
            .any(|fr| fr.module.as_deref().is_some_and(|m| m.contains("libc.so"))),
        "the stack goes through libc: {:#?}",
        f.stack
    );

    let stats = &sym.stats;
    let prog_path = prog.to_string_lossy().into_owned();
    // Only the modules the stack names: never libbig.so, which the stack does not name.
    assert!(
        !stats.modules_opened.iter().any(|m| m.contains("libbig")),
        "{stats:#?}"
    );
    assert!(
        !report
            .findings
            .iter()
            .flat_map(|f| &f.stack)
            .any(|fr| fr.module.as_deref().is_some_and(|m| m.contains("libbig"))),
        "libbig.so is not in the stack"
    );
    // DWARF for the program only: libc's (compressed, when libc6-dbg is installed) is never
    // prepared, nothing is inflated.
    assert_eq!(stats.dwarf_modules, vec![prog_path], "{stats:#?}");
    assert_eq!(stats.bytes_decompressed, 0, "{stats:#?}");
}
