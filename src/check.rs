//! What the slow path does with a call: decide whether it is a violation, count it, report it, and
//! write the summary when a process that made unsafe calls execs or exits.

use core::ffi::c_int;
use core::sync::atomic::{AtomicU8, Ordering};

use assafe_proto::value;

use crate::config::{self, SafeList};
use crate::libc::symbols::{
    self, CLASS, Class, F_GLIBC_UNSAFE, F_POSIX_UNSAFE, FLAGS, generated as g,
};
use crate::libc::{self as clib};
use crate::platform::arch::{self, Frame};
use crate::platform::fmt::Buf;
use crate::platform::{in_self, sys, tls};
use crate::reporting::{self, Context, End, dedup};
use crate::state;

/// Context bits of the violations this process reported (for the summary's `context`).
pub static SEEN: AtomicU8 = AtomicU8::new(0);

/// The context a summary names: the one the process is in, else the one its reports were in.
fn summary_context(ctx: u8) -> u8 {
    let c = innermost(ctx & (tls::FORK_CHILD | tls::VFORK_CHILD));
    if c != 0 {
        return c;
    }
    match innermost(SEEN.load(Ordering::Relaxed)) {
        0 => innermost(ctx | tls::FORK_CHILD),
        c => c,
    }
}

/// Is symbol `idx` unsafe under the active `safe_list`?
pub fn is_unsafe(idx: usize) -> bool {
    let f = FLAGS[idx];
    match config::options().safe_list {
        SafeList::Posix => f & F_POSIX_UNSAFE != 0,
        SafeList::Glibc => f & F_GLIBC_UNSAFE != 0,
        SafeList::Strict => f & (F_POSIX_UNSAFE | F_GLIBC_UNSAFE) != 0,
    }
}

/// The bit of the most specific context among `ctx`'s bits (0 if none): a handler running in a
/// fork child is reported as a handler (the order is `assafe_proto::Context::innermost`'s).
pub fn innermost(ctx: u8) -> u8 {
    assafe_proto::Context::innermost(ctx).map_or(0, |c| c.bit())
}

/// Checks the call (in context `ctx`, 0 if none) and writes the summary of an exec or exit.
pub fn call(idx: usize, ctx: u8, f: &Frame) {
    if ctx != 0 {
        // The verdict decides (exec-family calls are safe under the default `glibc` list;
        // `safe_list=posix` reports execvp & co.).
        violation(idx, ctx, f);
    }
    match CLASS[idx] {
        Class::Exec => {
            let mut path = [0u8; 512];
            let p = exec_path(idx, f, &mut path);
            reporting::summary(End::Exec(p), summary_context(ctx));
        }
        Class::UExit | Class::Exit => {
            reporting::summary(End::Exit(f.arg(0) as i32), summary_context(ctx));
        }
        _ => {}
    }
}

/// The summary of a process that ends without an exit call the library saw (the destructor).
pub fn end_summary() {
    reporting::summary(
        End::Unseen,
        summary_context(tls::state() | state::process_context()),
    );
}

/// An interposed call in a restricted context: report it if the verdict says unsafe.
pub fn violation(idx: usize, ctx: u8, f: &Frame) {
    if !is_unsafe(idx) {
        return;
    }
    if clib::in_libc(f.ret_addr()) {
        // libc or the loader calling interposable functions (printf → malloc, dlopen → calloc):
        // the program's call into the C library already went through a stub and was judged there.
        return;
    }
    let bit = innermost(ctx);
    let o = config::options();
    if bit == tls::IN_HANDLER && !o.report_signal_unsafe {
        return;
    }
    if bit == tls::ASYNC_CANCEL
        && matches!(idx, g::IDX_pthread_cancel | g::IDX_pthread_setcanceltype)
    {
        // Of the three functions POSIX allows while cancellation is asynchronous, these two are
        // interposed (pthread_setcancelstate is class safe: it has no stub).
        return;
    }
    let pid = sys::getpid();
    let mut c = Context {
        bit,
        signal: 0,
        signal_origin: value::ORIGIN_ASYNC,
        definite: false,
        depth: 0,
        site: f.ret_addr(),
        handler: 0,
    };
    describe(&mut c);
    if c.handler != 0 && in_self(f.ret_addr()) {
        c.site = c.handler;
    }
    if bit == tls::IN_HANDLER {
        dedup::note_signal(c.signal);
    }
    if bit == tls::IN_HANDLER && dedup::worth_unwinding(pid, idx, c.site) {
        find_definite(&mut c);
    }
    match dedup::hit(pid, idx, c.site, c.definite) {
        dedup::Hit::Again => return,
        dedup::Hit::First | dedup::Hit::Definite | dedup::Hit::Full => {
            SEEN.fetch_or(bit, Ordering::Relaxed);
            if !reporting::unsafe_call(idx, &c, f) {
                dedup::suppress(pid, idx, c.site);
                return;
            }
        }
    }
    if o.halt_on_error {
        sys::abort();
    }
}

/// The path (or a description) an exec-family call was given.
fn exec_path<'a>(idx: usize, f: &Frame, buf: &'a mut [u8]) -> &'a [u8] {
    let p = match idx {
        g::IDX_fexecve => {
            let mut b = Buf::new(buf);
            b.s("fd:").u(f.arg(0) as u64);
            let n = b.len();
            return &buf[..n];
        }
        g::IDX_execveat => f.arg(1),
        _ => f.arg(0),
    };
    if p == 0 {
        return b"";
    }
    let mut n = 0;
    while n < buf.len() {
        // SAFETY: the program passed this pointer to exec as a C string; we read it up to its NUL
        // (bounded by buf), exactly as the real exec function is about to.
        let c = unsafe { *(p as *const u8).add(n) };
        if c == 0 {
            break;
        }
        buf[n] = c;
        n += 1;
    }
    &buf[..n]
}

// ---- signal-handler details of a report ----

fn origin_of(sig: c_int, info: *const libc::siginfo_t) -> &'static str {
    if info.is_null() {
        return value::ORIGIN_ASYNC;
    }
    // SAFETY: the kernel filled siginfo (handlers are always installed with SA_SIGINFO), and it
    // stays on the handler's stack while the handler runs.
    let code = unsafe { (*info).si_code };
    let synchronous = matches!(
        sig,
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP | libc::SIGSYS
    );
    if synchronous && code > 0 {
        return value::ORIGIN_SYNCHRONOUS;
    }
    if code == libc::SI_USER || code == libc::SI_TKILL || code == libc::SI_QUEUE {
        // SAFETY: for these codes the kernel filled si_pid.
        let pid = unsafe { (*info).si_pid() };
        if pid == sys::getpid() {
            return value::ORIGIN_SELF;
        }
    }
    value::ORIGIN_ASYNC
}

/// Fills in the signal-specific parts of a report context (cheap: no unwinding).
fn describe(c: &mut Context) {
    if c.bit != tls::IN_HANDLER {
        return;
    }
    if let Some(l) = innermost_level(c) {
        c.signal = l.signal as i32;
        c.signal_origin = origin_of(l.signal as c_int, l.info as *const libc::siginfo_t);
        c.handler = l.handler;
    }
}

fn innermost_level(c: &mut Context) -> Option<tls::Level> {
    let b = tls::block();
    // SAFETY: this thread's block, touched only by this thread and its handlers (volatile).
    let depth = unsafe { core::ptr::read_volatile(&raw const (*b).depth) };
    c.depth = depth;
    if depth == 0 {
        return None;
    }
    let i = (depth as usize).min(tls::LEVELS) - 1;
    // SAFETY: this thread's block; i < LEVELS.
    Some(unsafe { core::ptr::read_volatile(&raw const (*b).levels[i]) })
}

/// Sets `definite` when the innermost handler interrupted this thread inside an interposed
/// unsafe function: unwinds the interrupted context (costs microseconds).
fn find_definite(c: &mut Context) {
    let Some(l) = innermost_level(c) else { return };
    if l.uc == 0 {
        return;
    }
    // SAFETY: uc is the ucontext the kernel passed to the running handler, still on its stack.
    let regs = unsafe { arch::regs_of_ucontext(l.uc) };
    let mut frames = [0usize; 64];
    // SAFETY: the unwinder reads memory only through fault-proof reads.
    let (_, hit) =
        unsafe { assafe_unwind::walk_and_find(&regs, true, &mut frames, symbols::ranges()) };
    c.definite = hit.is_some();
}
