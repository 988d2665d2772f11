//! Reporting: the records the library writes (sanitizer-style text or one JSON object per line,
//! see docs/log-format.md), deduplicated (`dedup`), filtered by the in-process suppressions
//! (`suppress`), with frame names (`symbolize`), written to a sink (`sink`).

pub mod dedup;
pub mod hygiene; // process hygiene findings (issue 14)
mod json;
pub mod sink;
pub mod suppress;
pub mod symbolize;

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};

use assafe_proto::reason::Why;
use assafe_proto::{Context as ProtoContext, Severity, value};

use crate::config::{self, Problems};
use crate::libc::{identity, symbols};
use crate::platform::arch::Frame;
use crate::platform::fmt::Buf;
use crate::platform::{in_self, signame, sys, tls};
use crate::state;
pub use json::End;
use sink::{emit, emit_stderr, prefix};

pub const MAX_FRAMES: usize = 48;

/// Warning for a malformed `ASSAFE_OPTIONS` or an unreadable suppressions file, and the `help=1`
/// text: on stderr without `log_path`; with one, never on the program's stderr: in a text log as
/// lines of their own, in a JSON log in the `start` record's `warning` (see [`START_WARNING`]).
pub fn options_feedback(p: &Problems, suppressions: Result<(), &'static str>) {
    let o = config::options();
    if let Err(e) = suppressions {
        warn(|b| {
            b.s(e)
                .s(" '")
                .printable(o.suppressions.as_bytes())
                .s("'; no suppressions in the preload");
        });
    }
    if p.count > 0 {
        warn(|b| config::warning(p, b));
    }
    if o.help {
        if o.log_path().is_empty() {
            emit_stderr(config::help);
        } else if !o.json() {
            emit(config::help);
        } else {
            warn(|b| {
                b.s("help=1: the list of options goes to stderr without log_path, or to a text log (log_format=text)");
            });
        }
    }
    libc_feedback();
    if o.verbosity >= 1 {
        let line = |b: &mut Buf| {
            prefix(b);
            b.s("libassafe loaded (safe_list=");
            b.s(o.safe_list.word());
            b.s(", ")
                .u(symbols::NSYMS as u64)
                .s(" functions interposed)");
        };
        // Never on the program's stderr when there is a log: a text log gets the line, a JSON
        // log's `start` record already says the library loaded.
        if o.log_path().is_empty() {
            emit_stderr(line);
        } else if !o.json() {
            emit(line);
        }
    }
}

/// The warnings of this process's options for the JSON `start` record: written only by
/// [`options_feedback`] (once, during initialisation, which other threads wait for), read by
/// [`start_into`] after it.
struct Warning(UnsafeCell<([u8; 480], usize)>);
// SAFETY: written only during initialisation by the one initialising thread, before
// `state::INIT` publishes it (Release; every reader runs after an Acquire load of it or on that
// thread); read-only afterwards.
unsafe impl Sync for Warning {}
#[unsafe(link_section = "assafe_hot")]
static START_WARNING: Warning = Warning(UnsafeCell::new(([0; 480], 0)));

/// One warning line (`f` writes it after "warning: "): see [`options_feedback`].
fn warn(f: impl FnOnce(&mut Buf)) {
    let o = config::options();
    if o.log_path().is_empty() {
        sink::warning(f);
    } else if !o.json() {
        emit(|b| {
            prefix(b);
            b.s("warning: ");
            f(b);
        });
    } else {
        // SAFETY: see `Warning` (this runs during initialisation only).
        let (mem, len) = unsafe { &mut *START_WARNING.0.get() };
        let mut b = Buf::new(&mut mem[*len..]);
        if *len > 0 {
            b.s("; ");
        }
        f(&mut b);
        *len += b.len();
    }
}

/// The warnings noted for the `start` record (empty when none).
fn start_warning() -> &'static [u8] {
    // SAFETY: see `Warning` (read after initialisation wrote it).
    let (mem, len) = unsafe { &*START_WARNING.0.get() };
    &mem[..*len]
}

/// On a C library other than the build's: one warning line — on stderr without `log_path`, in
/// the log with a text `log_path`; a JSON log's `start` record carries the same facts (`libc`,
/// `unknown_functions`), so nothing of ours reaches the program's stderr then. With
/// `verbosity=1` the unknown functions are listed, in the same place.
fn libc_feedback() {
    if !identity::other_libc() {
        return;
    }
    let o = config::options();
    let to_log = !o.log_path().is_empty();
    if to_log && o.json() {
        return;
    }
    let line = |b: &mut Buf| {
        b.s("built for ")
            .s(identity::BUILD_LIBC)
            .s(", running on libc ")
            .printable(identity::running())
            .s(": partially checked (")
            .u(identity::unknown_functions() as u64)
            .s(" functions unknown to this build); build it for this libc (ASSAFE_LIBC=/path/to/libc.so.6 cargo build)");
    };
    if to_log {
        emit(|b| {
            prefix(b);
            b.s("warning: ");
            line(b);
        });
    } else {
        sink::warning(line);
    }
    if o.verbosity < 1 {
        return;
    }
    // The names, a line of at most ~1000 bytes at a time.
    let mut names = [0u8; 1024];
    let mut len = 0;
    let flush = |names: &[u8]| {
        let f = |b: &mut Buf| {
            prefix(b);
            b.s("functions unknown to this build:").printable(names);
        };
        if to_log { emit(f) } else { emit_stderr(f) }
    };
    identity::for_each_unknown(|n| {
        if len + 1 + n.len() > names.len() {
            flush(&names[..len]);
            len = 0;
        }
        if n.len() < names.len() {
            names[len] = b' ';
            names[len + 1..len + 1 + n.len()].copy_from_slice(n);
            len += 1 + n.len();
        }
    });
    if len > 0 {
        flush(&names[..len]);
    }
}

/// The program's path (`/proc/self/exe`, or the auxiliary vector's `AT_EXECFN` where `/proc` is
/// not mounted or a seccomp filter is in force), read once: at load when the start record needs
/// it, else when a record or a module lookup first does, and before any call after which it
/// could no longer be read (a `chroot`, a new mount namespace, a filter: `contexts::sandbox`).
/// Most processes never need it, and reading it was the first `/proc` access of a process at
/// load.
struct Exe(UnsafeCell<[u8; 512]>);
// SAFETY: written once, by the caller that moved EXE_LEN from EXE_NONE to EXE_BUSY, before the
// length is published (Release); read only after.
unsafe impl Sync for Exe {}
#[unsafe(link_section = "assafe_hot")]
static EXE: Exe = Exe(UnsafeCell::new([0; 512]));
/// The path's length, or [`EXE_NONE`] (not read yet) or [`EXE_BUSY`] (being read).
#[unsafe(link_section = "assafe_hot")]
static EXE_LEN: AtomicUsize = AtomicUsize::new(EXE_NONE);
/// The path came from `/proc/self/exe` (a file the symbolizer can open), not `AT_EXECFN`.
#[unsafe(link_section = "assafe_hot")]
static EXE_FROM_PROC: AtomicBool = AtomicBool::new(false);
const EXE_NONE: usize = usize::MAX;
const EXE_BUSY: usize = usize::MAX - 1;

/// Reads the program's path unless it was read already. Async-signal-safe (raw system calls,
/// no lock: a caller that finds another one reading gets `None` and falls back).
pub fn capture_exe() -> Option<&'static [u8]> {
    let mut n = EXE_LEN.load(Ordering::Acquire);
    if n == EXE_NONE
        && EXE_LEN
            .compare_exchange(EXE_NONE, EXE_BUSY, Ordering::Acquire, Ordering::Acquire)
            .is_ok()
    {
        n = read_exe();
        EXE_LEN.store(n, Ordering::Release);
    }
    if n >= EXE_BUSY {
        return None;
    }
    // SAFETY: published with Release (acquired above) and never written again.
    let e: &'static [u8; 512] = unsafe { &*EXE.0.get() };
    Some(&e[..n])
}

/// Fills EXE (the caller holds EXE_BUSY); returns the length.
fn read_exe() -> usize {
    // SAFETY: EXE_BUSY is held by this caller: the only access until the length is published.
    let buf = unsafe { &mut *EXE.0.get() };
    match sys::readlink(b"/proc/self/exe\0", buf) {
        Ok(n) if n < buf.len() => {
            EXE_FROM_PROC.store(true, Ordering::Relaxed);
            n
        }
        Ok(n) => n,
        Err(_) => {
            // SAFETY: getauxval reads the auxiliary vector (no lock, no allocation).
            let p = unsafe { ::libc::getauxval(::libc::AT_EXECFN) } as *const u8;
            let mut n = 0;
            while !p.is_null() && n < buf.len() {
                // SAFETY: AT_EXECFN points at the NUL-terminated path on the initial stack,
                // read up to its NUL (bounded by buf).
                let c = unsafe { *p.add(n) };
                if c == 0 {
                    break;
                }
                buf[n] = c;
                n += 1;
            }
            n
        }
    }
}

/// The executable's path for the unwinder's module table (`assafe_unwind::set_exe_provider`):
/// only a path read from `/proc/self/exe`, as the symbolizer opens it.
pub fn exe_for_modules() -> Option<&'static [u8]> {
    capture_exe().filter(|_| EXE_FROM_PROC.load(Ordering::Relaxed))
}

fn exe(buf: &mut [u8]) -> &[u8] {
    let e = match capture_exe() {
        Some(e) => e,
        // Being read by the code this handler interrupted (or another thread): read it here.
        None => match sys::readlink(b"/proc/self/exe\0", buf) {
            Ok(n) => return &buf[..n.min(buf.len())],
            Err(_) => b"",
        },
    };
    let n = e.len().min(buf.len());
    buf[..n].copy_from_slice(&e[..n]);
    &buf[..n]
}

/// The calling process and thread (`exe` read into `buf`).
pub(crate) fn this_process(buf: &mut [u8]) -> json::Process<'_> {
    json::Process {
        pid: sys::getpid(),
        ppid: sys::getppid(),
        tid: sys::gettid(),
        exe: exe(buf),
    }
}

/// The `"start"` record: one per process that loaded the library (only with `log_path` + json,
/// so that `assafe run` can count the processes it checked).
pub fn start_record() {
    let o = config::options();
    if !o.json() || o.log_path().is_empty() {
        return;
    }
    sink::emit_start(start_into);
}

/// This process's `"start"` record; also the first record of every log file (`sink`).
fn start_into(b: &mut Buf) {
    let mut e = [0u8; 512];
    let libc = identity::other_libc().then(|| (identity::running(), identity::unknown_functions()));
    json::start(
        b,
        sys::getpid(),
        sys::getppid(),
        exe(&mut e),
        env!("CARGO_PKG_VERSION"),
        libc,
        start_warning(),
    );
}

/// What a report is about, beyond the function and the frame.
pub struct Context {
    /// One of the tls context bits (the most specific one).
    pub bit: u8,
    pub signal: i32,
    pub signal_origin: &'static str,
    pub definite: bool,
    /// Signal handler: a synchronous fault outside libc and every unsafe function.
    pub outside: bool,
    pub depth: u32,
    /// The call site reported and deduplicated on: the return address of the call, or the
    /// program's handler when the handler tail-called the unsafe function (then the return
    /// address points into the library's handler wrapper).
    pub site: usize,
    /// The program's handler (signal-handler context only).
    pub handler: usize,
    /// What the call can do here (`check::judge`), and the explanation that goes with it.
    pub severity: Severity,
    pub why: Why,
    /// Fork child: the call's lock was initialised in this process after the fork.
    pub own_object: bool,
    /// Vfork child: what its parent had.
    pub vfork: Option<Vfork>,
}

/// A vfork child's parent, as far as a report goes.
#[derive(Clone, Copy)]
pub struct Vfork {
    /// Threads in the parent (0 = unknown).
    pub parent_threads: u32,
    /// Signals blocked when the child made the call (bit n-1 for signal n).
    pub blocked: u64,
    /// Signals whose action in the child was a handler when it made the call.
    pub handled: u64,
}

/// The `forked_by` value of this fork child.
fn forked_by() -> &'static str {
    match state::FORKED_BY.load(Ordering::Relaxed) {
        state::FORKED_FORK => value::FORKED_BY_FORK,
        state::FORKED_UFORK => value::FORKED_BY_UFORK,
        _ => value::FORKED_BY_UNSEEN,
    }
}

/// The context of a context bit (the most specific one; a bit that names none is async-cancel,
/// as before the contexts came from `assafe_proto`).
pub fn context_of(bit: u8) -> ProtoContext {
    ProtoContext::from_bit(bit).unwrap_or(ProtoContext::AsyncCancel)
}

fn frames_of(f: &Frame, site: usize, out: &mut [usize; MAX_FRAMES]) -> usize {
    if site != f.ret_addr() {
        // A tail call from a handler: the handler is the first frame we can name.
        out[0] = site;
        let mut rest = [0usize; MAX_FRAMES];
        let n = frames_of(f, f.ret_addr(), &mut rest);
        let n = n.min(MAX_FRAMES - 1);
        out[1..=n].copy_from_slice(&rest[..n]);
        return n + 1;
    }
    stack_of(f, out)
}

/// The stack of the call `f` into `out`, the library's own frames (the signal handler wrapper,
/// the stubs) dropped: they are never shown or blamed. Returns its length; without a stack, the
/// return address alone.
pub fn stack_of(f: &Frame, out: &mut [usize]) -> usize {
    let regs = f.regs();
    // SAFETY: the unwinder reads the stack only through fault-proof reads and the module table
    // only through its lock-free published copy.
    let n = unsafe { assafe_unwind::walk(&regs, false, out) };
    if n == 0 {
        out[0] = f.ret_addr();
        return 1;
    }
    let mut kept = 0;
    for i in 0..n {
        if !in_self(out[i]) {
            out[kept] = out[i];
            kept += 1;
        }
    }
    kept
}

/// One sanitizer-style frame line. `exact`: `a` is a function's own address (a handler), not a
/// return address (which is looked up one byte back, inside the call instruction).
pub(crate) fn text_frame(b: &mut Buf, i: usize, a: usize, exact: bool) {
    b.s("    #").u(i as u64).s(" ").hex(a as u64).s(" ");
    match assafe_unwind::module_of(a) {
        Some(m) => {
            let at = if exact {
                m.offset
            } else {
                m.offset.saturating_sub(1)
            };
            symbolize::function_name(m.path(), at, b);
            b.s("(")
                .printable(m.path())
                .s("+")
                .hex(m.offset as u64)
                .s(")");
        }
        None => {
            b.s("(<unknown module>)");
        }
    }
    b.s("\n");
}

/// Writes the report for an unsafe call; returns false (and writes nothing) when a suppression
/// matched.
pub fn unsafe_call(idx: usize, ctx: &Context, f: &Frame) -> bool {
    let mut written = true;
    let o = config::options();
    let name = symbols::name(idx);
    let reason = symbols::REASONS[idx];
    let pid = sys::getpid();
    let threads = state::PARENT_THREADS.load(Ordering::Relaxed);
    let strict_only = state::STRICT_ONLY.load(Ordering::Relaxed) != 0;
    emit(|b| {
        let mut frames = [0usize; MAX_FRAMES];
        let n = frames_of(f, ctx.site, &mut frames);
        let frames = &frames[..n];
        if suppress::suppressed(context_of(ctx.bit).suppression_word(), name, frames)
            || hygiene::atfork_suppressed(name, frames)
        {
            written = false;
            return;
        }
        let mut e = [0u8; 512];
        let process = this_process(&mut e);
        let exe = process.exe;
        if o.json() {
            json::report(
                b,
                &json::Report {
                    context: context_of(ctx.bit),
                    function: name,
                    reason,
                    process,
                    severity: ctx.severity,
                    fork: (ctx.bit == tls::FORK_CHILD).then_some(json::Fork {
                        parent_threads: threads,
                        strict_only,
                        forked_by: forked_by(),
                        own_object: ctx.own_object,
                    }),
                    vfork: ctx.vfork,
                    signal: (ctx.bit == tls::IN_HANDLER).then_some((
                        ctx.signal,
                        ctx.signal_origin,
                        if ctx.definite {
                            value::DEFINITE
                        } else if ctx.outside {
                            value::OUTSIDE
                        } else {
                            value::LATENT
                        },
                        ctx.depth,
                    )),
                    site: ctx.site,
                    frames,
                    truncated: (sys::restricted() && !assafe_unwind::memory_readable())
                        .then_some("seccomp"),
                },
            );
        } else {
            prefix(b);
            b.s("async-signal-unsafe call to ").printable(name).s("() ");
            match ctx.bit {
                tls::FORK_CHILD => {
                    if strict_only {
                        b.s("in the child of a fork (reported because strict=1; the parent had ");
                        b.u(threads as u64).s(" thread)");
                    } else if threads == 0 && state::FORK_PARENT.load(Ordering::Relaxed) != 0 {
                        b.s("in the child of a multi-threaded fork (parent ");
                        b.u(state::FORK_PARENT.load(Ordering::Relaxed) as u64);
                        b.s("; its thread count unavailable)");
                    } else if threads == 0 {
                        b.s("in the child of a multi-threaded fork (made without fork(); parent thread count unknown)");
                    } else {
                        b.s("in the child of a multi-threaded fork (parent ");
                        b.u(state::FORK_PARENT.load(Ordering::Relaxed) as u64);
                        b.s(" had ").u(threads as u64).s(" threads)");
                    }
                    b.s(" made by ").s(forked_by());
                }
                tls::VFORK_CHILD => {
                    b.s("in a vfork child (it shares the parent's memory");
                    if let Some(v) = ctx.vfork {
                        b.s("; the parent has ")
                            .u(v.parent_threads as u64)
                            .s(" thread");
                        if v.parent_threads != 1 {
                            b.s("s");
                        }
                        b.s(", blocked signals ").hex(v.blocked);
                        b.s(", signals with a handler ").hex(v.handled);
                    }
                    b.s(")");
                }
                tls::IN_HANDLER => {
                    b.s("in a handler for ").s(signame(ctx.signal));
                    b.s(" (").s(ctx.signal_origin).s(" signal, ");
                    if ctx.definite {
                        b.s(value::DEFINITE)
                            .s(": the handler interrupted this thread inside an unsafe function");
                    } else if ctx.outside {
                        b.s(value::OUTSIDE)
                            .s(": a fault outside libc and every unsafe function");
                    } else {
                        b.s(value::LATENT);
                    }
                    b.s(")");
                }
                _ => {
                    b.s("while the thread's cancel type is asynchronous");
                }
            }
            b.s(" [").s(ctx.severity.name()).s("]\n");
            prefix(b);
            b.s("  ").printable(name).s(": ").s(reason).s(" - ");
            for piece in assafe_proto::reason::explain_in(reason, ctx.why) {
                b.s(piece);
            }
            b.s("\n");
            for (i, &a) in frames.iter().enumerate() {
                text_frame(b, i, a, i == 0 && ctx.site != f.ret_addr());
            }
            prefix(b);
            b.s("  in process ")
                .u(pid as u64)
                .s(" (")
                .printable(exe)
                .s("), parent ");
            b.u(sys::getppid() as u64);
        }
        hygiene::tag_atfork(b); // process hygiene: atfork-child
    });
    written
}

/// The last summary written: pid and calls + lost (the destructor does not repeat it).
#[unsafe(link_section = "assafe_hot")]
static LAST_SUMMARY_PID: AtomicI32 = AtomicI32::new(0);
#[unsafe(link_section = "assafe_hot")]
static LAST_SUMMARY: AtomicU64 = AtomicU64::new(0);

/// The summary record, written when a process that made unsafe calls execs or exits.
pub fn summary(end: End, ctx_bit: u8) {
    let (lost, why) = sink::lost();
    let unresolved = symbols::MISSING_CALLS.load(Ordering::Relaxed) as u64;
    let o = config::options();
    // Every exec is recorded in a JSON log (so that a program exec'd without the library, e.g. a
    // static one started by `env`, is named as not checked); other summaries only when there is
    // something to say.
    let exec_logged = matches!(end, End::Exec(_)) && o.json() && !o.log_path().is_empty();
    let must = lost != 0 || unresolved != 0 || exec_logged;
    if !must && !dedup::any() && !hygiene::written_any() {
        // Nothing to say, the usual end of a process: not even a system call.
        return;
    }
    let pid = sys::getpid();
    let (calls, distinct, dropped) = dedup::totals(pid);
    if !must && calls == 0 && !hygiene::written_by(pid) {
        return;
    }
    if matches!(end, End::Unseen)
        && LAST_SUMMARY_PID.load(Ordering::Relaxed) == pid
        && LAST_SUMMARY.load(Ordering::Relaxed) == calls + lost
    {
        // exit() wrote it, and nothing happened since.
        return;
    }
    LAST_SUMMARY_PID.store(pid, Ordering::Relaxed);
    LAST_SUMMARY.store(calls + lost, Ordering::Relaxed);
    let mut whybuf = [0u8; 24];
    let why: &[u8] = {
        let mut b = Buf::new(&mut whybuf);
        if why == sink::WHY_SECCOMP {
            b.s("seccomp");
        } else if why != 0 {
            b.s("errno ").u(why as u64);
        }
        let n = b.len();
        &whybuf[..n]
    };
    let signals = dedup::signals();
    emit(|b| {
        let mut e = [0u8; 512];
        let exe = exe(&mut e);
        if o.json() {
            json::summary(
                b,
                &end,
                context_of(ctx_bit),
                pid,
                sys::getppid(),
                exe,
                (calls, distinct, dropped),
                suppress::MATCHED.load(Ordering::Relaxed) as u64,
                signals,
                (lost, why),
                unresolved,
            );
        } else {
            prefix(b);
            match end {
                End::Exec(p) => {
                    b.s("process ")
                        .u(pid as u64)
                        .s(" calls exec(\"")
                        .printable(p)
                        .s("\")");
                }
                End::Exit(s) => {
                    b.s("process ")
                        .u(pid as u64)
                        .s(" exits with status ")
                        .i(s as i64);
                }
                End::Unseen => {
                    b.s("process ").u(pid as u64).s(" ends");
                }
            }
            if lost > 0 {
                b.s(" (").u(lost).s(" records lost: ").bytes(why).s(")");
            }
            if unresolved > 0 {
                b.s(" (")
                    .u(unresolved)
                    .s(" calls to functions this libc lacks failed with ENOSYS)");
            }
            b.s(" after ")
                .u(calls)
                .s(" async-signal-unsafe calls at ")
                .u(distinct)
                .s(" call sites");
            if dropped > 0 {
                b.s(" (").u(dropped).s(" not attributed: table full)");
            }
            b.s(":\n");
            dedup::each(pid, |s| {
                b.s("    ")
                    .u(s.count)
                    .s(" x ")
                    .printable(symbols::name(s.idx))
                    .s(" from ");
                b.hex(s.site as u64);
                if let Some(m) = assafe_unwind::module_of(s.site) {
                    b.s(" (")
                        .printable(m.path())
                        .s("+")
                        .hex(m.offset as u64)
                        .s(")");
                }
                b.s("\n");
            });
            let l = b.len();
            b.truncate(l - 1);
        }
    });
}

/// A signal handler returned with `errno` changed.
pub fn errno_spoil(sig: i32, handler: usize, before: i32, after: i32) {
    let o = config::options();
    emit(|b| {
        // An errno record has no function: it is suppressed on the handler's name as a
        // handler-in-vfork report names it, `(signal handler)`.
        if suppress::suppressed(
            assafe_proto::ERRNO_RULE,
            value::HANDLER_IN_VFORK_FUNCTION.as_bytes(),
            &[handler],
        ) {
            return;
        }
        if o.json() {
            let mut e = [0u8; 512];
            json::errno_spoil(b, &this_process(&mut e), sig, (before, after), handler);
        } else {
            prefix(b);
            b.s("signal handler for ")
                .s(signame(sig))
                .s(" changed errno from ")
                .i(before as i64);
            b.s(" to ")
                .i(after as i64)
                .s(" and did not restore it (the interrupted code may misread its error)\n");
            text_frame(b, 0, handler, true);
            let l = b.len();
            b.truncate(l - 1);
        }
    });
}

/// A program signal handler ran inside a vfork child.
pub fn handler_in_vfork(sig: i32, handler: usize) {
    let o = config::options();
    emit(|b| {
        if o.json() {
            let mut e = [0u8; 512];
            json::handler_in_vfork(b, &this_process(&mut e), sig, handler);
        } else {
            prefix(b);
            b.s("the program's handler for ").s(signame(sig));
            b.s(" ran in a vfork child: it shares, and can corrupt, the parent's memory and stack\n");
            text_frame(b, 0, handler, true);
            let l = b.len();
            b.truncate(l - 1);
        }
    });
}

/// `verbosity=2`: one line per fork child, saying whether it is checked.
pub fn fork_note(parent: i32, parent_threads: u32, checked: bool) {
    let o = config::options();
    emit(|b| {
        if o.json() {
            json::fork_note(b, sys::getpid(), parent, parent_threads, checked);
        } else {
            prefix(b);
            b.s("fork child of ")
                .u(parent as u64)
                .s(" (parent had ")
                .u(parent_threads as u64)
                .s(" thread");
            b.s(if parent_threads == 1 { ")" } else { "s)" });
            b.s(if checked {
                ": checking its calls until exec"
            } else {
                ": not checked (single-threaded parent)"
            });
        }
    });
}
