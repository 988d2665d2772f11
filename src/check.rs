//! What the slow path does with a call: decide whether it is a violation, count it, report it, and
//! write the summary when a process that made unsafe calls execs or exits.

use crate::options::SafeList;
use crate::report::{self, Context, End};
use crate::stubs::{self, CLASS, Class, F_GLIBC_UNSAFE, F_POSIX_UNSAFE, FLAGS, Frame};
use crate::{dedup, init, sys, tls};

/// Context bits of the violations this process reported (for the summary's `context`).
pub static SEEN: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// The context a summary names: the one the process is in, else the one its reports were in.
fn summary_context(ctx: u8) -> u8 {
    let c = innermost(ctx & (tls::FORK_CHILD | tls::VFORK_CHILD));
    if c != 0 {
        return c;
    }
    match innermost(SEEN.load(core::sync::atomic::Ordering::Relaxed)) {
        0 => innermost(ctx | tls::FORK_CHILD),
        c => c,
    }
}

/// Is symbol `idx` unsafe under the active `safe_list`?
pub fn is_unsafe(idx: usize) -> bool {
    let f = FLAGS[idx];
    match init::options().safe_list {
        SafeList::Posix => f & F_POSIX_UNSAFE != 0,
        SafeList::Glibc => f & F_GLIBC_UNSAFE != 0,
        SafeList::Strict => f & (F_POSIX_UNSAFE | F_GLIBC_UNSAFE) != 0,
    }
}

/// The most specific context among `ctx`'s bits: a handler running in a fork child is reported
/// as a handler.
pub fn innermost(ctx: u8) -> u8 {
    for bit in [
        tls::IN_HANDLER,
        tls::VFORK_CHILD,
        tls::FORK_CHILD,
        tls::ASYNC_CANCEL,
    ] {
        if ctx & bit != 0 {
            return bit;
        }
    }
    0
}

/// Checks the call; returns where the stub should continue instead of the usual target, if the
/// call was handled here (an exec performed with the library re-added to the environment).
pub fn call(idx: usize, ctx: u8, f: &Frame) -> Option<usize> {
    if ctx != 0 {
        // The verdict decides (exec-family calls are safe under the default `glibc` list;
        // `safe_list=posix` reports execvp & co.).
        violation(idx, ctx, f);
    }
    match CLASS[idx] {
        Class::Exec => {
            let mut path = [0u8; 512];
            let p = exec_path(idx, f, &mut path);
            report::summary(End::Exec(p), summary_context(ctx));
            crate::exec::follow(idx, f)
        }
        Class::UExit | Class::Exit => {
            report::summary(End::Exit(f.rdi as i32), summary_context(ctx));
            None
        }
        _ => None,
    }
}

/// An interposed call in a restricted context: report it if the verdict says unsafe.
pub fn violation(idx: usize, ctx: u8, f: &Frame) {
    if !is_unsafe(idx) {
        return;
    }
    if crate::init::in_libc(f.ret) {
        // libc or the loader calling interposable functions (printf → malloc, dlopen → calloc):
        // the program's call into the C library already went through a stub and was judged there.
        return;
    }
    let bit = innermost(ctx);
    let o = init::options();
    if bit == tls::IN_HANDLER && !o.report_signal_unsafe {
        return;
    }
    if bit == tls::ASYNC_CANCEL
        && matches!(
            stubs::name(idx),
            b"pthread_cancel" | b"pthread_setcancelstate" | b"pthread_setcanceltype"
        )
    {
        // The three functions POSIX allows while cancellation is asynchronous.
        return;
    }
    let pid = sys::getpid();
    let mut c = Context {
        bit,
        signal: 0,
        signal_origin: "async",
        definite: false,
        depth: 0,
        site: f.ret,
        handler: 0,
    };
    crate::signal::describe(&mut c);
    if c.handler != 0 && init::in_self(f.ret) {
        c.site = c.handler;
    }
    if bit == tls::IN_HANDLER && dedup::worth_unwinding(pid, idx, c.site) {
        crate::signal::find_definite(&mut c);
    }
    match dedup::hit(pid, idx, c.site, c.definite) {
        dedup::Hit::Again => return,
        dedup::Hit::First | dedup::Hit::Definite | dedup::Hit::Full => {
            SEEN.fetch_or(bit, core::sync::atomic::Ordering::Relaxed);
            if !report::unsafe_call(idx, &c, f) {
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
    let name = stubs::name(idx);
    let p = match name {
        b"fexecve" => {
            let mut b = crate::fmt::Buf::new(buf);
            b.s("fd:").u(f.rdi as u64);
            let n = b.len();
            return &buf[..n];
        }
        b"execveat" => f.rsi,
        _ => f.rdi,
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
