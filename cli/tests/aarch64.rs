//! The CLI with aarch64 programs: the preflight calls an aarch64 program checkable when the
//! library is the aarch64 build (and the host's x86_64 programs not), and the symbolizer names
//! functions of aarch64 modules. Needs Debian's gcc-aarch64-linux-gnu and the cross-built
//! library (`scripts/test` provides both); skipped with a printed reason otherwise, a failure
//! with `ASSAFE_REQUIRE_AARCH64=1`.

use assafe_cli::logs::RawFrame;
use assafe_cli::preflight::{use_library, why_unchecked};
use assafe_cli::symbolize::Symbolizer;
use object::{Object, ObjectSymbol};
use std::path::{Path, PathBuf};
use std::process::Command;

fn skip(why: &str) {
    let msg = format!("aarch64 CLI test SKIPPED: {why}");
    if std::env::var_os("ASSAFE_REQUIRE_AARCH64").is_some_and(|v| v == "1") {
        panic!("{msg}; ASSAFE_REQUIRE_AARCH64=1");
    }
    eprintln!("{msg}");
}

fn aarch64_library() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        root.join(target)
    };
    let lib = target.join("aarch64-unknown-linux-gnu/release/libassafe.so");
    lib.is_file().then_some(lib)
}

fn cross_cc(dir: &Path, name: &str, src: &str) -> Option<PathBuf> {
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let exe = dir.join(name);
    let out = Command::new("aarch64-linux-gnu-gcc")
        .args(["-g", "-O1", "-o"])
        .arg(&exe)
        .arg(&c)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(exe)
}

#[test]
fn aarch64_program_is_checkable_with_the_aarch64_library_and_symbolized() {
    let Some(lib) = aarch64_library() else {
        return skip("no target/aarch64-unknown-linux-gnu/release/libassafe.so");
    };
    let dir = tempfile::tempdir().unwrap();
    let src = "__attribute__((noinline)) int work(int x) { return x * 3; }\n\
               int main(int argc, char **argv) { (void)argv; return work(argc) - 3; }\n";
    let Some(arm) = cross_cc(dir.path(), "hello_arm", src) else {
        return skip("aarch64-linux-gnu-gcc not found");
    };
    let host = dir.path().join("hello_host");
    let st = Command::new("cc")
        .arg("-o")
        .arg(&host)
        .arg(dir.path().join("hello_arm.c"))
        .status()
        .unwrap();
    assert!(st.success());

    use_library(&lib);
    assert_eq!(
        why_unchecked(&arm),
        None,
        "an aarch64 program, aarch64 library"
    );
    let why = why_unchecked(&host).expect("an x86_64 program with the aarch64 library");
    assert!(why.contains("another architecture"), "{why}");

    // The symbolizer reads aarch64 modules: `work`'s address names `work` (with its line).
    let data = std::fs::read(&arm).unwrap();
    let file = object::File::parse(&*data).unwrap();
    assert_eq!(file.architecture(), object::Architecture::Aarch64);
    let work = file
        .symbols()
        .find(|s| s.name() == Ok("work"))
        .expect("symbol work")
        .address();
    let mut sym = Symbolizer::new();
    let frames = sym.frame(
        &RawFrame {
            addr: 0x55_0000_0000 + work,
            module: arm.display().to_string(),
            offset: work,
            build_id: None,
        },
        false,
    );
    let last = frames.last().unwrap();
    assert_eq!(last.function.as_deref(), Some("work"), "{frames:?}");
    assert!(last.line.is_some(), "{frames:?}");
}
