//! Embeds `libassafe.so` in the `assafe` binary, so that `cargo install` (from the path or the
//! repository) gives a command that finds its preload library with no further step: at run time
//! the CLI writes it once to a cache directory keyed by its hash (`assafe lib` prints the path).
//!
//! The library is the workspace's root package, built here by a nested `cargo build --release`
//! into `OUT_DIR` (its own target directory: the outer build holds the lock of its own). Set
//! `ASSAFE_EMBED_LIB=/path/libassafe.so` to embed a library built elsewhere, or
//! `ASSAFE_EMBED_LIB=none` to embed nothing (the Debian package ships the library as a file).
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=ASSAFE_EMBED_LIB");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dest = out.join("libassafe.so.embed");
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .parent()
        .expect("cli/ is in the workspace")
        .to_path_buf();

    let chosen = env::var("ASSAFE_EMBED_LIB").ok().filter(|v| !v.is_empty());
    let lib: Option<PathBuf> = match chosen.as_deref() {
        Some("none") => None,
        Some(p) => {
            println!("cargo:rerun-if-changed={p}");
            Some(PathBuf::from(p))
        }
        None => build_library(&root, &out),
    };
    let bytes = match lib {
        Some(lib) => {
            println!("cargo:rustc-cfg=assafe_embedded");
            std::fs::read(&lib).unwrap_or_else(|e| panic!("reading {}: {e}", lib.display()))
        }
        // An empty file keeps `include_bytes!` valid; the cfg says there is no library.
        None => Vec::new(),
    };
    std::fs::write(&dest, &bytes).expect("writing OUT_DIR");
    // The cache key: 64-bit FNV-1a of the library, computed once here rather than at each run.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in &bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    std::fs::write(out.join("libassafe.so.hash"), format!("{h:016x}")).expect("writing OUT_DIR");
    println!("cargo:rustc-check-cfg=cfg(assafe_embedded)");
}

/// Builds the root package (`libassafe.so`) with a nested cargo; `None` when this is not a
/// checkout of the workspace (the library's sources are not above `cli/`).
fn build_library(root: &Path, out: &Path) -> Option<PathBuf> {
    let is_workspace = std::fs::read_to_string(root.join("Cargo.toml"))
        .is_ok_and(|t| t.contains("name = \"assafe\"") && root.join("src").is_dir());
    if !is_workspace {
        println!(
            "cargo:warning=the libassafe.so sources are not above cli/: assafe will not embed the library (it finds it with --lib, $ASSAFE_LIB or next to itself)"
        );
        return None;
    }
    for p in [
        "src",
        "build.rs",
        "build",
        "symbols.txt",
        "unwind",
        "pure",
        "proto",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    let target_dir = out.join("lib-target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "assafe",
            "--target-dir",
        ])
        .arg(&target_dir);
    // The outer build's settings for *this* crate must not leak into the library's build.
    for v in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
    ] {
        cmd.env_remove(v);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running cargo to build libassafe.so: {e}"));
    assert!(status.success(), "building libassafe.so failed ({status})");
    Some(target_dir.join("release/libassafe.so"))
}
