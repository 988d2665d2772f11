//! Signal handlers: the kernel gets [`handler_wrapper`]; the program sees its own handler, mask
//! and flags in `oldact`, exactly as without the preload.
//!
//! The wrapper keeps a per-thread handler depth (nested signals count) in the TLS block, so every
//! interposed call made while a handler runs is checked. `longjmp` and friends out of a handler
//! repair the depth. The table of user handlers is read with atomics only; writers (sigaction)
//! block all signals on their thread and take a per-signal spin flag, so a handler never finds a
//! lock held by the code it interrupted.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::config;
use crate::libc::symbols::{self, generated as g};
use crate::libc::{errno_location, jmp_target_sp};
use crate::platform::arch::{self, USER_ADDR_FREE_BITS};
use crate::platform::{sys, tls};
use crate::reporting::{self, dedup};
use crate::state;
use assafe_pure::sigtable::{self, Action, Actions};

const NSIG: usize = 65;
const SIG_DFL: usize = 0;
const SIG_IGN: usize = 1;
const SIG_HOLD: usize = 2;
const SA_SIGINFO: i32 = ::libc::SA_SIGINFO;

/// The program's action for each signal (what `oldact` must show, and how the wrapper calls the
/// handler), published as ONE word per signal (see `assafe_pure::sigtable`): a signal arriving
/// while another thread re-installs the handler finds either the old pair or the new one, never
/// the new handler with the old calling convention.
///
/// Orderings: writers store with `Release` *before* giving the kernel our wrapper, and the wrapper
/// loads with `Acquire`. The word carries everything the wrapper needs (a handler's code is
/// immutable), so no other memory is published with it; what orders "table written" before
/// "wrapper runs for this disposition" is the kernel: the writer's `rt_sigaction` and the signal's
/// delivery both take the process's sighand lock. Release/Acquire states that intent and costs
/// nothing on x86_64. Stores made while the wrapper is not installed for the signal (SIG_DFL,
/// SIG_IGN, at load) are Relaxed: no wrapper can run for them.
#[unsafe(link_section = "assafe_hot")]
static ACTION: Actions<NSIG> = Actions::new();
const _: () = assert!(sigtable::FLAG_BITS & !USER_ADDR_FREE_BITS == 0);

fn action(handler: usize, flags: i32) -> Action {
    Action::new(
        handler,
        flags & SA_SIGINFO != 0,
        flags & ::libc::SA_RESETHAND != 0,
    )
}

/// The kernel's action is (or was, before an SA_RESETHAND reset) our wrapper, installed with
/// SA_SIGINFO forced: `oldact` must show the program's own SA_SIGINFO bit. Read and written only
/// by writers holding the signal's `WRITING` flag (whose Acquire/Release order it), so Relaxed.
#[unsafe(link_section = "assafe_hot")]
static FORCED: [AtomicBool; NSIG] = [const { AtomicBool::new(false) }; NSIG];
/// Per-signal writer flag (in a process with more than one thread, taken with all signals blocked
/// on the writing thread; see `WriterGuard`).
#[unsafe(link_section = "assafe_hot")]
static WRITING: [AtomicBool; NSIG] = [const { AtomicBool::new(false) }; NSIG];
/// Handler address already reported for spoiling errno, per signal.
#[unsafe(link_section = "assafe_hot")]
static ERRNO_REPORTED: [AtomicUsize; NSIG] = [const { AtomicUsize::new(0) }; NSIG];

type SigactionFn =
    unsafe extern "C" fn(c_int, *const libc::sigaction, *mut libc::sigaction) -> c_int;
crate::libc::same_type_as_libc!(SigactionFn, ::libc::sigaction);

fn real_sigaction() -> SigactionFn {
    // SAFETY: the slot holds libc's sigaction, resolved at load, whose type SigactionFn is
    // checked against the libc crate's declaration above.
    unsafe { core::mem::transmute(symbols::real(g::IDX_sigaction)) }
}

/// Takes the writer flag of `sig`; in a process with more than one thread, first blocks every
/// signal on this thread.
struct WriterGuard {
    sig: usize,
    /// The mask to restore (`None` under a seccomp filter or with one thread: it was not changed).
    mask: Option<u64>,
    /// The writer flag was taken (always, outside a seccomp filter).
    held: bool,
}

impl WriterGuard {
    fn new(sig: usize) -> WriterGuard {
        // One thread first: it makes no system call, so it needs no answer about a seccomp
        // filter (asking would read /proc at the first sigaction of most processes).
        if crate::libc::single_threaded() {
            // One thread: the flag can only be held by this thread's own writer, interrupted by
            // the handler now calling, which must not wait for it: it writes without the flag
            // (as under a seccomp filter). No signal mask is needed for that: two system calls
            // fewer per call (a shell sets its signals around every command).
            let held = WRITING[sig]
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok();
            return WriterGuard {
                sig,
                mask: None,
                held,
            };
        }
        if sys::restricted() {
            return WriterGuard::restricted(sig);
        }
        let all: u64 = !0;
        let mut mask = 0u64;
        // SAFETY: valid 8-byte masks on our stack.
        let _ = unsafe { sys::rt_sigprocmask(libc::SIG_SETMASK, &all, &mut mask) };
        let mut held = false;
        // Another thread is between two system calls; it cannot be interrupted by a handler of
        // its own (it blocked them), so it finishes shortly, even if it was preempted (the bound
        // is tens of milliseconds of yields, several scheduler time slices). Bounded: a flag left
        // held (by a thread a fork did not copy, or a handler that left a single-threaded writer
        // with longjmp) must not stop the program; then this write goes without it.
        for _ in 0..20_000 {
            if WRITING[sig]
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                held = true;
                break;
            }
            sys::sched_yield();
        }
        WriterGuard {
            sig,
            mask: Some(mask),
            held,
        }
    }

    /// Under a seccomp filter: no `rt_sigprocmask` or `sched_yield` (the program's own
    /// `sigaction` makes only `rt_sigaction`, so a filter may allow nothing else). Without the
    /// mask, a handler on this thread may interrupt a writer that holds the flag: spin a bounded
    /// while, then write without the flag (the table's word per signal is still stored
    /// atomically; only the SA_SIGINFO bit `oldact` reports could be stale).
    fn restricted(sig: usize) -> WriterGuard {
        let mut held = false;
        for _ in 0..1 << 16 {
            if WRITING[sig]
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                held = true;
                break;
            }
            core::hint::spin_loop();
        }
        WriterGuard {
            sig,
            mask: None,
            held,
        }
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        if self.held {
            WRITING[self.sig].store(false, Ordering::Release);
        }
        if let Some(mask) = self.mask {
            // SAFETY: restores the mask saved in `new`.
            let _ = unsafe { sys::rt_sigprocmask(libc::SIG_SETMASK, &mask, core::ptr::null_mut()) };
        }
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
    // Only a call that changes the table takes the writer flag (and blocks signals, two
    // `rt_sigprocmask` calls): a query reads the table and the kernel's action as any racing
    // query would (a shell queries every signal before it sets it), and a vfork child leaves the
    // table alone.
    let _guard =
        (!act.is_null() && tls::state() & tls::VFORK_CHILD == 0).then(|| WriterGuard::new(s));
    // Relaxed: the other writers of ACTION[s] are ordered by WRITING (Acquire/Release); a
    // handler's SA_RESETHAND reset may race, and then either value is one the kernel also had.
    let prev = ACTION.load(s, Ordering::Relaxed);
    let prev_handler = prev.handler();
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
        if h == SIG_DFL || h == SIG_IGN || !Action::representable(h) {
            // SIG_DFL, SIG_IGN (or a value no function can have): the kernel gets the program's
            // own action, and the wrapper never runs for it.
            // SAFETY: the program's own action.
            let r = unsafe { real(sig, &a, &mut kold) };
            if r == 0 {
                // Relaxed: the wrapper is not installed for this signal any more.
                ACTION.store(s, action(h, a.sa_flags), Ordering::Relaxed);
                FORCED[s].store(false, Ordering::Relaxed);
            }
            r
        } else {
            let mut w = a;
            w.sa_sigaction = handler_wrapper as *const () as usize;
            w.sa_flags |= SA_SIGINFO;
            // The table first (Release, see ACTION): a signal arriving right after the kernel
            // update must find the new pair.
            ACTION.store(s, action(h, a.sa_flags), Ordering::Release);
            // SAFETY: same action with our wrapper in place of the handler.
            let r = unsafe { real(sig, &w, &mut kold) };
            if r == 0 {
                FORCED[s].store(true, Ordering::Relaxed);
            } else {
                // The kernel kept the previous action: so does the table.
                ACTION.store(s, prev, Ordering::Release);
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
            let prev_siginfo = if prev.siginfo() { SA_SIGINFO } else { 0 };
            o.sa_flags = (kold.sa_flags & !SA_SIGINFO) | prev_siginfo;
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

type SignalFn = unsafe extern "C" fn(c_int, usize) -> usize;

/// Passes a `signal`-family call to the next definition in load order (`RTLD_NEXT` semantics: a
/// preload loaded after this one sees the call, as it sees `sigaction`), with the program's own
/// arguments. The kernel then has the program's handler for a moment; the caller installs the
/// wrapper right after (a signal arriving in between runs the program's handler unchecked).
fn chain(idx: usize, sig: c_int, h: usize) {
    // SAFETY: the slot holds the next definition of signal-family function idx, whose C type
    // is `sighandler_t f(int, sighandler_t)`.
    let next: SignalFn = unsafe { core::mem::transmute(symbols::real(idx)) };
    // SAFETY: the program's own arguments (checked valid by the caller).
    unsafe { next(sig, h) };
}

/// `signal`, `bsd_signal`, `ssignal` (the real one is symbol `IDX`): BSD semantics, as glibc's
/// own implementation.
unsafe extern "C" fn signal_impl<const IDX: usize>(sig: c_int, h: usize) -> usize {
    if h == usize::MAX || !(1..NSIG as c_int).contains(&sig) {
        // SAFETY: errno_location returns this thread's errno, valid for the thread's life.
        unsafe { *errno_location() = libc::EINVAL };
        return usize::MAX;
    }
    chained(IDX, sig, h, &act_of(h, libc::SA_RESTART, sig))
}

/// `sysv_signal` (the real one is symbol `IDX`): one-shot, no masking, no restart.
unsafe extern "C" fn sysv_signal_impl<const IDX: usize>(sig: c_int, h: usize) -> usize {
    if h == usize::MAX || !(1..NSIG as c_int).contains(&sig) {
        // SAFETY: errno_location returns this thread's errno, valid for the thread's life.
        unsafe { *errno_location() = libc::EINVAL };
        return usize::MAX;
    }
    chained(
        IDX,
        sig,
        h,
        &act_of(h, libc::SA_RESETHAND | libc::SA_NODEFER, 0),
    )
}

/// The program's current handler for `sig` (what `oldact` would show), then [`chain`], then
/// [`install`] `a`; returns the handler from before (what the program's call returns). When the
/// next definition is the C library's own, whose only effect is the `rt_sigaction` that
/// [`install`] makes anyway, just [`install`]: one system call where the program's call made
/// one, not three (gcc's `cc1`, `as` and `ld` each set five or six handlers with `signal`).
fn chained(idx: usize, sig: c_int, h: usize, a: &libc::sigaction) -> usize {
    if tls::state() & tls::VFORK_CHILD != 0 || crate::libc::in_libc(symbols::real(idx)) {
        return install(sig, a);
    }
    // SAFETY: all-zero is a valid sigaction.
    let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: a query into our own struct.
    if unsafe { sigaction_impl(sig, core::ptr::null(), &mut old) } < 0 {
        return usize::MAX;
    }
    chain(idx, sig, h);
    if install(sig, a) == usize::MAX {
        return usize::MAX;
    }
    old.sa_sigaction
}

/// `sigset` (System V), including `SIG_HOLD`.
unsafe extern "C" fn sigset_impl(sig: c_int, h: usize) -> usize {
    if h == usize::MAX || !(1..NSIG as c_int).contains(&sig) {
        // SAFETY: errno_location returns this thread's errno, valid for the thread's life.
        unsafe { *errno_location() = libc::EINVAL };
        return usize::MAX;
    }
    let bit: u64 = 1 << (sig - 1);
    let mut oset = 0u64;
    if h == SIG_HOLD {
        if tls::state() & tls::VFORK_CHILD == 0 {
            // A later preload's sigset sees the call too (it only blocks the signal: idempotent).
            chain(g::IDX_sigset, sig, h);
        }
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
    let prev = chained(g::IDX_sigset, sig, h, &act_of(h, 0, 0));
    if prev == usize::MAX {
        return prev;
    }
    // SAFETY: valid masks.
    let _ = unsafe { sys::rt_sigprocmask(libc::SIG_UNBLOCK, &bit, &mut oset) };
    if oset & bit != 0 { SIG_HOLD } else { prev }
}

/// Where the slow path sends a sigaction-class call.
pub fn wrapper(idx: usize) -> usize {
    match idx {
        g::IDX_sigaction | g::IDX___sigaction => sigaction_impl as *const () as usize,
        g::IDX_sysv_signal => sysv_signal_impl::<{ g::IDX_sysv_signal }> as *const () as usize,
        g::IDX___sysv_signal => sysv_signal_impl::<{ g::IDX___sysv_signal }> as *const () as usize,
        g::IDX_sigset => sigset_impl as *const () as usize,
        g::IDX_bsd_signal => signal_impl::<{ g::IDX_bsd_signal }> as *const () as usize,
        g::IDX_ssignal => signal_impl::<{ g::IDX_ssignal }> as *const () as usize,
        _ => signal_impl::<{ g::IDX_signal }> as *const () as usize,
    }
}

/// Wraps handlers installed before the library loaded (by earlier constructors). Runs at
/// initialisation and again from the constructor (an earlier constructor's interposed call, e.g.
/// `syscall`, may have initialised the library before that constructor installed its handler).
/// Asks the kernel only about the signals whose bit (n-1) is set in `ask`: the others are known
/// to have the default action (an exec resets every handler and flag), which `ACTION` starts as.
pub fn wrap_existing(ask: u64) {
    for sig in 1..NSIG as c_int {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP || (sig <= 64 && ask & 1 << (sig - 1) == 0)
        {
            continue;
        }
        // SAFETY: all-zero is a valid sigaction.
        let mut cur: libc::sigaction = unsafe { core::mem::zeroed() };
        // SAFETY: query only.
        if unsafe { (real_sigaction())(sig, core::ptr::null(), &mut cur) } != 0 {
            continue;
        }
        if cur.sa_sigaction == handler_wrapper as *const () as usize {
            // Already ours (this runs again from the constructor when an earlier interposed
            // call initialised the library).
            continue;
        }
        if cur.sa_sigaction > SIG_IGN {
            cur.sa_flags &= !0x0400_0000; // SA_RESTORER: glibc adds its own
            install(sig, &cur);
        } else {
            // Relaxed: at load, and the wrapper is not installed for this signal.
            ACTION.store(
                sig as usize,
                action(cur.sa_sigaction, cur.sa_flags),
                Ordering::Relaxed,
            );
        }
    }
}

/// The action the kernel runs for every signal whose program handler is a function.
unsafe extern "C" fn handler_wrapper(sig: c_int, info: *mut libc::siginfo_t, uc: *mut c_void) {
    let b = tls::block();
    let mut saved = tls::state();
    if saved & tls::VFORK_CHILD != 0
        && !uc.is_null()
        // SAFETY: uc is the ucontext the kernel passed to this running handler (null only when
        // a program calls the wrapper itself, which it cannot name).
        && unsafe { arch::vfork_parent_resuming(uc as usize) }
    {
        // The vfork parent, back from the system call before its wrapper stored back its own
        // state byte (which still carries the child's bit): it is not a vfork child.
        saved &= !tls::VFORK_CHILD;
    }
    let s = sig as usize;
    // One load: the handler and its calling convention come from the same sigaction call.
    let w = ACTION.load(s, Ordering::Acquire);
    let h = w.handler();
    // SAFETY: b is this thread's TLS block; fields are accessed with volatile operations only.
    let depth = unsafe { core::ptr::read_volatile(&raw const (*b).depth) };
    if (depth as usize) < tls::LEVELS {
        let l = tls::Level {
            entry_sp: arch::stack_pointer(),
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

    if w.resethand() && saved & tls::VFORK_CHILD == 0 {
        // The kernel has reset the action to SIG_DFL; so does the table (not from a vfork
        // child: its dispositions are its own, the table is the parent's). Only if no sigaction
        // replaced the word since our load: a newer install also replaced the kernel's action.
        // Relaxed: the wrapper is no longer installed for the old pair; the flags stay for
        // `oldact`.
        ACTION.replace(s, w, w.reset(), Ordering::Relaxed);
    }
    if saved & tls::VFORK_CHILD != 0 && h > SIG_IGN {
        // A handler running in a vfork child shares, and can corrupt, the parent's memory.
        tls::set(tls::BUSY);
        if state::initialised()
            && matches!(
                dedup::hit(
                    sys::getpid(),
                    symbols::HANDLER_IN_VFORK,
                    h,
                    false,
                    assafe_proto::Severity::Hazard as u8
                ),
                dedup::Hit::First
            )
        {
            reporting::handler_in_vfork(sig, h);
        }
        tls::clear(tls::BUSY);
    }
    let errno_p = errno_location();
    // SAFETY: valid errno pointer.
    let errno_before = unsafe { *errno_p };
    if h > SIG_IGN {
        if w.siginfo() {
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
    if !state::initialised() || !config::options().report_errno_spoil {
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
    reporting::errno_spoil(sig, h, before, after);
}

// ---- longjmp out of a handler ----

type JmpFn = unsafe extern "C" fn(*mut c_void, c_int) -> !;

/// Does a jump to `target` stack pointer leave the handler whose wrapper started at `entry`?
fn leaves(entry: usize, target: usize) -> bool {
    // Frames the handler created lie just below the wrapper's entry on the same stack.
    !(target < entry && entry - target < (1 << 20))
}

/// `longjmp`, `_longjmp`, `siglongjmp`, `__longjmp_chk` (the real one is symbol `IDX`): repair
/// the handler depth, then jump.
unsafe extern "C" fn jmp_impl<const IDX: usize>(env: *mut c_void, val: c_int) -> ! {
    // SAFETY: the program passes a jmp_buf that setjmp filled (longjmp's contract).
    repair_depth(unsafe { jmp_target_sp(env as *const usize) });
    // SAFETY: the slot holds libc's longjmp-family function IDX, of type JmpFn.
    let real: JmpFn = unsafe { core::mem::transmute(symbols::real(IDX)) };
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
