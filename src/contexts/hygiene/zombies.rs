//! Zombies: children made by the fork wrapper that exited and were never waited for.
//!
//! The parent notes each child's pid and the stack of its fork in a fixed table. At exit (and,
//! while it runs, once it has more than `zombie_limit` noted children) it asks the kernel about
//! each one with `waitid(P_PID, pid, WEXITED | WNOHANG | WNOWAIT)`, which never blocks and reaps
//! nothing: `ECHILD` means the child was waited for (or was reaped by the kernel because SIGCHLD
//! is ignored or `SA_NOCLDWAIT` is set: then nothing is reported, as it should be); a child that
//! has exited but is still waitable is a zombie. One finding per fork call site, once.

use core::sync::atomic::{AtomicI32, AtomicU8, AtomicUsize, Ordering};

use assafe_proto::Hygiene;

use crate::config;
use crate::platform::fmt::Buf;
use crate::platform::sys;
use crate::reporting::hygiene::{self as report, Finding};
use crate::state::{self, store_if_changed};

const SLOTS: usize = state::ZOMBIE_SLOTS;
const FRAMES: usize = 16;

/// Per child: its pid (0: free, -1: being claimed), whether its zombie was reported, and the
/// number of frames of its fork's stack; on the fork block (`state::FORK`), which every fork
/// writes anyway, so noting a child dirties no other page.
static PID: &[AtomicI32; SLOTS] = &state::FORK.zombies.pid;
static REPORTED: &[AtomicU8; SLOTS] = &state::FORK.zombies.reported;
static N: &[AtomicUsize; SLOTS] = &state::FORK.zombies.n;
static STACK: [[AtomicUsize; FRAMES]; SLOTS] =
    [const { [const { AtomicUsize::new(0) }; FRAMES] }; SLOTS];

/// A fork child has no children yet.
pub fn child_reset() {
    // Only what is not already 0: a store dirties the page, a copy-on-write fault per fork.
    for p in PID {
        store_if_changed(p, 0);
    }
}

enum State {
    Running,
    Zombie,
    Gone,
}

fn state(pid: i32) -> State {
    // siginfo_t is 128 bytes on Linux.
    let mut info = [0u64; 16];
    const P_PID: usize = 1;
    let flags = (libc::WEXITED | libc::WNOHANG | libc::WNOWAIT) as usize;
    // SAFETY: info is a writable siginfo_t-sized buffer; the rusage pointer is null.
    let r = unsafe {
        sys::syscall6(
            libc::SYS_waitid as usize,
            [P_PID, pid as usize, info.as_mut_ptr() as usize, flags, 0, 0],
        )
    };
    match r {
        // si_pid is at offset 16 (after si_signo, si_errno, si_code and padding); 0 when the
        // child has not changed state.
        Ok(_) if (info[2] & 0xffff_ffff) as i32 == pid => State::Zombie,
        Ok(_) => State::Running,
        Err(_) => State::Gone,
    }
}

/// In the parent after a successful fork: note the child.
pub fn forked(pid: i32, frames: &[usize]) {
    let o = config::options();
    if !o.report_zombies {
        return;
    }
    let mut live = 0u32;
    let mut slot = None;
    for (i, pid_slot) in PID.iter().enumerate() {
        let p = pid_slot.load(Ordering::Relaxed);
        if p < 0 {
            // Being filled by a concurrent fork.
            continue;
        }
        if p != 0 {
            if let State::Gone = state(p) {
                // Waited for: free the slot.
                let _ = pid_slot.compare_exchange(p, 0, Ordering::Relaxed, Ordering::Relaxed);
            } else {
                live += 1;
                continue;
            }
        }
        // Claim with a placeholder, so that a concurrent fork does not take it too.
        if slot.is_none()
            && pid_slot
                .compare_exchange(0, -1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            slot = Some(i);
        }
    }
    if let Some(i) = slot {
        // Stores only what changes: a loop that forks from one call site and waits for each
        // child reuses one slot with the same stack, and dirties no page of it (each store to a
        // page shared with the last child is a copy-on-write fault).
        let n = frames.len().min(FRAMES);
        for (j, &a) in frames[..n].iter().enumerate() {
            store_if_changed(&STACK[i][j], a);
        }
        store_if_changed(&N[i], n);
        store_if_changed(&REPORTED[i], 0);
        PID[i].store(pid, Ordering::Release);
        live += 1;
    }
    if live > o.zombie_limit {
        check(o.zombie_limit);
    }
}

/// At exit: every zombie.
pub fn at_end() {
    if config::options().report_zombies {
        check(0);
    }
}

/// Reports the zombies (grouped by fork site) when there are more than `limit`.
fn check(limit: u32) {
    let mut zombie = [false; SLOTS];
    let mut count = 0u32;
    for i in 0..SLOTS {
        let p = PID[i].load(Ordering::Acquire);
        if p > 0 && REPORTED[i].load(Ordering::Relaxed) == 0 && matches!(state(p), State::Zombie) {
            zombie[i] = true;
            count += 1;
        }
    }
    if count == 0 || count <= limit {
        return;
    }
    for i in 0..SLOTS {
        if !zombie[i] {
            continue;
        }
        let site = STACK[i][0].load(Ordering::Relaxed);
        let n = N[i].load(Ordering::Relaxed);
        let mut frames = [0usize; FRAMES];
        for (j, f) in frames[..n].iter_mut().enumerate() {
            *f = STACK[i][j].load(Ordering::Relaxed);
        }
        let mut d = [0u8; 256];
        let mut b = Buf::new(&mut d);
        let mut same = 0u64;
        b.s("children that exited and were never waited for (pid");
        for j in i..SLOTS {
            let same_site = (N[j].load(Ordering::Relaxed) > 0) == (n > 0)
                && STACK[j][0].load(Ordering::Relaxed) == site;
            if zombie[j] && same_site {
                zombie[j] = false;
                REPORTED[j].store(1, Ordering::Relaxed);
                same += 1;
                if same <= 8 {
                    b.s(" ").u(PID[j].load(Ordering::Relaxed) as u64);
                } else if same == 9 {
                    b.s(" …");
                }
            }
        }
        b.s("): ")
            .u(same)
            .s(if same == 1 { " zombie" } else { " zombies" });
        b.s(" made by this fork");
        let dl = b.len();
        report::report(&Finding {
            kind: Hygiene::Zombie,
            function: b"fork",
            reason: "fork",
            detail: &d[..dl],
            site,
            frames: &frames[..n],
            fork_frames: &[],
        });
    }
}
