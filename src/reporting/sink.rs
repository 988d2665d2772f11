//! Sinks: where a formatted record goes. Each record is formatted into a fresh anonymous mapping
//! (a raw `mmap`, so nothing is allocated and a signal handler on a small `sigaltstack` has stack
//! to spare; under a seccomp filter a static spare buffer instead), then written with a single
//! `write` so concurrent writers never interleave. With `log_path` the file `PATH.<pid>` is opened
//! for every record relative to the log directory's fd taken at load (so it is reached from inside
//! a chroot or a new mount namespace; by path when the program closed that fd), so a child that
//! closed its fds or repointed fd 2 still reports. Before a seccomp filter, a chroot or a change
//! of uid (`contexts::sandbox`) the process's file is opened once and kept. A record that cannot be
//! written is counted (the summary's `lost` and `lost_reason`), never put on the program's stderr.
//!
//! Every JSON log file begins with a `start` record (its `format` first, docs/log-format.md): the
//! file is created with `O_EXCL`, and the process that created it (a fork or vfork child's first
//! record, or the start record at load) puts its start record in front of the record, in the same
//! `write`. A process that writes nothing creates no file.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};

use crate::config::{self, PATH_MAX};
use crate::platform::arch;
use crate::platform::fmt::Buf;
use crate::platform::{sys, tls};

const MAP_LEN: usize = 64 * 1024;

/// Fds the library keeps are numbered from here up, out of the way of programs that expect the
/// lowest free numbers.
const HIGH_FD: i32 = 100;

/// The log directory, opened (`O_PATH|O_DIRECTORY`, close-on-exec, numbered from [`HIGH_FD`])
/// before the process's first `chroot`, `unshare`, `setns`, seccomp filter or change of uid
/// (not at load: a program that lists its own fds must find none of ours): records are created
/// relative to it, so they reach it from inside a `chroot` or a new mount namespace, in this
/// process and its fork children. -1: none.
#[unsafe(link_section = "assafe_hot")]
static DIRFD: AtomicI32 = AtomicI32::new(-1);
/// Its identity (device and inode), checked before each use: a program that closed it (and may
/// have reused the number) makes the sink fall back to the path.
#[unsafe(link_section = "assafe_hot")]
static DIR_ID: AtomicU64 = AtomicU64::new(0);
/// Offset of the file-name part in `log_path`.
#[unsafe(link_section = "assafe_hot")]
static BASE_AT: AtomicUsize = AtomicUsize::new(0);
/// This process's log file, opened before a seccomp filter, a chroot or a change of uid (see
/// `contexts::sandbox`), and kept: -1 when none. Valid for the process [`OWN_PID`] only (a fork
/// child inherits the numbers and opens its own file).
#[unsafe(link_section = "assafe_hot")]
static OWN_FD: AtomicI32 = AtomicI32::new(-1);
#[unsafe(link_section = "assafe_hot")]
static OWN_PID: AtomicI32 = AtomicI32::new(0);
#[unsafe(link_section = "assafe_hot")]
static OWN_ID: AtomicU64 = AtomicU64::new(0);

/// Records of this process that could not be written (never put on the program's stderr when
/// `log_path` is set), and why the first one could not: an errno, or [`WHY_SECCOMP`].
#[unsafe(link_section = "assafe_hot")]
static LOST: AtomicU64 = AtomicU64::new(0);
#[unsafe(link_section = "assafe_hot")]
static LOST_WHY: AtomicI32 = AtomicI32::new(0);
/// A seccomp filter is in force and the log file was not opened before it.
pub const WHY_SECCOMP: i32 = -1;

fn id(dev_ino: (u64, u64)) -> u64 {
    dev_ino.0.rotate_left(32) ^ dev_ino.1 ^ 1
}

/// Records lost so far, and the reason for the first (0 when none).
pub fn lost() -> (u64, i32) {
    (
        LOST.load(Ordering::Relaxed),
        LOST_WHY.load(Ordering::Relaxed),
    )
}

fn lose(why: i32) {
    LOST.fetch_add(1, Ordering::Relaxed);
    let _ = LOST_WHY.compare_exchange(0, why, Ordering::Relaxed, Ordering::Relaxed);
}

/// In a fork child: the parent's lost records are not ours.
pub fn child_reset() {
    // Only what is not already 0: a store dirties the page, a copy-on-write fault per fork.
    if LOST.load(Ordering::Relaxed) != 0 {
        LOST.store(0, Ordering::Relaxed);
    }
    if LOST_WHY.load(Ordering::Relaxed) != 0 {
        LOST_WHY.store(0, Ordering::Relaxed);
    }
}

/// `fd` renumbered from [`HIGH_FD`] up (close-on-exec), or `fd` itself when that fails (a low
/// `RLIMIT_NOFILE`).
fn move_high(fd: i32) -> i32 {
    match sys::dup_high(fd, HIGH_FD) {
        Ok(h) => {
            sys::close(fd);
            h
        }
        Err(_) => fd,
    }
}

/// Opens the log directory (see [`DIRFD`]), once.
fn open_dir() {
    if DIRFD.load(Ordering::Relaxed) >= 0 {
        return;
    }
    let path = config::options().log_path();
    let Some(slash) = path.iter().rposition(|&c| c == b'/') else {
        return;
    };
    BASE_AT.store(slash + 1, Ordering::Relaxed);
    let mut dir = [0u8; PATH_MAX + 1];
    let n = if slash == 0 { 1 } else { slash };
    dir[..n].copy_from_slice(&path[..n]);
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    let Ok(fd) = sys::open(&dir[..=n], flags, 0) else {
        return;
    };
    let h = move_high(fd);
    if let Some(i) = sys::fstat_id(h) {
        DIR_ID.store(id(i), Ordering::Relaxed);
        DIRFD.store(h, Ordering::Release);
    }
}

/// Opens (creating it, `O_EXCL` first) the log file `name` (the full path; its file-name part
/// starts at [`BASE_AT`]) relative to the log directory, or by path when the directory fd is gone.
fn open_log(name: &[u8]) -> (Result<i32, i32>, bool) {
    let flags =
        libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    let d = DIRFD.load(Ordering::Acquire);
    let (dir, name) = if d >= 0 && sys::fstat_id(d).map(id) == Some(DIR_ID.load(Ordering::Relaxed))
    {
        (d, &name[BASE_AT.load(Ordering::Relaxed)..])
    } else {
        (sys::AT_FDCWD as i32, name)
    };
    // Created now (O_EXCL): the file's first record must be a start record.
    match sys::openat(dir, name, flags | libc::O_EXCL, 0o600) {
        Ok(fd) => (Ok(fd), true),
        Err(libc::EEXIST) => (sys::openat(dir, name, flags, 0o600), false),
        Err(e) => (Err(e), false),
    }
}

/// The kept log file ([`keep_open`]), if the fd still is that file: this process's own, or one an
/// ancestor kept and this fork child inherited — where the child's records go when it cannot
/// create its own (the ancestor dropped privileges, so the root-owned 0700 directory refuses the
/// new uid; or a filter forbids `open`). Records carry their pid, and `assafe report` reads every
/// pid's records from any file.
fn kept_fd() -> Option<i32> {
    let fd = OWN_FD.load(Ordering::Relaxed);
    if fd < 0 {
        return None;
    }
    if sys::restricted() {
        // No fstat under a filter: the fd was taken just before it (documented limitation: a
        // program that closes it under its filter is not noticed).
        return Some(fd);
    }
    (sys::fstat_id(fd).map(id) == Some(OWN_ID.load(Ordering::Relaxed))).then_some(fd)
}

/// This process's kept log file, if it has one and it is still ours.
fn own_fd() -> Option<i32> {
    if OWN_FD.load(Ordering::Relaxed) < 0 || OWN_PID.load(Ordering::Relaxed) != sys::getpid() {
        return None;
    }
    kept_fd()
}

/// The process that last put its start record into an ancestor's kept file ([`kept_fd`]).
#[unsafe(link_section = "assafe_hot")]
static ADOPTED: AtomicI32 = AtomicI32::new(0);

/// For an exec: this process's kept file (fd, identity), if it has one. The new image is the same
/// pid, so the file is the one it would write anyway; it may no longer reach it by path (a chroot,
/// or a uid the 0700 directory refuses), so the exec hands the fd over ([`adopt_kept`]).
pub fn kept_file() -> Option<(i32, u64)> {
    let fd = own_fd()?;
    Some((fd, OWN_ID.load(Ordering::Relaxed)))
}

/// At load: take over the file the previous image of this process kept and handed over through
/// the exec (see [`kept_file`]), if `fd` still is that file; close-on-exec again from now on.
pub fn adopt_kept(fd: i32, file_id: u64) -> bool {
    if fd < HIGH_FD || sys::fstat_id(fd).map(id) != Some(file_id) {
        return false;
    }
    let _ = sys::set_cloexec(fd, true);
    OWN_ID.store(file_id, Ordering::Relaxed);
    OWN_PID.store(sys::getpid(), Ordering::Relaxed);
    OWN_FD.store(fd, Ordering::Relaxed);
    true
}

/// `log.<pid>` (NUL-terminated) into `name`; returns its length with the NUL.
fn own_name(name: &mut [u8]) -> usize {
    let mut nb = Buf::new(name);
    nb.bytes(config::options().log_path())
        .c(b'.')
        .u(sys::getpid() as u64)
        .c(0);
    nb.len()
}

/// Opens this process's log file now and keeps it open (close-on-exec), so that records still
/// reach it after a seccomp filter, a `chroot`, a new mount namespace or a change of uid. A new
/// file gets its start record at once.
pub fn keep_open() {
    let o = config::options();
    if o.log_path().is_empty() || sys::restricted() || tls::state() & tls::VFORK_CHILD != 0 {
        // (A vfork child shares these statics with its parent.)
        return;
    }
    open_dir();
    if own_fd().is_some() {
        return;
    }
    let mut name = [0u8; PATH_MAX + 16];
    let n = own_name(&mut name);
    let (Ok(fd), new) = open_log(&name[..n]) else {
        return;
    };
    if new && o.json() {
        let mut mem = [0u8; START_ROOM];
        let l = start_in_front(&mut mem);
        let _ = sys::write_all(fd, &mem[START_ROOM - l..]);
    }
    let h = move_high(fd);
    if let Some(i) = sys::fstat_id(h) {
        OWN_ID.store(id(i), Ordering::Relaxed);
        OWN_PID.store(sys::getpid(), Ordering::Relaxed);
        if let Ok(old) = u32::try_from(OWN_FD.swap(h, Ordering::Relaxed)) {
            // An ancestor's kept file (inherited through fork): not ours to write.
            sys::close(old as i32);
        }
    }
}

/// The record memory and private stack of this process: one per process, taken with an atomic
/// flag (never waited for: a writer that finds it taken maps its own, or, where a seccomp filter
/// may forbid `mmap`, uses a small stack buffer). Reused, so that a record costs no `mmap` and
/// `munmap` and no page faults after the first (a vfork child shares its parent's: a shell's
/// children, each reporting its `malloc`, paid ~10 page faults and a TLB shootdown per record).
#[repr(C, align(16))]
struct Spare(UnsafeCell<[u8; MAP_LEN + STACK_LEN]>);
// SAFETY: the memory is used only by the holder of SPARE_BUSY.
unsafe impl Sync for Spare {}
static SPARE: Spare = Spare(UnsafeCell::new([0; MAP_LEN + STACK_LEN]));
#[unsafe(link_section = "assafe_hot")]
static SPARE_BUSY: AtomicBool = AtomicBool::new(false);

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
/// `f` runs on a private stack (the record buffer below it): the process's spare memory, or a
/// fresh anonymous mapping when another writer holds it, so that unwinding and formatting never
/// overflow a small `sigaltstack` a handler may be running on.
fn emit_to(sink: Sink, f: impl FnOnce(&mut Buf)) {
    if !SPARE_BUSY.swap(true, Ordering::Acquire) {
        // SAFETY: SPARE is 16-byte aligned and MAP_LEN + STACK_LEN long, and ours while
        // SPARE_BUSY is held.
        unsafe { format_on_private_stack(SPARE.0.get() as *mut u8, sink, f) };
        SPARE_BUSY.store(false, Ordering::Release);
        return;
    }
    let mapped = if sys::restricted() {
        None
    } else {
        sys::mmap_anon(MAP_LEN + STACK_LEN)
    };
    match mapped {
        Some(p) => {
            // SAFETY: our fresh private mapping, page-aligned, MAP_LEN + STACK_LEN long.
            unsafe { format_on_private_stack(p, sink, f) };
            // SAFETY: the mapping came from mmap_anon and nothing refers to it any more.
            unsafe { sys::munmap(p, MAP_LEN + STACK_LEN) };
        }
        None => {
            let mut mem = [0u8; 1024];
            format_and_write(sink, &mut mem, START_ROOM_SMALL, f);
        }
    }
}

/// Formats and writes the record in the first MAP_LEN bytes of `p`, running on a stack made of
/// the STACK_LEN bytes above them.
///
/// # Safety
/// `p` must be 16-byte aligned and point to MAP_LEN + STACK_LEN writable bytes that nothing else
/// uses during the call.
unsafe fn format_on_private_stack(p: *mut u8, sink: Sink, f: impl FnOnce(&mut Buf)) {
    let mut job = Some(|| {
        // SAFETY: the first MAP_LEN bytes of `p` (the caller's contract); the stack we run on is
        // the part above them.
        let mem = unsafe { core::slice::from_raw_parts_mut(p, MAP_LEN) };
        format_and_write(sink, mem, START_ROOM, f);
    });
    // SAFETY: `p`'s end is 16-byte aligned (p and MAP_LEN + STACK_LEN are) with STACK_LEN free
    // bytes below it (the caller's contract).
    unsafe { on_stack(&mut job, p.add(MAP_LEN + STACK_LEN)) };
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
    let name_len = own_name(&mut name);
    let (opened, new, keep) = match own_fd() {
        Some(fd) => (Ok(fd), false, true),
        None => {
            let (r, new) = if sys::restricted() {
                (Err(WHY_SECCOMP), false)
            } else {
                open_log(&name[..name_len])
            };
            // A fork child of a process that kept its file (it dropped privileges, installed a
            // filter…) and cannot create its own: append to the ancestor's file, this process's
            // own start record in front of its first record there. (Asked only on failure.)
            match r.map_err(|e| (e, kept_fd())) {
                Err((_, Some(fd))) => {
                    let me = sys::getpid();
                    let first = ADOPTED.swap(me, Ordering::Relaxed) != me;
                    (Ok(fd), first, true)
                }
                r => (r.map_err(|(e, _)| e), new, false),
            }
        }
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
            if !keep {
                sys::close(fd);
            }
            if let Err(e) = r {
                lose(e);
            }
        }
        Err(e) => lose(e),
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
