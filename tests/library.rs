//! Checks on the library binary itself: it must not depend on anything that allocates or locks,
//! and the generated symbol table must match the sources and libc.

use assafe_tests::*;

/// Exactly what the library may import.
const ALLOWED: &[&str] = &[
    "__errno_location",
    "__libc_single_threaded",
    "_r_debug",
    "environ",
    "getauxval",
    "memcpy",
    "memmove",
    "memset",
    "memcmp",
    "bcmp",
    "strlen",
    "dl_iterate_phdr",
    // Returns the address of a static string (no lock, no allocation): the glibc version that
    // picks the rows of data/fork-resets.tsv.
    "gnu_get_libc_version",
    // glibc's list of open stdio streams (a data object, only read: process hygiene's
    // exit-in-child check looks for output a fork child inherited).
    "_IO_list_all",
];

/// May be imported, but only as weak references.
const ALLOWED_WEAK: &[&str] = &[
    "_ITM_deregisterTMCloneTable",
    "_ITM_registerTMCloneTable",
    "__gmon_start__",
    "__cxa_finalize",
];

/// Named explicitly so that the failure message says why.
const FORBIDDEN: &[&str] = &[
    "malloc",
    "calloc",
    "realloc",
    "free",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "__rust_alloc",
    "__rust_dealloc",
    "__rust_realloc",
    "__rust_alloc_zeroed",
    "pthread_mutex_lock",
    "pthread_mutex_unlock",
    "pthread_rwlock_rdlock",
    "pthread_rwlock_wrlock",
    "pthread_key_create",
    "pthread_getspecific",
    "__tls_get_addr",
    "__cxa_thread_atexit_impl",
    "dlsym",
    "dlopen",
];

#[test]
fn library_imports_nothing_that_allocates_or_locks() {
    let lib = library();
    let text = nm(&["-D", "--undefined-only"], &lib);
    let mut bad = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(kind), Some(sym)) = (it.next(), it.next()) else {
            continue;
        };
        let name = sym.split('@').next().unwrap();
        let weak = kind == "w" || kind == "v";
        if FORBIDDEN.contains(&name) {
            bad.push(format!("{name} (allocator/lock: forbidden)"));
        } else if ALLOWED.contains(&name) {
        } else if ALLOWED_WEAK.contains(&name) {
            if !weak {
                bad.push(format!(
                    "{name} (allowed only as a weak reference, is '{kind}')"
                ));
            }
        } else {
            bad.push(format!("{name} (not in the allowed set)"));
        }
    }
    assert!(
        bad.is_empty(),
        "libassafe.so imports symbols it must not:\n  {}\nfull list:\n{text}",
        bad.join("\n  ")
    );
}

#[test]
fn symbol_table_check_passes() {
    let root = repo_root();
    let script = root.join("scripts/gen-symbols.py");
    if !script.is_file() {
        eprintln!("skipped: {} does not exist yet", script.display());
        return;
    }
    let out = std::process::Command::new("python3")
        .arg(&script)
        .args(["--check", "--check-libc"])
        .current_dir(&root)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python3 scripts/gen-symbols.py --check --check-libc failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The loadable segments leave no page unmapped between them: a hole costs every process one more
/// mapping and one more `mprotect` at load (and one more mapping to copy at every fork). The
/// writable segment after RELRO started on a fresh page whenever its first section was
/// page-aligned, until `build.rs` placed `assafe_hot` after `.data` explicitly.
#[test]
fn loadable_segments_leave_no_hole() {
    let out = std::process::Command::new("readelf")
        .args(["-lW"])
        .arg(library())
        .output()
        .expect("readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    let mut loads: Vec<(u64, u64)> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("LOAD "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (hex(f[2]), hex(f[5])) // VirtAddr, MemSiz
        })
        .collect();
    loads.sort();
    assert!(loads.len() >= 2, "{text}");
    const PAGE: u64 = 4096;
    for w in loads.windows(2) {
        let last_page = (w[0].0 + w[0].1 - 1) / PAGE;
        let next_page = w[1].0 / PAGE;
        assert!(
            next_page <= last_page + 1,
            "a hole between segments at {:#x} and {:#x}:\n{text}",
            w[0].0,
            w[1].0
        );
    }
}
