//! The JSON form of every record (docs/log-format.md): one object per line. Every event name, key
//! and fixed value comes from `assafe_proto` (the schema the readers use); this file only decides
//! the order, which is `assafe_proto::schema`'s. The text form is written in `mod.rs`.

use assafe_proto::{Context, FORMAT_VERSION, Severity, event as ev, key as k, value};

use crate::platform::fmt::Buf;
use crate::platform::signame;

use super::dedup;

/// `,"KEY":` — every key after the first of an object.
pub(super) fn key<'b, 'a>(b: &'b mut Buf<'a>, name: &str) -> &'b mut Buf<'a> {
    b.c(b',').c(b'"').s(name).s("\":")
}

/// `{"KEY":` — the first key of an object.
pub(super) fn first_key<'b, 'a>(b: &'b mut Buf<'a>, name: &str) -> &'b mut Buf<'a> {
    b.s("{\"").s(name).s("\":")
}

/// `{"event":"NAME"` — the first key of every record.
pub(super) fn event<'b, 'a>(b: &'b mut Buf<'a>, name: &str) -> &'b mut Buf<'a> {
    first_key(b, k::EVENT).c(b'"').s(name).c(b'"')
}

pub(super) fn str_value(b: &mut Buf, name: &str, v: &str) {
    key(b, name).c(b'"').s(v).c(b'"');
}

pub(super) fn hex_value(b: &mut Buf, name: &str, v: u64) {
    key(b, name).c(b'"').hex(v).c(b'"');
}

fn bool_value(b: &mut Buf, name: &str, v: bool) {
    key(b, name).s(if v { "true" } else { "false" });
}

/// `"module":…,"offset":"0x…"` of an address (`""` and the address itself when no module holds
/// it), then `"build_id":"…"` (lower-case hex) when the module has a GNU build-id.
pub(super) fn module_offset(b: &mut Buf, a: usize) {
    key(b, k::MODULE);
    match assafe_unwind::module_of(a) {
        Some(m) => {
            b.json_str(m.path());
            hex_value(b, k::OFFSET, m.offset as u64);
            if !m.build_id.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                key(b, k::BUILD_ID).c(b'"');
                for &byte in m.build_id {
                    b.c(HEX[usize::from(byte >> 4)])
                        .c(HEX[usize::from(byte & 15)]);
                }
                b.c(b'"');
            }
        }
        None => {
            b.s("\"\"");
            hex_value(b, k::OFFSET, a as u64);
        }
    }
}

/// `"site"`, `"frames"` and `"stack"`, then the closing brace.
fn site_and_stack(b: &mut Buf, site: usize, frames: &[usize], truncated: Option<&str>) {
    site_frames_stack(b, site, frames);
    if let Some(why) = truncated {
        str_value(b, k::TRUNCATED, why);
    }
    b.c(b'}');
}

/// The keys `site`, `frames` (addresses) and `stack` (address, module, offset per frame).
pub fn site_frames_stack(b: &mut Buf, site: usize, frames: &[usize]) {
    hex_value(b, k::SITE, site as u64);
    hex_array(b, k::FRAMES, frames);
    key(b, k::STACK).c(b'[');
    for (i, &a) in frames.iter().enumerate() {
        if i > 0 {
            b.c(b',');
        }
        first_key(b, k::ADDR).c(b'"').hex(a as u64).c(b'"');
        module_offset(b, a);
        b.c(b'}');
    }
    b.c(b']');
}

/// Key `name` with an array of addresses (hex strings).
pub fn hex_array(b: &mut Buf, name: &str, frames: &[usize]) {
    key(b, name).c(b'[');
    for (i, &a) in frames.iter().enumerate() {
        if i > 0 {
            b.c(b',');
        }
        b.c(b'"').hex(a as u64).c(b'"');
    }
    b.c(b']');
}

/// `"pid"`, `"ppid"`.
fn pids(b: &mut Buf, pid: i32, ppid: i32) {
    key(b, k::PID).u(pid as u64);
    key(b, k::PPID).u(ppid as u64);
}

/// The process and thread a report is about.
pub struct Process<'a> {
    pub pid: i32,
    pub ppid: i32,
    pub tid: i32,
    pub exe: &'a [u8],
}

/// `"pid"`, `"ppid"`, `"tid"`, `"exe"`.
pub(super) fn process(b: &mut Buf, p: &Process) {
    pids(b, p.pid, p.ppid);
    key(b, k::TID).u(p.tid as u64);
    key(b, k::EXE).json_str(p.exe);
}

/// The `start` record: `format` right after `event`, so a reader knows the format before it reads
/// anything else.
/// `libc`: on a C library other than the build's, (its version, functions this build does not
/// know).
pub fn start(
    b: &mut Buf,
    pid: i32,
    ppid: i32,
    exe: &[u8],
    version: &str,
    libc: Option<(&[u8], usize)>,
    warning: &[u8],
) {
    event(b, ev::START);
    key(b, k::FORMAT).u(u64::from(FORMAT_VERSION));
    pids(b, pid, ppid);
    key(b, k::EXE).json_str(exe);
    str_value(b, k::VERSION, version);
    if let Some((running, unknown)) = libc {
        key(b, k::LIBC).json_str(running);
        key(b, k::UNKNOWN_FUNCTIONS).u(unknown as u64);
    }
    if !warning.is_empty() {
        key(b, k::WARNING).json_str(warning);
    }
    b.c(b'}');
}

/// What a fork-child report says about the fork.
pub struct Fork {
    pub parent_threads: u32,
    /// Reported only because of strict=1.
    pub strict_only: bool,
    /// A `value::FORKED_BY_*`.
    pub forked_by: &'static str,
    /// The call's lock was initialised after the fork.
    pub own_object: bool,
}

/// What an unsafe-call report says beyond the function.
pub struct Report<'a> {
    pub context: Context,
    pub function: &'a [u8],
    pub reason: &'a str,
    pub process: Process<'a>,
    pub severity: Severity,
    pub fork: Option<Fork>,
    pub vfork: Option<super::Vfork>,
    /// Signal handler: (signal, origin, certainty, depth).
    pub signal: Option<(i32, &'a str, &'a str, u32)>,
    pub site: usize,
    pub frames: &'a [usize],
    /// Why `frames` stops early, when it does for a reason other than the stack's end.
    pub truncated: Option<&'a str>,
}

pub fn report(b: &mut Buf, r: &Report) {
    event(b, ev::REPORT);
    str_value(b, k::CONTEXT, r.context.name());
    key(b, k::FUNCTION).json_str(r.function);
    key(b, k::REASON).json_str(r.reason.as_bytes());
    process(b, &r.process);
    str_value(b, k::SEVERITY, r.severity.name());
    if let Some(f) = &r.fork {
        key(b, k::PARENT_THREADS).u(f.parent_threads as u64);
        if f.strict_only {
            bool_value(b, k::STRICT, true);
        }
        str_value(b, k::FORKED_BY, f.forked_by);
        if f.own_object {
            bool_value(b, k::OWN_OBJECT, true);
        }
    }
    if let Some(v) = &r.vfork {
        key(b, k::PARENT_THREADS).u(v.parent_threads as u64);
        hex_value(b, k::BLOCKED_SIGNALS, v.blocked);
        hex_value(b, k::HANDLED_SIGNALS, v.handled);
    }
    if let Some((sig, origin, certainty, depth)) = r.signal {
        signal(b, sig);
        str_value(b, k::SIGNAL_ORIGIN, origin);
        str_value(b, k::CERTAINTY, certainty);
        key(b, k::HANDLER_DEPTH).u(depth as u64);
    }
    site_and_stack(b, r.site, r.frames, r.truncated);
}

fn signal(b: &mut Buf, sig: i32) {
    key(b, k::SIGNAL).u(sig as u64);
    str_value(b, k::SIGNAL_NAME, signame(sig));
}

/// How a process that made unsafe calls ended.
pub enum End<'a> {
    Exec(&'a [u8]),
    Exit(i32),
    /// The process ends without an exit call the library saw (return from `main`: libc's start
    /// code calls `exit` internally); written by the library's destructor, without a status.
    Unseen,
}

/// The summary written at exec or exit; `pid`'s sites come from the dedup table.
#[allow(clippy::too_many_arguments)]
pub fn summary(
    b: &mut Buf,
    end: &End,
    context: Context,
    pid: i32,
    ppid: i32,
    exe: &[u8],
    (calls, distinct, dropped): (u64, u64, u64),
    suppressed: u64,
    signals: u64,
    (lost, lost_why): (u64, &[u8]),
    unresolved: u64,
) {
    match end {
        End::Exec(p) => {
            event(b, ev::EXEC);
            key(b, k::PATH).json_str(p);
        }
        End::Exit(s) => {
            event(b, ev::EXIT);
            key(b, k::STATUS).i(*s as i64);
        }
        End::Unseen => {
            event(b, ev::EXIT);
        }
    }
    str_value(b, k::CONTEXT, context.name());
    pids(b, pid, ppid);
    key(b, k::EXE).json_str(exe);
    key(b, k::UNSAFE_CALLS).u(calls);
    key(b, k::DISTINCT).u(distinct);
    key(b, k::DROPPED).u(dropped);
    key(b, k::SUPPRESSED).u(suppressed);
    key(b, k::SITES).c(b'[');
    let mut first = true;
    dedup::each(pid, |s| {
        if !first {
            b.c(b',');
        }
        first = false;
        first_key(b, k::FUNCTION).json_str(crate::libc::symbols::name(s.idx));
        hex_value(b, k::SITE, s.site as u64);
        module_offset(b, s.site);
        key(b, k::COUNT).u(s.count).c(b'}');
    });
    b.c(b']');
    if signals != 0 {
        key(b, k::SIGNALS).c(b'[');
        let mut first = true;
        for sig in 1..64 {
            if signals & (1 << sig) != 0 {
                if !first {
                    b.c(b',');
                }
                first = false;
                b.json_str(signame(sig).as_bytes());
            }
        }
        b.c(b']');
    }
    if lost > 0 {
        key(b, k::LOST).u(lost);
        key(b, k::LOST_REASON).json_str(lost_why);
    }
    if unresolved > 0 {
        key(b, k::UNRESOLVED_CALLS).u(unresolved);
    }
    b.c(b'}');
}

pub fn errno_spoil(
    b: &mut Buf,
    p: &Process,
    sig: i32,
    (before, after): (i32, i32),
    handler: usize,
) {
    event(b, ev::ERRNO);
    str_value(b, k::CONTEXT, Context::SignalHandler.name());
    process(b, p);
    signal(b, sig);
    key(b, k::ERRNO_BEFORE).i(before as i64);
    key(b, k::ERRNO_AFTER).i(after as i64);
    site_and_stack(b, handler, &[handler], None);
}

pub fn handler_in_vfork(b: &mut Buf, p: &Process, sig: i32, handler: usize) {
    event(b, ev::REPORT);
    str_value(b, k::CONTEXT, Context::VforkChild.name());
    str_value(b, k::FUNCTION, value::HANDLER_IN_VFORK_FUNCTION);
    str_value(b, k::REASON, value::HANDLER_IN_VFORK_REASON);
    process(b, p);
    str_value(b, k::SEVERITY, Severity::Hazard.name());
    signal(b, sig);
    site_and_stack(b, handler, &[handler], None);
}

pub fn fork_note(b: &mut Buf, pid: i32, parent: i32, parent_threads: u32, checked: bool) {
    event(b, ev::FORK);
    pids(b, pid, parent);
    key(b, k::PARENT_THREADS).u(parent_threads as u64);
    bool_value(b, k::CHECKED, checked);
    b.c(b'}');
}
