//! Text (sanitizer-like) and JSON renderings of a [`Report`].

use crate::analyze::{Finding, Group, Report};
use crate::symbolize::SymFrame;
use std::fmt::Write;

/// `#1 0x55d0c0de1234 in main /src/prog.c:12` (sanitizer layout).
pub fn frame_line(i: usize, f: &SymFrame) -> String {
    if f.signal_frame {
        return format!("#{i} {}", crate::symbolize::SIGNAL_FRAME_NAME);
    }
    if f.synthetic {
        return format!("#{i} {}", f.function.as_deref().unwrap_or("?"));
    }
    let mut s = format!("#{i}");
    if let Some(a) = f.addr {
        let _ = write!(s, " {a:#x}");
    }
    match (&f.function, &f.module) {
        (Some(func), _) => {
            let _ = write!(s, " in {func}");
            match (&f.file, f.line) {
                (Some(file), Some(line)) if line > 0 => {
                    let _ = write!(s, " {file}:{line}");
                }
                (Some(file), _) => {
                    let _ = write!(s, " {file}");
                }
                _ => {
                    if let Some(m) = &f.module {
                        let _ = write!(s, " ({m}+{:#x})", f.offset.unwrap_or(0));
                    }
                }
            }
        }
        (None, Some(m)) => {
            let _ = write!(s, " ({m}+{:#x})", f.offset.unwrap_or(0));
        }
        (None, None) => {}
    }
    if f.inlined {
        s.push_str(" (inlined)");
    }
    s
}

fn programs(f: &Finding) -> String {
    const MAX: usize = 5;
    let mut p: Vec<&str> = f.programs.iter().map(String::as_str).take(MAX).collect();
    let more = f.programs.len().saturating_sub(MAX);
    let more_s = format!("and {more} more");
    if more > 0 {
        p.push(&more_s);
    }
    p.join(", ")
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// How many frames of a stack the text report prints by default (`--max-frames`).
pub const DEFAULT_MAX_FRAMES: usize = 16;

/// Prints `stack`, at most `max` frames (0: all): the first ones (always through the frame in
/// the program's own code) and the outermost few, with `… N frames …` in place of the middle;
/// then, when no frame is the program's own (`user` None), a line that says so.
fn stack_lines(out: &mut String, stack: &[SymFrame], user: Option<usize>, max: usize) {
    let n = stack.len();
    let (head, tail) = if max == 0 || n <= max {
        (n, 0)
    } else {
        let tail = (max / 4).max(1).min(max.saturating_sub(1));
        let head = (max - tail).max(user.map_or(0, |u| u + 1));
        if head + tail >= n {
            (n, 0)
        } else {
            (head, tail)
        }
    };
    let line = |out: &mut String, i: usize| {
        let mark = if Some(i) == user {
            "  <== first frame in your code"
        } else {
            ""
        };
        let _ = writeln!(out, "    {}{mark}", frame_line(i, &stack[i]));
    };
    for i in 0..head {
        line(out, i);
    }
    if tail > 0 {
        let skipped = n - head - tail;
        let _ = writeln!(
            out,
            "    … {skipped} {} …",
            if skipped == 1 { "frame" } else { "frames" }
        );
        for i in n - tail..n {
            line(out, i);
        }
    }
    if user.is_none() {
        let _ = writeln!(
            out,
            "    (no frame in your own code: build with -g and frame info, or see the modules above)"
        );
    }
}

/// `SIGCHLD (async signal), latent: …` — how the handler was entered, as the raw log says it.
fn handler_wording(
    signals: &[String],
    origins: &[String],
    certainty: Option<&str>,
) -> Option<String> {
    if signals.is_empty() && certainty.is_none() {
        return None;
    }
    let mut s = signals.join(", ");
    if !origins.is_empty() {
        let o: Vec<String> = origins.iter().map(|o| format!("{o} signal")).collect();
        let _ = write!(s, " ({})", o.join(", "));
    }
    match certainty {
        Some(assafe_proto::value::DEFINITE) => {
            s.push_str(", definite: the handler interrupted this thread inside an unsafe function")
        }
        Some(assafe_proto::value::LATENT) => s.push_str(
            ", latent: the handler interrupted safe code this time; an unlucky signal deadlocks",
        ),
        Some(assafe_proto::value::OUTSIDE) => {
            s.push_str(", outside: a fault at an instruction outside every unsafe function")
        }
        _ => {}
    }
    Some(s.trim_start_matches(", ").to_owned())
}

fn finding_block(out: &mut String, f: &Finding, suppressed: bool, max: usize) {
    let _ = writeln!(out, "==assafe== [{}] {}", f.severity, f.title);
    let _ = writeln!(out, "    {}", f.explanation);
    if let Some(w) = handler_wording(&f.signals, &f.signal_origins, f.certainty.as_deref()) {
        let _ = writeln!(out, "    {w}");
    }
    if let (Some(b), Some(a)) = (f.errno_before, f.errno_after) {
        let _ = writeln!(out, "    errno was {b} before the handler and {a} after it");
    }
    let _ = writeln!(
        out,
        "    {} in {} ({})",
        plural(f.count, "call", "calls"),
        plural(f.processes as u64, "process", "processes"),
        programs(f)
    );
    if let Some(s) = &f.suppressed_by
        && suppressed
    {
        let _ = writeln!(out, "    suppressed by {s}");
    }
    stack_lines(out, &f.stack, f.user_frame, max);
    out.push('\n');
}

/// One root cause: its headline, what it called (function, calls, call sites) and one stack.
fn group_block(out: &mut String, g: &Group, members: &[&Finding], max: usize) {
    let [first] = members else {
        // Several call sites.
        let _ = writeln!(out, "==assafe== [{}] {}", g.severity, g.title);
        if let Some(f) = &g.root.frame {
            let what = if g.root.kind == "handler" {
                "handler"
            } else {
                "root"
            };
            // The root function, not the first call's address in it.
            let named = SymFrame {
                addr: None,
                ..f.clone()
            };
            let line = frame_line(0, &named);
            let line = line
                .strip_prefix("#0 in ")
                .or_else(|| line.strip_prefix("#0 "))
                .unwrap_or(&line);
            let _ = writeln!(out, "    {what}: {line}");
        }
        if let Some(w) = handler_wording(&g.signals, &g.signal_origins, g.certainty.as_deref()) {
            let _ = writeln!(out, "    {w}");
        }
        // One explanation per reason (the first function's), at most four.
        let mut explained: Vec<&str> = Vec::new();
        for m in members {
            if !explained.contains(&m.reason.as_str()) && explained.len() < 4 {
                explained.push(&m.reason);
                let _ = writeln!(out, "    {}", m.explanation);
            }
        }
        let progs: Vec<&str> = g.programs.iter().take(5).map(String::as_str).collect();
        let more = g.programs.len().saturating_sub(5);
        let _ = writeln!(
            out,
            "    {} at {} call sites in {} ({}{})",
            plural(g.count, "call", "calls"),
            members.len(),
            plural(g.processes as u64, "process", "processes"),
            progs.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
        const MAX_FUNCTIONS: usize = 8;
        let list: Vec<String> = g
            .functions
            .iter()
            .take(MAX_FUNCTIONS)
            .map(|f| {
                if f.sites > 1 {
                    format!("{} x {} ({} sites)", f.count, f.function, f.sites)
                } else {
                    format!("{} x {}", f.count, f.function)
                }
            })
            .collect();
        let more = g.functions.len().saturating_sub(MAX_FUNCTIONS);
        let _ = writeln!(
            out,
            "    calls: {}{}",
            list.join(", "),
            if more > 0 {
                format!(", and {more} more functions")
            } else {
                String::new()
            }
        );
        let _ = writeln!(out, "    first call:");
        stack_lines(out, &g.stack, g.user_frame, max);
        out.push('\n');
        return;
    };
    finding_block(out, first, false, max);
}

/// The sanitizer-like text report, stacks cut at [`DEFAULT_MAX_FRAMES`].
pub fn text(r: &Report) -> String {
    text_with(r, DEFAULT_MAX_FRAMES)
}

/// The sanitizer-like text report: one block per root cause ([`Report::groups`]), first seen
/// first, stacks cut at `max_frames` (0: whole stacks).
pub fn text_with(r: &Report, max_frames: usize) -> String {
    let mut out = String::new();
    for g in &r.groups {
        let members = r.members(g);
        if members.is_empty() {
            continue;
        }
        group_block(&mut out, g, &members, max_frames);
    }
    for u in &r.processes_unchecked {
        let pid = u.pid.map(|p| format!("pid {p} ")).unwrap_or_default();
        let _ = writeln!(out, "==assafe== not checked: {pid}{}: {}", u.exe, u.why);
    }
    for p in &r.processes_partially_checked {
        let _ = writeln!(
            out,
            "==assafe== pid {} {}: partially checked ({})",
            p.pid, p.exe, p.why
        );
    }
    for w in &r.warnings {
        let _ = writeln!(out, "==assafe== warning: {w}");
    }
    if !r.suppressions_matched.is_empty() {
        let _ = writeln!(out, "Matched suppressions:");
        for m in &r.suppressions_matched {
            let _ = writeln!(
                out,
                "    {} {} ({}, {}:{})",
                m.count,
                m.pattern,
                plural(m.calls, "call", "calls"),
                m.file.display(),
                m.line
            );
        }
    }
    let partially = match r.processes_partially_checked.len() {
        0 => String::new(),
        n => format!(" ({n} partially)"),
    };
    let sites = if r.findings.len() != r.groups.len() {
        format!(" at {} call sites", r.findings.len())
    } else {
        String::new()
    };
    // Findings (groups) per severity, worst first.
    let mut by_severity = String::new();
    for s in assafe_proto::Severity::ALL.iter().rev() {
        let n = r.groups.iter().filter(|g| g.severity == s.name()).count();
        if n > 0 {
            by_severity.push_str(if by_severity.is_empty() { "; " } else { ", " });
            by_severity.push_str(&format!("{n} {}", s.name()));
        }
    }
    let _ = writeln!(
        out,
        "SUMMARY: assafe: {}{sites} ({} suppressed) in {} checked{partially}, {} not checked{by_severity}",
        plural(r.groups.len() as u64, "finding", "findings"),
        r.suppressed.len(),
        plural(r.processes_checked as u64, "process", "processes"),
        r.processes_unchecked.len()
    );
    out
}

/// The JSON report (pretty-printed).
pub fn json(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("report serializes");
    s.push('\n');
    s
}

/// Fills [`SymFrame::source`] with the text of each frame's `file:line` that can be read now
/// (absolute paths only; each file read once).
pub fn attach_sources(r: &mut Report) {
    let mut cache: std::collections::HashMap<String, Option<Vec<String>>> = Default::default();
    let mut fill = |f: &mut SymFrame| {
        let (Some(file), Some(line)) = (&f.file, f.line) else {
            return;
        };
        if !file.starts_with('/') || line == 0 {
            return;
        }
        let lines = cache.entry(file.clone()).or_insert_with(|| {
            let meta = std::fs::metadata(file).ok()?;
            // Source files, not whatever a path happens to name.
            if !meta.is_file() || meta.len() > 4 << 20 {
                return None;
            }
            let text = std::fs::read(file).ok()?;
            Some(
                String::from_utf8_lossy(&text)
                    .lines()
                    .map(str::to_owned)
                    .collect(),
            )
        });
        if let Some(l) = lines.as_ref().and_then(|l| l.get(line as usize - 1)) {
            f.source = Some(l.chars().take(200).collect());
        }
    };
    for f in r.findings.iter_mut().chain(r.suppressed.iter_mut()) {
        f.stack.iter_mut().for_each(&mut fill);
        for s in &mut f.stacks {
            s.stack.iter_mut().for_each(&mut fill);
        }
    }
}

/// A single self-contained HTML page (no network, no server): the report as JSON inside the page,
/// rendered by inline JavaScript: headline counts, a table and a chart per package and context,
/// one block per root cause as in the text report ([`Report::groups`], first seen first, process
/// hygiene after the async-signal-safety findings: the root, its functions with their calls and
/// call sites, the first call's stack), each call site with its stacks and source lines, stacks
/// cut at [`DEFAULT_MAX_FRAMES`]; filters and permalinks.
pub fn html(r: &Report) -> String {
    html_with(r, DEFAULT_MAX_FRAMES)
}

/// [`html`] with stacks cut at `max_frames` (`--max-frames`; 0: whole stacks).
pub fn html_with(r: &Report, max_frames: usize) -> String {
    let mut r = r.clone();
    attach_sources(&mut r);
    let data = serde_json::to_string(&r)
        .expect("report serializes")
        // Inside <script>: no "</script>" or "<!--" can end or confuse it.
        .replace("</", "<\\/")
        .replace("<!--", "<\\u0021--");
    let title = if r.packages.is_empty() {
        "assafe report".to_owned()
    } else {
        format!("assafe report: {} packages", r.packages.len())
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>{css}</style></head>
<body data-max-frames="{max_frames}">
<h1>{title}</h1>
<p class="pkgs">assafe {version}: async-signal-unsafe calls in fork children, vfork children, signal handlers and under async cancellation.</p>
<div class="headline" id="headline"></div>
<section id="packages-section"><h2>Per package</h2><table id="packages"></table></section>
<h2>Call sites per package and context</h2><div id="chart"></div>
<h2>Findings (<span id="shown">0</span> shown, at <span id="shown-sites">0</span> call sites)</h2>
<div class="filters">
<label>context <select id="filter-context"></select></label>
<label>severity <select id="filter-severity"></select></label>
<label>package <select id="filter-package"></select></label>
</div>
<div id="findings"></div>
<script type="application/json" id="assafe-data">{data}</script>
<script>{js}</script>
</body></html>
"#,
        title = title,
        version = r.version,
        css = include_str!("html/report.css"),
        js = include_str!("html/report.js"),
        data = data,
        max_frames = max_frames,
    )
}
