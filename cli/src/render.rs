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
