//! fork and _Fork, and noticing forks that bypassed them.

use core::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

use crate::config;
use crate::contexts::hygiene;
use crate::libc::symbols::{self, ALIVE, generated as g};
use crate::libc::{self as clib, single_threaded};
use crate::platform::{sys, tls};
use crate::reporting;
use crate::reporting::dedup;
use crate::state;

/// Threads in this process right now, from the kernel: `/proc/self/task`'s link count is 2 + the
/// number of threads (`proc_task_getattr`), one `stat` (no file opened, no `/proc/self/stat`
/// line generated: this runs at every fork of a process that has had a second thread).
/// 1 without a syscall when glibc knows the process never had a second thread; 0 (unknown) when
/// `/proc` cannot be read (a chroot or sandbox without it, a seccomp filter) although glibc says
/// the process has had a second thread.
pub fn count_threads() -> u32 {
    if single_threaded() {
        return 1;
    }
    match sys::link_count(b"/proc/self/task\0") {
        Some(n) if n >= 3 => (n - 2).min(u32::MAX as u64) as u32,
        _ => 0,
    }
}

/// The `MADV_WIPEONFORK` sentinel page (null until armed, or if the kernel lacks the feature).
#[unsafe(link_section = "assafe_hot")]
static PAGE: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());

/// Arms the sentinel at load where it is needed already: with `strict` (every fork child is
/// checked), or when an earlier constructor started threads. Otherwise the first thread does
/// ([`arm`] from `pthread_create`/`thrd_create`): a fork that bypasses our wrappers leaves a child
/// worth checking only in a process that has had threads (or in `strict` mode), and a
/// single-threaded process never pays the page, its mapping and its `madvise`.
pub fn arm_at_load() {
    if config::options().strict || clib::had_threads() {
        arm();
    }
}

/// In a fork child: the page the parent armed came back wiped; re-armed here (a child whose
/// parent never armed it arms it only with `strict`, as at load).
pub fn rearm_in_child() {
    if !PAGE.load(Ordering::Relaxed).is_null() || config::options().strict {
        arm();
    }
}

/// Sets up the sentinel the cold stubs test, or re-arms it (in a child).
pub fn arm() {
    let p = PAGE.load(Ordering::Relaxed);
    if !p.is_null() {
        // SAFETY: our own sentinel page, mapped for the life of the process.
        unsafe { core::ptr::write_volatile(p, 1) };
        return;
    }
    let Some(page) = sys::mmap_anon(4096) else {
        return;
    };
    // SAFETY: page is our own fresh mapping.
    match unsafe { sys::madvise(page, 4096, libc::MADV_WIPEONFORK) } {
        Ok(_) => {
            // SAFETY: our own fresh mapping, writable.
            unsafe { core::ptr::write_volatile(page, 1) };
            PAGE.store(page, Ordering::Relaxed);
            ALIVE.store(page, Ordering::Release);
        }
        Err(_) => {
            // Old kernel: no sentinel; forks that bypass fork()/_Fork go unnoticed.
            // SAFETY: our own mapping, not published anywhere.
            unsafe { sys::munmap(page, 4096) };
        }
    }
}

/// Cold-path check: did this process come out of a fork that did not go through our wrappers
/// (a raw `clone`/`fork` syscall, or a libc-internal fork such as `daemon()`)?
pub fn check_unseen_fork() {
    let p = PAGE.load(Ordering::Relaxed);
    // SAFETY: PAGE is null or our sentinel page, which stays mapped for the process's life.
    if p.is_null() || unsafe { core::ptr::read_volatile(p) } != 0 {
        return;
    }
    // SAFETY: our sentinel page.
    unsafe { core::ptr::write_volatile(p, 1) };
    state::FORKED_BY.store(state::FORKED_UNSEEN, Ordering::Relaxed);
    state::forget_own_objects();
    // The parent's thread count is gone; glibc's flag (copied from the parent) tells whether the
    // parent ever had a second thread.
    let mt = clib::had_threads();
    let strict = config::options().strict;
    if mt || strict || state::process_context() & tls::FORK_CHILD != 0 {
        enter_fork_child(0, 0, !mt && state::process_context() & tls::FORK_CHILD == 0);
    }
}

fn enter_fork_child(parent_threads: u32, parent: i32, strict_only: bool) {
    if state::process_context() & tls::FORK_CHILD == 0 {
        state::PARENT_THREADS.store(parent_threads, Ordering::Relaxed);
        state::STRICT_ONLY.store(strict_only as u8, Ordering::Relaxed);
        state::FORK_PARENT.store(parent, Ordering::Relaxed);
    }
    state::set_process_context(tls::FORK_CHILD);
    tls::set(tls::FORK_CHILD);
}

/// Runs in the child right after `fork`/`_Fork` returned 0 (`by`: which, a `state::FORKED_*`),
/// or, for `fork`, from the atfork child hook, before the program's child handlers
/// (`hygiene::child::atfork_child`).
pub(crate) fn child(parent_threads: u32, parent: i32, by: u8) {
    if sys::restricted() {
        // Made under a seccomp filter: our pid cannot be asked for (records are counted lost).
        sys::forget_pid();
    }
    rearm_in_child();
    state::FORKED_BY.store(by, Ordering::Relaxed);
    state::forget_own_objects();
    dedup::child_reset();
    reporting::sink::child_reset();
    let inherited = state::process_context() & tls::FORK_CHILD != 0;
    let strict = config::options().strict;
    // 0: the kernel's count was unavailable (no /proc, a seccomp filter, or qemu-user, which
    // reports 0 threads): glibc's flag (copied from the parent) decides, as for a fork we did not
    // see.
    let mt = parent_threads > 1 || (parent_threads == 0 && clib::had_threads());
    let checked = mt || inherited || strict;
    if checked {
        enter_fork_child(parent_threads, parent, !mt && !inherited);
    }
    // The JSON log counts every fork child (the CLI's processes checked / not checked), so a
    // JSON log file always gets the record; text and stderr only with verbosity=2.
    let o = config::options();
    if o.verbosity >= 2 || (o.json() && !o.log_path().is_empty()) {
        reporting::fork_note(parent, parent_threads, checked);
    }
}

/// fork's and _Fork's type (the libc crate declares fork only; _Fork has the same signature).
type ForkFn = unsafe extern "C" fn() -> libc::pid_t;
clib::same_type_as_libc!(ForkFn, libc::fork);

/// Forks this process (and its parents, a child inherits it) made, counted up to
/// [`ALL_SLOTS_AT`]; past it, every slot is resolved and the count is no longer written (a
/// write per fork would cost a copy-on-write fault per fork on its page).
#[unsafe(link_section = "assafe_hot")]
static FORKS: AtomicU8 = AtomicU8::new(0);
/// The fork at which the parent resolves every slot. A child resolves what it calls that the
/// parent never did (a shell's `$(echo …)` child: `fflush`, `putc`, `ferror`, `clearerr`,
/// `__fpurge`, `__printf_chk`, `__cxa_finalize`), and that lookup is lost with the child: a
/// shell would repeat it in every child, each time faulting in libc's hash table pages and a
/// copy of the slot page (5 to 7 page faults per `$(...)` in bash). Resolving all 1031 costs
/// 0.4 M instructions once, what about 25 such children cost; a process that forks this often
/// usually forks many more times, and one that forks a few times never pays it.
const ALL_SLOTS_AT: u8 = 16;

/// Resolves, in the parent, the slots a fork child usually calls (its exit, its exec, its
/// redirections, the longjmp a shell's subshell leaves by) at the first fork, and every slot at
/// the [`ALL_SLOTS_AT`]th. A slot the child resolves is lost with the child: every child would
/// look it up again and dirty its copy of the slot page (a copy-on-write fault per fork).
/// Async-signal-safe as every lazy resolution is (`libc::symbols`).
fn resolve_child_slots() {
    let n = FORKS.load(Ordering::Relaxed);
    if n > ALL_SLOTS_AT {
        return;
    }
    // Relaxed: a count that two racing forks both read only moves the full resolution by one
    // fork; every resolution stores the same value.
    FORKS.store(n + 1, Ordering::Relaxed);
    if n == ALL_SLOTS_AT {
        symbols::resolve_all();
        return;
    }
    if n != 0 {
        return;
    }
    for idx in [
        g::IDX__exit,
        g::IDX__Exit,
        g::IDX_exit,
        g::IDX_execve,
        g::IDX_execv,
        g::IDX_execvp,
        g::IDX_execvpe,
        g::IDX_execl,
        g::IDX_execlp,
        g::IDX_execle,
        g::IDX_fexecve,
        g::IDX_execveat,
        // A shell's subshell leaves through longjmp (dash: every `$(...)` child).
        g::IDX_longjmp,
        g::IDX__longjmp,
        g::IDX_siglongjmp,
        g::IDX___longjmp_chk,
        // Redirections and signal resets before the exec.
        g::IDX_dup,
        g::IDX_dup2,
        g::IDX_dup3,
        g::IDX_open,
        g::IDX_open64,
        g::IDX_openat,
        g::IDX_openat64,
        g::IDX_creat,
        g::IDX_sigaction,
        g::IDX_signal,
    ] {
        let _ = symbols::real(idx);
    }
}

unsafe fn fork_common(idx: usize) -> libc::pid_t {
    resolve_child_slots();
    let threads = count_threads();
    let parent = sys::getpid();
    // Process hygiene (issue 14): the fork call's frame, and the atfork hook's thread count.
    let tid = sys::gettid();
    let call = hygiene::child::take_call(threads);
    // SAFETY: the slot holds libc's fork/_Fork (resolved at load), whose type is ForkFn.
    let real: ForkFn = unsafe { core::mem::transmute(symbols::real(idx)) };
    // SAFETY: calling the real fork with no arguments.
    let pid = unsafe { real() };
    let errno_at = clib::errno_location();
    // SAFETY: this thread's errno, valid for the thread's life.
    let errno = unsafe { *errno_at };
    if pid == 0 {
        tls::set(tls::BUSY);
        let by = if idx == g::IDX__Fork {
            state::FORKED_UFORK
        } else {
            state::FORKED_FORK
        };
        if !hygiene::child::atfork_ran() {
            child(threads, parent, by);
        }
        hygiene::child::after_fork(pid, call, tid);
        tls::clear(tls::BUSY);
    } else {
        tls::set(tls::BUSY);
        hygiene::child::after_fork(pid, call, tid);
        tls::clear(tls::BUSY);
    }
    // SAFETY: as above.
    unsafe { *errno_at = errno };
    pid
}

/// `fork` or `_Fork` (the real one is symbol `IDX`).
unsafe extern "C" fn fork_impl<const IDX: usize>() -> libc::pid_t {
    // SAFETY: IDX is a fork-class slot.
    unsafe { fork_common(IDX) }
}

/// The wrapper the slow path sends a fork-class call to.
pub fn wrapper(idx: usize) -> usize {
    match idx {
        g::IDX_fork => fork_impl::<{ g::IDX_fork }> as *const () as usize,
        g::IDX___fork => fork_impl::<{ g::IDX___fork }> as *const () as usize,
        _ => fork_impl::<{ g::IDX__Fork }> as *const () as usize,
    }
}

/// `pthread_mutex_init`, `pthread_rwlock_init`, `sem_init`, `mtx_init` (the real one is symbol
/// `IDX`; each takes the object first and at most three arguments, and returns 0 on success —
/// `mtx_init`'s `thrd_success` is 0 too). Reached only through the slow path, i.e. when the
/// thread is in a restricted context; in a fork child the object becomes one the child made
/// itself.
unsafe extern "C" fn init_impl<const IDX: usize>(obj: usize, a: usize, b: usize) -> libc::c_int {
    // SAFETY: the slot holds libc's initialiser IDX, a C function of at most three integer or
    // pointer arguments returning int; extra argument registers are ignored by the callee.
    let real: unsafe extern "C" fn(usize, usize, usize) -> libc::c_int =
        unsafe { core::mem::transmute(symbols::real(IDX)) };
    // SAFETY: the program's own arguments.
    let r = unsafe { real(obj, a, b) };
    if r == 0 && state::process_context() & tls::FORK_CHILD != 0 {
        state::note_own_object(obj);
    }
    r
}

/// The wrapper the slow path sends an init-class call to.
pub fn init_wrapper(idx: usize) -> usize {
    match idx {
        g::IDX_pthread_mutex_init => {
            init_impl::<{ g::IDX_pthread_mutex_init }> as *const () as usize
        }
        g::IDX_pthread_rwlock_init => {
            init_impl::<{ g::IDX_pthread_rwlock_init }> as *const () as usize
        }
        g::IDX_sem_init => init_impl::<{ g::IDX_sem_init }> as *const () as usize,
        // glibc's two pthread_cond_init (GLIBC_2.3.2 and the old GLIBC_2.2.5 ABI): each stub's
        // own slot holds the same version of libc (build.rs PER_VERSION).
        g::IDX_pthread_cond_init => init_impl::<{ g::IDX_pthread_cond_init }> as *const () as usize,
        g::IDX_pthread_cond_init_compat => {
            init_impl::<{ g::IDX_pthread_cond_init_compat }> as *const () as usize
        }
        _ => init_impl::<{ g::IDX_mtx_init }> as *const () as usize,
    }
}
