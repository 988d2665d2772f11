//! Turns log records into deduplicated, symbolized, suppression-filtered findings.

use crate::logs::{Kind, Logs, Occurrence};
use crate::suppress::Suppression;
use crate::symbolize::{SymFrame, Symbolizer};
use assafe_proto::{self as proto, Context, value};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

/// One deduplicated finding: a (context, function, symbolized stack).
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// A [`Context`] name (`fork-child`, …) or [`proto::ERRNO_RULE`].
    pub context: String,
    /// The interposed function called (for `errno`: the handler's name).
    pub function: String,
    pub reason: String,
    /// One-line headline (`async-signal-unsafe call to malloc() in …`).
    pub title: String,
    /// One-line explanation of the hazard for this (context, reason).
    pub explanation: String,
    /// Calls in all processes (from the summaries' counts, else one per report record).
    pub count: u64,
    /// Distinct processes that made the call.
    pub processes: usize,
    /// Distinct programs (`exe`) that made the call.
    pub programs: Vec<String>,
    /// Signals whose handlers made the call (signal-handler and errno only).
    pub signals: Vec<String>,
    /// `definite` when any report was definite, else `latent` (signal-handler only).
    pub certainty: Option<String>,
    /// Reported only because of `strict=1`.
    pub strict: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_before: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_after: Option<i64>,
    /// Frame 0 is the interposed function itself; then the call site and its callers.
    pub stack: Vec<SymFrame>,
    /// Index in `stack` of the first frame in the user's own code.
    pub user_frame: Option<usize>,
    /// Stable identity across runs (hash of context, function and the stack's function names).
    pub fingerprint: String,
    /// The suppression that hid this finding (only in `suppressed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<String>,
}

impl Finding {
    /// The frame to blame: the user frame, else the first frame with a source file, else the
    /// first real frame.
    pub fn blame_frame(&self) -> Option<&SymFrame> {
        self.user_frame
            .and_then(|i| self.stack.get(i))
            .or_else(|| self.stack.iter().find(|f| f.file.is_some() && !f.synthetic))
            .or_else(|| self.stack.iter().find(|f| !f.synthetic))
    }
}

/// A process that ran without the library, as far as the CLI can tell.
#[derive(Clone, Debug, Serialize)]
pub struct Unchecked {
    pub pid: Option<i64>,
    pub exe: String,
    pub why: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct MatchedSuppression {
    /// The suppression line as written (`fork:malloc`).
    pub pattern: String,
    pub file: PathBuf,
    pub line: usize,
    /// Findings it hid.
    pub count: usize,
    /// Calls in those findings.
    pub calls: u64,
}

/// What `assafe run` ran.
#[derive(Clone, Debug, Serialize)]
pub struct CommandInfo {
    pub argv: Vec<String>,
    /// Exit status as a shell reports it (128+N when killed by signal N).
    pub status: i32,
}

/// The whole report (the `--format json` document).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub findings: Vec<Finding>,
    pub suppressed: Vec<Finding>,
    pub suppressions_matched: Vec<MatchedSuppression>,
    pub processes_checked: usize,
    pub processes_unchecked: Vec<Unchecked>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandInfo>,
    pub log_dirs: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

/// One-line explanation of the hazard for a (context, reason) pair, from the shared reason table
/// ([`proto::reason`]).
pub fn explanation(context: &str, reason: &str, function: &str) -> String {
    if context == proto::ERRNO_RULE {
        return "the handler returns with errno changed: the interrupted code may see a wrong errno"
            .to_owned();
    }
    let r = proto::reason::lookup(reason);
    let Some(res) = r.resource else {
        // Unsafe only by POSIX's list: no lock to name.
        return format!("{function}: {} (reason: {reason})", r.why);
    };
    match Context::from_name(context) {
        Some(Context::ForkChild) => format!(
            "{function} may deadlock: another thread may have held {res} at fork (reason: {reason})"
        ),
        Some(Context::VforkChild) => format!(
            "the vfork child shares the parent's memory: {function} may deadlock on or corrupt {res} of the suspended parent (reason: {reason})"
        ),
        Some(Context::SignalHandler) => format!(
            "in a signal handler: the handler may have interrupted code holding {res} on this thread (reason: {reason})"
        ),
        Some(Context::AsyncCancel) => format!(
            "{function} is not async-cancel-safe: cancelling the thread inside it may leave {res} held (reason: {reason})"
        ),
        None => format!("{function} is not async-signal-safe (reason: {reason})"),
    }
}

fn title(context: &str, function: &str, signals: &[String], strict: bool) -> String {
    let sigs = if signals.is_empty() {
        String::new()
    } else {
        format!(" ({})", signals.join(", "))
    };
    if context == proto::ERRNO_RULE {
        return format!("signal handler {function} changes errno{sigs}");
    }
    match Context::from_name(context) {
        Some(Context::ForkChild) if strict => {
            format!("async-signal-unsafe call to {function}() in the child of a fork (strict mode)")
        }
        Some(Context::ForkChild) => {
            format!(
                "async-signal-unsafe call to {function}() in the child of a multi-threaded fork"
            )
        }
        Some(Context::VforkChild) => {
            format!("async-signal-unsafe call to {function}() in a vfork child")
        }
        Some(Context::SignalHandler) => {
            format!("async-signal-unsafe call to {function}() in a signal handler{sigs}")
        }
        Some(Context::AsyncCancel) => format!(
            "async-cancel-unsafe call to {function}() with asynchronous cancellation enabled"
        ),
        None => format!("async-signal-unsafe call to {function}() ({context})"),
    }
}

/// 64-bit FNV-1a, stable across versions and platforms.
pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

struct Group {
    finding: Finding,
    processes: BTreeSet<(usize, i64)>,
    programs: BTreeSet<String>,
    signals: BTreeSet<String>,
    all_strict: bool,
    definite: bool,
    latent: bool,
}

/// Deduplicates occurrences by (context, function, symbolized stack), applies suppressions.
pub fn analyze(
    logs: &Logs,
    suppressions: &[Suppression],
    symbolizer: &mut Symbolizer,
    unchecked: Vec<Unchecked>,
) -> Report {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for occ in &logs.occurrences {
        let stack = symbolize_occurrence(occ, symbolizer);
        let function = if occ.kind == Kind::Errno {
            stack
                .first()
                .and_then(|f| f.function.clone())
                .unwrap_or_else(|| "<unknown handler>".to_owned())
        } else {
            occ.function.clone()
        };
        let mut key = format!("{}|{}", occ.context, function);
        for f in &stack {
            key.push('|');
            key.push_str(&f.key());
        }
        let gi = *index.entry(key).or_insert_with(|| {
            let names: Vec<String> = stack
                .iter()
                .filter(|f| !f.synthetic)
                .map(|f| {
                    f.function.clone().unwrap_or_else(|| {
                        let m = f.module.as_deref().unwrap_or("");
                        format!(
                            "{}+{:#x}",
                            m.rsplit('/').next().unwrap_or(m),
                            f.offset.unwrap_or(0)
                        )
                    })
                })
                .collect();
            let fp = fnv1a(&format!("{}|{}|{}", occ.context, function, names.join("|")));
            groups.push(Group {
                finding: Finding {
                    context: occ.context.clone(),
                    function: function.clone(),
                    reason: occ.reason.clone(),
                    title: String::new(),
                    explanation: String::new(),
                    count: 0,
                    processes: 0,
                    programs: Vec::new(),
                    signals: Vec::new(),
                    certainty: None,
                    strict: false,
                    errno_before: occ.errno_before,
                    errno_after: occ.errno_after,
                    user_frame: stack.iter().position(SymFrame::is_user_code),
                    stack,
                    fingerprint: format!("{fp:016x}"),
                    suppressed_by: None,
                },
                processes: BTreeSet::new(),
                programs: BTreeSet::new(),
                signals: BTreeSet::new(),
                all_strict: true,
                definite: false,
                latent: false,
            });
            groups.len() - 1
        });
        let g = &mut groups[gi];
        g.finding.count += occ.count;
        if g.finding.reason.is_empty() && !occ.reason.is_empty() {
            g.finding.reason = occ.reason.clone();
        }
        g.processes.insert((occ.run, occ.pid));
        if !occ.exe.is_empty() {
            g.programs.insert(occ.exe.clone());
        }
        if let Some(s) = &occ.signal_name {
            g.signals.insert(s.clone());
        }
        g.all_strict &= occ.strict;
        match occ.certainty.as_deref() {
            Some(value::DEFINITE) => g.definite = true,
            Some(_) => g.latent = true,
            None => {}
        }
    }

    let mut findings = Vec::new();
    let mut suppressed = Vec::new();
    let mut matched: Vec<(usize, u64)> = vec![(0, 0); suppressions.len()];
    for g in groups {
        let mut f = g.finding;
        f.processes = g.processes.len();
        f.programs = g.programs.into_iter().collect();
        f.signals = g.signals.into_iter().collect();
        f.strict = g.all_strict;
        f.certainty = if g.definite {
            Some(value::DEFINITE.to_owned())
        } else if g.latent {
            Some(value::LATENT.to_owned())
        } else {
            None
        };
        if f.reason.is_empty() {
            f.reason = "unknown".to_owned();
        }
        f.title = title(&f.context, &f.function, &f.signals, f.strict);
        f.explanation = explanation(&f.context, &f.reason, &f.function);
        // The interposed name is matched as well as every frame (frame 0 carries it).
        let hit = suppressions
            .iter()
            .position(|s| s.matches(&f.context, &f.function, &f.stack));
        match hit {
            Some(i) => {
                matched[i].0 += 1;
                matched[i].1 += f.count;
                f.suppressed_by = Some(suppressions[i].text.clone());
                suppressed.push(f);
            }
            None => findings.push(f),
        }
    }
    let order = |a: &Finding, b: &Finding| {
        (&a.context, &a.function, &a.fingerprint).cmp(&(&b.context, &b.function, &b.fingerprint))
    };
    findings.sort_by(order);
    suppressed.sort_by(order);

    let mut warnings = logs.warnings.clone();
    if logs.unparsable_lines > 0 {
        warnings.push(format!(
            "{} unparsable lines (not JSON objects) in the logs were ignored",
            logs.unparsable_lines
        ));
    }
    for m in &symbolizer.missing {
        warnings.push(format!(
            "cannot open module {m} (deleted or unreadable): its frames are shown as module+offset"
        ));
    }

    Report {
        tool: "assafe",
        version: env!("CARGO_PKG_VERSION"),
        findings,
        suppressed,
        suppressions_matched: suppressions
            .iter()
            .zip(matched)
            .filter(|(_, (n, _))| *n > 0)
            .map(|(s, (count, calls))| MatchedSuppression {
                pattern: s.text.clone(),
                file: s.file.clone(),
                line: s.line,
                count,
                calls,
            })
            .collect(),
        processes_checked: logs.processes_checked(),
        processes_unchecked: unchecked,
        command: None,
        log_dirs: logs.sources.clone(),
        warnings,
    }
}

fn symbolize_occurrence(occ: &Occurrence, symbolizer: &mut Symbolizer) -> Vec<SymFrame> {
    match occ.kind {
        // The single frame is the handler's own address, not a return address.
        Kind::Errno => symbolizer.stack(&occ.stack, false),
        Kind::Report => {
            let mut stack = vec![SymFrame {
                function: Some(occ.function.clone()),
                synthetic: true,
                ..Default::default()
            }];
            stack.extend(symbolizer.stack(&occ.stack, true));
            stack
        }
    }
}
