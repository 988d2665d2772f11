//! Calls after which the log may be unreachable: a seccomp filter (`prctl(PR_SET_SECCOMP)`,
//! `syscall(SYS_seccomp)`), `chroot`, `unshare`/`setns` (a new mount namespace), and the
//! setuid/setgid family (the log directory belongs to the user `assafe run` ran as). Before the
//! real call the process opens its log file and keeps it (`reporting::sink::keep_open`); before a
//! seccomp filter it also switches the library to the system calls such filters allow in practice
//! (`read`, `write`: `platform::sys::enter_restricted`, and the unwinder's pipe reader). A filter
//! inherited at exec is noticed at load (`init`).

use crate::libc::symbols::generated as g;
use crate::platform::arch::Frame;
use crate::platform::sys;
use crate::reporting::{self, sink};

const PR_SET_SECCOMP: usize = 22;
const PR_SET_NO_NEW_PRIVS: usize = 38;

/// Does this sandbox-class call need [`before`]? (Cheap: most `syscall()` calls do not.)
#[inline]
pub fn relevant(idx: usize, f: &Frame) -> bool {
    match idx {
        g::IDX_prctl => matches!(f.arg(0), PR_SET_SECCOMP | PR_SET_NO_NEW_PRIVS),
        g::IDX_syscall => {
            let n = f.arg(0) as libc::c_long;
            n == libc::SYS_seccomp || n == libc::SYS_prctl || moves_the_log_away(n)
        }
        _ => true,
    }
}

/// System calls after which the log directory may be out of reach by path or by permission: a
/// new root, a new mount namespace, another user or group.
fn moves_the_log_away(n: libc::c_long) -> bool {
    matches!(
        n,
        libc::SYS_chroot
            | libc::SYS_pivot_root
            | libc::SYS_unshare
            | libc::SYS_setns
            | libc::SYS_setuid
            | libc::SYS_setgid
            | libc::SYS_setreuid
            | libc::SYS_setregid
            | libc::SYS_setresuid
            | libc::SYS_setresgid
            | libc::SYS_setfsuid
            | libc::SYS_setfsgid
    )
}

/// Runs before the real function of a sandbox-class call.
pub fn before(idx: usize, f: &Frame) {
    // The program's path, while `/proc/self/exe` can still be read (it is read lazily).
    let _ = reporting::capture_exe();
    match idx {
        g::IDX_prctl => match f.arg(0) {
            PR_SET_SECCOMP => restrict(),
            // Usually the step before a filter: the file is opened while opening is allowed.
            PR_SET_NO_NEW_PRIVS => sink::keep_open(),
            _ => {}
        },
        g::IDX_syscall => {
            let n = f.arg(0) as libc::c_long;
            if n == libc::SYS_seccomp || (n == libc::SYS_prctl && f.arg(1) == PR_SET_SECCOMP) {
                restrict();
            } else if moves_the_log_away(n)
                || (n == libc::SYS_prctl && f.arg(1) == PR_SET_NO_NEW_PRIVS)
            {
                sink::keep_open();
            }
        }
        _ => sink::keep_open(),
    }
}

/// A seccomp filter is about to be installed (or may be in force).
pub fn restrict() {
    sink::keep_open();
    assafe_unwind::make_probe_pipe();
    assafe_unwind::restrict_to_read_write();
    sys::enter_restricted();
}
