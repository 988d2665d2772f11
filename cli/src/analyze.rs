//! Turns log records into deduplicated, symbolized, suppression-filtered findings.

use crate::logs::{Kind, Logs, Occurrence, RawFrame};
use crate::suppress::Suppression;
use crate::symbolize::{SymFrame, Symbolizer, is_loader_module, is_system_module, user_frame};
use assafe_proto::reason::Why;
use assafe_proto::{self as proto, Context, Severity, value};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
    /// `definite` when any report was definite, else `latent` (else `outside`; signal-handler
    /// only).
    pub certainty: Option<String>,
    /// Where the signals came from (`synchronous`, `self`, `async`; signal-handler only).
    pub signal_origins: Vec<String>,
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
    /// Stable identity across runs and builds (hash of context, function and the names of the
    /// call site's function(s)).
    pub fingerprint: String,
    /// What the call can do with this C library in this context, the worst of its reports: a
    /// [`Severity`] name (`definite`, `hazard`, `portable`; see [`severity_of`]).
    pub severity: &'static str,
    /// SARIF level: `error` (definite, hazard), `warning` (portable, errno changes), `note`
    /// (reported only because of `strict=1`).
    pub level: &'static str,
    /// Fork child: every call was on a lock the child initialised after the fork.
    #[serde(skip)]
    pub own_object: bool,
    /// The call site that makes this one finding: the module (its build-id when the log recorded
    /// it) and offset of the return address into the interposed function.
    pub site: Option<Site>,
    /// Source packages whose tests made the call (autopkgtest runs; empty otherwise).
    pub packages: Vec<String>,
    /// The distinct stacks that reached the call site, most calls first (`stack` is the first).
    pub stacks: Vec<StackGroup>,
    /// The suppression that hid this finding (only in `suppressed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<String>,
    /// What kind of finding: `async-signal-safety`, or the `kind` a record named.
    pub kind: String,
    /// The root cause this call belongs to (see [`Root`]); its group is [`Group::id`].
    pub root: Root,
    /// The id of the [`Group`] of this finding.
    pub group: String,
    /// Position of the first call in the logs (ordering only).
    #[serde(skip)]
    pub first_seen: Seen,
    /// The (run, pid) of the processes that made the call (for the group's count).
    #[serde(skip)]
    pub process_ids: BTreeSet<(usize, i64)>,
}

/// Where a record was in the logs: run, when its process's log was created, pid, line.
pub type Seen = (usize, Option<std::time::SystemTime>, i64, usize);

/// The kind of the findings this tool has always made: unsafe calls in restricted contexts.
pub const KIND_ASYNC_SIGNAL: &str = "async-signal-safety";

/// What a finding's calls have in common, so that one bug is one report: the signal handler
/// that made them (its entry function, the frame before the signal frame), or, in a fork or
/// vfork child, the first frame in the program's own code that every call of the child shares
/// (the code that runs after the fork); else the call site itself.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Root {
    /// `handler`, `child` or `call-site`.
    pub kind: &'static str,
    /// Function (or `module+offset`) and module base name: stable across runs and rebuilds.
    pub name: String,
    /// The root's frame, when the stack has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<SymFrame>,
}

/// One root cause: every finding (call site) with the same kind, context and [`Root`].
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    /// Stable id (hash of kind, context and root name): the SARIF fingerprint of the group.
    pub id: String,
    pub kind: String,
    pub context: String,
    pub root: Root,
    /// Headline (`async-signal-unsafe calls to malloc(), free() and 3 more in signal handler …`).
    pub title: String,
    /// The worst member's severity (`definite`, `hazard`, `portable`).
    pub severity: &'static str,
    /// The worst member's SARIF level (`error`, `warning`, `note`).
    pub level: &'static str,
    pub certainty: Option<String>,
    pub signals: Vec<String>,
    pub signal_origins: Vec<String>,
    /// Calls in all processes.
    pub count: u64,
    pub processes: usize,
    pub programs: Vec<String>,
    /// The functions called, first seen first, with their calls and call sites.
    pub functions: Vec<FunctionCount>,
    /// Its call sites: indices into [`Report::findings`], first seen first.
    pub findings: Vec<usize>,
    /// The first call's stack and its first frame in the program's own code.
    pub stack: Vec<SymFrame>,
    pub user_frame: Option<usize>,
}

/// One function in a [`Group`].
#[derive(Clone, Debug, Serialize)]
pub struct FunctionCount {
    pub function: String,
    pub reason: String,
    pub count: u64,
    /// Call sites (findings) that called it.
    pub sites: usize,
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

/// Where a finding's call is: module and offset of the call site.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Site {
    pub module: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    #[serde(serialize_with = "ser_hex")]
    pub offset: u64,
}

fn ser_hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

/// One distinct stack through a finding's call site.
#[derive(Clone, Debug, Serialize)]
pub struct StackGroup {
    pub stack: Vec<SymFrame>,
    pub user_frame: Option<usize>,
    pub count: u64,
    pub processes: usize,
    pub packages: Vec<String>,
    pub programs: Vec<String>,
}

/// A process that ran without the library, as far as the CLI can tell.
#[derive(Clone, Debug, Serialize)]
pub struct Unchecked {
    pub pid: Option<i64>,
    pub exe: String,
    pub why: String,
    /// The package whose test ran it (autopkgtest runs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// A process that loaded the library but was not checked completely.
#[derive(Clone, Debug, Serialize)]
pub struct Partial {
    pub pid: i64,
    pub exe: String,
    pub why: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// Per package (autopkgtest runs): what was checked and found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PackageSummary {
    pub package: String,
    pub version: Option<String>,
    /// Test runs (autopkgtest output directories) merged.
    pub runs: usize,
    pub processes_checked: usize,
    pub processes_not_checked: usize,
    pub processes_partially_checked: usize,
    /// Findings (unsuppressed) with at least one call from this package.
    pub findings: usize,
    pub by_context: BTreeMap<String, usize>,
    pub by_severity: BTreeMap<String, usize>,
    /// autopkgtest verdicts (`summary`), as `test: VERDICT`.
    pub tests: BTreeMap<String, String>,
}

/// A finding's severity when none of its records carries one (logs written before the key
/// existed, summary-only sites, errno changes): `definite` for a definite handler call,
/// `portable` when reported only because of `strict=1` or for a fault outside libc, `hazard`
/// otherwise (an errno change is one: the interrupted code may misread its error).
pub fn severity_of(certainty: Option<&str>, strict: bool) -> Severity {
    if certainty == Some(value::DEFINITE) {
        Severity::Definite
    } else if strict || certainty == Some(value::OUTSIDE) {
        Severity::Portable
    } else {
        Severity::Hazard
    }
}

/// The SARIF level of a finding: `note` when reported only because of `strict=1`, `warning`
/// for errno changes and portable calls, `error` for hazards and definite calls.
pub fn level(context: &str, severity: Severity, strict: bool) -> &'static str {
    if strict {
        "note"
    } else if context == proto::ERRNO_RULE {
        "warning"
    } else {
        severity.sarif_level()
    }
}

/// Does the report fail a run whose `--fail-on` threshold is `threshold` (any unsuppressed
/// finding of that severity or worse)?
pub fn fails(report: &Report, threshold: Severity) -> bool {
    report.findings.iter().any(|f| {
        Severity::from_name(f.severity)
            .unwrap_or(Severity::Hazard)
            .fails(threshold)
    })
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
    /// One per root cause, first seen first: what the text and SARIF reports show.
    pub groups: Vec<Group>,
    /// One per call site, first seen first (each belongs to one of `groups`).
    pub findings: Vec<Finding>,
    pub suppressed: Vec<Finding>,
    pub suppressions_matched: Vec<MatchedSuppression>,
    /// Processes that loaded the library (see [`Logs::processes_checked`]).
    pub processes_checked: usize,
    pub processes_unchecked: Vec<Unchecked>,
    /// Processes checked but not completely (counted in `processes_checked` too).
    pub processes_partially_checked: Vec<Partial>,
    /// Per package, when the runs are autopkgtest runs (sorted by name).
    pub packages: Vec<PackageSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandInfo>,
    pub log_dirs: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

impl Report {
    /// The findings (call sites) of a group.
    pub fn members(&self, g: &Group) -> Vec<&Finding> {
        g.findings
            .iter()
            .filter_map(|&i| self.findings.get(i))
            .collect()
    }
}

/// Which explanation fits a finding (see [`proto::reason::explain_in`]).
fn why_of(context: &str, f: &Finding, severity: Severity) -> Option<Why> {
    let portable = severity == Severity::Portable;
    Some(match Context::from_name(context)? {
        Context::ForkChild if f.strict => Why::StrictOnly,
        Context::ForkChild if portable && f.own_object => Why::OwnObject,
        Context::ForkChild if portable => Why::ForkReset,
        Context::ForkChild => Why::ForkHazard,
        Context::VforkChild if portable => Why::VforkQuiet,
        Context::VforkChild => Why::Vfork,
        Context::SignalHandler if severity == Severity::Definite => Why::HandlerDefinite,
        Context::SignalHandler if f.certainty.as_deref() == Some(value::OUTSIDE) => {
            Why::HandlerOutside
        }
        Context::SignalHandler if portable => Why::HandlerSelf,
        Context::SignalHandler => Why::Handler,
        Context::AsyncCancel => Why::Cancel,
    })
}

/// One-line explanation of a finding, true for its function's class and its context, from the
/// shared reason table ([`proto::reason`]).
pub fn explanation(f: &Finding) -> String {
    let (context, reason, function) = (&f.context, &f.reason, &f.function);
    if context == proto::ERRNO_RULE {
        return "the handler returns with errno changed: the interrupted code may see a wrong errno"
            .to_owned();
    }
    let severity = Severity::from_name(f.severity).unwrap_or(Severity::Hazard);
    match why_of(context, f, severity) {
        Some(w) => format!(
            "{function}: {} (reason: {reason})",
            proto::reason::explain_in(reason, w).concat()
        ),
        None => format!("{function} is not async-signal-safe (reason: {reason})"),
    }
}

fn title(f: &Finding) -> String {
    let (context, function, signals, strict) = (&f.context, &f.function, &f.signals, f.strict);
    let certainty = f.certainty.as_deref();
    let sigs = if signals.is_empty() {
        String::new()
    } else if f.signal_origins.is_empty() {
        format!(" ({})", signals.join(", "))
    } else {
        format!(
            " ({}; {} signal)",
            signals.join(", "),
            f.signal_origins.join("/")
        )
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
        Some(Context::SignalHandler) => match certainty {
            Some(c) => {
                format!("async-signal-unsafe call to {function}() in a signal handler{sigs}, {c}")
            }
            None => format!("async-signal-unsafe call to {function}() in a signal handler{sigs}"),
        },
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

#[derive(Default)]
struct StackAcc {
    count: u64,
    processes: BTreeSet<(usize, i64)>,
    packages: BTreeSet<String>,
    programs: BTreeSet<String>,
}

struct Acc {
    finding: Finding,
    /// Symbolized stack (its frame keys) → the stack and its tallies.
    stacks: BTreeMap<Vec<String>, (Vec<SymFrame>, StackAcc)>,
    processes: BTreeSet<(usize, i64)>,
    packages: BTreeSet<String>,
    programs: BTreeSet<String>,
    signals: BTreeSet<String>,
    origins: BTreeSet<String>,
    all_strict: bool,
    definite: bool,
    latent: bool,
    outside: bool,
    /// The worst severity its reports carry (`None`: none carries one).
    worst: Option<Severity>,
}

/// The call site a finding is judged at: the first frame of the raw stack that is not
/// libassafe's own, unless that frame is the C runtime or the loader acting on the program's
/// behalf — libc, ld.so, libstdc++, or a library's constructor/destructor that the loader runs
/// (`__cxa_finalize` from each library's destructor when a child calls `exit`) — then the
/// program's own call into them (`exit` in `main`). Never crosses a signal frame.
fn judged_site<'a>(occ: &'a Occurrence, symbolizer: &mut Symbolizer) -> Option<&'a RawFrame> {
    let frames: Vec<&RawFrame> = occ
        .stack
        .iter()
        .filter(|f| !crate::symbolize::is_assafe_module(&f.module))
        .collect();
    let first = *frames.first()?;
    for (i, f) in frames.iter().enumerate() {
        if f.module.is_empty() || symbolizer.is_signal_frame(f) {
            return Some(first);
        }
        let by_loader = frames
            .get(i + 1)
            .is_some_and(|c| is_loader_module(&c.module));
        if !is_system_module(&f.module) && !by_loader {
            return Some(f);
        }
    }
    Some(first)
}

/// The key of a frame for comparing stacks of different calls: function and module, not the
/// address (two calls from one function are at different addresses).
fn frame_identity(f: &SymFrame) -> String {
    let m = f.module.as_deref().unwrap_or("");
    let m = m.rsplit('/').next().unwrap_or(m);
    match &f.function {
        Some(func) => format!("{func}@{m}"),
        None => format!("{m}+{:#x}", f.offset.unwrap_or(0)),
    }
}

/// The root of a call in a fork or vfork child: of the frames that the child's calls share with
/// its first call (outermost first: `main`, …, the function that forked), the innermost — the
/// code the child runs after the fork — moved outwards to the first frame in the program's own
/// code. `stacks` are the process's stacks in log order; calls whose stacks share no frame of the
/// program's own code with the first call (threads the child started) do not narrow it.
fn child_root(stacks: &[&[SymFrame]]) -> Option<SymFrame> {
    let real = |s: &&[SymFrame]| -> Vec<SymFrame> {
        s.iter()
            .filter(|f| !f.synthetic && !f.signal_frame)
            .cloned()
            .collect()
    };
    let all: Vec<Vec<SymFrame>> = stacks.iter().map(real).collect();
    // Summary-only sites have one frame: use the full stacks when there are any.
    let full: Vec<&Vec<SymFrame>> = all.iter().filter(|s| s.len() > 1).collect();
    let use_: Vec<&Vec<SymFrame>> = if full.is_empty() {
        all.iter().filter(|s| !s.is_empty()).collect()
    } else {
        full
    };
    let first = *use_.first()?;
    let mut common = first.len();
    for s in &use_[1..] {
        let n = first
            .iter()
            .rev()
            .zip(s.iter().rev())
            .take_while(|(a, b)| frame_identity(a) == frame_identity(b))
            .count();
        let shared = &first[first.len() - n..];
        if shared.iter().any(SymFrame::is_user_code) {
            common = common.min(n);
        }
    }
    let inner = first.len() - common;
    let tail = &first[inner..];
    let i = user_frame(tail).unwrap_or(0);
    tail.get(i).cloned()
}

fn root_name(f: &SymFrame) -> String {
    let m = f.module.as_deref().unwrap_or("");
    let m = m.rsplit('/').next().unwrap_or(m);
    match &f.function {
        Some(func) => format!("{func} ({m})"),
        None => format!("{m}+{:#x}", f.offset.unwrap_or(0)),
    }
}

/// The handler that made a call in a signal handler: the frame before the innermost signal
/// frame (`stack` without libassafe's frames; frame 0 may be the synthetic one).
fn handler_frame(stack: &[SymFrame]) -> Option<SymFrame> {
    let s = stack.iter().position(|f| f.signal_frame)?;
    stack[..s].iter().rev().find(|f| !f.synthetic).cloned()
}

/// Deduplicates occurrences into findings — one per (context, function, call site), where the
/// call site is the module (by build-id when recorded, else path) and offset of the return
/// address into the interposed function (or of the program's call that made libc or the loader
/// call it, see [`judged_site`]), so the same call in the same library seen from many programs
/// and packages is one finding — applies suppressions, and groups the findings by root cause
/// ([`Root`], [`Group`]). The distinct stacks that reached a call site are kept, grouped, in
/// [`Finding::stacks`]. Findings and groups are ordered by first occurrence in the logs.
pub fn analyze(
    logs: &Logs,
    suppressions: &[Suppression],
    symbolizer: &mut Symbolizer,
    unchecked: Vec<Unchecked>,
) -> Report {
    // Pass 1: symbolize every occurrence, and find the roots that need all calls of a process.
    let stacks: Vec<Vec<SymFrame>> = logs
        .occurrences
        .iter()
        .map(|occ| symbolize_occurrence(occ, symbolizer))
        .collect();
    let is_child = |c: &str| c == Context::ForkChild.name() || c == Context::VforkChild.name();
    let mut per_child: HashMap<(usize, i64, &str), Vec<&[SymFrame]>> = HashMap::new();
    // (run, pid, signal) → the handler seen in a full stack (for summary-only sites).
    let mut handlers: HashMap<(usize, i64, Option<&str>), SymFrame> = HashMap::new();
    for (occ, stack) in logs.occurrences.iter().zip(&stacks) {
        if occ.finding_kind.is_some() {
            continue;
        }
        // In a fork or vfork child the thread that returned from the fork has the process's
        // id; threads the child started later are not the code that runs after the fork.
        if is_child(&occ.context) && occ.tid.is_none_or(|t| t == occ.pid) {
            per_child
                .entry((occ.run, occ.pid, occ.context.as_str()))
                .or_default()
                .push(stack);
        } else if occ.context == Context::SignalHandler.name()
            && let Some(h) = handler_frame(stack)
        {
            handlers
                .entry((occ.run, occ.pid, occ.signal_name.as_deref()))
                .or_insert(h);
        }
    }
    let child_roots: HashMap<(usize, i64, &str), Option<SymFrame>> = per_child
        .into_iter()
        .map(|(k, v)| (k, child_root(&v)))
        .collect();

    let mut index: HashMap<String, usize> = HashMap::new();
    let mut accs: Vec<Acc> = Vec::new();
    for (occ, stack) in logs.occurrences.iter().zip(stacks) {
        let function = if occ.kind == Kind::Errno {
            stack
                .first()
                .and_then(|f| f.function.clone())
                .unwrap_or_else(|| "<unknown handler>".to_owned())
        } else {
            occ.function.clone()
        };
        let raw_site = judged_site(occ, symbolizer).filter(|f| !f.module.is_empty());
        let site = raw_site.map(|f| Site {
            module: f.module.clone(),
            build_id: f.build_id.clone(),
            offset: f.offset,
        });
        let first_raw = occ
            .stack
            .iter()
            .find(|f| !crate::symbolize::is_assafe_module(&f.module));
        let site_names: Vec<String> = match raw_site {
            // The first frame: as the stack named it (a handler's own address is looked up
            // as it is, a return address one byte back).
            Some(f) if first_raw.is_some_and(|r| std::ptr::eq(r, f)) => {
                let real = stack.iter().filter(|x| !x.synthetic);
                let mut names = Vec::new();
                for x in real {
                    names.push(frame_name(x));
                    if !x.inlined {
                        break;
                    }
                }
                names
            }
            Some(f) => symbolizer
                .frame_at(f, occ.kind == Kind::Report, occ.logged_at)
                .iter()
                .map(frame_name)
                .collect(),
            None => stack
                .iter()
                .filter(|f| !f.synthetic)
                .map(frame_name)
                .collect(),
        };
        let kind = occ
            .finding_kind
            .clone()
            .unwrap_or_else(|| KIND_ASYNC_SIGNAL.to_owned());
        let root_frame = if occ.finding_kind.is_some() {
            None
        } else if occ.kind == Kind::Errno {
            stack.first().cloned().map(|f| ("handler", f))
        } else if occ.context == Context::SignalHandler.name() {
            handler_frame(&stack)
                .or_else(|| {
                    handlers
                        .get(&(occ.run, occ.pid, occ.signal_name.as_deref()))
                        .cloned()
                })
                .map(|f| ("handler", f))
        } else if is_child(&occ.context) {
            child_roots
                .get(&(occ.run, occ.pid, occ.context.as_str()))
                .cloned()
                .flatten()
                .map(|f| ("child", f))
        } else {
            None
        };
        let root = match root_frame {
            Some((k, f)) => Root {
                kind: k,
                name: root_name(&f),
                frame: Some(f),
            },
            None => Root {
                kind: "call-site",
                name: site_names.join("|"),
                frame: None,
            },
        };
        let stack_keys: Vec<String> = stack.iter().map(SymFrame::key).collect();
        let key = match &site {
            Some(s) => format!(
                "{kind}|{}|{}|{}+{:#x}",
                occ.context,
                function,
                s.build_id.as_deref().unwrap_or(&s.module),
                s.offset
            ),
            // No module for the site: the symbolized stack is all there is.
            None => format!(
                "{kind}|{}|{}|{}",
                occ.context,
                function,
                stack_keys.join("|")
            ),
        };
        let seen: Seen = (occ.run, occ.order.0, occ.pid, occ.order.1);
        let gi = *index.entry(key).or_insert_with(|| {
            // The fingerprint names the root and the call site's function(s) (with inlined
            // frames): stable across processes, runs, rebuilds that keep the functions, and
            // changes in the outer code.
            let fp = fnv1a(&format!(
                "{}|{}|{}|{}",
                occ.context,
                function,
                root.name,
                site_names.join("|")
            ));
            accs.push(Acc {
                finding: Finding {
                    context: occ.context.clone(),
                    function: function.clone(),
                    reason: occ.reason.clone(),
                    // A hygiene record's detail, until `crate::hygiene::finish` makes the title.
                    title: occ.detail.clone().unwrap_or_default(),
                    explanation: String::new(),
                    count: 0,
                    processes: 0,
                    programs: Vec::new(),
                    signals: Vec::new(),
                    signal_origins: Vec::new(),
                    certainty: None,
                    strict: false,
                    errno_before: occ.errno_before,
                    errno_after: occ.errno_after,
                    user_frame: None,
                    stack: Vec::new(),
                    fingerprint: format!("{fp:016x}"),
                    severity: Severity::Hazard.name(),
                    level: "error",
                    own_object: true,
                    site: site.clone(),
                    packages: Vec::new(),
                    stacks: Vec::new(),
                    suppressed_by: None,
                    kind: kind.clone(),
                    root: root.clone(),
                    group: String::new(),
                    first_seen: seen,
                    process_ids: BTreeSet::new(),
                },
                stacks: BTreeMap::new(),
                processes: BTreeSet::new(),
                packages: BTreeSet::new(),
                programs: BTreeSet::new(),
                signals: BTreeSet::new(),
                origins: BTreeSet::new(),
                all_strict: true,
                definite: false,
                latent: false,
                outside: false,
                worst: None,
            });
            accs.len() - 1
        });
        let g = &mut accs[gi];
        g.finding.count += occ.count;
        g.finding.first_seen = g.finding.first_seen.min(seen);
        if g.finding.reason.is_empty() && !occ.reason.is_empty() {
            g.finding.reason = occ.reason.clone();
        }
        let package = logs.package(occ.run);
        g.processes.insert((occ.run, occ.pid));
        if let Some(p) = package {
            g.packages.insert(p.to_owned());
        }
        if !occ.exe.is_empty() {
            g.programs.insert(occ.exe.clone());
        }
        let acc = &mut g
            .stacks
            .entry(stack_keys)
            .or_insert_with(|| (stack, StackAcc::default()))
            .1;
        acc.count += occ.count;
        acc.processes.insert((occ.run, occ.pid));
        if let Some(p) = package {
            acc.packages.insert(p.to_owned());
        }
        if !occ.exe.is_empty() {
            acc.programs.insert(occ.exe.clone());
        }
        if let Some(s) = &occ.signal_name {
            g.signals.insert(s.clone());
        }
        if let Some(o) = &occ.signal_origin {
            g.origins.insert(o.clone());
        }
        g.all_strict &= occ.strict;
        match occ.certainty.as_deref() {
            Some(value::DEFINITE) => g.definite = true,
            Some(value::OUTSIDE) => g.outside = true,
            Some(_) => g.latent = true,
            None => {}
        }
        if let Some(sev) = occ.severity.as_deref().and_then(Severity::from_name) {
            g.worst = g.worst.max(Some(sev));
        }
        if occ.severity.is_some() {
            g.finding.own_object &= occ.own_object;
        }
    }

    let mut findings = Vec::new();
    let mut suppressed = Vec::new();
    let mut matched: Vec<(usize, u64)> = vec![(0, 0); suppressions.len()];
    for g in accs {
        let mut f = g.finding;
        f.processes = g.processes.len();
        f.process_ids = g.processes;
        f.programs = g.programs.into_iter().collect();
        f.packages = g.packages.into_iter().collect();
        f.signals = g.signals.into_iter().collect();
        f.signal_origins = g.origins.into_iter().collect();
        f.strict = g.all_strict;
        f.certainty = if g.definite {
            Some(value::DEFINITE.to_owned())
        } else if g.latent {
            Some(value::LATENT.to_owned())
        } else if g.outside {
            Some(value::OUTSIDE.to_owned())
        } else {
            None
        };
        let mut stacks: Vec<(Vec<String>, StackGroup)> = g
            .stacks
            .into_iter()
            .map(|(k, (stack, acc))| {
                (
                    k,
                    StackGroup {
                        user_frame: user_frame(&stack),
                        stack,
                        count: acc.count,
                        processes: acc.processes.len(),
                        packages: acc.packages.into_iter().collect(),
                        programs: acc.programs.into_iter().collect(),
                    },
                )
            })
            .collect();
        // Most calls first, then the longest (a summary-only site has one frame), then by keys.
        stacks.sort_by(|a, b| {
            b.1.count
                .cmp(&a.1.count)
                .then(b.1.stack.len().cmp(&a.1.stack.len()))
                .then(a.0.cmp(&b.0))
        });
        f.stacks = stacks.into_iter().map(|(_, s)| s).collect();
        if let Some(first) = f.stacks.first() {
            f.stack = first.stack.clone();
            f.user_frame = first.user_frame;
        }
        if f.reason.is_empty() {
            f.reason = "unknown".to_owned();
        }
        let detail = std::mem::take(&mut f.title);
        let sev = g
            .worst
            .unwrap_or_else(|| severity_of(f.certainty.as_deref(), f.strict));
        f.severity = sev.name();
        f.level = level(&f.context, sev, f.strict);
        f.own_object &= g.worst.is_some();
        f.title = title(&f);
        f.explanation = explanation(&f);
        crate::hygiene::finish(&mut f, &detail); // process hygiene findings
        f.group = group_id(&f);
        // The interposed name is matched as well as every frame (frame 0 carries it); a finding
        // is suppressed when a suppression matches any of its stacks.
        let hit = suppressions.iter().position(|s| {
            f.stacks
                .iter()
                .any(|st| s.matches(&f.context, &f.function, &st.stack))
        });
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
    // Process hygiene findings after the async-signal ones (`crate::hygiene::rank`); within
    // each, first occurrence first; ties (summary-only sites) by name.
    let order = |a: &Finding, b: &Finding| {
        crate::hygiene::rank(&a.context)
            .cmp(&crate::hygiene::rank(&b.context))
            .then_with(|| {
                (
                    &a.first_seen,
                    &a.context,
                    &a.function,
                    &a.fingerprint,
                    &a.site,
                )
                    .cmp(&(
                        &b.first_seen,
                        &b.context,
                        &b.function,
                        &b.fingerprint,
                        &b.site,
                    ))
            })
    };
    findings.sort_by(order);
    suppressed.sort_by(order);
    let groups = group(&findings);

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
    warnings.extend(symbolizer.build_warnings());

    let partial: Vec<Partial> = logs
        .processes
        .values()
        .filter(|p| !p.partial.is_empty())
        .map(|p| Partial {
            pid: p.pid,
            exe: p.exes.first().cloned().unwrap_or_default(),
            why: p.partial.join("; "),
            package: logs.package(p.run).map(str::to_owned),
        })
        .collect();
    let packages = package_summaries(logs, &findings, &unchecked, &partial);

    Report {
        tool: "assafe",
        version: env!("CARGO_PKG_VERSION"),
        groups,
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
        processes_partially_checked: partial,
        packages,
        command: None,
        log_dirs: logs.sources.clone(),
        warnings,
    }
}

/// A frame's name for fingerprints: the function, else `module+offset`.
fn frame_name(f: &SymFrame) -> String {
    f.function.clone().unwrap_or_else(|| {
        let m = f.module.as_deref().unwrap_or("");
        format!(
            "{}+{:#x}",
            m.rsplit('/').next().unwrap_or(m),
            f.offset.unwrap_or(0)
        )
    })
}

fn package_summaries(
    logs: &Logs,
    findings: &[Finding],
    unchecked: &[Unchecked],
    partial: &[Partial],
) -> Vec<PackageSummary> {
    let mut out: BTreeMap<String, PackageSummary> = BTreeMap::new();
    for r in &logs.runs {
        let Some(p) = &r.package else { continue };
        let s = out.entry(p.clone()).or_insert_with(|| PackageSummary {
            package: p.clone(),
            ..Default::default()
        });
        s.runs += 1;
        if s.version.is_none() || r.version > s.version {
            s.version = r.version.clone();
        }
        for (t, v) in &r.verdicts {
            // Several runs of one package: a test fails if it failed in any run.
            let e = s.tests.entry(t.clone()).or_insert_with(|| v.clone());
            if v != "PASS" && *e == "PASS" {
                *e = v.clone();
            }
        }
    }
    if out.is_empty() {
        return Vec::new();
    }
    for p in logs.processes.values() {
        if let Some(s) = logs.package(p.run).and_then(|n| out.get_mut(n)) {
            s.processes_checked += 1;
        }
    }
    for u in unchecked {
        if let Some(s) = u.package.as_deref().and_then(|n| out.get_mut(n)) {
            s.processes_not_checked += 1;
        }
    }
    for u in partial {
        if let Some(s) = u.package.as_deref().and_then(|n| out.get_mut(n)) {
            s.processes_partially_checked += 1;
        }
    }
    for f in findings {
        for p in &f.packages {
            if let Some(s) = out.get_mut(p) {
                s.findings += 1;
                *s.by_context.entry(f.context.clone()).or_default() += 1;
                *s.by_severity.entry(f.severity.to_owned()).or_default() += 1;
            }
        }
    }
    out.into_values().collect()
}

fn symbolize_occurrence(occ: &Occurrence, symbolizer: &mut Symbolizer) -> Vec<SymFrame> {
    match occ.kind {
        // The single frame is the handler's own address, not a return address.
        Kind::Errno => symbolizer.stack_at(&occ.stack, false, occ.logged_at),
        Kind::Report => {
            let mut stack = vec![SymFrame {
                function: Some(occ.function.clone()),
                synthetic: true,
                ..Default::default()
            }];
            // A handler that ran in a vfork child is recorded by its own address, which is no
            // return address: at address−1 it would name the function before it.
            let return_addresses = occ.function != value::HANDLER_IN_VFORK_FUNCTION;
            stack.extend(symbolizer.stack_at(&occ.stack, return_addresses, occ.logged_at));
            stack
        }
    }
}

/// The id of a finding's group: hash of kind, context and the root's function (its name with
/// the module when the function has no name), so it survives a renamed or rebuilt program.
fn group_id(f: &Finding) -> String {
    let root = f
        .root
        .frame
        .as_ref()
        .and_then(|fr| fr.function.as_deref())
        .unwrap_or(&f.root.name);
    format!(
        "{:016x}",
        fnv1a(&format!("group|{}|{}|{root}", f.kind, f.context))
    )
}

/// Worse is higher: a group's severity is its worst member's.
fn severity_rank(s: &str) -> u8 {
    match s {
        "definite" => 4,
        "hazard" | "error" => 3,
        "warning" => 2,
        "portable" => 1,
        _ => 0,
    }
}

fn level_rank(l: &str) -> u8 {
    match l {
        "error" => 2,
        "warning" => 1,
        _ => 0,
    }
}

/// `malloc(), free() and 3 more`.
fn function_list(functions: &[FunctionCount], max: usize) -> String {
    let names: Vec<String> = functions
        .iter()
        .take(max)
        .map(|f| format!("{}()", f.function))
        .collect();
    let more = functions.len().saturating_sub(max);
    match (names.len(), more) {
        (1, 0) => names[0].clone(),
        (_, 0) => {
            let (last, rest) = names.split_last().expect("two or more");
            format!("{} and {last}", rest.join(", "))
        }
        _ => format!("{} and {more} more", names.join(", ")),
    }
}

fn group_title(g: &Group, first: &Finding) -> String {
    if g.findings.len() == 1 {
        return first.title.clone();
    }
    let sigs = if g.signals.is_empty() {
        String::new()
    } else {
        format!(" ({})", g.signals.join(", "))
    };
    let root = match &g.root.frame {
        Some(f) => f.function.clone().unwrap_or_else(|| g.root.name.clone()),
        None => g.root.name.clone(),
    };
    let calls = format!(
        "{} call sites: {}",
        g.findings.len(),
        function_list(&g.functions, 4)
    );
    if g.kind != KIND_ASYNC_SIGNAL {
        return format!("{} ({}): {calls}", g.kind, g.context);
    }
    if g.context == proto::ERRNO_RULE {
        return format!("signal handler {root} changes errno{sigs}: {calls}");
    }
    match (Context::from_name(&g.context), g.root.kind) {
        (Some(Context::SignalHandler), "handler") => {
            format!("async-signal-unsafe calls in signal handler {root}{sigs}: {calls}")
        }
        (Some(Context::SignalHandler), _) => {
            format!("async-signal-unsafe calls in a signal handler{sigs}: {calls}")
        }
        (Some(Context::ForkChild), "child") => format!(
            "async-signal-unsafe calls in the child of a multi-threaded fork, from {root}: {calls}"
        ),
        (Some(Context::VforkChild), "child") => {
            format!("async-signal-unsafe calls in a vfork child, from {root}: {calls}")
        }
        _ => format!(
            "async-signal-unsafe calls {}: {calls}",
            match Context::from_name(&g.context) {
                Some(Context::ForkChild) => "in the child of a multi-threaded fork".to_owned(),
                Some(Context::VforkChild) => "in a vfork child".to_owned(),
                Some(Context::AsyncCancel) => "with asynchronous cancellation enabled".to_owned(),
                _ => format!("({})", g.context),
            }
        ),
    }
}

/// Groups findings (ordered by first occurrence) by root cause: one [`Group`] per (kind,
/// context, root), in the order of its first finding.
pub fn group(findings: &[Finding]) -> Vec<Group> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut members: Vec<Vec<&Finding>> = Vec::new();
    let mut indices: Vec<Vec<usize>> = Vec::new();
    for (fi, f) in findings.iter().enumerate() {
        let i = *index.entry(f.group.as_str()).or_insert_with(|| {
            groups.push(Group {
                id: f.group.clone(),
                kind: f.kind.clone(),
                context: f.context.clone(),
                root: f.root.clone(),
                title: String::new(),
                severity: f.severity,
                level: f.level,
                certainty: None,
                signals: Vec::new(),
                signal_origins: Vec::new(),
                count: 0,
                processes: 0,
                programs: Vec::new(),
                functions: Vec::new(),
                findings: Vec::new(),
                stack: f.stack.clone(),
                user_frame: f.user_frame,
            });
            members.push(Vec::new());
            indices.push(Vec::new());
            groups.len() - 1
        });
        members[i].push(f);
        indices[i].push(fi);
    }
    for ((g, ms), ix) in groups.iter_mut().zip(&members).zip(indices) {
        g.findings = ix;
        let mut programs = BTreeSet::new();
        let mut signals = BTreeSet::new();
        let mut origins = BTreeSet::new();
        let mut processes = BTreeSet::new();
        for f in ms {
            g.count += f.count;
            processes.extend(f.process_ids.iter().copied());
            programs.extend(f.programs.iter().cloned());
            signals.extend(f.signals.iter().cloned());
            origins.extend(f.signal_origins.iter().cloned());
            if severity_rank(f.severity) > severity_rank(g.severity) {
                g.severity = f.severity;
            }
            if level_rank(f.level) > level_rank(g.level) {
                g.level = f.level;
            }
            match (f.certainty.as_deref(), g.certainty.as_deref()) {
                (Some(value::DEFINITE), _) => g.certainty = f.certainty.clone(),
                (Some(c), None) => g.certainty = Some(c.to_owned()),
                _ => {}
            }
            match g.functions.iter_mut().find(|x| x.function == f.function) {
                Some(x) => {
                    x.count += f.count;
                    x.sites += 1;
                }
                None => g.functions.push(FunctionCount {
                    function: f.function.clone(),
                    reason: f.reason.clone(),
                    count: f.count,
                    sites: 1,
                }),
            }
        }
        g.processes = processes.len();
        g.programs = programs.into_iter().collect();
        g.signals = signals.into_iter().collect();
        g.signal_origins = origins.into_iter().collect();
        g.title = group_title(g, ms[0]);
    }
    groups
}
