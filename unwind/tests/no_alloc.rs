//! The library is `#![no_std]` without `alloc`, and gimli is used without allocation.

const SOURCES: [(&str, &str); 4] = [
    ("lib.rs", include_str!("../src/lib.rs")),
    ("modules.rs", include_str!("../src/modules.rs")),
    ("walk.rs", include_str!("../src/walk.rs")),
    ("sys.rs", include_str!("../src/sys.rs")),
];

#[test]
fn crate_is_no_std_without_alloc() {
    assert!(SOURCES[0].1.contains("\n#![no_std]\n"));
    for (name, src) in SOURCES {
        // Only the #[cfg(test)] module of lib.rs may use std.
        let code = src.split("#[cfg(test)]").next().unwrap();
        assert!(!code.contains("extern crate alloc"), "{name} links alloc");
        assert!(!code.contains("extern crate std"), "{name} links std");
        assert!(!code.contains("alloc::"), "{name} uses alloc");
    }
}

#[test]
fn only_libc_import_is_dl_iterate_phdr() {
    // The walker calls no libc function; the only foreign function is dl_iterate_phdr,
    // used by refresh_modules in normal context.
    for (name, src) in SOURCES {
        let blocks = src.matches("extern \"C\" {").count();
        if name == "modules.rs" {
            assert_eq!(blocks, 1);
            let start = src.find("extern \"C\" {").unwrap();
            let block = &src[start..start + src[start..].find('}').unwrap()];
            assert_eq!(block.matches("fn ").count(), 1);
            assert!(block.contains("fn dl_iterate_phdr("));
        } else {
            assert_eq!(blocks, 0, "{name} imports foreign functions");
        }
    }
}

#[test]
fn gimli_without_default_features() {
    let manifest = include_str!("../Cargo.toml");
    let deps = manifest.split("[dependencies]").nth(1).unwrap();
    let deps = deps.split("\n[").next().unwrap();
    let gimli = deps.lines().find(|l| l.starts_with("gimli")).unwrap();
    assert!(gimli.contains("default-features = false"));
    assert!(gimli.contains("features = [\"read-core\"]"));
    assert_eq!(
        deps.lines().filter(|l| l.contains('=')).count(),
        1,
        "gimli is the only dependency"
    );
}
