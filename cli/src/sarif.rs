//! SARIF 2.1.0 output, in the shape GitHub code scanning accepts.

use crate::analyze::{Finding, Group, Report};
use crate::render::frame_line;
use crate::symbolize::SymFrame;
use assafe_proto::{Context, ERRNO_RULE};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the tool's documentation lives (SARIF `informationUri`): the package's `repository` in
/// Cargo.toml; the key is left out while none is set (it is optional in SARIF 2.1.0).
pub const INFORMATION_URI: &str = env!("CARGO_PKG_REPOSITORY");

struct Rule {
    id: &'static str,
    name: &'static str,
    short: &'static str,
    full: &'static str,
    help: &'static str,
}

/// One rule per [`Context`] and one for errno changes; a finding's `context` is its rule id.
const RULES: [Rule; 5] = [
    Rule {
        id: Context::ForkChild.sarif_rule(),
        name: "AsyncSignalUnsafeCallInForkChild",
        short: "Async-signal-unsafe call in the child of a multi-threaded fork",
        full: "After fork() in a multi-threaded process only the forking thread exists in the child; locks held by the other threads (heap, stdio, loader, locale…) stay locked forever. Until it calls exec or _exit, the child may only call async-signal-safe functions.",
        help: "Do the work before fork (allocate, format, look up), use posix_spawn, or call only async-signal-safe functions (write, dup2, close, execve, _exit) in the child.",
    },
    Rule {
        id: Context::VforkChild.sarif_rule(),
        name: "AsyncSignalUnsafeCallInVforkChild",
        short: "Async-signal-unsafe call in a vfork child",
        full: "A vfork child shares the parent's memory and stack while the parent is suspended; anything but async-signal-safe calls followed by exec or _exit may corrupt the parent's state or deadlock on its locks.",
        help: "In a vfork child call only async-signal-safe functions, then execve or _exit; prepare everything before vfork, or use posix_spawn.",
    },
    Rule {
        id: Context::SignalHandler.sarif_rule(),
        name: "AsyncSignalUnsafeCallInSignalHandler",
        short: "Async-signal-unsafe call in a signal handler",
        full: "A signal handler may interrupt any code on its thread, including code holding the heap or stdio lock; calling a function that takes the same lock deadlocks or corrupts state.",
        help: "Make the handler only set a volatile sig_atomic_t flag or write to a self-pipe/eventfd, and do the work outside the handler (or use signalfd/sigwait).",
    },
    Rule {
        id: Context::AsyncCancel.sarif_rule(),
        name: "AsyncCancelUnsafeCall",
        short: "Async-cancel-unsafe call with asynchronous cancellation enabled",
        full: "With PTHREAD_CANCEL_ASYNCHRONOUS a thread may be cancelled at any instruction; only async-cancel-safe functions may be called, or locks and resources are left held.",
        help: "Keep asynchronous cancellation enabled only around pure computation, or use deferred cancellation.",
    },
    Rule {
        id: ERRNO_RULE,
        name: "SignalHandlerChangesErrno",
        short: "Signal handler changes errno",
        full: "A signal handler that returns with errno changed makes the interrupted code read a wrong errno after a failed call.",
        help: "Save errno on entry to the handler and restore it before returning.",
    },
];

/// The repository root for relative URIs: the given directory, else `git rev-parse
/// --show-toplevel` of the working directory.
pub fn repo_root(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.canonicalize().unwrap_or_else(|_| p.to_path_buf()));
    }
    let out = Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| PathBuf::from(s))
}

/// Percent-encodes what may not appear in a URI path.
pub fn uri_escape(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `(uri, uriBaseId)` for a source file: relative to the repository root when inside it.
fn artifact_location(file: &str, root: Option<&Path>) -> Value {
    let p = Path::new(file);
    if let Some(root) = root
        && let Ok(rel) = p.strip_prefix(root)
    {
        return json!({"uri": uri_escape(&rel.to_string_lossy()), "uriBaseId": "%SRCROOT%"});
    }
    if p.is_absolute() {
        json!({"uri": format!("file://{}", uri_escape(file))})
    } else {
        json!({"uri": uri_escape(file)})
    }
}

fn physical_location(f: &SymFrame, root: Option<&Path>) -> Option<Value> {
    let file = f.file.as_deref()?;
    Some(json!({
        "artifactLocation": artifact_location(file, root),
        "region": {"startLine": f.line.filter(|l| *l > 0).unwrap_or(1)},
    }))
}

/// Where a finding is blamed: its "your code" frame's source line, else the binary.
fn blame_location(f: &Finding, root: Option<&Path>) -> Value {
    let blame = f.blame_frame();
    match blame.and_then(|b| physical_location(b, root)) {
        Some(pl) => pl,
        // No source file anywhere: point at the binary that made the call.
        None => {
            let module = blame
                .and_then(|b| b.module.clone())
                .or_else(|| f.programs.first().cloned())
                .unwrap_or_else(|| "unknown".to_owned());
            json!({
                "artifactLocation": artifact_location(&module, root),
                "region": {"startLine": 1},
            })
        }
    }
}

/// One result per root cause ([`Group`]): located at the first call's frame in your code, the
/// other call sites as related locations, the first call's stack as the code flow. Its
/// fingerprint is the group's id (kind, context and root — the handler, the child's root frame,
/// or for calls without one the call site), so a CI baseline survives changes in outer code.
fn result(g: &Group, members: &[&Finding], root: Option<&Path>) -> Value {
    let f = members[0];
    let rule_index = RULES
        .iter()
        .position(|r| r.id == g.context)
        .or_else(|| crate::hygiene::sarif_rule_index(&g.context, RULES.len()));
    let location = blame_location(f, root);
    let thread_locations: Vec<Value> = g
        .stack
        .iter()
        .enumerate()
        .map(|(i, fr)| {
            let mut loc = json!({"message": {"text": frame_line(i, fr)}});
            if let Some(pl) = physical_location(fr, root) {
                loc["physicalLocation"] = pl;
            }
            json!({"location": loc, "nestingLevel": 0, "importance": if Some(i) == g.user_frame { "essential" } else { "unimportant" }})
        })
        .collect();
    const MAX_RELATED: usize = 50;
    let related: Vec<Value> = members
        .iter()
        .skip(1)
        .take(MAX_RELATED)
        .enumerate()
        .map(|(i, m)| {
            json!({
                "id": i + 1,
                "physicalLocation": blame_location(m, root),
                "message": {"text": format!("{}() ({} calls)", m.function, m.count)},
            })
        })
        .collect();
    let mut explanations: Vec<&str> = Vec::new();
    for m in members {
        if !explanations.contains(&m.explanation.as_str()) {
            explanations.push(&m.explanation);
        }
    }
    let text = format!(
        "{}: {}. {} call(s) in {} process(es) ({}).",
        g.title,
        explanations.join("; "),
        g.count,
        g.processes,
        g.programs.join(", ")
    );
    let functions: Vec<&str> = g.functions.iter().map(|x| x.function.as_str()).collect();
    let mut r = json!({
        "ruleId": g.context,
        "level": g.level,
        "message": {"text": text},
        "locations": [{"physicalLocation": location}],
        "partialFingerprints": {"assafeFingerprint/v2": g.id},
        "codeFlows": [{"threadFlows": [{"locations": thread_locations}]}],
        "properties": {
            "function": f.function,
            "functions": functions,
            "root": g.root.name,
            "callSites": members.len(),
            "reason": f.reason,
            "count": g.count,
            "processes": g.processes,
            "programs": g.programs,
            "signals": g.signals,
            "strict": members.iter().all(|m| m.strict),
            "severity": g.severity,
        },
    });
    if !related.is_empty() {
        r["relatedLocations"] = json!(related);
    }
    if let Some(i) = rule_index {
        r["ruleIndex"] = json!(i);
    }
    r
}

/// The SARIF document.
pub fn sarif(report: &Report, root: Option<&Path>) -> String {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.short},
                "fullDescription": {"text": r.full},
                "help": {"text": r.help, "markdown": r.help},
                "defaultConfiguration": {"level": "error"},
                "properties": {"tags": ["reliability", "concurrency"], "precision": "high", "problem.severity": "error"},
            })
        })
        .chain(crate::hygiene::sarif_rules()) // process hygiene rules
        .collect();
    let results: Vec<Value> = report
        .groups
        .iter()
        .filter_map(|g| {
            let members = report.members(g);
            (!members.is_empty()).then(|| result(g, &members, root))
        })
        .collect();
    let notifications: Vec<Value> = report
        .processes_unchecked
        .iter()
        .map(|u| {
            let pid = u.pid.map(|p| format!("pid {p} ")).unwrap_or_default();
            json!({"level": "warning", "message": {"text": format!("not checked: {pid}{}: {}", u.exe, u.why)}})
        })
        .chain(report.processes_partially_checked.iter().map(|p| {
            json!({"level": "note", "message": {"text": format!("partially checked: pid {} {}: {}", p.pid, p.exe, p.why)}})
        }))
        .chain(report.warnings.iter().map(|w| json!({"level": "warning", "message": {"text": w}})))
        .collect();
    let mut run = json!({
        "tool": {"driver": {
            "name": "assafe",
            "version": report.version,
            "semanticVersion": report.version,
            "rules": rules,
        }},
        "results": results,
        "invocations": [{
            "executionSuccessful": true,
            "toolExecutionNotifications": notifications,
            "properties": {
                "processesChecked": report.processes_checked,
                "processesUnchecked": report.processes_unchecked.len(),
                "processesPartiallyChecked": report.processes_partially_checked.len(),
                "suppressed": report.suppressed.len(),
            },
        }],
    });
    if !INFORMATION_URI.is_empty() {
        run["tool"]["driver"]["informationUri"] = json!(INFORMATION_URI);
    }
    if let Some(root) = root {
        let mut uri = format!("file://{}", uri_escape(&root.to_string_lossy()));
        if !uri.ends_with('/') {
            uri.push('/');
        }
        run["originalUriBaseIds"] = json!({"%SRCROOT%": {"uri": uri}});
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("sarif serializes");
    s.push('\n');
    s
}
