//! Golden test of the log schema: the real library (target/release/libassafe.so) writes one record
//! of every kind it can (tests/c/golden.c), every record is checked against `assafe-proto`'s
//! schema, the CLI parses that very log (its library API and `assafe report --format json`), and
//! every key and event in the log and in `assafe-proto` appears in docs/log-format.md (and the
//! document names no key or event that the schema does not have).

mod common;

use assafe_cli::logs::{Kind, Logs};
use assafe_proto::schema;
use assafe_proto::{self as proto, Context, event, key, value};
use assafe_tests::{Env, Outcome, Value, repo_root};
use common::*;
use std::collections::BTreeSet;

/// Runs tests/c/golden.c under the library with every record kind switched on.
fn golden_run(env: &Env) -> (Outcome, std::path::PathBuf) {
    let exe = env.compile_file("golden", &[]);
    let out = env.run(&[&exe], true, "verbosity=2:strict=1");
    out.assert_ok();
    out.assert_started();
    let dir = out.log_files[0].parent().unwrap().to_path_buf();
    (out, dir)
}

/// Keys in the order the writer wrote them (serde_json keeps the order: preserve_order).
fn keys_in_order(v: &Value) -> Vec<&str> {
    v.as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "_file_pid")
        .collect()
}

#[test]
fn every_record_kind_matches_the_schema_the_cli_and_the_docs() {
    let env = Env::new("golden");
    let (out, dir) = golden_run(&env);
    let recs = &out.records;

    // 1. One record of every kind the writer has.
    let events: BTreeSet<&str> = recs
        .iter()
        .map(|r| r[key::EVENT].as_str().unwrap())
        .collect();
    let all: BTreeSet<&str> = event::ALL.into_iter().collect();
    assert_eq!(
        events,
        all,
        "events written vs proto::event::ALL\n{}",
        out.dump()
    );
    let reports = out.reports();
    for c in Context::ALL {
        assert!(
            reports.iter().any(|r| r[key::CONTEXT] == c.name()
                && r[key::FUNCTION] != value::HANDLER_IN_VFORK_FUNCTION),
            "no {} report\n{}",
            c.name(),
            out.dump()
        );
    }
    assert!(
        reports
            .iter()
            .any(|r| r[key::FUNCTION] == value::HANDLER_IN_VFORK_FUNCTION
                && r[key::REASON] == value::HANDLER_IN_VFORK_REASON
                && r[key::CONTEXT] == Context::VforkChild.name()),
        "no handler-in-vfork report\n{}",
        out.dump()
    );
    assert!(
        reports.iter().any(|r| r[key::STRICT] == true),
        "no strict report\n{}",
        out.dump()
    );
    let signal = reports
        .iter()
        .find(|r| r[key::CONTEXT] == Context::SignalHandler.name())
        .unwrap();
    assert!([value::DEFINITE, value::LATENT].contains(&signal[key::CERTAINTY].as_str().unwrap()));
    assert_eq!(signal[key::SIGNAL_ORIGIN], value::ORIGIN_SELF);
    let exec = out.records_of(event::EXEC);
    assert!(exec.iter().any(|r| r[key::PATH] == "/proc/self/exe"));
    // The fork child that exec'd logged the new image's start in its own file.
    let exec_pid = exec[0][key::PID].as_u64().unwrap();
    assert!(
        out.records_of(event::START)
            .iter()
            .any(|r| r[key::PID] == exec_pid),
        "{}",
        out.dump()
    );

    // 1b. Every log file (fork and vfork children's too) begins with a `start` record of its own
    // process whose second key is `format`, this format.
    assert!(
        out.log_files.len() >= 3,
        "the parent and its children each have a file: {:?}",
        out.log_files
    );
    for f in &out.log_files {
        let text = std::fs::read_to_string(f).unwrap();
        let first: Value = serde_json::from_str(text.lines().next().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{}: first line not JSON ({e}):\n{text}", f.display()));
        assert_eq!(
            first[key::EVENT],
            event::START,
            "{} does not begin with a start record:\n{text}",
            f.display()
        );
        assert_eq!(
            keys_in_order(&first).get(1).copied(),
            Some(key::FORMAT),
            "{}: {first}",
            f.display()
        );
        assert_eq!(first[key::FORMAT], proto::FORMAT_VERSION, "{}", f.display());
        let file_pid = f.extension().unwrap().to_str().unwrap();
        assert_eq!(first[key::PID].to_string(), file_pid, "{}", f.display());
    }
    let child_pids: BTreeSet<u64> = reports
        .iter()
        .filter(|r| r[key::PID] != out.pid)
        .map(|r| r[key::PID].as_u64().unwrap())
        .collect();
    for pid in &child_pids {
        assert!(
            out.records_of(event::START)
                .iter()
                .any(|r| r[key::PID] == *pid),
            "child {pid} has no start record\n{}",
            out.dump()
        );
    }

    // 2. Every record fits its event's schema: keys, types, `event` first, keys in schema order.
    let mut keys_seen: BTreeSet<String> = BTreeSet::new();
    for r in recs {
        let ev = r[key::EVENT].as_str().unwrap();
        let s = schema::of(ev).unwrap();
        check_object(s.fields, r, ev);
        let order = keys_in_order(r);
        assert_eq!(order[0], key::EVENT, "event is not the first key: {r}");
        let pos: Vec<usize> = order
            .iter()
            .map(|k| s.fields.iter().position(|f| f.key == *k).unwrap())
            .collect();
        assert!(
            pos.windows(2).all(|w| w[0] < w[1]),
            "{ev}: keys not in schema order: {order:?}"
        );
        if let Some(c) = r.get(key::CONTEXT) {
            assert!(
                Context::from_name(c.as_str().unwrap()).is_some(),
                "unknown context: {r}"
            );
        }
        if let Some(reason) = r.get(key::REASON) {
            assert_ne!(
                proto::reason::lookup(reason.as_str().unwrap()),
                &proto::reason::UNKNOWN,
                "reason not in proto::reason: {r}"
            );
        }
        for (k, v) in r.as_object().unwrap() {
            if k != "_file_pid" {
                keys_seen.insert(k.clone());
            }
            for nested in v.as_array().into_iter().flatten() {
                if let Some(o) = nested.as_object() {
                    keys_seen.extend(o.keys().cloned());
                }
            }
        }
    }

    // 3. The docs name every key written and every key and event of the schema, and nothing else.
    let doc = std::fs::read_to_string(repo_root().join("docs/log-format.md")).unwrap();
    for k in keys_seen
        .iter()
        .map(String::as_str)
        .chain(key::ALL.iter().copied())
    {
        assert!(
            doc.contains(&format!("`{k}`")),
            "docs/log-format.md does not document key `{k}`"
        );
    }
    for e in event::ALL {
        assert!(
            doc.contains(&format!("`\"event\":\"{e}\"`")),
            "docs/log-format.md does not document event {e}"
        );
    }
    // Each record's keys are documented in its own event's section(s).
    for r in recs {
        let ev = r[key::EVENT].as_str().unwrap();
        let section = doc_sections(&doc, ev);
        for k in keys_in_order(r) {
            assert!(
                section.contains(&format!("`{k}`")) || section.contains(&format!("`{k}:")),
                "docs/log-format.md: the section on \"{ev}\" does not document key `{k}` ({r})"
            );
        }
    }
    for c in Context::ALL {
        assert!(doc.contains(&format!("\"{}\"", c.name())), "context {c:?}");
    }
    for (k, line) in documented_keys(&doc) {
        assert!(
            key::ALL.contains(&k.as_str()),
            "docs/log-format.md documents key `{k}` that proto::key does not have: {line}"
        );
    }
    for e in documented_events(&doc) {
        assert!(
            event::is_known(&e),
            "docs/log-format.md documents event {e:?} that proto::event does not have"
        );
    }

    // 4. The CLI parses that very log: every record kind lands where it should, nothing skipped.
    let logs = Logs::read(std::slice::from_ref(&dir)).expect("the CLI reads the golden log");
    assert!(logs.warnings.is_empty(), "{:?}", logs.warnings);
    assert_eq!(logs.unparsable_lines, 0);
    assert!(logs.unknown_events.is_empty(), "{:?}", logs.unknown_events);
    let pids: BTreeSet<u64> = recs.iter().map(|r| r[key::PID].as_u64().unwrap()).collect();
    assert_eq!(logs.processes_checked(), pids.len());
    assert!(logs.processes.values().any(|p| p.started));
    for c in Context::ALL {
        assert!(
            logs.occurrences
                .iter()
                .any(|o| o.kind == Kind::Report && o.context == c.name()),
            "the CLI lost the {} report",
            c.name()
        );
    }
    let errno = logs
        .occurrences
        .iter()
        .find(|o| o.kind == Kind::Errno)
        .expect("the CLI read the errno record");
    assert_eq!((errno.errno_before, errno.errno_after), (Some(7), Some(99)));
    assert_eq!(errno.context, proto::ERRNO_RULE);
    // Counts come from the exit/exec summaries.
    assert!(logs.occurrences.iter().all(|o| o.count >= 1));

    // ... and so does `assafe report --format json`.
    let o = output(assafe().args(["report", "--format", "json"]).arg(&dir));
    let r = json(&stdout(&o));
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    let contexts: BTreeSet<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["context"].as_str().unwrap())
        .collect();
    let want: BTreeSet<&str> = Context::ALL
        .iter()
        .map(|c| c.name())
        .chain([proto::ERRNO_RULE, proto::Hygiene::Zombie.name()])
        .collect();
    assert_eq!(contexts, want, "{r:#}");
    for f in r["findings"].as_array().unwrap() {
        assert!(!f["explanation"].as_str().unwrap().is_empty());
        let reason = f["reason"].as_str().unwrap();
        assert!(
            reason == proto::ERRNO_RULE || proto::reason::lookup(reason) != &proto::reason::UNKNOWN,
            "{f}"
        );
    }
    // The library records each module's build-id, so `report` verifies every module it
    // symbolizes against: no warning at all (no "cannot verify build:").
    assert_eq!(r["warnings"].as_array().unwrap().len(), 0, "{r:#}");
    // Every frame of the test program (cc writes a build-id) carries it, as lower-case hex.
    let exe_frames: Vec<&Value> = reports
        .iter()
        .flat_map(|r| r[key::STACK].as_array().unwrap())
        .filter(|f| f[key::MODULE].as_str().unwrap().ends_with("/golden"))
        .collect();
    assert!(!exe_frames.is_empty(), "{}", out.dump());
    for f in exe_frames {
        let id = f[key::BUILD_ID]
            .as_str()
            .unwrap_or_else(|| panic!("no build_id in {f}"));
        assert!(
            id.len() >= 32 && id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
            "{f}"
        );
    }
}

/// Keys in the first column of the document's key tables and in its `Keys:` lists.
fn documented_keys(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in doc.lines() {
        let cell = if let Some(rest) = line.strip_prefix("| ") {
            rest.split('|').next().unwrap_or("")
        } else if let Some(rest) = line.strip_prefix("Keys: ") {
            rest
        } else {
            continue;
        };
        for (i, part) in cell.split('`').enumerate() {
            // Odd parts are inside backticks; a key is a bare identifier (`context:"…"` names a key
            // with its value).
            if i % 2 == 1 {
                let k = part.split(':').next().unwrap_or("");
                if !k.is_empty() && k.bytes().all(|c| c.is_ascii_lowercase() || c == b'_') {
                    out.push((k.to_owned(), line.to_owned()));
                }
            }
        }
    }
    out
}

/// The text of the `## ` sections whose heading names `"event":"<ev>"`.
fn doc_sections(doc: &str, ev: &str) -> String {
    let head = format!("`\"event\":\"{ev}\"`");
    doc.split("\n## ")
        .filter(|s| s.lines().next().is_some_and(|h| h.contains(&head)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `"event":"X"` the document mentions.
fn documented_events(doc: &str) -> Vec<String> {
    doc.match_indices("\"event\":\"")
        .filter_map(|(i, m)| {
            let rest = &doc[i + m.len()..];
            rest.split('"').next().map(str::to_owned)
        })
        .collect()
}
