//! Fork children that did not exec: `exit-in-child`, `child-returned`, `nested-fork`, and the
//! `pthread_atfork` child handlers (`atfork-child`).
//!
//! At a fork call (the slow path, `before_fork`) the library notes, in the calling thread's TLS
//! block, the caller's stack pointer and its canonical frame address (CFA: where its stack
//! pointer will be once it has returned), and in a process-wide slot claimed by the thread, the
//! stack of the call. The fork wrapper hands both to the child (`after_fork`), which keeps them
//! until it execs (the new image starts afresh):
//! - a later interposed call whose return-address slot is at or above the CFA is made from
//!   outside the forking function: the child returned from it (`child-returned`). The forking
//!   thread of the child takes the slow path (tls `WATCH`) for at most [`WATCH_CALLS`] calls;
//! - a fork from the forking function's own frame or an outer one is a `nested-fork`, unless the
//!   process has made itself a session leader (the daemonising fork, setsid, fork);
//! - `exit()` while a stdio stream still holds output the child inherited from the parent
//!   flushes that output a second time (`exit-in-child`).

use core::sync::atomic::{AtomicUsize, Ordering};

use assafe_proto::Hygiene;

use super::{first_at, stack_of, zombies};
use crate::config;
use crate::libc::{self as clib, symbols};
use crate::platform::arch::Frame;
use crate::platform::fmt::Buf;
use crate::platform::{sys, tls};
use crate::reporting::MAX_FRAMES;
use crate::reporting::hygiene::{self as report, Finding, IN_ATFORK};

/// Calls of a fork child watched for `child-returned` (then the watch ends: a long-lived child
/// stays on the fast path).
pub const WATCH_CALLS: u32 = 1 << 16;

use crate::state::{FORK_FRAMES, ForkHygiene, store_if_changed};

/// The record (on the page `state::FORK` keeps for everything a fork writes):
/// - `forked`: this process is a child of the fork wrapper and has not exec'd;
/// - `child_cfa`, `child_n`, `child_frames`: the forking function's CFA and stack (from the
///   fork that made this process);
/// - `caller_is_main`: the forking function is `main` (its caller is in libc), or unknown;
/// - `watch_left`, `returned`, `exit_seen`; `atfork_done`: the child-side `fork::child`
///   already ran, from the atfork hook;
/// - `pending_owner`, `pending_sp`, `pending_n`, `pending`: the stack of a fork call in
///   progress, claimed by the forking thread (`pending_owner` = its tid).
const H: &ForkHygiene = &crate::state::FORK.hygiene;

/// The caller's stack pointer once the call `f` returns.
fn caller_sp(f: &Frame) -> usize {
    f.caller_sp()
}

fn load_frames(src: &[AtomicUsize], n: usize, out: &mut [usize]) -> usize {
    let n = n.min(src.len()).min(out.len());
    for i in 0..n {
        out[i] = src[i].load(Ordering::Relaxed);
    }
    n
}

fn block_write(sp: usize, cfa: usize) {
    let b = tls::block();
    // SAFETY: this thread's block; only this thread and its handlers touch it (volatile).
    unsafe {
        core::ptr::write_volatile(&raw mut (*b).fork_sp, sp);
        core::ptr::write_volatile(&raw mut (*b).fork_cfa, cfa);
    }
}

/// The slow path of a fork-class call (thread BUSY): note the caller's frame, and report a
/// nested fork.
pub fn before_fork(f: &Frame) {
    block_write(0, 0);
    if tls::state() & (tls::IN_HANDLER | tls::VFORK_CHILD) != 0 {
        return;
    }
    let sp = caller_sp(f);
    let regs = f.regs();
    // SAFETY: as for any stack walk of the library (fault-proof reads, current module table).
    let cfa = unsafe { assafe_unwind::frame_cfa(&regs) }.unwrap_or(0);
    block_write(sp, cfa);
    let tid = sys::gettid();
    let mut frames = [0usize; MAX_FRAMES];
    let mut n = 0;
    if tid != 0
        && H.pending_owner
            .compare_exchange(0, tid, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    {
        n = stack_of(f, &mut frames).min(FORK_FRAMES);
        for (i, &a) in frames[..n].iter().enumerate() {
            H.pending[i].store(a, Ordering::Relaxed);
        }
        H.pending_n.store(n, Ordering::Relaxed);
        H.pending_sp.store(sp, Ordering::Release);
    }
    nested(f, cfa, tid, &mut frames, n);
}

fn nested(f: &Frame, cfa: usize, tid: i32, frames: &mut [usize; MAX_FRAMES], n: usize) {
    let first = H.child_cfa.load(Ordering::Relaxed);
    if H.forked.load(Ordering::Relaxed) == 0
        || !config::options().report_nested_fork
        || cfa == 0
        || first == 0
        || cfa < first
    {
        return;
    }
    let pid = sys::getpid();
    // The forking thread of a fork child has the child's pid as its tid.
    if tid != pid {
        return;
    }
    // SAFETY: getsid(0) has no pointer arguments.
    let sid = unsafe { sys::syscall3(libc::SYS_getsid as usize, 0, 0, 0) };
    if sid == Ok(pid as usize) {
        // fork, setsid, fork: the daemonising double fork.
        return;
    }
    if !first_at(Hygiene::NestedFork, f.ret_addr()) {
        return;
    }
    let n = if n == 0 { stack_of(f, frames) } else { n };
    let mut ff = [0usize; FORK_FRAMES];
    let fn_ = load_frames(&H.child_frames, H.child_n.load(Ordering::Relaxed), &mut ff);
    let mut d = [0u8; 200];
    let mut b = Buf::new(&mut d);
    b.s("process ")
        .u(pid as u64)
        .s(", a fork child that has not exec'd, forks again from ")
        .s(if cfa == first {
            "the function that forked it"
        } else {
            "outside the function that forked it"
        })
        .s(" (parent ")
        .u(sys::getppid() as u64)
        .s(")");
    let dl = b.len();
    report::report(&Finding {
        kind: Hygiene::NestedFork,
        function: b"fork",
        reason: "fork",
        detail: &d[..dl],
        site: f.ret_addr(),
        frames: &frames[..n],
        fork_frames: &ff[..fn_],
    });
}

/// What `before_fork` noted for the fork this thread is making: (sp, cfa). Taken (zeroed) by the
/// fork wrapper before the real fork; `threads` (the parent's thread count) is kept for the atfork
/// hook while the real fork runs. (0, 0) in a signal handler (whose fork `before_fork` skipped).
pub fn take_call(threads: u32) -> (usize, usize) {
    if tls::state() & tls::IN_HANDLER != 0 {
        return (0, 0);
    }
    let b = tls::block();
    // SAFETY: this thread's block; only this thread and its handlers touch it (volatile).
    let call = unsafe {
        (
            core::ptr::read_volatile(&raw const (*b).fork_sp),
            core::ptr::read_volatile(&raw const (*b).fork_cfa),
        )
    };
    block_write(0, 0);
    // SAFETY: as above.
    unsafe { core::ptr::write_volatile(&raw mut (*b).in_fork, threads as usize + 1) };
    call
}

/// The `pthread_atfork` child hook, registered first at load: runs in the child inside the real
/// `fork`, before the program's child handlers. Marks the child now (as the wrapper would after
/// `fork` returns), so the handlers' calls are checked; they are tagged `atfork-child`.
pub extern "C" fn atfork_child() {
    let b = tls::block();
    // SAFETY: this thread's block (the child's copy of the forking thread's).
    let in_fork = unsafe { core::ptr::read_volatile(&raw const (*b).in_fork) };
    if in_fork == 0 || !config::options().report_atfork_child {
        // A fork the wrapper did not make (daemon(), a raw clone): check_unseen_fork sees it.
        return;
    }
    let was = tls::state();
    tls::set(tls::BUSY);
    crate::contexts::fork::child(
        (in_fork - 1) as u32,
        sys::getppid(),
        crate::state::FORKED_FORK,
    );
    H.atfork_done.store(1, Ordering::Relaxed);
    if crate::state::process_context() & tls::FORK_CHILD != 0 {
        IN_ATFORK.store(1, Ordering::Relaxed);
    }
    if was & tls::BUSY == 0 {
        tls::clear(tls::BUSY);
    }
}

/// In the child after the real fork returned: did the atfork hook already run `fork::child`?
pub fn atfork_ran() -> bool {
    store_if_changed(&IN_ATFORK, 0);
    if H.atfork_done.load(Ordering::Relaxed) == 0 {
        return false;
    }
    H.atfork_done.store(0, Ordering::Relaxed);
    true
}

/// Registers [`atfork_child`] (at load, normal context, thread BUSY).
///
/// glibc: `__register_atfork(prepare, parent, child, dso_handle)` (its `pthread_atfork` lives in
/// libc_nonshared.a, not in libc.so.6). musl has no `__register_atfork`: its exported
/// `pthread_atfork` (child handlers run oldest first there too, so ours still runs first).
/// Calling the glibc name on musl reached the "function this libc lacks" fallback, which
/// counted an ENOSYS call in every musl process and left the hook uninstalled.
pub fn register_atfork() {
    type Handler = Option<extern "C" fn()>;
    #[cfg(not(target_env = "musl"))]
    {
        type RegisterAtfork =
            unsafe extern "C" fn(Handler, Handler, Handler, *mut core::ffi::c_void) -> i32;
        let real = symbols::real(crate::libc::symbols::generated::IDX___register_atfork);
        // SAFETY: the slot holds glibc's __register_atfork (prepare, parent, child,
        // dso_handle), or the missing-function fallback, which takes any arguments; a null dso
        // handle means "never unregistered", which suits a library that is never unloaded.
        let f: RegisterAtfork = unsafe { core::mem::transmute(real) };
        // SAFETY: normal context at load; the handler is a plain function of this library.
        let _ = unsafe { f(None, None, Some(atfork_child), core::ptr::null_mut()) };
    }
    #[cfg(target_env = "musl")]
    {
        type PthreadAtfork = unsafe extern "C" fn(Handler, Handler, Handler) -> i32;
        let real = symbols::real(crate::libc::symbols::generated::IDX_pthread_atfork);
        // SAFETY: the slot holds musl's pthread_atfork(prepare, parent, child) (every musl
        // 1.2.x exports it).
        let f: PthreadAtfork = unsafe { core::mem::transmute(real) };
        // SAFETY: normal context at load (musl's pthread_atfork allocates its list entry and
        // takes its own lock, both fine here); the handler is a plain function of this library.
        let _ = unsafe { f(None, None, Some(atfork_child)) };
    }
}

pub fn after_fork(pid: libc::pid_t, (sp, cfa): (usize, usize), parent_tid: i32) {
    let b = tls::block();
    // SAFETY: this thread's block.
    unsafe { core::ptr::write_volatile(&raw mut (*b).in_fork, 0) };
    let mine = sp != 0
        && parent_tid != 0
        && H.pending_owner.load(Ordering::Acquire) == parent_tid
        && H.pending_sp.load(Ordering::Relaxed) == sp;
    let mut frames = [0usize; FORK_FRAMES];
    let n = if mine {
        load_frames(&H.pending, H.pending_n.load(Ordering::Relaxed), &mut frames)
    } else {
        0
    };
    if pid == 0 {
        store_if_changed(&H.pending_owner, 0);
        child(sp, cfa, &frames[..n]);
        return;
    }
    if mine {
        H.pending_owner.store(0, Ordering::Release);
    }
    if pid > 0 {
        zombies::forked(pid, &frames[..n]);
    }
}

fn child(sp: usize, cfa: usize, frames: &[usize]) {
    tls::clear(tls::WATCH);
    super::child_reset();
    zombies::child_reset();
    // Stores only of values that change (see `state::FORK`).
    store_if_changed(&H.returned, 0);
    store_if_changed(&H.exit_seen, 0);
    store_if_changed(&H.child_cfa, if sp != 0 { cfa } else { 0 });
    for (i, &a) in frames.iter().enumerate() {
        store_if_changed(&H.child_frames[i], a);
    }
    store_if_changed(&H.child_n, frames.len());
    let main = frames.len() < 2 || clib::in_libc(frames[1]);
    store_if_changed(&H.caller_is_main, main as u8);
    store_if_changed(&H.forked, 1);
    stdio::snapshot();
    if cfa != 0 && config::options().report_child_returned {
        H.watch_left.store(WATCH_CALLS, Ordering::Relaxed);
        tls::set(tls::WATCH);
    }
}

/// An interposed call by the watched thread of a fork child (thread BUSY; not an exit, exec,
/// fork or longjmp-class call, which end the child's run or are checked elsewhere).
pub fn watch(f: &Frame) {
    let cfa = H.child_cfa.load(Ordering::Relaxed);
    let left = H.watch_left.load(Ordering::Relaxed);
    if left == 0 || cfa == 0 || H.forked.load(Ordering::Relaxed) == 0 {
        tls::clear(tls::WATCH);
        return;
    }
    H.watch_left.store(left - 1, Ordering::Relaxed);
    if caller_sp(f) >= cfa {
        tls::clear(tls::WATCH);
        H.watch_left.store(0, Ordering::Relaxed);
        returned(f.ret_addr(), Some(f));
    }
}

fn returned(site: usize, f: Option<&Frame>) {
    if H.returned.swap(1, Ordering::Relaxed) != 0 || !config::options().report_child_returned {
        return;
    }
    let mut frames = [0usize; MAX_FRAMES];
    let n = match f {
        Some(f) => stack_of(f, &mut frames),
        None => 0,
    };
    let mut ff = [0usize; FORK_FRAMES];
    let fn_ = load_frames(&H.child_frames, H.child_n.load(Ordering::Relaxed), &mut ff);
    let mut d = [0u8; 200];
    let mut b = Buf::new(&mut d);
    b.s("fork child ")
        .u(sys::getpid() as u64)
        .s(" returned from the function that called fork (parent ")
        .u(sys::getppid() as u64)
        .s(")");
    if f.is_none() {
        b.s(" and then from main");
    }
    let dl = b.len();
    let (frames, site) = if n > 0 {
        (&frames[..n], site)
    } else {
        (&ff[..fn_], ff.first().copied().unwrap_or(0))
    };
    report::report(&Finding {
        kind: Hygiene::ChildReturned,
        function: if f.is_some() { b"(return)" } else { b"exit" },
        reason: "fork",
        detail: &d[..dl],
        site,
        frames,
        fork_frames: if n > 0 { &ff[..fn_] } else { &[] },
    });
}

/// `exit`, `_exit` or `_Exit` (the slow path, thread BUSY): `exit-in-child`, `child-returned`
/// (exit called from outside the forking function), zombies.
pub fn at_exit(idx: usize, f: &Frame) {
    if tls::state() & tls::VFORK_CHILD != 0 {
        return;
    }
    if idx == crate::libc::symbols::generated::IDX_exit && H.forked.load(Ordering::Relaxed) != 0 {
        H.exit_seen.store(1, Ordering::Relaxed);
        let cfa = H.child_cfa.load(Ordering::Relaxed);
        if cfa != 0 && caller_sp(f) >= cfa {
            returned(f.ret_addr(), Some(f));
        }
        exit_in_child(Some(f));
    }
    zombies::at_end();
}

/// The library's destructor (a return from `main`, or an exit the stubs did not see).
pub fn at_end() {
    if tls::state() & tls::VFORK_CHILD != 0 {
        return;
    }
    if H.forked.load(Ordering::Relaxed) != 0 && H.exit_seen.load(Ordering::Relaxed) == 0 {
        if H.caller_is_main.load(Ordering::Relaxed) == 0 && !forking_function_active() {
            returned(0, None);
        }
        exit_in_child(None);
    }
    zombies::at_end();
}

/// Is the forking function still on the current stack (its return address into its caller, the
/// fork stack's second frame, is one of the current stack's return addresses)?
fn forking_function_active() -> bool {
    let ret = H.child_frames[1].load(Ordering::Relaxed);
    let mut frames = [0usize; MAX_FRAMES];
    let n = assafe_unwind::capture_here(&mut frames);
    // Unknown (no stack): say active, so nothing is reported.
    n == 0 || n == MAX_FRAMES || frames[..n].contains(&ret)
}

/// `exit` in a fork child that did not exec: at the `exit` call `f`, or (`None`) when the child
/// returned from `main` and libc called `exit` — then the finding is shown at the fork's stack.
fn exit_in_child(f: Option<&Frame>) {
    if !config::options().report_exit_in_child {
        return;
    }
    let mut d = [0u8; 768];
    let stdio = stdio::pending_detail(&mut d);
    let Some(dl) = super::exits::exit_detail(&mut d, stdio) else {
        return;
    };
    let mut ff = [0usize; FORK_FRAMES];
    let fn_ = load_frames(&H.child_frames, H.child_n.load(Ordering::Relaxed), &mut ff);
    let mut frames = [0usize; MAX_FRAMES];
    let (site, frames, fork_frames) = match f {
        Some(f) => {
            let n = stack_of(f, &mut frames);
            (f.ret_addr(), &frames[..n], &ff[..fn_])
        }
        None => (ff[0], &ff[..fn_], &[][..]),
    };
    report::report(&Finding {
        kind: Hygiene::ExitInChild,
        function: b"exit",
        reason: "atexit",
        detail: &d[..dl],
        site,
        frames,
        fork_frames,
    });
}

/// glibc's stdio streams (`struct _IO_FILE`, the same layout on x86_64 and aarch64): which ones
/// hold output the child inherited, and whether they still hold it at exit.
mod stdio {
    use core::sync::atomic::{AtomicUsize, Ordering};

    use crate::platform::fmt::Buf;

    #[cfg(not(target_env = "musl"))]
    unsafe extern "C" {
        /// glibc's list of open streams (exported data symbol, `GLIBC_2.2.5`).
        static _IO_list_all: *mut u8;
    }

    /// The head of glibc's stream list; 0 on musl (no such list is exported: musl's loader would
    /// refuse the whole library over the import, so the exit-in-child check sees no stream).
    fn list_head() -> usize {
        #[cfg(not(target_env = "musl"))]
        {
            // SAFETY: reading the list head; in the child right after fork only this thread
            // runs, and at exit the list is walked as glibc's own exit-time flush will walk it.
            unsafe { core::ptr::read_volatile(&raw const _IO_list_all) as usize }
        }
        #[cfg(target_env = "musl")]
        {
            0
        }
    }

    const FLAGS: usize = 0;
    const WRITE_BASE: usize = 32;
    const WRITE_PTR: usize = 40;
    const CHAIN: usize = 104;
    const FILENO: usize = 112;
    /// `_IO_CURRENTLY_PUTTING`: the buffer holds output.
    const PUTTING: u32 = 0x800;
    const MAX_STREAMS: usize = 256;
    const SNAP: usize = 8;

    #[unsafe(link_section = "assafe_hot")]
    static FILE: [AtomicUsize; SNAP] = [const { AtomicUsize::new(0) }; SNAP];
    #[unsafe(link_section = "assafe_hot")]
    static BASE: [AtomicUsize; SNAP] = [const { AtomicUsize::new(0) }; SNAP];
    #[unsafe(link_section = "assafe_hot")]
    static PENDING: [AtomicUsize; SNAP] = [const { AtomicUsize::new(0) }; SNAP];

    /// (stream, write base, bytes pending) of each stream with buffered output.
    fn each(mut f: impl FnMut(usize, usize, usize, i32)) {
        let mut p = list_head();
        let mut seen = 0;
        while p != 0 && seen < MAX_STREAMS {
            seen += 1;
            // SAFETY: p is a live FILE on glibc's list (see above); the fields read are plain
            // integers and pointers of struct _IO_FILE.
            unsafe {
                let flags = core::ptr::read_volatile((p + FLAGS) as *const u32);
                let base = core::ptr::read_volatile((p + WRITE_BASE) as *const usize);
                let ptr = core::ptr::read_volatile((p + WRITE_PTR) as *const usize);
                let fd = core::ptr::read_volatile((p + FILENO) as *const i32);
                if flags & PUTTING != 0 && ptr > base && base != 0 {
                    f(p, base, ptr - base, fd);
                }
                p = core::ptr::read_volatile((p + CHAIN) as *const usize);
            }
        }
    }

    /// In the child right after fork: note the streams holding the parent's output.
    pub fn snapshot() {
        for f in &FILE {
            if f.load(Ordering::Relaxed) != 0 {
                f.store(0, Ordering::Relaxed);
            }
        }
        let mut i = 0;
        each(|file, base, pending, _| {
            if i < SNAP {
                FILE[i].store(file, Ordering::Relaxed);
                BASE[i].store(base, Ordering::Relaxed);
                PENDING[i].store(pending, Ordering::Relaxed);
                i += 1;
            }
        });
    }

    /// At exit: the streams that still hold the output inherited at fork (same buffer, at least
    /// as many bytes: not flushed since), described into `d`; `None` when there is none.
    pub fn pending_detail(d: &mut [u8]) -> Option<usize> {
        let mut b = Buf::new(d);
        let mut any = false;
        each(|file, base, pending, fd| {
            for i in 0..SNAP {
                if FILE[i].load(Ordering::Relaxed) == file
                    && BASE[i].load(Ordering::Relaxed) == base
                    && pending >= PENDING[i].load(Ordering::Relaxed)
                {
                    if !any {
                        b.s("exit() in a fork child that did not exec flushes output inherited from the parent:");
                    }
                    any = true;
                    b.s(" ")
                        .u(PENDING[i].load(Ordering::Relaxed) as u64)
                        .s(" bytes of the stream on fd ")
                        .i(fd as i64);
                }
            }
        });
        any.then(|| b.len())
    }
}
