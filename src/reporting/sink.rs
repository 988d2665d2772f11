//! Sinks: where a formatted record goes. Each record is formatted into a fresh anonymous mapping
//! (a raw `mmap`, so nothing is allocated and a signal handler on a small `sigaltstack` has stack
//! to spare), then written with a single `write` so concurrent writers never interleave. With
//! `log_path` the file `PATH.<pid>` is opened by path for every record, so a child that closed its
//! fds or repointed fd 2 still reports. What cannot be written to the log goes to stderr, once
//! announced.
//!
//! Every JSON log file begins with a `start` record (its `format` first, docs/log-format.md): the
//! file is created with `O_EXCL`, and the process that created it (a fork or vfork child's first
//! record, or the start record at load) puts its start record in front of the record, in the same
//! `write`. A process that writes nothing creates no file.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::config::{self, PATH_MAX};
use crate::platform::arch;
use crate::platform::fmt::Buf;
use crate::platform::sys;

const MAP_LEN: usize = 64 * 1024;

/// "Could not write the log" has been said in this process.
static SINK_WARNED: AtomicBool = AtomicBool::new(false);

/// Room kept in front of a record for the start record of a new log file (`pid`, `ppid`, `exe`
/// and `version`; a start that does not fit is not written).
const START_ROOM: usize = 1024;
/// The same in the stack buffer used when no mapping can be made.
const START_ROOM_SMALL: usize = 384;

/// Where a record goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sink {
    /// `log_path` if set, else stderr.
    Log,
    /// The log, and the record is this process's start record (nothing goes in front of it).
    Start,
    /// Always stderr (the `help=1` text, the load notice).
    Stderr,
}

/// Formats one record with `f` and writes it to the log.
pub fn emit(f: impl FnOnce(&mut Buf)) {
    emit_to(Sink::Log, f)
}

/// Formats this process's start record with `f` and writes it to the log.
pub fn emit_start(f: impl FnOnce(&mut Buf)) {
    emit_to(Sink::Start, f)
}

/// Formats one record with `f` and writes it to `sink`.
///
/// `f` runs on a private stack inside a fresh anonymous mapping (the record buffer below it), so
/// that unwinding and formatting never overflow a small `sigaltstack` a handler may be running on.
fn emit_to(sink: Sink, f: impl FnOnce(&mut Buf)) {
    match sys::mmap_anon(MAP_LEN + STACK_LEN) {
        Some(p) => {
            let mut job = Some(|| {
                // SAFETY: the first MAP_LEN bytes of our fresh private mapping; the stack we run on
                // is the part above them.
                let mem = unsafe { core::slice::from_raw_parts_mut(p, MAP_LEN) };
                format_and_write(sink, mem, START_ROOM, f);
            });
            // SAFETY: the top of the mapping is 16-byte aligned and STACK_LEN bytes are free below it.
            unsafe { on_stack(&mut job, p.add(MAP_LEN + STACK_LEN)) };
            // SAFETY: the mapping came from mmap_anon and nothing refers to it any more.
            unsafe { sys::munmap(p, MAP_LEN + STACK_LEN) };
        }
        None => {
            let mut mem = [0u8; 1024];
            format_and_write(sink, &mut mem, START_ROOM_SMALL, f);
        }
    }
}

/// Formats the record with `f` into `mem` after its first `head` bytes (kept for a start record
/// when the record goes to a JSON log file) and writes it.
fn format_and_write(sink: Sink, mem: &mut [u8], head: usize, f: impl FnOnce(&mut Buf)) {
    let o = config::options();
    let head = if sink == Sink::Log && o.json() && !o.log_path().is_empty() {
        head
    } else {
        0
    };
    let n = {
        let mut b = Buf::new(&mut mem[head..]);
        f(&mut b);
        if b.is_empty() {
            return;
        }
        if b.room() == 0 {
            // Truncated: keep the line a line.
            let l = b.len();
            b.truncate(l - 1);
        }
        b.c(b'\n');
        b.len()
    };
    write_record(sink, mem, head, n);
}

const STACK_LEN: usize = 64 * 1024;

/// Runs `job` with the stack pointer at `top`.
///
/// # Safety
/// `top` must be 16-byte aligned with enough writable memory below it.
unsafe fn on_stack<F: FnOnce()>(job: &mut Option<F>, top: *mut u8) {
    extern "C" fn trampoline<F: FnOnce()>(job: *mut u8) {
        // SAFETY: `job` is the `&mut Option<F>` passed to on_stack, alive for the whole call.
        let job = unsafe { &mut *(job as *mut Option<F>) };
        if let Some(f) = job.take() {
            f();
        }
    }
    // SAFETY: the caller guarantees `top` (see above); the trampoline is a normal
    // extern "C" fn(*mut u8), and `job` outlives the call.
    unsafe {
        arch::switch_stack(
            job as *mut Option<F> as *mut u8,
            trampoline::<F> as *const () as usize,
            top,
        )
    };
}

/// Writes the record `mem[head..head + n]` (a whole line); the `head` bytes before it are free.
fn write_record(sink: Sink, mem: &mut [u8], head: usize, n: usize) {
    let o = config::options();
    let path = o.log_path();
    if path.is_empty() || sink == Sink::Stderr {
        write_stderr(&mem[head..head + n]);
        return;
    }
    let mut name = [0u8; PATH_MAX + 16];
    let name_len = {
        let mut nb = Buf::new(&mut name);
        nb.bytes(path).c(b'.').u(sys::getpid() as u64).c(0);
        nb.len()
    };
    let name = &name[..name_len];
    let flags =
        libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // Created now (O_EXCL): the file's first record must be a start record.
    let (opened, new) = match sys::open(name, flags | libc::O_EXCL, 0o600) {
        Ok(fd) => (Ok(fd), true),
        Err(libc::EEXIST) => (sys::open(name, flags, 0o600), false),
        Err(e) => (Err(e), false),
    };
    let mut from = head;
    if new && head > 0 {
        from -= start_in_front(&mut mem[..head]);
    }
    let bytes = &mem[from..head + n];
    match opened {
        Ok(fd) => {
            let r = if sys::exceeds_fsize_limit(fd, bytes.len()) {
                Err(libc::EFBIG)
            } else {
                sys::write_all(fd, bytes)
            };
            sys::close(fd);
            if let Err(e) = r {
                sink_failed(&name[..name_len - 1], e, &mem[head..head + n]);
            }
        }
        Err(e) => sink_failed(&name[..name_len - 1], e, &mem[head..head + n]),
    }
}

/// Formats this process's start record (a whole line) at the end of `room`; returns its length,
/// or 0 when it does not fit.
fn start_in_front(room: &mut [u8]) -> usize {
    let len = {
        let mut b = Buf::new(room);
        super::start_into(&mut b);
        b.c(b'\n');
        if b.room() == 0 {
            return 0;
        }
        b.len()
    };
    room.copy_within(..len, room.len() - len);
    len
}

/// Writes to fd 2 unless that would exceed the file size limit (SIGXFSZ would kill the host).
fn write_stderr(bytes: &[u8]) {
    if !sys::exceeds_fsize_limit(2, bytes.len()) {
        let _ = sys::write_all(2, bytes);
    }
}

/// The log file could not be written: say so once on stderr, then put the record there.
fn sink_failed(name: &[u8], err: i32, record: &[u8]) {
    if !SINK_WARNED.swap(true, Ordering::Relaxed) {
        warning(|b| {
            b.s("cannot write log file '")
                .printable(name)
                .s("' (errno ")
                .u(err as u64)
                .s("); writing reports to stderr instead");
        });
    }
    write_stderr(record);
}

/// One `==PID==ASSAFE: warning: …` line on stderr (problems with the options, the suppressions
/// file or the log file are never log records), formatted by `f` into a stack buffer.
pub fn warning(f: impl FnOnce(&mut Buf)) {
    let mut mem = [0u8; 1400];
    let mut b = Buf::new(&mut mem[..1399]);
    prefix(&mut b);
    b.s("warning: ");
    f(&mut b);
    let n = b.len();
    mem[n] = b'\n';
    write_stderr(&mem[..=n]);
}

/// `==PID==ASSAFE: `, the prefix of every text line.
pub fn prefix(b: &mut Buf) {
    b.s("==").u(sys::getpid() as u64).s("==ASSAFE: ");
}

/// Formats one record with `f` and writes it to stderr (the `help=1` text, the load notice).
pub fn emit_stderr(f: impl FnOnce(&mut Buf)) {
    emit_to(Sink::Stderr, f)
}
