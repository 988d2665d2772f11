//! Signal handlers: the kernel gets [`handler_wrapper`]; the program sees its own handler, mask
//! and flags in `oldact`, exactly as without the preload.
//!
//! The wrapper keeps a per-thread handler depth (nested signals count) in the TLS block, so every
//! interposed call made while a handler runs is checked. `longjmp` and friends out of a handler
//! repair the depth. The table of user handlers is read with atomics only; writers (sigaction)
//! block all signals on their thread and take a per-signal spin flag, so a handler never finds a
//! lock held by the code it interrupted.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::report::{self, Context};
use crate::stubs::{self, generated as g};
use crate::{init, sys, tls};

const NSIG: usize = 65;
const SIG_DFL: usize = 0;
const SIG_IGN: usize = 1;
const SIG_HOLD: usize = 2;
const SA_SIGINFO: i32 = libc::SA_SIGINFO;

/// The program's handler for each signal (what `oldact` must show).
static HANDLER: [AtomicUsize; NSIG] = [const { AtomicUsize::new(0) }; NSIG];
/// The program's `sa_flags` for each signal.
static UFLAGS: [AtomicU64; NSIG] = [const { AtomicU64::new(0) }; NSIG];
/// The kernel's action is (or was, before an SA_RESETHAND reset) our wrapper, installed with
/// SA_SIGINFO forced: `oldact` must show the program's own SA_SIGINFO bit.
static FORCED: [AtomicBool; NSIG] = [const { AtomicBool::new(false) }; NSIG];
/// Per-signal writer flag (taken with all signals blocked on the writing thread).
static WRITING: [AtomicBool; NSIG] = [const { AtomicBool::new(false) }; NSIG];
/// Handler address already reported for spoiling errno, per signal.
static ERRNO_REPORTED: [AtomicUsize; NSIG] = [const { AtomicUsize::new(0) }; NSIG];

type SigactionFn =
    unsafe extern "C" fn(c_int, *const libc::sigaction, *mut libc::sigaction) -> c_int;

fn real_sigaction() -> SigactionFn {
    // SAFETY: the slot holds libc's sigaction, resolved at load.
    unsafe { core::mem::transmute(stubs::real(g::IDX_sigaction)) }
}

/// Blocks every signal on this thread and takes the writer flag of `sig`.
struct WriterGuard {
    sig: usize,
    mask: u64,
}

impl WriterGuard {
    fn new(sig: usize) -> WriterGuard {
        let all: u64 = !0;
        let mut mask = 0u64;
        // SAFETY: valid 8-byte masks on our stack.
        let _ = unsafe { sys::rt_sigprocmask(libc::SIG_SETMASK, &all, &mut mask) };
        while WRITING[sig]
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Another thread is between two system calls; it cannot be interrupted by a handler
            // of its own (it blocked them), so it finishes shortly.
            sys::sched_yield();
        }
        WriterGuard { sig, mask }
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        WRITING[self.sig].store(false, Ordering::Release);
        // SAFETY: restores the mask saved in `new`.
        let _ =
            unsafe { sys::rt_sigprocmask(libc::SIG_SETMASK, &self.mask, core::ptr::null_mut()) };
    }
}

/// `sigaction` as the program sees it.
unsafe extern "C" fn sigaction_impl(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    let real = real_sigaction();
    if !(1..NSIG as c_int).contains(&sig) || sig == libc::SIGKILL || sig == libc::SIGSTOP {
        // SAFETY: pass-through with the program's own arguments.
        return unsafe { real(sig, act, old) };
    }
    let s = sig as usize;
    let _guard = WriterGuard::new(s);
    let prev_handler = HANDLER[s].load(Ordering::Relaxed);
    let prev_flags = UFLAGS[s].load(Ordering::Relaxed) as i32;
    let was_forced = FORCED[s].load(Ordering::Relaxed);
    // SAFETY: all-zero is a valid sigaction.
    let mut kold: libc::sigaction = unsafe { core::mem::zeroed() };
    let r = if act.is_null() {
        // SAFETY: query only.
        unsafe { real(sig, core::ptr::null(), &mut kold) }
    } else if tls::state() & tls::VFORK_CHILD != 0 {
        // A vfork child has its own kernel dispositions but shares our table with the parent:
        // give the kernel the program's own action and leave the table alone (CPython's
        // _posixsubprocess resets handlers to SIG_DFL there).
        // SAFETY: the program's own arguments; kold is ours (`old` may alias `act`).
        unsafe { real(sig, act, &mut kold) }
    } else {
        // SAFETY: the program passed a valid sigaction (copied before `old`, which may alias it,
        // is written).
        let a = unsafe { *act };
        let h = a.sa_sigaction;
        if h == SIG_DFL || h == SIG_IGN {
            // SAFETY: the program's own action.
            let r = unsafe { real(sig, &a, &mut kold) };
            if r == 0 {
                HANDLER[s].store(h, Ordering::Relaxed);
                UFLAGS[s].store(a.sa_flags as u64, Ordering::Relaxed);
                FORCED[s].store(false, Ordering::Relaxed);
            }
            r
        } else {
            let mut w = a;
            w.sa_sigaction = handler_wrapper as *const () as usize;
            w.sa_flags |= SA_SIGINFO;
            // The table first: a signal arriving right after the kernel update must find it.
            HANDLER[s].store(h, Ordering::Release);
            UFLAGS[s].store(a.sa_flags as u64, Ordering::Release);
            // SAFETY: same action with our wrapper in place of the handler.
            let r = unsafe { real(sig, &w, &mut kold) };
            if r == 0 {
                FORCED[s].store(true, Ordering::Relaxed);
            } else {
                HANDLER[s].store(prev_handler, Ordering::Relaxed);
                UFLAGS[s].store(prev_flags as u64, Ordering::Relaxed);
            }
            r
        }
    };
    if r == 0 && !old.is_null() {
        let mut o = kold;
        if kold.sa_sigaction == handler_wrapper as *const () as usize {
            o.sa_sigaction = prev_handler;
        }
        if was_forced {
            o.sa_flags = (kold.sa_flags & !SA_SIGINFO) | (prev_flags & SA_SIGINFO);
        }
        // SAFETY: the program's output pointer.
        unsafe { *old = o };
    }
    r
}

fn act_of(handler: usize, flags: i32, mask_sig: c_int) -> libc::sigaction {
    // SAFETY: all-zero is a valid sigaction.
    let mut a: libc::sigaction = unsafe { core::mem::zeroed() };
    a.sa_sigaction = handler;
    a.sa_flags = flags;
    if mask_sig > 0 {
        // glibc's sigset_t is an array of u64 words, bit (sig - 1) for signal sig (1..=64 here).
        // SAFETY: sa_mask is at least 8 bytes and suitably aligned for u64.
        unsafe { *(&raw mut a.sa_mask as *mut u64) |= 1u64 << (mask_sig - 1) };
    }
    a
}

fn install(sig: c_int, a: &libc::sigaction) -> usize {
    // SAFETY: all-zero is a valid sigaction.
    let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: valid pointers.
    if unsafe { sigaction_impl(sig, a, &mut old) } < 0 {
        usize::MAX
    } else {
        old.sa_sigaction
    }
}

/// `signal`, `bsd_signal`, `ssignal`: BSD semantics, as glibc's own implementation.
unsafe extern "C" fn signal_impl(sig: c_int, h: usize) -> usize {
    if h == usize::MAX || !(1..NSIG as c_int).contains(&sig) {
        // SAFETY: __errno_location is async-signal-safe.
        unsafe { *libc::__errno_location() = libc::EINVAL };
        return usize::MAX;
    }
    install(sig, &act_of(h, libc::SA_RESTART, sig))
}

/// `sysv_signal`: one-shot, no masking, no restart.
unsafe extern "C" fn sysv_signal_impl(sig: c_int, h: usize) -> usize {
    if h == usize::MAX || !(1..NSIG as c_int).contains(&sig) {
        // SAFETY: __errno_location is async-signal-safe.
        unsafe { *libc::__errno_location() = libc::EINVAL };
        return usize::MAX;
    }
    install(sig, &act_of(h, libc::SA_RESETHAND | libc::SA_NODEFER, 0))
}

/// `sigset` (System V), including `SIG_HOLD`.
unsafe extern "C" fn sigset_impl(sig: c_int, h: usize) -> usize {
    if h == usize::MAX || !(1..NSIG as c_int).contains(&sig) {
        // SAFETY: __errno_location is async-signal-safe.
        unsafe { *libc::__errno_location() = libc::EINVAL };
        return usize::MAX;
    }
    let bit: u64 = 1 << (sig - 1);
    let mut oset = 0u64;
    if h == SIG_HOLD {
        // SAFETY: valid masks.
        let _ = unsafe { sys::rt_sigprocmask(libc::SIG_BLOCK, &bit, &mut oset) };
        // SAFETY: all-zero is a valid sigaction.
        let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
        // SAFETY: query only.
        unsafe { sigaction_impl(sig, core::ptr::null(), &mut old) };
        return if oset & bit != 0 {
            SIG_HOLD
        } else {
            old.sa_sigaction
        };
    }
    let prev = install(sig, &act_of(h, 0, 0));
    if prev == usize::MAX {
        return prev;
    }
    // SAFETY: valid masks.
    let _ = unsafe { sys::rt_sigprocmask(libc::SIG_UNBLOCK, &bit, &mut oset) };
    if oset & bit != 0 { SIG_HOLD } else { prev }
}

/// Where the slow path sends a sigaction-class call.
pub fn wrapper(idx: usize) -> usize {
    match stubs::name(idx) {
        b"sigaction" | b"__sigaction" => sigaction_impl as *const () as usize,
        b"sysv_signal" | b"__sysv_signal" => sysv_signal_impl as *const () as usize,
        b"sigset" => sigset_impl as *const () as usize,
        _ => signal_impl as *const () as usize,
    }
}

/// Wraps handlers installed before the library loaded (by earlier constructors).
pub fn wrap_existing() {
    for sig in 1..NSIG as c_int {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: all-zero is a valid sigaction.
        let mut cur: libc::sigaction = unsafe { core::mem::zeroed() };
        // SAFETY: query only.
        if unsafe { (real_sigaction())(sig, core::ptr::null(), &mut cur) } != 0 {
            continue;
        }
        if cur.sa_sigaction > SIG_IGN {
            cur.sa_flags &= !0x0400_0000; // SA_RESTORER: glibc adds its own
            install(sig, &cur);
        } else {
            HANDLER[sig as usize].store(cur.sa_sigaction, Ordering::Relaxed);
            UFLAGS[sig as usize].store(cur.sa_flags as u64, Ordering::Relaxed);
        }
    }
}

fn current_sp() -> usize {
    let sp: usize;
    // SAFETY: reads rsp.
    unsafe {
        core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    sp
}

fn origin_of(sig: c_int, info: *const libc::siginfo_t) -> &'static str {
    if info.is_null() {
        return "async";
    }
    // SAFETY: the kernel filled siginfo (we always install with SA_SIGINFO).
    let code = unsafe { (*info).si_code };
    let synchronous = matches!(
        sig,
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP | libc::SIGSYS
    );
    if synchronous && code > 0 {
        return "synchronous";
    }
    if code == libc::SI_USER || code == libc::SI_TKILL || code == libc::SI_QUEUE {
        // SAFETY: for these codes si_pid is valid.
        let pid = unsafe { (*info).si_pid() };
        if pid == sys::getpid() {
            return "self";
        }
    }
    "async"
}

/// The action the kernel runs for every signal whose program handler is a function.
unsafe extern "C" fn handler_wrapper(sig: c_int, info: *mut libc::siginfo_t, uc: *mut c_void) {
    let b = tls::block();
    let saved = tls::state();
    let s = sig as usize;
    let h = HANDLER
        .get(s)
        .map_or(SIG_DFL, |h| h.load(Ordering::Acquire));
    let flags = UFLAGS.get(s).map_or(0, |f| f.load(Ordering::Acquire)) as i32;
    // SAFETY: b is this thread's TLS block; fields are accessed with volatile operations only.
    let depth = unsafe { core::ptr::read_volatile(&raw const (*b).depth) };
    if (depth as usize) < tls::LEVELS {
        let l = tls::Level {
            entry_sp: current_sp(),
            uc: uc as usize,
            signal: sig as u32,
            saved_state: saved,
            info: info as usize,
            handler: h,
            ..tls::Level::ZERO
        };
        // SAFETY: index checked; this thread's block.
        unsafe { core::ptr::write_volatile(&raw mut (*b).levels[depth as usize], l) };
    }
    // SAFETY: this thread's block.
    unsafe { core::ptr::write_volatile(&raw mut (*b).depth, depth + 1) };
    tls::store((saved & !tls::BUSY) | tls::IN_HANDLER);

    if flags & libc::SA_RESETHAND != 0 && saved & tls::VFORK_CHILD == 0 {
        // The kernel has reset the action to SIG_DFL; so does the table (not from a vfork
        // child: its dispositions are its own, the table is the parent's).
        HANDLER[s].store(SIG_DFL, Ordering::Relaxed);
    }
    if saved & tls::VFORK_CHILD != 0 && h > SIG_IGN {
        // A handler running in a vfork child shares, and can corrupt, the parent's memory.
        tls::set(tls::BUSY);
        if init::done()
            && matches!(
                crate::dedup::hit(sys::getpid(), stubs::HANDLER_IN_VFORK, h, false),
                crate::dedup::Hit::First
            )
        {
            report::handler_in_vfork(sig, h);
        }
        tls::clear(tls::BUSY);
    }
    // SAFETY: __errno_location returns this thread's errno.
    let errno_p = unsafe { libc::__errno_location() };
    // SAFETY: valid errno pointer.
    let errno_before = unsafe { *errno_p };
    if h > SIG_IGN {
        if flags & SA_SIGINFO != 0 {
            // SAFETY: the program installed this handler as a sa_sigaction function.
            let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
                unsafe { core::mem::transmute(h) };
            f(sig, info, uc);
        } else {
            // SAFETY: the program installed this handler as a sa_handler function.
            let f: extern "C" fn(c_int) = unsafe { core::mem::transmute(h) };
            f(sig);
        }
    }
    // SAFETY: valid errno pointer.
    let errno_after = unsafe { *errno_p };
    if errno_after != errno_before && h > SIG_IGN {
        tls::set(tls::BUSY);
        errno_spoiled(sig, h, errno_before, errno_after);
    }
    // SAFETY: this thread's block.
    unsafe { core::ptr::write_volatile(&raw mut (*b).depth, depth) };
    tls::store(saved);
}

fn errno_spoiled(sig: c_int, h: usize, before: i32, after: i32) {
    if !init::done() || !init::options().report_errno_spoil {
        return;
    }
    // ThreadSanitizer's rule: synchronous signals and SIGTERM are not expected to preserve errno.
    if matches!(
        sig,
        libc::SIGSEGV
            | libc::SIGBUS
            | libc::SIGILL
            | libc::SIGFPE
            | libc::SIGTRAP
            | libc::SIGSYS
            | libc::SIGTERM
    ) {
        return;
    }
    if ERRNO_REPORTED[sig as usize].swap(h, Ordering::Relaxed) == h {
        return;
    }
    report::errno_spoil(sig, h, before, after);
}

/// Fills in the signal-specific parts of a report context (cheap: no unwinding).
pub fn describe(c: &mut Context) {
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
    // SAFETY: this thread's block.
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
pub fn find_definite(c: &mut Context) {
    let Some(l) = innermost_level(c) else { return };
    if l.uc == 0 {
        return;
    }
    // SAFETY: uc is the ucontext the kernel passed to the running handler, still on the stack.
    let g = unsafe { &(*(l.uc as *const libc::ucontext_t)).uc_mcontext.gregs };
    let regs = assafe_unwind::Regs {
        rip: g[libc::REG_RIP as usize] as usize,
        rsp: g[libc::REG_RSP as usize] as usize,
        rbp: g[libc::REG_RBP as usize] as usize,
        rbx: g[libc::REG_RBX as usize] as usize,
        r12: g[libc::REG_R12 as usize] as usize,
        r13: g[libc::REG_R13 as usize] as usize,
        r14: g[libc::REG_R14 as usize] as usize,
        r15: g[libc::REG_R15 as usize] as usize,
    };
    let mut frames = [0usize; 64];
    // SAFETY: fault-proof unwinder over the interrupted context.
    let (_, hit) =
        unsafe { assafe_unwind::walk_and_find(&regs, true, &mut frames, stubs::ranges()) };
    c.definite = hit.is_some();
}

// ---- longjmp out of a handler ----

type JmpFn = unsafe extern "C" fn(*mut c_void, c_int) -> !;

/// The stack pointer a `jmp_buf` will restore (glibc mangles it: rol 0x11 after xor fs:0x30).
fn jmp_target_sp(env: *const usize) -> usize {
    // SAFETY: env is the program's jmp_buf; slot 6 holds the mangled rsp (glibc x86_64 layout).
    let mangled = unsafe { *env.add(6) };
    let guard: usize;
    // SAFETY: fs:0x30 is glibc's pointer guard in the TCB.
    unsafe {
        core::arch::asm!("mov {}, qword ptr fs:[0x30]", out(reg) guard, options(nostack, readonly, preserves_flags))
    };
    mangled.rotate_right(0x11) ^ guard
}

/// Does a jump to `target` stack pointer leave the handler whose wrapper started at `entry`?
fn leaves(entry: usize, target: usize) -> bool {
    // Frames the handler created lie just below the wrapper's entry on the same stack.
    !(target < entry && entry - target < (1 << 20))
}

/// `longjmp`, `_longjmp`, `siglongjmp`, `__longjmp_chk` (the real one is symbol `IDX`): repair
/// the handler depth, then jump.
unsafe extern "C" fn jmp_impl<const IDX: usize>(env: *mut c_void, val: c_int) -> ! {
    repair_depth(jmp_target_sp(env as *const usize));
    // SAFETY: the slot holds libc's longjmp-family function IDX.
    let real: JmpFn = unsafe { core::mem::transmute(stubs::real(IDX)) };
    // SAFETY: the program's own arguments.
    unsafe { real(env, val) }
}

/// Where the slow path sends a longjmp-class call.
pub fn jmp_wrapper(idx: usize) -> usize {
    match idx {
        g::IDX_longjmp => jmp_impl::<{ g::IDX_longjmp }> as *const () as usize,
        g::IDX__longjmp => jmp_impl::<{ g::IDX__longjmp }> as *const () as usize,
        g::IDX_siglongjmp => jmp_impl::<{ g::IDX_siglongjmp }> as *const () as usize,
        _ => jmp_impl::<{ g::IDX___longjmp_chk }> as *const () as usize,
    }
}

/// Pops every handler level that a jump to `target` leaves, restoring the state byte the
/// outermost of them interrupted.
fn repair_depth(target: usize) {
    let b = tls::block();
    // SAFETY: this thread's block, volatile access only.
    let mut depth = unsafe { core::ptr::read_volatile(&raw const (*b).depth) };
    let mut restore = None;
    while depth > 0 {
        let i = depth as usize - 1;
        if i >= tls::LEVELS {
            // Too deep to have a record: assume the jump leaves it.
            depth -= 1;
            continue;
        }
        // SAFETY: i < LEVELS.
        let l = unsafe { core::ptr::read_volatile(&raw const (*b).levels[i]) };
        if !leaves(l.entry_sp, target) {
            break;
        }
        restore = Some(l.saved_state);
        depth -= 1;
    }
    // SAFETY: this thread's block.
    unsafe { core::ptr::write_volatile(&raw mut (*b).depth, depth) };
    if let Some(s) = restore {
        tls::store(s & !tls::BUSY);
    }
}
