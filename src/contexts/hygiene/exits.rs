//! The exit handlers the program's own code registers (`__cxa_atexit`, `atexit`, `on_exit`: class
//! `atexit` of symbols.txt, which always enters the slow path), for `exit-in-child`: `exit()` in a
//! fork child runs every handler the parent had registered, a second time (the parent runs them
//! too, at its own exit): C++ destructors of globals, `atexit` cleanups that remove files, flush
//! logs, send goodbyes.
//!
//! Counted: registrations made by the process image's first process (the first registering pid:
//! only handlers every fork child inherits) from a call site in the program's own code: the main
//! executable or a library outside the system's library directories. The registrations libc,
//! the loader, libstdc++ and other system libraries make for themselves (flushing `cout`, freeing
//! their own state) are not counted. A lock-free counter and the first [`KEPT`] handler
//! addresses; nothing else is written, and nothing in a vfork child.

use core::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};

use crate::platform::arch::Frame;
use crate::platform::fmt::Buf;
use crate::platform::sys;
use crate::platform::{in_self, tls};

/// Handler addresses kept for the report.
pub const KEPT: usize = 4;

#[unsafe(link_section = "assafe_hot")]
static COUNT: AtomicU32 = AtomicU32::new(0);
/// Of [`COUNT`], the registrations made from the main executable: they count only if it is not
/// in a system library directory, which needs its path (`/proc/self/exe`), asked for only when a
/// fork child's `exit()` is checked, not at every registration (most programs register one).
#[unsafe(link_section = "assafe_hot")]
static MAIN_COUNT: AtomicU32 = AtomicU32::new(0);
/// Which of [`HANDLERS`] were registered from the main executable (bit i).
#[unsafe(link_section = "assafe_hot")]
static MAIN_KEPT: AtomicU32 = AtomicU32::new(0);
/// The pid of the process that registered them.
#[unsafe(link_section = "assafe_hot")]
static OWNER: AtomicI32 = AtomicI32::new(0);
#[unsafe(link_section = "assafe_hot")]
static HANDLERS: [AtomicUsize; KEPT] = [const { AtomicUsize::new(0) }; KEPT];

/// Is `path` a system library (where libc, the loader, libstdc++, libgcc live)?
fn system_library(path: &[u8]) -> bool {
    [
        &b"/lib/"[..],
        b"/lib64/",
        b"/usr/lib/",
        b"/usr/lib64/",
        b"/usr/local/lib/",
    ]
    .iter()
    .any(|d| path.starts_with(d))
}

/// The page of the last call site classified, with its answer in bit 0 (a program's static
/// initialisers register their globals' destructors from one function after another: the module
/// lookup runs once per page, not per registration).
#[unsafe(link_section = "assafe_hot")]
static LAST_PAGE: AtomicUsize = AtomicUsize::new(0);

/// Whose code a call site is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// libc, the loader, a system library, the vdso, this library, or unknown.
    System = 0,
    /// A library outside the system's library directories.
    Own = 1,
    /// The main executable: the program's own unless it lives in a system library directory
    /// ([`main_is_own`], decided when needed).
    Main = 2,
}

/// [`owner`], remembered for the call site's page (modules never share a page).
fn owner_cached(addr: usize) -> Owner {
    let page = addr & !0xfff;
    let last = LAST_PAGE.load(Ordering::Relaxed);
    if last & !3 == page && page != 0 {
        return match last & 3 {
            1 => Owner::Own,
            2 => Owner::Main,
            _ => Owner::System,
        };
    }
    let o = owner(addr);
    LAST_PAGE.store(page | o as usize, Ordering::Relaxed);
    o
}

/// Whose code is `addr`: the program's own (the main executable or a non-system library)?
fn owner(addr: usize) -> Owner {
    if in_self(addr) {
        return Owner::System;
    }
    match assafe_unwind::module_of(addr) {
        Some(m) if m.main => Owner::Main,
        Some(m) if !system_library(m.path()) && !m.path().starts_with(b"linux-vdso") => Owner::Own,
        _ => Owner::System,
    }
}

/// Is the main executable the program's own code (not in a system library directory, as
/// compilers' `cc1` in `/usr/lib/gcc/` is)?
fn main_is_own() -> bool {
    let path = crate::reporting::exe_for_modules().unwrap_or(b"");
    !system_library(path)
}

/// A registration call (`__cxa_atexit(func, arg, dso)`, `atexit(func)`, `on_exit(func, arg)`:
/// the handler is the first argument), before the real one.
pub fn registered(f: &Frame) {
    let func = f.arg(0);
    if func == 0 || tls::state() & tls::VFORK_CHILD != 0 {
        return;
    }
    let owner = owner_cached(f.ret_addr());
    if owner == Owner::System {
        return;
    }
    let pid = sys::getpid();
    match OWNER.compare_exchange(0, pid, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => {}
        Err(p) if p == pid => {}
        // A fork child's own registration: it runs once, in the child.
        Err(_) => return,
    }
    let n = COUNT.fetch_add(1, Ordering::Relaxed) as usize;
    if owner == Owner::Main {
        MAIN_COUNT.fetch_add(1, Ordering::Relaxed);
        if n < KEPT {
            MAIN_KEPT.fetch_or(1 << n, Ordering::Relaxed);
        }
    }
    if n < KEPT {
        HANDLERS[n].store(func, Ordering::Relaxed);
    }
}

/// In a fork child: how many of the program's exit handlers `exit()` would run again, and the
/// first of them.
pub fn inherited(out: &mut [usize; KEPT]) -> (u32, usize) {
    let owner = OWNER.load(Ordering::Relaxed);
    if owner == 0 || owner == sys::getpid() {
        return (0, 0);
    }
    let all = COUNT.load(Ordering::Relaxed);
    let main = MAIN_COUNT.load(Ordering::Relaxed);
    // The main executable's registrations count unless it lives in a system library directory.
    let (n, skip) = if main != 0 && !main_is_own() {
        (all - main.min(all), MAIN_KEPT.load(Ordering::Relaxed))
    } else {
        (all, 0)
    };
    let mut k = 0;
    for (i, h) in HANDLERS[..(all as usize).min(KEPT)].iter().enumerate() {
        if skip & 1 << i == 0 {
            out[k] = h.load(Ordering::Relaxed);
            k += 1;
        }
    }
    (n, k)
}

/// Describes the handlers `exit()` runs again into `b` (symbolized from the modules' symbol
/// tables, as text reports are).
pub fn describe(b: &mut Buf, n: u32, handlers: &[usize]) {
    b.s("it runs the ")
        .u(n as u64)
        .s(if n == 1 {
            " exit handler"
        } else {
            " exit handlers"
        })
        .s(" the parent's code registered (atexit, on_exit, C++ destructors of globals), which also run in the parent at its exit:");
    for &h in handlers {
        b.s(" ");
        match assafe_unwind::module_of(h) {
            Some(m) => {
                let mut t = [0u8; 160];
                let mut tb = Buf::new(&mut t);
                crate::reporting::symbolize::function_name(m.path(), m.offset, &mut tb);
                let tl = tb.len();
                let fname = t[..tl]
                    .strip_prefix(b"in ")
                    .unwrap_or(b"?")
                    .trim_ascii_end();
                b.printable(if fname.is_empty() { b"?" } else { fname })
                    .s(" ");
                let name = m.path().rsplit(|&c| c == b'/').next().unwrap_or(m.path());
                b.s("(").printable(name).s("+").hex(m.offset as u64).s(")");
            }
            None => {
                b.hex(h as u64);
            }
        }
    }
    if n as usize > handlers.len() {
        b.s(" and ")
            .u((n as usize - handlers.len()) as u64)
            .s(" more");
    }
}

/// The `exit-in-child` detail of a fork child's `exit()`: `stdio` (the inherited stdio output
/// it flushes again, already written at the start of `d`, if any) and the program's exit handlers
/// it runs again. Not the handlers of a session leader (fork, setsid: a daemon, whose exit is the
/// one that counts). `None` when there is nothing to report.
pub fn exit_detail(d: &mut [u8], stdio: Option<usize>) -> Option<usize> {
    let mut hs = [0usize; KEPT];
    let (n, k) = inherited(&mut hs);
    let leader = n > 0 && {
        let pid = crate::platform::sys::getpid();
        // SAFETY: getsid(0) has no pointer arguments.
        let sid = unsafe { crate::platform::sys::syscall3(libc::SYS_getsid as usize, 0, 0, 0) };
        sid == Ok(pid as usize)
    };
    if n == 0 || leader {
        return stdio;
    }
    let start = stdio.unwrap_or(0);
    let mut b = Buf::new(&mut d[start..]);
    if stdio.is_some() {
        b.s("; ");
    } else {
        b.s("exit() in a fork child that did not exec: ");
    }
    describe(&mut b, n, &hs[..k]);
    Some(start + b.len())
}
