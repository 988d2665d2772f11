//! Load-time initialisation: resolve every real function, read the options, set up the module
//! table and the fork sentinel. Runs from the library's constructor, or earlier, from the first
//! interposed call, if another library's constructor calls e.g. `malloc` before ours runs.

use core::sync::atomic::{AtomicU8, Ordering};

use crate::{options, report, stubs, sys, tls};

const NOT_STARTED: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
static STATE: AtomicU8 = AtomicU8::new(NOT_STARTED);

/// The options, written once by [`ensure`] before `STATE` becomes DONE, read-only afterwards.
static mut OPTIONS: options::Options = options::Options::defaults();

pub fn options() -> &'static options::Options {
    // SAFETY: OPTIONS is written only by the single thread that wins the NOT_STARTED→RUNNING
    // exchange in `ensure`, before it publishes DONE; every reader runs after `ensure` returned.
    unsafe { (&raw const OPTIONS).as_ref().unwrap_unchecked() }
}

pub fn done() -> bool {
    STATE.load(Ordering::Acquire) == DONE
}

/// Makes sure initialisation has completed (the calling thread has BUSY set).
pub fn ensure() {
    match STATE.compare_exchange(NOT_STARTED, RUNNING, Ordering::Acquire, Ordering::Acquire) {
        Ok(_) => {
            run();
            STATE.store(DONE, Ordering::Release);
            after();
        }
        Err(_) => {
            while STATE.load(Ordering::Acquire) != DONE {
                sys::sched_yield();
            }
        }
    }
}

unsafe extern "C" {
    static environ: *const *const u8;
}

/// Finds `ASSAFE_OPTIONS` in the environment the program started with.
fn env_options() -> &'static [u8] {
    // SAFETY: environ is the process environment, a NULL-terminated array of C strings; at load
    // time nothing else modifies it.
    unsafe {
        let mut p = environ;
        if p.is_null() {
            return b"";
        }
        while !(*p).is_null() {
            let s = *p;
            let key = b"ASSAFE_OPTIONS=";
            if (0..key.len()).all(|i| *s.add(i) == key[i]) {
                let v = s.add(key.len());
                let mut n = 0;
                while *v.add(n) != 0 {
                    n += 1;
                }
                return core::slice::from_raw_parts(v, n);
            }
            p = p.add(1);
        }
    }
    b""
}

fn run() {
    stubs::resolve_all();
    // SAFETY: only this thread writes OPTIONS, before publishing DONE (see `options`).
    let o = unsafe { (&raw mut OPTIONS).as_mut().unwrap_unchecked() };
    let problems = options::parse(o, env_options());
    if crate::secure() {
        // Under AT_SECURE (setuid), never open a path taken from the environment.
        o.log_path_len = 0;
        o.suppressions_len = 0;
    }
    absolute(&mut o.log_path, &mut o.log_path_len);
    crate::fork::arm();
    let sup = crate::suppress::load(&o.suppressions[..o.suppressions_len]);
    report::options_feedback(&problems, sup);
}

/// Makes a relative path absolute against the working directory at load, so that a child that
/// changes directory still writes to the same place (each exec'd program resolves it again).
fn absolute(path: &mut [u8; options::PATH_MAX], len: &mut usize) {
    if *len == 0 || path[0] == b'/' {
        return;
    }
    let mut cwd = [0u8; options::PATH_MAX];
    let Ok(n) = sys::getcwd(&mut cwd) else { return };
    // getcwd's length includes the NUL; the root needs no second slash.
    let n = if n <= 2 { 0 } else { n - 1 };
    if n + 1 + *len + 1 > path.len() {
        return;
    }
    path.copy_within(..*len, n + 1);
    path[..n].copy_from_slice(&cwd[..n]);
    path[n] = b'/';
    *len += n + 1;
    path[*len] = 0;
}

/// Load base of libc.so.6 (0 if unknown).
static LIBC_BASE: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Load base of the dynamic loader (0 if unknown).
static LDSO_BASE: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Is `addr` inside the C library proper: libc.so.6 or the dynamic loader?
pub fn in_libc(addr: usize) -> bool {
    let (libc, ldso) = (
        LIBC_BASE.load(Ordering::Relaxed),
        LDSO_BASE.load(Ordering::Relaxed),
    );
    assafe_unwind::module_of(addr)
        .is_some_and(|m| (libc != 0 && m.base == libc) || (ldso != 0 && m.base == ldso))
}

unsafe extern "C" {
    /// The loader's debug structure: its address lies in ld.so.
    static _r_debug: u8;
}

unsafe extern "C" {
    /// Start of this library's ELF header (defined by the linker): its load base.
    static __ehdr_start: u8;
}

/// Is `addr` inside libassafe itself?
pub fn in_self(addr: usize) -> bool {
    assafe_unwind::module_of(addr).is_some_and(|m| m.base == self_base())
}

/// This library's load base (the linker-defined `__ehdr_start`; taking its address reads nothing).
pub fn self_base() -> usize {
    (&raw const __ehdr_start) as usize
}

/// Work that may call interposed functions (they pass through: this thread is BUSY).
fn after() {
    // SAFETY: normal context, at load.
    unsafe { assafe_unwind::refresh_modules() };
    let errno_fn = libc::__errno_location as *const () as usize;
    if let Some(m) = assafe_unwind::module_of(errno_fn) {
        LIBC_BASE.store(m.base, Ordering::Relaxed);
    }
    if let Some(m) = assafe_unwind::module_of((&raw const _r_debug) as usize) {
        LDSO_BASE.store(m.base, Ordering::Relaxed);
    }
    crate::signal::wrap_existing();
    report::start_record();
}

/// The constructor: runs when the loader initialises this library.
extern "C" fn constructor() {
    let was = tls::state();
    tls::set(tls::BUSY);
    ensure();
    tls::store(was & !(tls::UNINIT | tls::BUSY) | crate::state::process_context());
}

#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = constructor;
