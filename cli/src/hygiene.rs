//! Process-hygiene findings (issue 14) in the CLI: a log record with a `kind` key becomes a
//! finding whose `context` is the kind's name (`fd-leak`, `zombie`, …), which is also its
//! suppression word and SARIF rule id. Hygiene findings come after the async-signal findings in
//! every report; their level is the kind's (`warning`, `note` for `signal-portability`,
//! `error` for `atfork-child`, an unsafe call in a fork child), their severity `hazard`
//! (`portable` for `signal-portability`).

use crate::analyze::Finding;
use assafe_proto::{Hygiene, Severity};
use serde_json::{Value, json};

/// Is `context` a hygiene kind?
pub fn kind(context: &str) -> Option<Hygiene> {
    Hygiene::from_name(context)
}

/// Sort rank: async-signal findings (0) before hygiene findings (1 + the kind's place).
pub fn rank(context: &str) -> usize {
    kind(context).map_or(0, |h| {
        1 + Hygiene::ALL.iter().position(|&k| k == h).unwrap_or(0)
    })
}

/// Sets a hygiene finding's severity, title and explanation (`detail`: the first record's
/// `detail`). Other findings are left alone.
pub fn finish(f: &mut Finding, detail: &str) {
    let Some(h) = kind(&f.context) else { return };
    // The SARIF/text level is the kind's; the severity (what `--fail-on` chooses by) is
    // `portable` for the portability kind, and for the others what can really happen: a leaked
    // pipe end that keeps a reader from EOF, output or handlers run twice, parent code run by a
    // child, zombies piling up (`hazard`). An atfork child handler's unsafe call keeps the
    // severity its records say (judged like any fork-child call).
    f.level = h.severity();
    match h {
        Hygiene::SignalPortability => f.severity = Severity::Portable.name(),
        Hygiene::AtforkChild => {}
        _ => f.severity = Severity::Hazard.name(),
    }
    if h == Hygiene::AtforkChild {
        f.title = format!(
            "async-signal-unsafe call to {}() in a pthread_atfork child handler (child of a multi-threaded fork)",
            f.function
        );
    } else if !detail.is_empty() {
        f.title = format!("{}: {detail}", h.name());
    } else {
        f.title = format!("{}: {}()", h.name(), f.function);
    }
    f.explanation = h.explain().to_owned();
}

/// SARIF rules, one per kind, in [`Hygiene::ALL`]'s order.
pub fn sarif_rules() -> Vec<Value> {
    Hygiene::ALL
        .iter()
        .map(|&h| {
            let (name, help) = match h {
                Hygiene::FdLeak => (
                    "PipeFdLeakedAcrossExec",
                    "Create pipes with pipe2(O_CLOEXEC) (open with O_CLOEXEC, socket with SOCK_CLOEXEC), or close the fds the new program must not have before exec.",
                ),
                Hygiene::ExitInChild => (
                    "ExitInForkChild",
                    "End a fork child that did not exec with _exit(), or fflush the streams before fork.",
                ),
                Hygiene::ChildReturned => (
                    "ForkChildReturnsIntoParentCode",
                    "Make the child end with exec or _exit inside the branch that handles fork() == 0.",
                ),
                Hygiene::NestedFork => (
                    "NestedForkBeforeExec",
                    "End the child's branch with exec or _exit before the parent's next fork; to daemonise, call setsid() between the two forks.",
                ),
                Hygiene::Zombie => (
                    "UnreapedChildren",
                    "Wait for every child (waitpid, a SIGCHLD handler that reaps), or set SIGCHLD to SIG_IGN / SA_NOCLDWAIT when the status is not needed.",
                ),
                Hygiene::SignalPortability => (
                    "SignalFunctionInstallsHandler",
                    "Install handlers with sigaction(), which says exactly which semantics (SA_RESTART, SA_RESETHAND) you get.",
                ),
                Hygiene::AtforkChild => (
                    "AsyncSignalUnsafeCallInAtforkChildHandler",
                    "Make pthread_atfork child handlers call only async-signal-safe functions (reinitialise state, do not allocate or lock).",
                ),
            };
            let level = h.severity();
            json!({
                "id": h.name(),
                "name": name,
                "shortDescription": {"text": format!("Process hygiene: {}", h.name())},
                "fullDescription": {"text": h.explain()},
                "help": {"text": help, "markdown": help},
                "defaultConfiguration": {"level": level},
                "properties": {"tags": ["reliability", "process-hygiene"], "precision": "high", "problem.severity": level},
            })
        })
        .collect()
}

/// The rule index of a hygiene finding, after the `base` async-signal rules.
pub fn sarif_rule_index(context: &str, base: usize) -> Option<usize> {
    let h = kind(context)?;
    Hygiene::ALL.iter().position(|&k| k == h).map(|i| base + i)
}
