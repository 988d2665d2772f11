//! What the slow path does with a call: decide whether it is a violation, count it, report it, and
//! write the summary when a process that made unsafe calls execs or exits.

use core::ffi::c_int;
use core::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use assafe_proto::reason::Why;
use assafe_proto::{Severity, value};

use crate::config::{self, SafeList};
use crate::libc::symbols::{
    self, CLASS, Class, F_GLIBC_UNSAFE, F_POSIX_UNSAFE, FLAGS, generated as g,
};
use crate::libc::{self as clib};
use crate::platform::arch::{self, Frame};
use crate::platform::fmt::Buf;
use crate::platform::{in_self, sys, tls};
use crate::reporting::Vfork;
use crate::reporting::{self, Context, End, dedup};
use crate::state;

/// Context bits of the violations this process reported (for the summary's `context`).
#[unsafe(link_section = "assafe_hot")]
pub static SEEN: AtomicU8 = AtomicU8::new(0);

/// Unwindings done for calls in handlers of synchronous faults outside libc (see `violation`),
/// and how many a process may spend on them (unwinding costs microseconds; a program that
/// takes faults as a matter of course must not pay it on every call).
#[unsafe(link_section = "assafe_hot")]
static OUTSIDE_UNWINDS: AtomicU32 = AtomicU32::new(0);
const MAX_OUTSIDE_UNWINDS: u32 = 256;

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
        outside: false,
        depth: 0,
        site: f.ret_addr(),
        handler: 0,
        severity: Severity::Hazard,
        why: Why::Cancel,
        own_object: false,
        vfork: None,
    };
    describe(&mut c);
    if c.handler != 0 && in_self(f.ret_addr()) {
        c.site = c.handler;
    }
    // A synchronous fault at an instruction outside libc and every unsafe function (HotSpot's
    // implicit null checks in JIT code) cannot have interrupted an unsafe function, unless one is
    // further up the interrupted stack (a callback: the unwinding below finds it). Not a finding
    // unless asked for. Such calls are not counted in the dedup table, so their unwinding is
    // bounded per process instead.
    let pc_outside =
        bit == tls::IN_HANDLER && c.signal_origin == value::ORIGIN_SYNCHRONOUS && fault_outside();
    let worth = bit == tls::IN_HANDLER
        && dedup::worth_unwinding(pid, idx, c.site)
        && (!pc_outside || OUTSIDE_UNWINDS.fetch_add(1, Ordering::Relaxed) < MAX_OUTSIDE_UNWINDS);
    if worth {
        find_definite(&mut c);
    }
    if pc_outside && !c.definite {
        c.outside = true;
        if !o.report_sync_faults {
            return;
        }
    }
    if bit == tls::IN_HANDLER {
        dedup::note_signal(c.signal);
    }
    judge(idx, f, &mut c);
    match dedup::hit(pid, idx, c.site, c.definite, c.severity as u8) {
        dedup::Hit::Again => return,
        dedup::Hit::First | dedup::Hit::Definite | dedup::Hit::Worse | dedup::Hit::Full => {
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

/// The fork resets of `data/fork-resets.tsv` (the rows of the build's libc family), generated by
/// build.rs.
mod resets {
    include!(concat!(env!("OUT_DIR"), "/fork_resets.rs"));
}

/// The running libc's version as data/fork-resets.tsv's rows of its family count it (build.rs
/// `version_number`): glibc's `MAJOR * 100 + MINOR`, musl's `MAJOR * 10000 + MINOR * 100 +
/// PATCH` (0 when it cannot be told: no reset assumed).
fn libc_version() -> u32 {
    #[unsafe(link_section = "assafe_hot")]
    static VERSION: AtomicU32 = AtomicU32::new(u32::MAX);
    let v = VERSION.load(Ordering::Relaxed);
    if v != u32::MAX {
        return v;
    }
    #[cfg(not(target_env = "musl"))]
    let v = glibc_version();
    // musl has no version string: the library names it by its exports (libc::identity).
    #[cfg(target_env = "musl")]
    let v = crate::libc::identity::musl_version_number();
    VERSION.store(v, Ordering::Relaxed);
    v
}

/// glibc's version as `MAJOR * 100 + MINOR` (0 when it cannot be read).
#[cfg(not(target_env = "musl"))]
fn glibc_version() -> u32 {
    // SAFETY: gnu_get_libc_version only returns the address of a static NUL-terminated string
    // (no lock, no allocation: fine in a fork child or a handler).
    let p = unsafe { ::libc::gnu_get_libc_version() }.cast::<u8>();
    let (mut major, mut minor, mut dot, mut i) = (0u32, 0u32, false, 0usize);
    while !p.is_null() && i < 16 {
        // SAFETY: within the static string, up to its NUL (bounded).
        let ch = unsafe { *p.add(i) };
        match ch {
            b'0'..=b'9' if !dot => major = major * 10 + u32::from(ch - b'0'),
            b'0'..=b'9' => minor = minor * 10 + u32::from(ch - b'0'),
            b'.' if !dot => dot = true,
            _ => break,
        }
        i += 1;
    }
    if dot && minor < 100 {
        major * 100 + minor
    } else {
        0
    }
}

/// Does this glibc's `fork()` reset every lock symbol `idx` can take (data/fork-resets.tsv)?
fn reset_by_fork(idx: usize) -> bool {
    let v = libc_version();
    resets::FORK_RESETS
        .iter()
        .any(|r| (r.min..=r.max).contains(&v) && r.syms.binary_search(&(idx as u16)).is_ok())
}

/// The signals whose action in this process is a handler (not SIG_DFL, SIG_IGN), from the
/// kernel: a vfork child's dispositions are its own (dash resets them in the child), the
/// library's table is the parent's. Bit n-1 for signal n; glibc's internal signals 32 and 33
/// (thread cancellation and setxid, which only a multi-threaded process sends) are left out.
fn handled_signals() -> u64 {
    let mut handled = 0u64;
    for sig in 1..=64 {
        if sig == 32 || sig == 33 {
            continue;
        }
        let mut old = sys::KSigaction {
            handler: 0,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        // SAFETY: a query into our own struct.
        if unsafe { sys::rt_sigaction(sig, core::ptr::null(), &mut old) }.is_ok() && old.handler > 1
        {
            handled |= 1 << (sig - 1);
        }
    }
    handled
}

/// A vfork child's parent: its thread count (glibc's flag, shared with the parent, says 1
/// without a system call; else `/proc/PPID/stat`; 0 = unknown), and the signals blocked and
/// handled in the child now.
fn vfork_facts() -> Vfork {
    let mut blocked = 0u64;
    // SAFETY: a query into our own 8-byte mask.
    let _ = unsafe { sys::rt_sigprocmask(libc::SIG_BLOCK, core::ptr::null(), &mut blocked) };
    let parent_threads = if clib::single_threaded() {
        1
    } else {
        let mut path = [0u8; 40];
        let mut b = Buf::new(&mut path);
        b.s("/proc/").u(sys::getppid() as u64).s("/stat").c(0);
        let n = b.len();
        match sys::open(&path[..n], libc::O_RDONLY | libc::O_CLOEXEC, 0) {
            Ok(fd) => {
                let mut buf = [0u8; 1024];
                let n = sys::pread(fd, &mut buf, 0).unwrap_or(0);
                sys::close(fd);
                assafe_pure::proc_stat::num_threads(&buf[..n])
            }
            Err(_) => 0,
        }
    };
    Vfork {
        parent_threads,
        blocked,
        handled: handled_signals(),
    }
}

/// The severity of the call from what this C library does in this context, and the
/// explanation that goes with it (see `assafe_proto::Severity`).
fn judge(idx: usize, f: &Frame, c: &mut Context) {
    let reason = symbols::REASONS[idx];
    (c.severity, c.why) = match c.bit {
        tls::FORK_CHILD => {
            if state::STRICT_ONLY.load(Ordering::Relaxed) != 0 {
                (Severity::Portable, Why::StrictOnly)
            } else if reason == "lock" && state::own_object(f.arg(0)) {
                c.own_object = true;
                (Severity::Portable, Why::OwnObject)
            } else if state::FORKED_BY.load(Ordering::Relaxed) == state::FORKED_FORK
                && reset_by_fork(idx)
            {
                (Severity::Portable, Why::ForkReset)
            } else {
                (Severity::Hazard, Why::ForkHazard)
            }
        }
        tls::VFORK_CHILD
            if let Some(w) = dedup::worst(sys::getpid(), idx, c.site)
                && w <= Severity::Hazard as u8 =>
        {
            // A site seen before in this child keeps its severity: the facts cost ~65 system
            // calls, and a child may call from one site a million times.
            if w == Severity::Portable as u8 {
                (Severity::Portable, Why::VforkQuiet)
            } else {
                (Severity::Hazard, Why::Vfork)
            }
        }
        tls::VFORK_CHILD => {
            let v = vfork_facts();
            c.vfork = Some(v);
            // Single-threaded parent, and no handler can run in the child (every signal with a
            // handler is blocked: dash blocks them all around vfork and resets the child's).
            if v.parent_threads == 1 && v.handled & !v.blocked == 0 {
                (Severity::Portable, Why::VforkQuiet)
            } else {
                (Severity::Hazard, Why::Vfork)
            }
        }
        tls::IN_HANDLER => {
            if c.definite {
                (Severity::Definite, Why::HandlerDefinite)
            } else if c.outside {
                (Severity::Portable, Why::HandlerOutside)
            } else if c.signal_origin == value::ORIGIN_SELF && clib::single_threaded() {
                (Severity::Portable, Why::HandlerSelf)
            } else {
                (Severity::Hazard, Why::Handler)
            }
        }
        _ => (Severity::Hazard, Why::Cancel),
    };
    if assafe_proto::reason::lookup(reason).resource.is_none() && reason != "undocumented" {
        // Unsafe only by POSIX's list: glibc's implementation touches no shared state.
        c.severity = Severity::Portable;
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

/// Is the instruction the innermost handler's signal interrupted outside libc, the loader, this
/// library and every unsafe function?
fn fault_outside() -> bool {
    let b = tls::block();
    // SAFETY: this thread's block, touched only by this thread and its handlers (volatile).
    let depth = unsafe { core::ptr::read_volatile(&raw const (*b).depth) };
    if depth == 0 || depth as usize > tls::LEVELS {
        return false;
    }
    // SAFETY: index < LEVELS; this thread's block.
    let l = unsafe { core::ptr::read_volatile(&raw const (*b).levels[depth as usize - 1]) };
    if l.uc == 0 {
        return false;
    }
    // SAFETY: uc is the ucontext the kernel passed to the running handler, still on its stack.
    let (pc, _) = unsafe { arch::pc_and_ret_of_ucontext(l.uc) };
    !(clib::in_libc(pc)
        || in_self(pc)
        || symbols::ranges().iter().any(|r| (r.0..r.1).contains(&pc)))
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
