//! The quick subset of the precision corpus (scripts/precision --quick: bash `trap … CHLD` +
//! `wait`, dash `tar -I 'xz -T2'`, `gdb --batch`, `make -j2`) run under `assafe run` with the real
//! library: every group of every report is an expected (true) finding of
//! tests/precision/expected.tsv, and every required expected group is seen. The whole corpus is
//! `scripts/precision` (README, "Precision").

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;

#[test]
fn quick_precision_corpus_has_no_false_alarms() {
    let root = assafe_tests::repo_root();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("precision.json");
    let o = output(
        Command::new(root.join("scripts/precision"))
            .arg("--quick")
            .arg("--json")
            .arg(&out)
            .env("ASSAFE", env!("CARGO_BIN_EXE_assafe"))
            .env("ASSAFE_LIB", library()),
    );
    let table = format!("{}\n{}", stdout(&o), stderr(&o));
    let results: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("no results ({e}):\n{table}")),
    )
    .unwrap();
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["program"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["bash-trap-chld", "dash-tar-xz", "gdb-batch", "make-j2"],
        "{table}"
    );
    for r in &results {
        assert!(r.get("error").is_none(), "{r:#}\n{table}");
        assert_eq!(
            r["false_alarms"].as_array().unwrap().len(),
            0,
            "false alarms: {r:#}\n{table}"
        );
        let required: Vec<&Value> = r["missing"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["required"] == true)
            .collect();
        assert!(
            required.is_empty(),
            "expected groups not seen: {r:#}\n{table}"
        );
    }
    // bash: one root cause (the SIGCHLD handler), however many call sites it has.
    let bash = &results[0];
    assert_eq!(bash["groups"], 1, "{bash:#}");
    assert!(bash["findings"].as_u64().unwrap() > 1, "{bash:#}");
    assert_eq!(o.status.code(), Some(0), "{table}");
}
