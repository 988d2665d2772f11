//! Turns log records into deduplicated, symbolized, suppression-filtered findings.

use crate::logs::{Kind, Logs, Occurrence};
use crate::suppress::Suppression;
use crate::symbolize::{SymFrame, Symbolizer};
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

struct Group {
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

/// The first frame of a raw stack that is not libassafe's own: the call site.
fn site_frame(occ: &Occurrence) -> Option<&crate::logs::RawFrame> {
    occ.stack
        .iter()
        .find(|f| !crate::symbolize::is_assafe_module(&f.module))
}

/// Deduplicates occurrences into findings — one per (context, function, call site), where the
/// call site is the module (by build-id when recorded, else path) and offset of the return
/// address into the interposed function, so the same call in the same library seen from many
/// programs and packages is one finding — and applies suppressions. The distinct stacks that
/// reached a call site are kept, grouped, in [`Finding::stacks`].
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
        let raw_site = site_frame(occ).filter(|f| !f.module.is_empty());
        let site = raw_site.map(|f| Site {
            module: f.module.clone(),
            build_id: f.build_id.clone(),
            offset: f.offset,
        });
        let stack_keys: Vec<String> = stack.iter().map(SymFrame::key).collect();
        let key = match &site {
            Some(s) => format!(
                "{}|{}|{}+{:#x}",
                occ.context,
                function,
                s.build_id.as_deref().unwrap_or(&s.module),
                s.offset
            ),
            // No module for the site: the symbolized stack is all there is.
            None => format!("{}|{}|{}", occ.context, function, stack_keys.join("|")),
        };
        let gi = *index.entry(key).or_insert_with(|| {
            // The fingerprint names the call site's function(s) (with inlined frames) and module
            // base name: stable across processes, runs and rebuilds that keep the function.
            let site_names: Vec<String> = match raw_site {
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
            let fp = fnv1a(&format!(
                "{}|{}|{}",
                occ.context,
                function,
                site_names.join("|")
            ));
            groups.push(Group {
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
            groups.len() - 1
        });
        let g = &mut groups[gi];
        g.finding.count += occ.count;
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
    for g in groups {
        let mut f = g.finding;
        f.processes = g.processes.len();
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
                        user_frame: stack.iter().position(SymFrame::is_user_code),
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
    // Process hygiene findings after the async-signal ones (`crate::hygiene::rank`).
    let order = |a: &Finding, b: &Finding| {
        crate::hygiene::rank(&a.context)
            .cmp(&crate::hygiene::rank(&b.context))
            .then_with(|| {
                (&a.context, &a.function, &a.fingerprint, &a.site).cmp(&(
                    &b.context,
                    &b.function,
                    &b.fingerprint,
                    &b.site,
                ))
            })
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
            stack.extend(symbolizer.stack_at(&occ.stack, true, occ.logged_at));
            stack
        }
    }
}
