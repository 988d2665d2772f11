//! Generates the interposition stubs and the symbol tables from `symbols.txt`.
//!
//! `symbols.txt` is the single list of interposed symbols, read by `build/symbols_txt.rs` (the
//! one parser, shared with the tests). Two files are written to `OUT_DIR`:
//! - `symbols.rs` (included by `src/libc/symbols.rs`): the `Class` enum, the flag bits, and per
//!   symbol its name (in one byte blob with `u16` offsets: no pointer, so no load-time
//!   relocation), GNU hash (precomputed here), version, reason (an index into the few distinct
//!   words), flags, class and an `IDX_<name>` constant;
//! - `stubs.rs` (included by `src/stubs.rs`): one exported naked stub per interposed symbol, and
//!   the block of lazy-resolution trampolines (entry `i` at `i * LAZY_STRIDE` from its start:
//!   `r11 = i`, jump to `dispatch::lazy_entry`), from the template of the target architecture
//!   ([`x86_64`] below, the one place its text lives).
//!
//! Special classes (fork, vfork, signal dispositions…) get a stub that always takes the slow path,
//! which sends the call on to their hand-written wrapper in `src/contexts/`.

use std::fmt::Write as _;
use std::path::PathBuf;

#[path = "build/symbols_txt.rs"]
mod symbols_txt;

#[path = "build/libc_exports.rs"]
mod libc_exports;

use symbols_txt::{CLASSES, FLAG_BITS, Row};

/// Paths the stub templates name (`{slots}`, `{alive}`, `{slow}`, `{lazy}`).
const OPERANDS: [(&str, &str); 4] = [
    ("slots", "crate::libc::symbols::SLOTS"),
    ("alive", "crate::libc::symbols::ALIVE"),
    ("slow", "crate::dispatch::slow_entry"),
    ("lazy", "crate::dispatch::lazy_entry"),
];

/// The stub templates of aarch64. `{slots}`, `{alive}`, `{slow}` as on x86_64; the index goes
/// to the slow path in x16. Only x16/x17 change on the fast path (the intra-procedure-call
/// scratch registers, which a PLT stub clobbers too): arguments in x0–x8 and v0–v7, the stack
/// and x30 reach the real function intact.
mod aarch64 {
    /// A stub that always takes the slow path.
    pub fn always_slow(i: usize) -> Vec<String> {
        vec![format!("mov x16, #{i}"), "b {slow}".into()]
    }

    /// The fast path: load the state byte through the initial-exec GOT slot and tpidr_el0, test
    /// it, then branch to the real function through its slot (8 instructions). Cold stubs also
    /// test the fork-sentinel byte.
    pub fn checked(i: usize, hot: bool) -> Vec<String> {
        let off = i * 8;
        let mut v: Vec<String> = vec![
            "adrp x16, :gottprel:assafe_tls".into(),
            "ldr x16, [x16, :gottprel_lo12:assafe_tls]".into(),
            "mrs x17, tpidr_el0".into(),
            "ldrb w16, [x17, x16]".into(),
            "cbnz w16, 2f".into(),
        ];
        if !hot {
            v.push("adrp x16, {alive}".into());
            v.push("ldr x16, [x16, :lo12:{alive}]".into());
            v.push("ldrb w16, [x16]".into());
            v.push("cbz w16, 2f".into());
        }
        v.push(format!("adrp x16, {{slots}}+{off}"));
        v.push(format!("ldr x16, [x16, :lo12:{{slots}}+{off}]"));
        v.push("br x16".into());
        v.push("2:".into());
        v.push(format!("mov x16, #{i}"));
        v.push("b {slow}".into());
        v
    }

    /// `syscall()`: a `futex` call takes the hot fast path (see the x86_64 template).
    pub fn syscall(i: usize) -> Vec<String> {
        let mut v: Vec<String> = vec![format!("cmp x0, #{SYS_FUTEX}"), "b.ne 2f".into()];
        v.extend(checked(i, true));
        v
    }

    const SYS_FUTEX: usize = 98;

    /// An fd-making call whose flags ask for close-on-exec (see the x86_64 template).
    pub fn fd_cloexec(i: usize, arg: usize, bit: u32) -> Vec<String> {
        let mut v: Vec<String> = vec![format!("tst w{arg}, #{bit:#x}"), "b.eq 2f".into()];
        v.extend(checked(i, true));
        v
    }

    /// Distance between two lazy trampolines: `mov x16, #i` and `b` (8 bytes), padded to 16.
    pub const LAZY_STRIDE: usize = 16;

    /// The block of lazy trampolines (see the x86_64 template).
    pub fn lazy_trampolines(n: usize) -> Vec<String> {
        let mut v: Vec<String> = vec![
            ".pushsection .text.assafe_lazy,\"ax\",%progbits".into(),
            ".balign 16".into(),
            ".globl assafe_lazy_trampolines".into(),
            ".hidden assafe_lazy_trampolines".into(),
            "assafe_lazy_trampolines:".into(),
        ];
        for i in 0..n {
            v.push(format!("mov x16, #{i}"));
            v.push("b {lazy}".into());
            v.push(".balign 16".into());
        }
        v.push(".popsection".into());
        v
    }
}

/// The stub templates of x86_64. `{slots}` is the table of real addresses, `{alive}` the
/// fork-sentinel pointer, `{slow}` the common slow path (entered with the symbol index in r11).
mod x86_64 {
    /// A stub that always takes the slow path.
    pub fn always_slow(i: usize) -> Vec<String> {
        vec![format!("mov r11d, {i}"), "jmp {slow}".into()]
    }

    /// The fast path: one TLS byte test, then a tail jump to the real function (4 instructions).
    /// Cold stubs also test the fork-sentinel byte.
    pub fn checked(i: usize, hot: bool) -> Vec<String> {
        let off = i * 8;
        let mut v: Vec<String> = vec![
            "mov r11, qword ptr [rip + assafe_tls@GOTTPOFF]".into(),
            "cmp byte ptr fs:[r11], 0".into(),
            "jne 2f".into(),
        ];
        if !hot {
            v.push("mov r11, qword ptr [rip + {alive}]".into());
            v.push("cmp byte ptr [r11], 0".into());
            v.push("je 2f".into());
        }
        v.push(format!("jmp qword ptr [rip + {{slots}} + {off}]"));
        v.push("2:".into());
        v.push(format!("mov r11d, {i}"));
        v.push("jmp {slow}".into());
        v
    }

    /// `syscall()`: a `futex` call (the first argument; Rust's std locks, condvars and thread
    /// parking all go through it) takes the hot fast path (+6 instructions); every other number
    /// takes the slow path, which passes it on unless it can change the log's reachability.
    pub fn syscall(i: usize) -> Vec<String> {
        let mut v: Vec<String> = vec![format!("cmp rdi, {SYS_FUTEX}"), "jne 2f".into()];
        v.extend(checked(i, true));
        v
    }

    const SYS_FUTEX: usize = 202;

    /// An fd-making call (class `fd`) whose flags argument (`arg`, 0-based) can ask for
    /// close-on-exec: with `bit` set it cannot leak an fd, so it takes the hot fast path (+6
    /// instructions); without, the slow path notes where the fd was made.
    pub fn fd_cloexec(i: usize, arg: usize, bit: u32) -> Vec<String> {
        const REGS: [&str; 4] = ["edi", "esi", "edx", "ecx"];
        let mut v: Vec<String> = vec![format!("test {}, {bit:#x}", REGS[arg]), "jz 2f".into()];
        v.extend(checked(i, true));
        v
    }

    /// Distance between two lazy trampolines: each is `mov r11d, imm32` (6 bytes) and
    /// `jmp rel32` (5 bytes, or 2 if the assembler shortens it), padded to 16 by `.balign`.
    pub const LAZY_STRIDE: usize = 16;

    /// The block of lazy trampolines: a hidden label at its 16-aligned start, then per index
    /// `mov r11d, i; jmp {lazy}` padded to [`LAZY_STRIDE`] bytes. An unresolved slot points at
    /// its trampoline, so the first call through the fast path resolves it.
    pub fn lazy_trampolines(n: usize) -> Vec<String> {
        let mut v: Vec<String> = vec![
            ".pushsection .text.assafe_lazy,\"ax\",@progbits".into(),
            ".balign 16".into(),
            ".globl assafe_lazy_trampolines".into(),
            ".hidden assafe_lazy_trampolines".into(),
            "assafe_lazy_trampolines:".into(),
        ];
        for i in 0..n {
            v.push(format!("mov r11d, {i}"));
            v.push("jmp {lazy}".into());
            v.push(".balign 16".into());
        }
        v.push(".popsection".into());
        v
    }
}

fn lazy_block(arch: &str, n: usize) -> (usize, Vec<String>) {
    match arch {
        "x86_64" => (x86_64::LAZY_STRIDE, x86_64::lazy_trampolines(n)),
        "aarch64" => (aarch64::LAZY_STRIDE, aarch64::lazy_trampolines(n)),
        other => panic!("no lazy trampoline template for target arch {other}: add one to build.rs"),
    }
}

/// A stub's assembly lines as `asm!` string arguments, and the `sym` operands (of [`OPERANDS`])
/// they name, each list joined with `sep`.
fn asm_text(lines: &[String], sep: &str) -> (String, String) {
    let body = lines
        .iter()
        .map(|l| format!("{l:?},"))
        .collect::<Vec<_>>()
        .join(sep);
    let operands = OPERANDS
        .iter()
        .filter(|(name, _)| body.contains(&format!("{{{name}}}")))
        .map(|(name, path)| format!("{name} = sym {path},"))
        .collect::<Vec<_>>()
        .join(sep);
    (body, operands)
}

/// The GNU hash of a symbol name (what `DT_GNU_HASH` tables are keyed by).
fn gnu_hash(name: &str) -> u32 {
    name.bytes()
        .fold(5381u32, |h, c| h.wrapping_mul(33).wrapping_add(c as u32))
}

/// The one stub with a template of its own: `syscall()` (sandbox class, always slow but for
/// `futex`, which is on the hot path of every Rust program).
const SYSCALL: &str = "syscall";

/// The fd-making calls (class `fd`) whose flags can ask for close-on-exec: (name, flags argument
/// (0-based), the close-on-exec bit). `O_CLOEXEC` = `SOCK_CLOEXEC` = `EFD_CLOEXEC` =
/// `EPOLL_CLOEXEC` = `SFD_CLOEXEC` = `TFD_CLOEXEC` = `IN_CLOEXEC` = 0x80000 on Linux x86_64 and
/// aarch64 (glibc and musl alike: the kernel's values); `MFD_CLOEXEC` = 1. Such a call, when the
/// bit is set, makes no fd an exec could leak, so its stub takes the fast path: the table of
/// where fds were made (hygiene/fds/made.rs) keeps a stale entry for that fd number, which the
/// exec-time check never believes (the fd has close-on-exec, and its identity is compared).
const FD_CLOEXEC_FLAG: &[(&str, usize, u32)] = &[
    ("open", 1, 0x80000),
    ("open64", 1, 0x80000),
    ("__open_2", 1, 0x80000),
    ("__open64_2", 1, 0x80000),
    ("openat", 2, 0x80000),
    ("openat64", 2, 0x80000),
    ("__openat_2", 2, 0x80000),
    ("__openat64_2", 2, 0x80000),
    ("pipe2", 1, 0x80000),
    ("socket", 1, 0x80000),
    ("socketpair", 1, 0x80000),
    ("accept4", 3, 0x80000),
    ("dup3", 2, 0x80000),
    ("eventfd", 1, 0x80000),
    ("epoll_create1", 0, 0x80000),
    ("signalfd", 2, 0x80000),
    ("timerfd_create", 1, 0x80000),
    ("inotify_init1", 0, 0x80000),
    ("memfd_create", 1, 1),
];

fn stub_body(arch: &str, i: usize, r: &Row) -> Vec<String> {
    let cloexec = FD_CLOEXEC_FLAG.iter().find(|(n, ..)| *n == r.name);
    match arch {
        "x86_64" if r.name == SYSCALL => x86_64::syscall(i),
        "aarch64" if r.name == SYSCALL => aarch64::syscall(i),
        "x86_64" if let Some(&(_, arg, bit)) = cloexec => x86_64::fd_cloexec(i, arg, bit),
        "aarch64" if let Some(&(_, arg, bit)) = cloexec => aarch64::fd_cloexec(i, arg, bit),
        "x86_64" if r.class_info().always_slow => x86_64::always_slow(i),
        "x86_64" => x86_64::checked(i, r.hot),
        "aarch64" if r.class_info().always_slow => aarch64::always_slow(i),
        "aarch64" => aarch64::checked(i, r.hot),
        other => panic!("no stub template for target arch {other}: add one to build.rs"),
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let path = manifest.join("symbols.txt");
    println!("cargo:rerun-if-changed={}", path.display());
    println!("cargo:rerun-if-changed=build/symbols_txt.rs");
    println!("cargo:rerun-if-changed=build/libc_exports.rs");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    // No C start files (crti, crtbeginS, crtendS, crtn): the library is `no_std`, registers
    // nothing with a DSO handle, and has its constructor in `.init_array`. crtbeginS's
    // `__do_global_dtors_aux` ran at every exit: it wrote its flag `completed.0`, alone on the
    // first page of `.bss` (a page fault per exec, and per fork child that exits), and called
    // `__cxa_finalize` through our own stub (a slot resolved again in every such child). (The musl
    // build links with the host's `cc` too, which would add the same files.)
    if env == "gnu" || env == "musl" {
        println!("cargo:rustc-cdylib-link-arg=-nostartfiles");
    }
    // `assafe_hot` (the statics written at load and per fork, docs/architecture.md) right after
    // `.data`, as an orphan section would land by chance: first in the writable segment, its
    // 2048-byte alignment left the segment's first page unmapped, a hole the loader maps and
    // protects separately (one more system call and one more mapping per process).
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let script = out_dir.join("assafe-hot.ld");
    std::fs::write(
        &script,
        "SECTIONS { assafe_hot : { KEEP(*(assafe_hot)) } } INSERT AFTER .data;\n",
    )
    .unwrap();
    println!("cargo:rustc-cdylib-link-arg=-Wl,-T,{}", script.display());
    let text = std::fs::read_to_string(&path).expect("read symbols.txt");
    let all: Vec<Row> = symbols_txt::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let interposed: Vec<Row> = all
        .iter()
        .filter(|r| r.interposed())
        .cloned()
        .map(|mut r| {
            if r.version == "-" {
                r.version.clear(); // a musl-only name: no version
            }
            r
        })
        .collect();
    let mut side_rows: Vec<Row> = Vec::new();
    let mut compat: std::collections::HashMap<String, Vec<String>> = Default::default();
    let (rows, built_for) = match libc_exports::target_libc(&arch, &env) {
        Some(libc) => {
            let rows = export_filter(&libc, interposed.clone());
            if env != "musl" {
                side_rows = side_filter(&libc, &interposed);
                compat = libc.compat.clone();
            }
            let info = BuiltFor {
                label: musl_label(&manifest, &libc).unwrap_or_else(|| libc.label.clone()),
                path: libc.path.display().to_string(),
                fingerprint: libc.fingerprint,
                side_only: libc.side.len(),
            };
            (rows, info)
        }
        None if arch != "x86_64" => (
            with_arch_versions(&manifest, &arch, interposed.clone()),
            BuiltFor {
                label: format!("glibc 2.36 ({arch}, data/reference)"),
                path: String::new(),
                fingerprint: 0,
                side_only: 0,
            },
        ),
        None => {
            println!(
                "cargo:warning=no libc.so.6 found for the target: stubs follow symbols.txt's \
                 versions (set ASSAFE_LIBC=/path/to/libc.so.6)"
            );
            (
                interposed.clone(),
                BuiltFor {
                    label: "glibc 2.36 (symbols.txt)".into(),
                    path: String::new(),
                    fingerprint: 0,
                    side_only: 0,
                },
            )
        }
    };
    let mut rows: Vec<Row> = if env == "musl" {
        rows.into_iter().map(with_musl_verdict).collect()
    } else {
        rows
    };
    // Rows with one stub per libc version (PER_VERSION) next, then the side-library rows
    // (glibc < 2.34): from VERSIONED_FIRST on, every stub is a versioned definition.
    let (plain, versioned) = split_per_version(rows, &compat);
    rows = plain;
    let versioned_first = rows.len();
    rows.extend(versioned);
    let side_first = rows.len();
    rows.extend(side_rows);
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    side_version_script(&out, &rows[versioned_first..]);
    // Interposed-class names without a stub in this build (the libc lacks them): their IDX_
    // constants lie past NSYMS, and they are not "known" (a running libc that has them is only
    // partially checked).
    let have: std::collections::HashSet<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    let absent: Vec<&str> = interposed
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| !have.contains(n))
        .collect();
    let mut known: Vec<&str> = all
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| !absent.contains(n))
        .collect();
    known.sort_unstable();
    let mut t = tables(&arch, &rows);
    t.push_str(&build_info(&built_for, &absent, &known, rows.len()));
    t.push_str(&musl_versions(&manifest));
    let musl_build = built_for
        .label
        .strip_prefix("musl ")
        .filter(|v| v.split('.').count() == 3 && v.split('.').all(|p| p.parse::<u32>().is_ok()))
        .map_or(0, version_number);
    writeln!(
        t,
        "/// The build's musl version as `MAJOR * 10000 + MINOR * 100 + PATCH` (0: not musl, or a musl\n\
         /// data/reference/exports does not know).\npub const BUILD_MUSL_VERSION: u32 = {musl_build};"
    )
    .unwrap();
    writeln!(
        t,
        "/// The first index of a side-library row (glibc < 2.34: a function only libpthread, \
         libdl, librt, libutil or libanl exports, whose stub is a hidden versioned definition); \
         NSYMS when the build has none.\npub const SIDE_FIRST: usize = {side_first};"
    )
    .unwrap();
    t.push_str(&per_version_constants(&rows, versioned_first, absent.len()));
    std::fs::write(out.join("symbols.rs"), t).unwrap();
    let mut st = stubs(&arch, &rows, versioned_first);
    st.push_str(&side_stubs(&arch, &rows, versioned_first, side_first));
    std::fs::write(out.join("stubs.rs"), st).unwrap();
    let resets = manifest.join("data/fork-resets.tsv");
    println!("cargo:rerun-if-changed={}", resets.display());
    let all = symbols_txt::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let table = std::fs::read_to_string(&resets).expect("read data/fork-resets.tsv");
    let family = if env == "musl" { "musl" } else { "glibc" };
    std::fs::write(
        out.join("fork_resets.rs"),
        fork_resets(&table, &all, &rows, family),
    )
    .unwrap();
}

/// A version of the table as the number `check::libc_version` compares: glibc's `MAJOR.MINOR` as
/// `MAJOR * 100 + MINOR`, musl's `MAJOR.MINOR.PATCH` as `MAJOR * 10000 + MINOR * 100 + PATCH`
/// (`libc::identity::musl_version_number`).
fn version_number(v: &str) -> u32 {
    let parts: Vec<u32> = v
        .split('.')
        .map(|p| {
            p.parse()
                .unwrap_or_else(|_| panic!("fork-resets.tsv: version {v}"))
        })
        .collect();
    assert!(
        parts.iter().skip(1).all(|&p| p < 100),
        "fork-resets.tsv: version {v}"
    );
    match parts[..] {
        [a, b] => a * 100 + b,
        [a, b, c] => a * 10000 + b * 100 + c,
        _ => panic!("fork-resets.tsv: version {v}"),
    }
}

/// `data/fork-resets.tsv`'s rows of the build's libc family (`glibc` or `musl`) as a table of
/// (first version, last version, indices of the interposed symbols whose every lock that fork()
/// resets, ascending): `FORK_RESETS`.
fn fork_resets(table: &str, all: &[Row], rows: &[Row], family: &str) -> String {
    let mut out = String::from(
        "// @generated by build.rs from data/fork-resets.tsv; do not edit.\n\
         /// One row of data/fork-resets.tsv (the build's libc family): from version `min` to `max`\n\
         /// (build.rs `version_number`), fork() resets every lock the symbols `syms` (indices) can take.\n\
         pub struct ForkReset {\n    pub min: u32,\n    pub max: u32,\n    pub syms: &'static [u16],\n}\n\
         pub static FORK_RESETS: &[ForkReset] = &[\n",
    );
    let mut lines = table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .expect("fork-resets.tsv header")
        .split('\t')
        .collect();
    assert_eq!(
        header,
        ["libc", "versions", "class", "functions", "resets", "source"],
        "fork-resets.tsv columns"
    );
    for l in lines {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(f.len(), 6, "fork-resets.tsv: {l}");
        let (libc, versions, class, functions) = (f[0], f[1], f[2], f[3]);
        assert!(
            ["glibc", "musl"].contains(&libc),
            "fork-resets.tsv: libc {libc}"
        );
        assert!(
            !f[5].trim().is_empty(),
            "fork-resets.tsv: a row without its source: {l}"
        );
        let (min, max) = versions
            .split_once('-')
            .unwrap_or_else(|| panic!("fork-resets.tsv: versions {versions}"));
        if libc != family {
            continue;
        }
        let (min, max) = (
            version_number(min),
            if max.is_empty() {
                u32::MAX
            } else {
                version_number(max)
            },
        );
        assert!(
            all.iter().any(|r| r.reason == class),
            "fork-resets.tsv: no symbol of class {class}"
        );
        let (every, listed): (bool, Vec<&str>) = match functions {
            "-" => continue,
            "*" => (true, Vec::new()),
            s if s.starts_with("*-") => (true, s[2..].split(',').collect()),
            s => (false, s.split(',').collect()),
        };
        for name in &listed {
            let r = all
                .iter()
                .find(|r| r.name == *name)
                .unwrap_or_else(|| panic!("fork-resets.tsv: {name} is not in symbols.txt"));
            assert_eq!(
                r.reason, class,
                "fork-resets.tsv: {name} is not of class {class}"
            );
        }
        let syms: Vec<String> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.reason == class && every != listed.contains(&r.name.as_str()))
            .map(|(i, _)| i.to_string())
            .collect();
        writeln!(
            out,
            "    ForkReset {{ min: {min}, max: {max}, syms: &[{}] }}, // {class}",
            syms.join(", ")
        )
        .unwrap();
    }
    out.push_str("];\n");
    out
}

/// Which libc a build is for (written into the generated table).
struct BuiltFor {
    label: String,
    path: String,
    fingerprint: u64,
    side_only: usize,
}

/// The export filter: the interposed rows the build libc exports from libc.so.6 (musl: libc.so)
/// itself, each at the default version that libc gives it. A name it lacks gets no stub (a stub
/// would be a function that weak references and `dlsym` probes find although the libc has none);
/// a name only a side library exports (libpthread, libdl, librt… before glibc 2.34) gets none
/// either: a process that did not load that library must not find it (docs/symbols.md).
fn export_filter(libc: &libc_exports::Libc, rows: Vec<Row>) -> Vec<Row> {
    rows.into_iter()
        .filter_map(|mut r| {
            let e = libc.exports.get(&r.name)?;
            r.version = e.version.clone();
            Some(r)
        })
        .collect()
}

/// The side-library rows (glibc < 2.34): the interposed rows that only libpthread, libdl, librt,
/// libutil or libanl exports, each at that library's default version. Their stubs are exported
/// only as hidden (non-default) versioned definitions, `name@VERSION` (see [`side_stubs`]).
fn side_filter(libc: &libc_exports::Libc, interposed: &[Row]) -> Vec<Row> {
    let mut v: Vec<Row> = interposed
        .iter()
        .filter(|r| !libc.exports.contains_key(&r.name))
        .filter_map(|r| {
            let e = libc.side.get(&r.name)?;
            if e.version.is_empty() {
                return None;
            }
            let mut r = r.clone();
            r.version = e.version.clone();
            Some(r)
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// The version script that defines the version nodes of the versioned stubs — PER_VERSION names
/// and side-library functions (none: no script, the build exports only unversioned symbols). Its first node,
/// `ASSAFE_NO_DEFAULT`, names no symbol: it takes version index 2, which glibc's `check_match`
/// (elf/dl-lookup.c) accepts for an unversioned reference even when hidden; the nodes of the
/// real versions get indices from 3 on, which an unversioned reference never binds to when
/// hidden. Every other exported symbol stays at the base index 1, which a versioned reference
/// still binds to (elf/dl-version.c leaves the base version's hash 0).
fn side_version_script(out: &std::path::Path, side: &[Row]) {
    if side.is_empty() {
        return;
    }
    let mut versions: Vec<&str> = side.iter().map(|r| r.version.as_str()).collect();
    versions.sort();
    versions.dedup();
    let mut script = String::from("ASSAFE_NO_DEFAULT { };\n");
    for v in versions {
        writeln!(script, "{v} {{ }};").unwrap();
    }
    let path = out.join("side-versions.map");
    std::fs::write(&path, script).unwrap();
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        path.display()
    );
    // The base version definition is named after the object: its soname, not the build path.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libassafe.so");
}

/// The stubs of the side-library rows (indices `first..`): the same body as any stub, under a
/// label the cdylib does not export (rustc's version script makes it local), and exported only
/// through `.symver` as `name@VERSION` — a hidden definition, which a versioned reference
/// (`name@VERSION`, made by linking against the side library) binds to and an unversioned one
/// (a weak "is libpthread loaded?" probe, `dlsym`) never does.
fn side_stubs(arch: &str, rows: &[Row], first: usize, side_first: usize) -> String {
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate().skip(first) {
        // A PER_VERSION name's first row is its default version (`name@@VERSION`); its other
        // rows and every side-library row are hidden definitions (`name@VERSION`).
        let default = i < side_first && rows[first..i].iter().all(|x| x.name != r.name);
        let at = if default { "@@" } else { "@" };
        let label = format!("assafe_v_{}_{}", r.name, r.version.replace('.', "_"));
        let mut lines: Vec<String> = vec![
            ".pushsection .text.assafe_side,\"ax\",%progbits".into(),
            ".balign 16".into(),
            format!(".globl {label}"),
            format!(".type {label},%function"),
            format!("{label}:"),
        ];
        lines.extend(stub_body(arch, i, r));
        lines.push(format!(".size {label}, . - {label}"));
        lines.push(".popsection".into());
        lines.push(format!(".symver {label}, {}{at}{}", r.name, r.version));
        let (body, operands) = asm_text(&lines, "\n    ");
        writeln!(
            out,
            "// Versioned stub `{name}{at}{version}` ({class}, {reason}).\n\
             core::arch::global_asm!(\n    {body}\n    {operands}\n);",
            name = r.name,
            version = r.version,
            class = r.class,
            reason = r.reason,
        )
        .unwrap();
    }
    out
}

/// The order-independent hash of a set of exported function names that `libc::identity` computes
/// at run time: the wrapping sum of each name's FNV-1a (64 bit).
fn names_hash<'a>(names: impl Iterator<Item = &'a str>) -> u64 {
    names.fold(0u64, |acc, n| {
        let h = n.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
        });
        acc.wrapping_add(h)
    })
}

/// The musl versions of `data/reference/exports/musl-<version>.tsv`: (version, names hash).
fn musl_table(manifest: &std::path::Path) -> Vec<(String, u64)> {
    let dir = manifest.join("data/reference/exports");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut v: Vec<(String, u64)> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let f = p.file_name()?.to_str()?.to_string();
            let version = f.strip_prefix("musl-")?.strip_suffix(".tsv")?.to_string();
            println!("cargo:rerun-if-changed={}", p.display());
            let text = std::fs::read_to_string(&p).ok()?;
            let names = text
                .lines()
                .filter(|l| !l.starts_with('#') && !l.starts_with("name\t"))
                .filter_map(|l| l.split('\t').next());
            Some((version, names_hash(names)))
        })
        .collect();
    v.sort();
    v
}

/// The generated table of known musl versions (`libc::identity` names a running musl by it:
/// musl has no version nodes and its libc.so no `DT_SONAME`, so its exports tell the version).
fn musl_versions(manifest: &std::path::Path) -> String {
    let t = musl_table(manifest);
    let mut out = String::new();
    writeln!(
        out,
        "/// Known musl versions (data/reference/exports/musl-*.tsv): version and the wrapping sum of\n\
         /// the FNV-1a hashes of the names of the functions it exports.\n\
         pub static MUSL_VERSIONS: [(&str, u64); {}] = [{}];",
        t.len(),
        t.iter()
            .map(|(v, h)| format!("({v:?}, {h:#x})"))
            .collect::<Vec<_>>()
            .join(", ")
    )
    .unwrap();
    out
}

/// A musl build libc's label by its exports (`musl 1.2.3`), when the table knows them.
fn musl_label(manifest: &std::path::Path, libc: &libc_exports::Libc) -> Option<String> {
    if !libc.label.starts_with("musl") {
        return None;
    }
    let h = names_hash(libc.exports.keys().map(|k| k.as_str()));
    musl_table(manifest)
        .into_iter()
        .find(|(_, x)| *x == h)
        .map(|(v, _)| format!("musl {v}"))
}

/// Names whose versions are distinct code (an old binary's `pthread_cond_wait@GLIBC_2.2.5` is
/// not the new one): each version the build libc defines gets its own stub, whose slot holds that
/// same version (scripts/gen-symbols.py PER_VERSION lists the same names).
const PER_VERSION: [&str; 7] = [
    "pthread_cond_init",
    "pthread_cond_wait",
    "pthread_cond_timedwait",
    "pthread_cond_signal",
    "pthread_cond_broadcast",
    "posix_spawn",
    "posix_spawnp",
];

/// Splits off the rows of PER_VERSION names the build libc also defines at compatibility
/// versions: (the other rows, per such name its default row then one row per compatibility
/// version).
fn split_per_version(
    rows: Vec<Row>,
    compat: &std::collections::HashMap<String, Vec<String>>,
) -> (Vec<Row>, Vec<Row>) {
    let (mut plain, mut versioned) = (Vec::new(), Vec::new());
    for r in rows {
        match compat.get(&r.name) {
            Some(vs) if PER_VERSION.contains(&r.name.as_str()) && !r.version.is_empty() => {
                for v in vs {
                    let mut c = r.clone();
                    c.version = v.clone();
                    versioned.push(c);
                }
                versioned.insert(versioned.len() - vs.len(), r);
            }
            _ => plain.push(r),
        }
    }
    (plain, versioned)
}

/// `IDX_<name>_compat` for each PER_VERSION name: the index of its (first) compatibility-version
/// row, or, without one, a value past NSYMS distinct from every other (the hand-written wrappers
/// name it in a `match`).
fn per_version_constants(rows: &[Row], first: usize, nabsent: usize) -> String {
    let mut out = String::new();
    for (k, n) in PER_VERSION.iter().enumerate() {
        let at = (first..rows.len())
            .filter(|&i| rows[i].name == *n)
            .nth(1)
            .unwrap_or(rows.len() + 1 + nabsent + k);
        writeln!(
            out,
            "/// `{n}` at its compatibility version (past NSYMS: the build has none).\n\
             pub const IDX_{n}_compat: usize = {at};"
        )
        .unwrap();
    }
    writeln!(
        out,
        "/// The first index of a row whose stub is a versioned definition.\n\
         pub const VERSIONED_FIRST: usize = {first};"
    )
    .unwrap();
    out
}

/// On musl, the glibc verdict bit carries musl's own verdict (symbols.txt's musl column).
fn with_musl_verdict(mut r: Row) -> Row {
    if let Some(m) = r.musl_unsafe {
        r.glibc_unsafe = m;
    }
    r
}

/// The generated constants that say which libc the build is for, the `IDX_` constants of
/// interposed names without a stub, and the names this build knows.
fn build_info(b: &BuiltFor, absent: &[&str], known: &[&str], nsyms: usize) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "/// The libc this build's stubs were generated for (ASSAFE_LIBC or the build machine's).\n\
         pub const BUILD_LIBC: &str = {:?};\n\
         /// Its path at build time.\npub const BUILD_LIBC_PATH: &str = {:?};\n\
         /// Its fingerprint (libc::identity; 0: unknown, the build read no libc).\n\
         pub const BUILD_FINGERPRINT: u64 = {:#x};\n\
         /// Functions only its side libraries export (those of an interposed class have\n\
         /// hidden versioned stubs from SIDE_FIRST on).\n\
         pub const BUILD_SIDE_ONLY: usize = {};",
        b.label, b.path, b.fingerprint, b.side_only
    )
    .unwrap();
    writeln!(
        out,
        "/// Interposed-class names of symbols.txt this build has no stub for.\npub const NABSENT: usize = {};",
        absent.len()
    )
    .unwrap();
    for (k, n) in absent.iter().enumerate() {
        // Past NSYMS (the vfork-handler pseudo index): never a valid slot, and distinct, so
        // hand-written `match` arms on them stay reachable-looking and never match.
        writeln!(out, "pub const IDX_{n}: usize = {};", nsyms + 1 + k).unwrap();
    }
    let blob: String = known.concat();
    let mut offs = vec![0usize];
    for n in known {
        offs.push(offs.last().unwrap() + n.len());
    }
    writeln!(
        out,
        "/// Every name symbols.txt classifies that this build knows (sorted; interposed-class \
         names without a stub excluded), one blob.\npub const NKNOWN: usize = {};\n\
         pub static KNOWN_BLOB: [u8; {}] = *b\"{}\";\n\
         pub static KNOWN_OFF: [u32; NKNOWN + 1] = [{}];",
        known.len(),
        blob.len(),
        blob,
        offs.iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
    .unwrap();
    out
}

/// symbols.txt's versions are x86_64's (its one source of verdicts): on another architecture
/// each row takes the version that architecture's libc exports it at
/// (`data/reference/libc-exports-<arch>.tsv`, `name<TAB>version`), and a name that libc does not
/// export there (x86-only functions) is not interposed.
fn with_arch_versions(manifest: &std::path::Path, arch: &str, rows: Vec<Row>) -> Vec<Row> {
    let path = manifest.join(format!("data/reference/libc-exports-{arch}.tsv"));
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the libc export list of {arch})", path.display()));
    let versions: std::collections::HashMap<&str, &str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("symbol\t"))
        .filter_map(|l| l.split_once('\t'))
        .collect();
    rows.into_iter()
        .filter_map(|mut r| {
            let v = versions.get(r.name.as_str())?;
            r.version = (*v).to_string();
            Some(r)
        })
        .collect()
}

fn tables(arch: &str, rows: &[Row]) -> String {
    let mut out = String::new();
    let n = rows.len();
    writeln!(
        out,
        "// @generated by build.rs from symbols.txt; do not edit."
    )
    .unwrap();
    writeln!(
        out,
        "/// How the library handles a symbol (the class column of symbols.txt).\n\
         #[derive(Clone, Copy, PartialEq, Eq, Debug)]\npub enum Class {{"
    )
    .unwrap();
    for c in CLASSES.iter().filter(|c| !c.variant.is_empty()) {
        writeln!(out, "    /// `{}`\n    {},", c.word, c.variant).unwrap();
    }
    writeln!(out, "}}").unwrap();
    for (name, value, doc) in FLAG_BITS {
        writeln!(out, "/// {doc}\npub const {name}: u8 = {value};").unwrap();
    }
    writeln!(out, "pub const NSYMS: usize = {n};").unwrap();
    let list = |f: &dyn Fn(&Row) -> String| rows.iter().map(f).collect::<Vec<_>>().join(",\n    ");
    // Names: one blob, symbol i is NAME_BLOB[NAME_OFF[i]..NAME_OFF[i + 1]] (no pointers, so no
    // relocation for the loader to apply at every exec).
    let blob: String = rows.iter().map(|r| r.name.as_str()).collect();
    assert!(
        blob.len() < u16::MAX as usize,
        "names blob exceeds u16 offsets"
    );
    let mut offs = vec![0usize];
    for r in rows {
        offs.push(offs.last().unwrap() + r.name.len());
    }
    writeln!(
        out,
        "/// Every symbol name, concatenated (no NUL).\npub static NAME_BLOB: [u8; {}] = *b\"{}\";",
        blob.len(),
        blob
    )
    .unwrap();
    writeln!(
        out,
        "/// Symbol i's name is NAME_BLOB[NAME_OFF[i]..NAME_OFF[i + 1]].\npub static NAME_OFF: [u16; NSYMS + 1] = [{}];",
        offs.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ")
    )
    .unwrap();
    writeln!(
        out,
        "/// The GNU hash of each name (computed by build.rs).\npub static HASHES: [u32; NSYMS] = [\n    {}\n];",
        list(&|r| format!("{:#010x}", gnu_hash(&r.name)))
    )
    .unwrap();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| gnu_hash(&rows[i].name));
    writeln!(
        out,
        "/// Symbol indices sorted by GNU hash (to find a name met in a symbol table).\npub static HASH_ORDER: [u16; NSYMS] = [{}];",
        order.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
    )
    .unwrap();
    let mut versions: Vec<&str> = rows.iter().map(|r| r.version.as_str()).collect();
    versions.sort();
    versions.dedup();
    writeln!(
        out,
        "/// The distinct version names.\npub const NVERSIONS: usize = {};\npub static VERSION_NAMES: [&[u8]; NVERSIONS] = [{}];",
        versions.len(),
        versions
            .iter()
            .map(|v| format!("b\"{v}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
    .unwrap();
    writeln!(
        out,
        "/// Each symbol's version, as an index into VERSION_NAMES.\npub static VERSIONS: [u8; NSYMS] = [\n    {}\n];",
        list(&|r| versions.iter().position(|v| *v == r.version).unwrap().to_string())
    )
    .unwrap();
    // Reasons: the few distinct words once, and per symbol an index into them.
    let mut words: Vec<&str> = rows.iter().map(|r| r.reason.as_str()).collect();
    words.sort();
    words.dedup();
    assert!(words.len() <= u8::MAX as usize);
    writeln!(
        out,
        "/// The distinct reason words.\npub static REASON_WORDS: [&str; {}] = [{}];",
        words.len(),
        words
            .iter()
            .map(|w| format!("{w:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
    .unwrap();
    writeln!(
        out,
        "/// Each symbol's reason, as an index into REASON_WORDS.\npub static REASON_OF: [u8; NSYMS] = [\n    {}\n];",
        list(&|r| words.iter().position(|w| *w == r.reason).unwrap().to_string())
    )
    .unwrap();
    writeln!(
        out,
        "pub static FLAGS: [u8; NSYMS] = [\n    {}\n];",
        list(&|r| r.flags().to_string())
    )
    .unwrap();
    writeln!(
        out,
        "pub static CLASS: [Class; NSYMS] = [\n    {}\n];",
        list(&|r| format!("Class::{}", r.class_info().variant))
    )
    .unwrap();
    writeln!(
        out,
        "/// Bytes between two lazy trampolines (stubs.rs).\npub const LAZY_STRIDE: usize = {};",
        lazy_block(arch, 0).0
    )
    .unwrap();
    let mut seen = std::collections::HashSet::new();
    for (i, r) in rows.iter().enumerate() {
        if seen.insert(r.name.as_str()) {
            writeln!(out, "pub const IDX_{}: usize = {i};", r.name).unwrap();
        } else {
            // Another version of a PER_VERSION name.
            writeln!(
                out,
                "pub const IDX_{}_at_{}: usize = {i};",
                r.name,
                r.version.replace('.', "_")
            )
            .unwrap();
        }
    }
    out
}

/// The naked stubs of rows `..first` (exported unversioned) and the lazy trampolines of all rows.
fn stubs(arch: &str, rows: &[Row], first: usize) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "// @generated by build.rs from symbols.txt; do not edit."
    )
    .unwrap();
    for (i, r) in rows.iter().enumerate().take(first) {
        let lines = stub_body(arch, i, r);
        let (body, operands) = asm_text(&lines, "\n        ");
        writeln!(
            out,
            "/// Interposer for `{name}` ({class}, {reason}).\n\
             #[unsafe(naked)]\n\
             #[unsafe(export_name = \"{name}\")]\n\
             pub unsafe extern \"C\" fn stub_{name}() {{\n    \
             core::arch::naked_asm!(\n        {body}\n        {operands}\n    );\n}}",
            name = r.name,
            class = r.class,
            reason = r.reason,
        )
        .unwrap();
    }
    let (_, lines) = lazy_block(arch, rows.len());
    let body = lines
        .iter()
        .map(|l| format!("{l:?},"))
        .collect::<Vec<_>>()
        .join("\n    ");
    writeln!(
        out,
        "// The lazy trampolines: entry i (at i * LAZY_STRIDE) resolves slot i on its first call.\n\
         core::arch::global_asm!(\n    {body}\n    lazy = sym crate::dispatch::lazy_entry,\n);"
    )
    .unwrap();
    out
}
