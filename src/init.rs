//! Start-up order. Runs from the library's constructor, or earlier, from the first interposed
//! call, if another library's constructor calls e.g. `malloc` before ours runs:
//!
//! 1. make every real-function slot usable (`libc::symbols::prepare`: each points at its lazy
//!    trampoline, resolved on first use from a snapshot of the objects loaded at start);
//! 2. read `ASSAFE_OPTIONS` (`config`), make `log_path` absolute;
//! 3. arm the fork sentinel (`contexts::fork::arm`), load the suppressions file;
//! 4. publish DONE; then, with this thread BUSY so calls pass through: fill the module table,
//!    note libc's and the loader's bases, wrap signal handlers installed before us, and write the
//!    `start` record.

use core::sync::atomic::Ordering;

use crate::check;
use crate::config::{self, PATH_MAX, Path};
use crate::contexts::{exec, fork, hygiene, sandbox, signal};
use crate::libc::{self, symbols};
use crate::platform::{sys, tls};
use crate::reporting::{self, suppress};
use crate::state::{self, INIT, INIT_DONE, INIT_NOT_STARTED, INIT_RUNNING};

/// Makes sure initialisation has completed (the calling thread has BUSY set).
pub fn ensure() {
    match INIT.compare_exchange(
        INIT_NOT_STARTED,
        INIT_RUNNING,
        Ordering::Acquire,
        Ordering::Acquire,
    ) {
        Ok(_) => {
            run();
            INIT.store(INIT_DONE, Ordering::Release);
            after();
        }
        Err(_) => {
            while !state::initialised() {
                sys::sched_yield();
            }
        }
    }
}

unsafe extern "C" {
    static environ: *const *const u8;
}

/// The environment variables the library reads at load: `ASSAFE_OPTIONS`, and the log file an
/// exec handed over ([`exec::LOG_FD_VAR`]).
const ENV_KEYS: [&[u8]; 2] = [b"ASSAFE_OPTIONS=", exec::LOG_FD_VAR];

/// `fd` and file identity handed over by the exec that started this image
/// ([`exec::LOG_FD_VAR`], see `reporting::sink::kept_file`), if `v` (its value) is well-formed.
fn parse_log_fd(v: &[u8]) -> Option<(i32, u64)> {
    let colon = v.iter().position(|&c| c == b':')?;
    let num = |s: &[u8]| -> Option<u64> {
        if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        s.iter().try_fold(0u64, |n, &c| {
            n.checked_mul(10)?.checked_add((c - b'0') as u64)
        })
    };
    let fd = i32::try_from(num(&v[..colon])?).ok()?;
    Some((fd, num(&v[colon + 1..])?))
}

/// The values of the environment entries that start with `keys` (`NAME=`; empty when absent), in
/// one pass over the environment the program started with.
fn env_values<const N: usize>(keys: [&[u8]; N]) -> [&'static [u8]; N] {
    let mut out: [&'static [u8]; N] = [b""; N];
    // The first entry of each name wins, as for getenv (an empty one too).
    let mut found = [false; N];
    // SAFETY: environ is the process environment, a NULL-terminated array of C strings; at load
    // time nothing else modifies it. A key comparison stops at the first mismatch, and a string's
    // NUL mismatches every key byte, so no read goes past a string's end.
    unsafe {
        let mut p = environ;
        if p.is_null() {
            return out;
        }
        while !(*p).is_null() {
            let s = *p;
            for (k, key) in keys.iter().enumerate() {
                if !found[k] && (0..key.len()).all(|i| *s.add(i) == key[i]) {
                    found[k] = true;
                    let v = s.add(key.len());
                    let mut n = 0;
                    while *v.add(n) != 0 {
                        n += 1;
                    }
                    out[k] = core::slice::from_raw_parts(v, n);
                }
            }
            p = p.add(1);
        }
    }
    out
}

fn run() {
    symbols::prepare();
    // SAFETY: this thread won the NOT_STARTED→RUNNING exchange; it is the only writer, and
    // nobody reads the options before DONE is published.
    let o = unsafe { config::options_mut() };
    let [options, log_fd] = env_values(ENV_KEYS);
    // Without ASSAFE_OPTIONS (most processes of a bare LD_PRELOAD) the defaults stand: the parser's
    // code is not even paged in.
    let problems = if options.is_empty() {
        config::Problems::none()
    } else {
        config::parse(o, options)
    };
    if libc::secure() {
        // Under AT_SECURE (setuid), never open a path taken from the environment.
        o.log_path.0.len = 0;
        o.suppressions.len = 0;
    }
    absolute(&mut o.log_path.0);
    // (Under AT_SECURE log_path was just cleared: no fd from the environment is trusted.)
    if !o.log_path.0.as_bytes().is_empty()
        && let Some((fd, id)) = parse_log_fd(log_fd)
    {
        // The previous image of this process kept its log file (it had entered a chroot or
        // changed uid) and handed it over through the exec.
        reporting::sink::adopt_kept(fd, id);
    }
    // Whether a seccomp filter came with the exec is learnt when first needed
    // (`sys::restricted`); a filter found then is prepared for as one the program installs.
    sys::on_filter(sandbox::restrict);
    // The unwinder reads stack memory with `process_vm_readv` unless a filter is known: every
    // walk learns first.
    assafe_unwind::set_before_read(sys::settle_filter);
    // The program's path is read when first needed (`reporting::capture_exe`).
    assafe_unwind::set_exe_provider(reporting::exe_for_modules);
    fork::arm_at_load();
    let sup = suppress::load(o.suppressions.as_bytes());
    reporting::options_feedback(&problems, sup);
}

/// Makes a relative path absolute against the working directory at load, so that a child that
/// changes directory still writes to the same place (each exec'd program resolves it again).
fn absolute(p: &mut Path) {
    let Path { buf: path, len } = p;
    if *len == 0 || path[0] == b'/' {
        return;
    }
    let mut cwd = [0u8; PATH_MAX];
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

/// Work that may call interposed functions (they pass through: this thread is BUSY).
fn after() {
    // SAFETY: normal context, at load.
    unsafe { assafe_unwind::refresh_modules() };
    libc::record_bases();
    hygiene::child::register_atfork(); // process hygiene: atfork-child
    // After an exec every handler is back to the default: one installed since came from an
    // earlier constructor, through libc's functions, which reach the wrapper (and initialise the
    // library early: the constructor then asks about the rest). SIGCHLD always: its flags
    // (SA_NOCLDWAIT) and an inherited SIG_IGN matter with no handler.
    signal::wrap_existing(1 << (::libc::SIGCHLD - 1));
    reporting::start_record();
}

/// The destructor: runs at a return from `main` and in `exit` (after the atexit handlers). Writes
/// the summary if no exit call the library saw wrote it (libc's start code calls `exit`
/// internally, which no stub sees), or if calls were made since.
extern "C" fn destructor() {
    if !state::initialised() {
        return;
    }
    let was = tls::state();
    if was & tls::BUSY != 0 {
        return;
    }
    tls::set(tls::BUSY);
    hygiene::child::at_end(); // process hygiene: child-returned, exit-in-child, zombie
    check::end_summary();
    tls::store(was);
}

#[used]
#[unsafe(link_section = ".fini_array")]
static FINI_ARRAY: extern "C" fn() = destructor;

/// The constructor: runs when the loader initialises this library.
extern "C" fn constructor() {
    let was = tls::state();
    tls::set(tls::BUSY);
    if state::initialised() {
        // An earlier constructor's interposed call initialised the library: handlers installed
        // since (by a raw system call; libc's functions reach our wrapper) are wrapped now.
        // Only the signals `/proc/self/status` shows a handler for are asked about: a program
        // linked with libselinux (sed, mv, mkdir…) is initialised from its constructor, and
        // asking about all 62 signals cost it 60 system calls at every start.
        // (A raw system call is also how a Go runtime in a shared library installs its handlers,
        // on a thread its constructor started.) The same read tells whether a seccomp filter
        // came with the exec.
        let status = sys::read_status();
        if let Some(st) = &status {
            sys::learnt(st.seccomp);
        }
        signal::wrap_existing(status.map_or(u64::MAX, |st| st.signals));
    }
    ensure();
    tls::store(was & !(tls::UNINIT | tls::BUSY) | state::process_context());
}

#[used]
#[unsafe(link_section = ".init_array")]
static INIT_ARRAY: extern "C" fn() = constructor;
