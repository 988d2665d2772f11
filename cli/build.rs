//! Embeds `libassafe.so` in the `assafe` binary, so that `cargo install` (from the path or the
//! repository) gives a command that finds its preload library with no further step: at run time
//! the CLI writes it once to a cache directory keyed by its hash (`assafe lib` prints the path).
//!
//! Two builds are embedded: the library for this machine's C library (glibc, the host target) and,
//! on x86_64, the musl build (`x86_64-unknown-linux-musl`, `-C target-feature=-crt-static`) for
//! dynamically linked musl programs (`assafe run` preloads both through one `$LIB` path, see
//! `run::preload_entry`). Each is the workspace's root package, built here by a nested
//! `cargo build --release` into `OUT_DIR` (its own target directory: the outer build holds the lock
//! of its own). Set `ASSAFE_EMBED_LIB=/path/libassafe.so` (`ASSAFE_EMBED_MUSL_LIB=` for the musl
//! build) to embed a library built elsewhere, or `=none` to embed nothing (the Debian package ships
//! the libraries as files). Without the Rust target `x86_64-unknown-linux-musl` the musl build is
//! left out with a warning: musl programs then run unchecked.
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The musl target of the embedded musl build.
const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .parent()
        .expect("cli/ is in the workspace")
        .to_path_buf();
    println!("cargo:rustc-check-cfg=cfg(assafe_embedded)");
    let host = embed(&out, "ASSAFE_EMBED_LIB", "libassafe.so", || {
        build_library(&root, &out, None)
    });
    if host {
        println!("cargo:rustc-cfg=assafe_embedded");
    }
    // The musl build serves x86_64 musl programs (the CLI itself may be built for either libc).
    let x86_64 = env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "x86_64");
    embed(&out, "ASSAFE_EMBED_MUSL_LIB", "libassafe-musl.so", || {
        if !x86_64 {
            return None;
        }
        match musl_toolchain_missing() {
            Some(why) => {
                println!(
                    "cargo:warning=no musl build of libassafe.so embedded ({why}): musl programs will run unchecked; install it with `rustup target add {MUSL_TARGET}`"
                );
                None
            }
            None => build_library(&root, &out, Some(MUSL_TARGET)),
        }
    });
}

/// Writes `<name>.embed` (the library's bytes, or nothing) and `<name>.hash` (its 64-bit FNV-1a,
/// the cache key, computed once here rather than at each run) into `OUT_DIR`; `var` names a
/// library built elsewhere (or `none`). Returns whether a library was embedded.
fn embed(out: &Path, var: &str, name: &str, build: impl FnOnce() -> Option<PathBuf>) -> bool {
    println!("cargo:rerun-if-env-changed={var}");
    let chosen = env::var(var).ok().filter(|v| !v.is_empty());
    let lib: Option<PathBuf> = match chosen.as_deref() {
        Some("none") => None,
        Some(p) => {
            println!("cargo:rerun-if-changed={p}");
            Some(PathBuf::from(p))
        }
        None => build(),
    };
    let bytes = match &lib {
        Some(lib) => {
            std::fs::read(lib).unwrap_or_else(|e| panic!("reading {}: {e}", lib.display()))
        }
        // An empty file keeps `include_bytes!` valid and says there is no library.
        None => Vec::new(),
    };
    std::fs::write(out.join(format!("{name}.embed")), &bytes).expect("writing OUT_DIR");
    let mut h: u64 = 0xcbf29ce484222325;
    for b in &bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    std::fs::write(out.join(format!("{name}.hash")), format!("{h:016x}")).expect("writing OUT_DIR");
    lib.is_some()
}

/// Why the musl build cannot be made here (the Rust target is not installed), if it cannot.
fn musl_toolchain_missing() -> Option<String> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let libdir = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", MUSL_TARGET])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let has_std = libdir.is_some_and(|d| {
        std::fs::read_dir(d).is_ok_and(|rd| {
            rd.filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
        })
    });
    (!has_std).then(|| format!("the Rust target {MUSL_TARGET} is not installed"))
}

/// Builds the root package (`libassafe.so`) with a nested cargo, for the host or for `target`;
/// `None` when this is not a checkout of the workspace (the library's sources are not above
/// `cli/`).
fn build_library(root: &Path, out: &Path, target: Option<&str>) -> Option<PathBuf> {
    let is_workspace = std::fs::read_to_string(root.join("Cargo.toml"))
        .is_ok_and(|t| t.contains("name = \"assafe\"") && root.join("src").is_dir());
    if !is_workspace {
        if target.is_some() {
            return None;
        }
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
    if let Some(t) = target {
        // A preload library links libc.so dynamically (src/libc/musl.rs refuses crt-static).
        cmd.args(["--target", t]).env(
            format!(
                "CARGO_TARGET_{}_RUSTFLAGS",
                t.to_uppercase().replace('-', "_")
            ),
            "-C target-feature=-crt-static",
        );
    }
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
        // `cargo clippy` lints the workspace itself; the nested build is a build, not a lint.
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
    ] {
        cmd.env_remove(v);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running cargo to build libassafe.so: {e}"));
    assert!(
        status.success(),
        "building libassafe.so{} failed ({status})",
        target.map(|t| format!(" for {t}")).unwrap_or_default()
    );
    Some(match target {
        Some(t) => target_dir.join(t).join("release/libassafe.so"),
        None => target_dir.join("release/libassafe.so"),
    })
}
