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
    reporting::capture_exe();
    let status = read_status();
    SIGNALS_TO_ASK.store(status.signals, Ordering::Relaxed);
    if status.seccomp {
        sandbox::restrict();
    }
    fork::arm();
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
    signal::wrap_existing(SIGNALS_TO_ASK.load(Ordering::Relaxed));
    reporting::start_record();
}

/// What `/proc/self/status` said at load: is a seccomp filter already in force (inherited
/// through exec: systemd's `SystemCallFilter=`, a sandboxing parent), and which signals have a
/// handler (`SigCgt`), so that [`after`] asks the kernel only about those instead of all 62.
/// Read with the calls the loader itself has just made (`openat`, `read`, `close`), so a filter
/// that let the program start allows them. Without `/proc`: no filter known, every signal asked
/// about.
struct Status {
    seccomp: bool,
    signals: u64,
}

/// [`Status::signals`] from the read at load, for [`after`] (written before DONE is published).
#[unsafe(link_section = "assafe_hot")]
static SIGNALS_TO_ASK: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(u64::MAX);

fn read_status() -> Status {
    let unknown = Status {
        seccomp: false,
        signals: u64::MAX,
    };
    let Ok(fd) = sys::open(
        b"/proc/self/status\0",
        ::libc::O_RDONLY | ::libc::O_CLOEXEC,
        0,
    ) else {
        return unknown;
    };
    use assafe_pure::proc_stat::{parse_mask, status_values};
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut n = 0;
    let mut values = [None; 2];
    while n < buf.len() {
        match sys::read_uninit(fd, &mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k.min(buf.len() - n),
        }
        // SAFETY: the kernel initialised the first n bytes (the reads above, each within bounds).
        let s = unsafe { core::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
        values = status_values(s, [b"Seccomp:", b"SigCgt:"]);
        // The kernel hands the whole file to the first read: no second read (to see the end of
        // the file) once every line wanted is there, whole.
        if values.iter().all(Option::is_some) && s.ends_with(b"\n") {
            break;
        }
    }
    sys::close(fd);
    let [seccomp, cgt] = values;
    let seccomp = seccomp.is_some_and(|v| v.first().is_some_and(|&c| c != b'0'));
    // Only the signals with a handler need asking about (an ignored or default one is never our
    // wrapper's, and the table is read only for signals whose kernel action is the wrapper: a
    // process that inherits ignored signals, as a shell's children do, pays nothing for them).
    // SIGCHLD always: its flags (SA_NOCLDWAIT) matter even with the default action.
    let signals = match cgt.and_then(parse_mask) {
        Some(cgt) => cgt | 1 << (::libc::SIGCHLD - 1),
        None => u64::MAX,
    };
    Status { seccomp, signals }
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
        signal::wrap_existing(read_status().signals);
    }
    ensure();
    tls::store(was & !(tls::UNINIT | tls::BUSY) | state::process_context());
}

#[used]
#[unsafe(link_section = ".init_array")]
static INIT_ARRAY: extern "C" fn() = constructor;
