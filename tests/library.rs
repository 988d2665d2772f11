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
