//! Text (sanitizer-like) and JSON renderings of a [`Report`].

use crate::analyze::{Finding, Report};
use crate::symbolize::SymFrame;
use std::fmt::Write;

/// `#1 0x55d0c0de1234 in main /src/prog.c:12` (sanitizer layout).
pub fn frame_line(i: usize, f: &SymFrame) -> String {
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

fn finding_block(out: &mut String, f: &Finding, suppressed: bool) {
    let _ = writeln!(out, "==assafe== {}", f.title);
    let _ = writeln!(out, "    {}", f.explanation);
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
    for (i, fr) in f.stack.iter().enumerate() {
        let mark = if Some(i) == f.user_frame {
            "  <== first frame in your code"
        } else {
            ""
        };
        let _ = writeln!(out, "    {}{mark}", frame_line(i, fr));
    }
    if f.user_frame.is_none() {
        let _ = writeln!(
            out,
            "    (no frame in your own code: build with -g and frame info, or see the modules above)"
        );
    }
    out.push('\n');
}

/// The sanitizer-like text report.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    for f in &r.findings {
        finding_block(&mut out, f, false);
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
    let _ = writeln!(
        out,
        "SUMMARY: assafe: {} ({} suppressed) in {} checked, {} not checked",
        plural(r.findings.len() as u64, "finding", "findings"),
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
/// the findings with their grouped stacks and source lines, filters and permalinks.
pub fn html(r: &Report) -> String {
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
<body>
<h1>{title}</h1>
<p class="pkgs">assafe {version}: async-signal-unsafe calls in fork children, vfork children, signal handlers and under async cancellation.</p>
<div class="headline" id="headline"></div>
<section id="packages-section"><h2>Per package</h2><table id="packages"></table></section>
<h2>Findings per package and context</h2><div id="chart"></div>
<h2>Findings (<span id="shown">0</span> shown)</h2>
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
    )
}
