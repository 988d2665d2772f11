//! The JSON form of every record (docs/log-format.md): one object per line. Every event name and
//! key string the preload writes is in this file, so that switching them to shared schema
//! constants is a change to this file only. The text form is written in `mod.rs`.

use crate::platform::fmt::Buf;
use crate::platform::signame;

use super::dedup;

/// `,"KEY":` — every key after the first of an object.
fn key<'b, 'a>(b: &'b mut Buf<'a>, k: &str) -> &'b mut Buf<'a> {
    b.c(b',').c(b'"').s(k).s("\":")
}

/// `{"event":"NAME"` — the first key of every record.
fn event<'b, 'a>(b: &'b mut Buf<'a>, name: &str) -> &'b mut Buf<'a> {
    b.s("{\"event\":\"").s(name).c(b'"')
}

fn str_value(b: &mut Buf, k: &str, v: &str) {
    key(b, k).c(b'"').s(v).c(b'"');
}

fn hex_value(b: &mut Buf, k: &str, v: u64) {
    key(b, k).c(b'"').hex(v).c(b'"');
}

/// `"module":…,"offset":"0x…"` of an address (`""` and the address itself when no module holds it).
fn module_offset(b: &mut Buf, a: usize) {
    key(b, "module");
    match assafe_unwind::module_of(a) {
        Some(m) => {
            b.json_str(m.path);
            hex_value(b, "offset", m.offset as u64);
        }
        None => {
            b.s("\"\"");
            hex_value(b, "offset", a as u64);
        }
    }
}

/// `"site"`, `"frames"` and `"stack"`, then the closing brace.
fn site_and_stack(b: &mut Buf, site: usize, frames: &[usize]) {
    hex_value(b, "site", site as u64);
    key(b, "frames").c(b'[');
    for (i, &a) in frames.iter().enumerate() {
        if i > 0 {
            b.c(b',');
        }
        b.c(b'"').hex(a as u64).c(b'"');
    }
    b.c(b']');
    key(b, "stack").c(b'[');
    for (i, &a) in frames.iter().enumerate() {
        if i > 0 {
            b.c(b',');
        }
        b.s("{\"addr\":\"").hex(a as u64).c(b'"');
        module_offset(b, a);
        b.c(b'}');
    }
    b.s("]}");
}

/// `"pid"`, `"ppid"`.
fn pids(b: &mut Buf, pid: i32, ppid: i32) {
    key(b, "pid").u(pid as u64);
    key(b, "ppid").u(ppid as u64);
}

pub fn start(b: &mut Buf, pid: i32, ppid: i32, exe: &[u8], version: &str) {
    event(b, "start");
    pids(b, pid, ppid);
    key(b, "exe").json_str(exe);
    str_value(b, "version", version);
    b.c(b'}');
}

/// What an unsafe-call report says beyond the function.
pub struct Report<'a> {
    pub context: &'a str,
    pub function: &'a [u8],
    pub reason: &'a str,
    pub pid: i32,
    pub ppid: i32,
    pub tid: i32,
    pub exe: &'a [u8],
    /// Fork child: (parent threads, reported only because of strict=1).
    pub fork: Option<(u32, bool)>,
    /// Signal handler: (signal, origin, definite, depth).
    pub signal: Option<(i32, &'a str, bool, u32)>,
    pub site: usize,
    pub frames: &'a [usize],
}

pub fn report(b: &mut Buf, r: &Report) {
    event(b, "report");
    str_value(b, "context", r.context);
    key(b, "function").json_str(r.function);
    key(b, "reason").json_str(r.reason.as_bytes());
    pids(b, r.pid, r.ppid);
    key(b, "tid").u(r.tid as u64);
    key(b, "exe").json_str(r.exe);
    if let Some((threads, strict_only)) = r.fork {
        key(b, "parent_threads").u(threads as u64);
        if strict_only {
            key(b, "strict").s("true");
        }
    }
    if let Some((sig, origin, definite, depth)) = r.signal {
        signal(b, sig);
        str_value(b, "signal_origin", origin);
        str_value(b, "certainty", if definite { "definite" } else { "latent" });
        key(b, "handler_depth").u(depth as u64);
    }
    site_and_stack(b, r.site, r.frames);
}

fn signal(b: &mut Buf, sig: i32) {
    key(b, "signal").u(sig as u64);
    str_value(b, "signal_name", signame(sig));
}

/// How a process that made unsafe calls ended.
pub enum End<'a> {
    Exec(&'a [u8]),
    Exit(i32),
}

/// The summary written at exec or exit; `pid`'s sites come from the dedup table.
#[allow(clippy::too_many_arguments)]
pub fn summary(
    b: &mut Buf,
    end: &End,
    context: &str,
    pid: i32,
    ppid: i32,
    exe: &[u8],
    (calls, distinct, dropped): (u64, u64, u64),
    suppressed: u64,
) {
    match end {
        End::Exec(p) => {
            event(b, "exec");
            key(b, "path").json_str(p);
        }
        End::Exit(s) => {
            event(b, "exit");
            key(b, "status").i(*s as i64);
        }
    }
    str_value(b, "context", context);
    pids(b, pid, ppid);
    key(b, "exe").json_str(exe);
    key(b, "unsafe_calls").u(calls);
    key(b, "distinct").u(distinct);
    key(b, "dropped").u(dropped);
    key(b, "suppressed").u(suppressed);
    key(b, "sites").c(b'[');
    let mut first = true;
    dedup::each(pid, |s| {
        if !first {
            b.c(b',');
        }
        first = false;
        b.s("{\"function\":")
            .json_str(crate::libc::symbols::name(s.idx));
        hex_value(b, "site", s.site as u64);
        module_offset(b, s.site);
        key(b, "count").u(s.count).c(b'}');
    });
    b.s("]}");
}

#[allow(clippy::too_many_arguments)]
pub fn errno_spoil(
    b: &mut Buf,
    pid: i32,
    ppid: i32,
    tid: i32,
    exe: &[u8],
    sig: i32,
    before: i32,
    after: i32,
    handler: usize,
) {
    event(b, "errno");
    str_value(b, "context", "signal-handler");
    pids(b, pid, ppid);
    key(b, "tid").u(tid as u64);
    key(b, "exe").json_str(exe);
    signal(b, sig);
    key(b, "errno_before").i(before as i64);
    key(b, "errno_after").i(after as i64);
    site_and_stack(b, handler, &[handler]);
}

pub fn handler_in_vfork(
    b: &mut Buf,
    pid: i32,
    ppid: i32,
    tid: i32,
    exe: &[u8],
    sig: i32,
    handler: usize,
) {
    event(b, "report");
    str_value(b, "context", "vfork-child");
    str_value(b, "function", "(signal handler)");
    str_value(b, "reason", "signal");
    pids(b, pid, ppid);
    key(b, "tid").u(tid as u64);
    key(b, "exe").json_str(exe);
    signal(b, sig);
    site_and_stack(b, handler, &[handler]);
}

pub fn fork_note(b: &mut Buf, pid: i32, parent: i32, parent_threads: u32, checked: bool) {
    event(b, "fork");
    pids(b, pid, parent);
    key(b, "parent_threads").u(parent_threads as u64);
    key(b, "checked")
        .s(if checked { "true" } else { "false" })
        .c(b'}');
}
