//! The layering of `src/` (see `src/lib.rs` and docs/architecture.md), checked from the source
//! text: each unit (a top-level module or folder of the preload) may use only units of lower
//! layers, there is no import cycle between units, nothing under `platform/` or `reporting/` uses
//! `contexts/`, and every line of assembly and every register name is in `src/platform/arch/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The units of `src/`, lowest layer first. A unit may use units of strictly lower layers.
const LAYERS: &[&[&str]] = &[
    &["platform"],
    &["state", "config", "libc"],
    &["reporting"],
    &["check"],
    &["contexts"],
    &["init"],
    &["dispatch"],
    &["stubs"],
    &["lib"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../src")
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The unit a file of `src/` belongs to: its top folder, or its file stem.
fn unit_of(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_str()
        .unwrap();
    first.strip_suffix(".rs").unwrap_or(first).to_string()
}

/// The source without comments (line comments, doc comments, block comments) and without the
/// contents of string literals.
fn code_of(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'"' && (i == 0 || b[i - 1] != b'\'') {
            out.push('"');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            out.push('"');
            i += 1;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// The source with comments removed but string literals kept (assembly lives in strings).
fn code_with_strings(text: &str) -> String {
    text.lines()
        .map(|l| match l.trim_start().starts_with("//") {
            true => "",
            false => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Units named by `crate::UNIT` paths in `code`.
fn uses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // `$crate::`, `assafe_crate::`, `::crate::`
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    // `use crate::{a, b::c}`
    let mut rest = code;
    while let Some(i) = rest.find("crate::{") {
        rest = &rest[i + "crate::{".len()..];
        let end = rest.find('}').unwrap_or(rest.len());
        for part in rest[..end].split(',') {
            let name: String = part
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

struct Graph {
    /// unit -> (used unit -> files that use it)
    edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

fn graph() -> Graph {
    let root = src();
    let mut files = Vec::new();
    rs_files(&root, &mut files);
    assert!(
        files.len() > 20,
        "found only {} files under src/",
        files.len()
    );
    let mut edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&root).unwrap().to_path_buf();
        let unit = unit_of(&rel);
        let code = code_of(&std::fs::read_to_string(&f).unwrap());
        let e = edges.entry(unit.clone()).or_default();
        for u in uses(&code) {
            if u != unit {
                e.entry(u).or_default().insert(rel.display().to_string());
            }
        }
    }
    Graph { edges }
}

fn layer(unit: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&unit))
        .unwrap_or_else(|| panic!("src/ unit `{unit}` is in no layer: add it to LAYERS in tests/layering.rs (and to docs/architecture.md)"))
}

#[test]
fn every_unit_uses_only_lower_layers() {
    let g = graph();
    let mut bad = Vec::new();
    for (from, to) in &g.edges {
        for (u, files) in to {
            if layer(u) >= layer(from) {
                bad.push(format!(
                    "{from} (layer {}) uses {u} (layer {}) in {files:?}",
                    layer(from),
                    layer(u)
                ));
            }
        }
    }
    assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
}

#[test]
fn no_import_cycle_between_units() {
    let g = graph();
    // Depth-first search with colours; report the first cycle found.
    fn visit(
        u: &str,
        g: &Graph,
        colour: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        colour.insert(u.to_string(), 1);
        stack.push(u.to_string());
        for v in g.edges.get(u).into_iter().flat_map(|m| m.keys()) {
            match colour.get(v.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == v).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(v.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(v, g, colour, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        colour.insert(u.to_string(), 2);
        None
    }
    let mut colour = BTreeMap::new();
    for u in g.edges.keys() {
        if colour.get(u.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(u, &g, &mut colour, &mut Vec::new())
        {
            panic!("import cycle in src/: {}", c.join(" -> "));
        }
    }
}

#[test]
fn platform_and_reporting_do_not_use_contexts() {
    let g = graph();
    for unit in ["platform", "reporting", "libc", "config", "state", "check"] {
        let uses = g.edges.get(unit).cloned().unwrap_or_default();
        for forbidden in ["contexts", "dispatch", "init", "stubs"] {
            assert!(
                !uses.contains_key(forbidden),
                "{unit} uses {forbidden} in {:?}",
                uses[forbidden]
            );
        }
    }
}

#[test]
fn assembly_and_register_names_only_in_platform_arch() {
    let root = src();
    let mut files = Vec::new();
    rs_files(&root, &mut files);
    let regs = [
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "rip", "r8", "r9", "r10", "r11",
        "r12", "r13", "r14", "r15", "eax", "edi", "r11d", "xmm0", "fs:", "gs:",
    ];
    let mut bad = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&root).unwrap();
        if rel.starts_with("platform/arch") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let code = code_with_strings(&text);
        for m in ["asm!", "global_asm!", "naked_asm!", "#[unsafe(naked)]"] {
            if code.contains(m) {
                bad.push(format!("{}: {m}", rel.display()));
            }
        }
        for word in code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
            let w = word.trim_matches(':');
            if regs.contains(&w) || (word.ends_with(':') && regs.contains(&word)) {
                bad.push(format!("{}: register name `{word}`", rel.display()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "assembly or register names outside src/platform/arch/:\n{}",
        bad.join("\n")
    );
}

#[test]
fn lib_doc_states_the_data_path_in_order() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let doc: String = lib
        .lines()
        .filter(|l| l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut at = 0;
    for step in [
        "**stub**",
        "**dispatch**",
        "**check**",
        "**report**",
        "**sink**",
    ] {
        let i = doc[at..].find(step).unwrap_or_else(|| {
            panic!("src/lib.rs's crate doc does not name {step} after the previous step")
        });
        at += i + step.len();
    }
}
