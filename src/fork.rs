//! fork, _Fork and vfork, and noticing forks that bypassed them.

use core::sync::atomic::{AtomicPtr, Ordering};

use crate::stubs::{self, ALIVE, generated as g};
use crate::{init, state, sys, tls};

unsafe extern "C" {
    /// glibc ≥ 2.32: nonzero while the process has surely never had a second thread.
    static __libc_single_threaded: u8;
}

/// Threads in this process right now, from the kernel (field 20 of /proc/self/stat).
/// 1 without a syscall when glibc knows the process never had a second thread.
pub fn count_threads() -> u32 {
    // SAFETY: a byte glibc exports for exactly this kind of test.
    if unsafe { core::ptr::read_volatile(&raw const __libc_single_threaded) } != 0 {
        return 1;
    }
    let Ok(fd) = sys::open(b"/proc/self/stat\0", libc::O_RDONLY | libc::O_CLOEXEC, 0) else {
        return 0;
    };
    let mut buf = [0u8; 1024];
    let n = sys::pread(fd, &mut buf, 0).unwrap_or(0);
    sys::close(fd);
    parse_threads(&buf[..n])
}

/// Field 20 (num_threads) of a /proc/PID/stat line; the command name (field 2) may contain spaces
/// and parentheses, so count from the last ')'.
fn parse_threads(s: &[u8]) -> u32 {
    let Some(close) = s.iter().rposition(|&c| c == b')') else {
        return 0;
    };
    // Fields after ") " start at field 3; num_threads is field 20.
    let mut field = 2;
    let mut n: u32 = 0;
    let mut in_num = false;
    for &c in &s[close + 1..] {
        if c == b' ' {
            if in_num && field == 20 {
                return n;
            }
            field += 1;
            in_num = false;
            n = 0;
            continue;
        }
        in_num = true;
        if field == 20 && c.is_ascii_digit() {
            n = n.saturating_mul(10).saturating_add((c - b'0') as u32);
        }
    }
    if field == 20 { n } else { 0 }
}

/// The `MADV_WIPEONFORK` sentinel page (null until armed, or if the kernel lacks the feature).
static PAGE: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());

/// Sets up the sentinel the cold stubs test (at load), or re-arms it (in every child).
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
    // The parent's thread count is gone; glibc's flag (copied from the parent) tells whether the
    // parent ever had a second thread.
    // SAFETY: see count_threads.
    let mt = unsafe { core::ptr::read_volatile(&raw const __libc_single_threaded) } == 0;
    let strict = init::options().strict;
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

/// Runs in the child right after `fork`/`_Fork` returned 0.
fn child(parent_threads: u32, parent: i32) {
    arm();
    crate::dedup::child_reset();
    let inherited = state::process_context() & tls::FORK_CHILD != 0;
    let strict = init::options().strict;
    let checked = parent_threads > 1 || inherited || strict;
    if checked {
        enter_fork_child(parent_threads, parent, parent_threads <= 1 && !inherited);
    }
    if init::options().verbosity >= 2 {
        crate::report::fork_note(parent, parent_threads, checked);
    }
}

type ForkFn = unsafe extern "C" fn() -> libc::pid_t;

unsafe fn fork_common(idx: usize) -> libc::pid_t {
    let threads = count_threads();
    let parent = sys::getpid();
    // SAFETY: the slot holds libc's fork/_Fork (resolved at load), whose type is ForkFn.
    let real: ForkFn = unsafe { core::mem::transmute(stubs::real(idx)) };
    // SAFETY: calling the real fork with no arguments.
    let pid = unsafe { real() };
    if pid == 0 {
        tls::set(tls::BUSY);
        child(threads, parent);
        tls::clear(tls::BUSY);
    }
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

/// `vfork` for real: the child runs on the parent's stack until it execs or exits, so this
/// wrapper keeps its return address in a register across the syscall (as glibc's vfork does) and
/// uses no stack of its own. The child sets VFORK_CHILD in the thread's state byte, which it
/// shares with the parent; the parent, when it resumes, stores back the byte it had before.
#[unsafe(naked)]
pub unsafe extern "C" fn vfork_wrapper() {
    core::arch::naked_asm!(
        "pop rsi",                                      // return address (vfork takes no arguments)
        "mov r11, qword ptr [rip + assafe_tls@GOTTPOFF]",
        "movzx edx, byte ptr fs:[r11]",                 // the parent's state byte, kept in rdx
        "mov eax, 58",                                  // SYS_vfork
        "syscall",
        "push rsi",
        "mov r11, qword ptr [rip + assafe_tls@GOTTPOFF]", // syscall clobbered r11
        "cmp rax, -4095",
        "jae 3f",
        "test eax, eax",
        "jnz 2f",
        "or byte ptr fs:[r11], 2",                      // child: VFORK_CHILD
        "ret",
        "2:",
        "mov byte ptr fs:[r11], dl",                    // parent: restore its own state
        "ret",
        "3:",
        "mov byte ptr fs:[r11], dl",
        "neg eax",
        "mov edi, eax",
        "jmp {fail}",
        fail = sym vfork_failed,
    );
}

unsafe extern "C" fn vfork_failed(err: i32) -> libc::pid_t {
    // SAFETY: __errno_location is async-signal-safe and returns this thread's errno.
    unsafe { *libc::__errno_location() = err };
    -1
}
