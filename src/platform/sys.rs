//! Raw Linux system calls (the instruction and the numbers are in `platform::arch`).
//!
//! Everything the library does inside a fork child, a vfork child or a signal handler goes through
//! these: no libc function is called (libc's wrappers are safe too, but several of the names are
//! exported by this very library, and going straight to the kernel keeps `errno` untouched).

use core::sync::atomic::{AtomicI32, AtomicU8, AtomicUsize, Ordering};

use super::arch::{self, nr};

// ---- restricted mode: a seccomp filter is (or may be) in force ----
//
// A filter may kill the process on any system call it does not list. Once the library knows (or
// suspects) that one is in force, the functions below make no system call but `read` and `write`
// (the ones every practical filter allows, e.g. OpenSSH's pre-auth child, Chromium's renderers):
// `getpid`/`getppid` answer from values cached before the filter, `gettid` answers 0 (unknown),
// and `open`, `readlink`, `mmap_anon` and the file-size check fail without a system call.
//
// Whether a filter came with the exec (systemd's `SystemCallFilter=`, a sandboxing parent) is
// learnt from `/proc/self/status` when the library first needs to know, not at load: most
// processes of a build never make a system call the answer gates, and the read (the first
// `/proc` access of a new process) was the largest single cost of loading the library. It is
// read with the calls the loader itself made (`openat`, `read`, `close`), so a filter that let
// the program start allows them. A filter the program installs through a call the library sees
// (`prctl`, `seccomp`, `syscall`) sets the state directly (`contexts::sandbox`).

/// Not learnt yet.
const UNKNOWN: u8 = 0;
/// Being learnt (by one thread): the gated calls go on as before a filter is known, so that the
/// preparations for one (opening the log file, the unwinder's pipe) can still be made.
const LEARNING: u8 = 1;
/// No filter.
const FREE: u8 = 2;
/// A filter is (or may be) in force.
const FILTERED: u8 = 3;

#[unsafe(link_section = "assafe_hot")]
static SECCOMP: AtomicU8 = AtomicU8::new(UNKNOWN);
/// What to do first when a filter is found: `contexts::sandbox::restrict`'s preparations, which
/// end in [`enter_restricted`] (registered by `init`, 0 before).
#[unsafe(link_section = "assafe_hot")]
static ON_FILTER: AtomicUsize = AtomicUsize::new(0);
/// This process's pid and parent as cached by [`enter_restricted`] (0: unknown, e.g. in a fork
/// child made under the filter).
#[unsafe(link_section = "assafe_hot")]
static PID: AtomicI32 = AtomicI32::new(0);
#[unsafe(link_section = "assafe_hot")]
static PPID: AtomicI32 = AtomicI32::new(0);

/// Is a seccomp filter (possibly) in force? Then only `read`/`write` may be used. Learns the
/// answer on first use.
#[inline]
pub fn restricted() -> bool {
    match SECCOMP.load(Ordering::Acquire) {
        FREE | LEARNING => false,
        FILTERED => true,
        _ => learn(),
    }
}

/// Registers what a found filter needs first (called once, at load).
pub fn on_filter(f: fn()) {
    ON_FILTER.store(f as usize, Ordering::Release);
}

/// Tells what `/proc/self/status` said, when the caller read it for its own purposes (the
/// constructor after an early initialisation): saves a second read.
pub fn learnt(filtered: bool) {
    if SECCOMP
        .compare_exchange(UNKNOWN, LEARNING, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        settle(filtered);
    }
}

/// Reads `/proc/self/status` once and sets the state. One thread learns; another, or a handler
/// that interrupts the learner, acts as before a filter was known (as every call did before this
/// check was made lazily, at load). Async-signal-safe: raw system calls, a small stack buffer.
#[cold]
#[inline(never)]
fn learn() -> bool {
    if SECCOMP
        .compare_exchange(UNKNOWN, LEARNING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return SECCOMP.load(Ordering::Acquire) == FILTERED;
    }
    // Without /proc nothing is known: as at load before, no filter is assumed.
    let filtered = read_status().is_some_and(|s| s.seccomp);
    settle(filtered);
    filtered
}

/// In state LEARNING (this caller moved it there): the answer. A filter in force is prepared
/// for, then the library restricts itself.
fn settle(filtered: bool) {
    if !filtered {
        SECCOMP.store(FREE, Ordering::Release);
        return;
    }
    let f = ON_FILTER.load(Ordering::Acquire);
    if f != 0 {
        // SAFETY: ON_FILTER holds 0 or a `fn()` stored by on_filter.
        let f: fn() = unsafe { core::mem::transmute::<usize, fn()>(f) };
        f();
    }
    enter_restricted();
}

/// Learns now, if not yet, whether a seccomp filter is in force (for a caller about to let
/// the unwinder choose how it reads memory: `assafe_unwind::set_before_read`).
pub fn settle_filter() {
    let _ = restricted();
}

/// What `/proc/self/status` says: a seccomp filter in force (`Seccomp:` not 0), and the signals
/// with a handler (`SigCgt`, all when the line cannot be read).
pub struct Status {
    pub seccomp: bool,
    pub signals: u64,
}

/// Reads `/proc/self/status` with `openat`, `read` and `close` (never gated: see above), in
/// 512-byte pieces (a handler may run on a small alternate stack). `None` without `/proc`.
pub fn read_status() -> Option<Status> {
    use assafe_pure::proc_stat::{parse_mask, status_values};
    let fd = openat_ungated(
        AT_FDCWD as i32,
        b"/proc/self/status\0",
        libc::O_RDONLY | libc::O_CLOEXEC,
        0,
    )
    .ok()?;
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 512];
    // Each line once found: `Seccomp:` (a mode other than 0), `SigCgt:` (None if unparsable).
    let mut seccomp: Option<bool> = None;
    let mut cgt: Option<Option<u64>> = None;
    let (mut have, mut skip) = (0usize, false);
    while seccomp.is_none() || cgt.is_none() {
        let n = match read_uninit(fd, &mut buf[have..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => have + k.min(buf.len() - have),
        };
        // SAFETY: the kernel initialised the first n bytes (the reads above, each within bounds).
        let s = unsafe { core::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
        // Whole lines only; the rest moves to the front for the next read. A line longer than
        // the buffer (a CPU mask on a very large machine) is skipped up to its end.
        let mut start = 0;
        if skip {
            match s.iter().position(|&c| c == b'\n') {
                Some(i) => (start, skip) = (i + 1, false),
                None => {
                    have = 0;
                    continue;
                }
            }
        }
        let end = s
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(start, |i| (i + 1).max(start));
        let [sc, cg] = status_values(&s[start..end], [b"Seccomp:", b"SigCgt:"]);
        if let Some(v) = sc {
            seccomp = Some(v.first().is_some_and(|&c| c != b'0'));
        }
        if let Some(v) = cg {
            cgt = Some(parse_mask(v));
        }
        let rest = n - end;
        if rest == buf.len() {
            (skip, have) = (true, 0);
            continue;
        }
        buf.copy_within(end..n, 0);
        have = rest;
    }
    close(fd);
    Some(Status {
        seccomp: seccomp.unwrap_or(false),
        // SIGCHLD always: its flags (SA_NOCLDWAIT) matter even with the default action.
        signals: cgt
            .flatten()
            .map_or(u64::MAX, |m| m | 1 << (libc::SIGCHLD - 1)),
    })
}

/// From now on make only the system calls a strict seccomp filter allows. Call while system calls
/// are still allowed (the pid and parent are cached now).
pub fn enter_restricted() {
    if SECCOMP.load(Ordering::Acquire) != FILTERED {
        PID.store(raw_getpid(), Ordering::Relaxed);
        PPID.store(raw_getppid(), Ordering::Relaxed);
        SECCOMP.store(FILTERED, Ordering::Release);
    }
}

/// In a fork child of a restricted process: its pid cannot be asked for.
pub fn forget_pid() {
    PID.store(0, Ordering::Relaxed);
    PPID.store(0, Ordering::Relaxed);
}

pub const AT_FDCWD: isize = -100;

/// Result of a raw system call: `Err(errno)` for the kernel's -4095..-1 range.
pub type SysResult = Result<usize, i32>;

#[inline(always)]
fn check(ret: usize) -> SysResult {
    if ret > (-4096isize) as usize {
        Err(-(ret as isize) as i32)
    } else {
        Ok(ret)
    }
}

/// # Safety
/// The arguments must be valid for system call `n`.
#[inline(always)]
pub unsafe fn syscall6(n: usize, a: [usize; 6]) -> SysResult {
    // SAFETY: forwarded contract.
    check(unsafe { arch::syscall6(n, a) })
}

/// # Safety
/// The arguments must be valid for system call `n`.
#[inline(always)]
pub unsafe fn syscall3(n: usize, a0: usize, a1: usize, a2: usize) -> SysResult {
    // SAFETY: forwarded contract.
    unsafe { syscall6(n, [a0, a1, a2, 0, 0, 0]) }
}

fn raw_getpid() -> i32 {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { syscall3(nr::GETPID, 0, 0, 0).unwrap_or(0) as i32 }
}

fn raw_getppid() -> i32 {
    // SAFETY: getppid takes no arguments and cannot fail.
    unsafe { syscall3(nr::GETPPID, 0, 0, 0).unwrap_or(0) as i32 }
}

/// The pid (cached, possibly 0 = unknown, when [`restricted`]).
///
/// Does not learn whether a filter came with the exec: `getpid` and `getppid` are made under one
/// anyway when it is found (their values are cached then), so asking first would protect nothing.
pub fn getpid() -> i32 {
    if SECCOMP.load(Ordering::Acquire) == FILTERED {
        return PID.load(Ordering::Relaxed);
    }
    raw_getpid()
}

/// The parent's pid (cached when [`restricted`]; does not learn, as [`getpid`]).
pub fn getppid() -> i32 {
    if SECCOMP.load(Ordering::Acquire) == FILTERED {
        return PPID.load(Ordering::Relaxed);
    }
    raw_getppid()
}

/// The thread id (0 = unknown when [`restricted`]).
pub fn gettid() -> i32 {
    if restricted() {
        return 0;
    }
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { syscall3(nr::GETTID, 0, 0, 0).unwrap_or(0) as i32 }
}

/// `openat(dir, path, flags, mode)`; `path` must be NUL-terminated. Fails with `EPERM` without a
/// system call when [`restricted`].
pub fn openat(dir: i32, path: &[u8], flags: i32, mode: u32) -> Result<i32, i32> {
    if path.last() != Some(&0) {
        return Err(libc::EINVAL);
    }
    if restricted() {
        return Err(libc::EPERM);
    }
    openat_ungated(dir, path, flags, mode)
}

/// [`openat`] without the seccomp gate, for `/proc/self/status` (read to learn the answer,
/// with the call the loader itself made). `path` must be NUL-terminated.
fn openat_ungated(dir: i32, path: &[u8], flags: i32, mode: u32) -> Result<i32, i32> {
    debug_assert_eq!(path.last(), Some(&0));
    loop {
        // SAFETY: path is a NUL-terminated byte string that outlives the call.
        match unsafe {
            syscall6(
                nr::OPENAT,
                [
                    dir as isize as usize,
                    path.as_ptr() as usize,
                    flags as usize,
                    mode as usize,
                    0,
                    0,
                ],
            )
        } {
            Ok(fd) => return Ok(fd as i32),
            Err(libc::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, min)`: a close-on-exec duplicate of `fd` numbered `min` or above.
pub fn dup_high(fd: i32, min: i32) -> Result<i32, i32> {
    // SAFETY: fcntl with integer arguments only.
    unsafe {
        syscall3(
            nr::FCNTL,
            fd as usize,
            libc::F_DUPFD_CLOEXEC as usize,
            min as usize,
        )
    }
    .map(|f| f as i32)
}

/// Sets or clears `FD_CLOEXEC` on `fd` (`fcntl(fd, F_SETFD, …)`).
pub fn set_cloexec(fd: i32, on: bool) -> SysResult {
    // SAFETY: fcntl with integer arguments only.
    unsafe {
        syscall3(
            nr::FCNTL,
            fd as usize,
            libc::F_SETFD as usize,
            if on { libc::FD_CLOEXEC as usize } else { 0 },
        )
    }
}

/// (device, inode) of an open fd. Asked with the call the C library's loader made for every
/// library it mapped (so a seccomp filter that came with the exec allowed it): it does not learn
/// whether one did ([`restricted`]), which would cost the first `/proc` access to every process
/// that opens a file without close-on-exec (`cat`, the compilers: the fd-leak check notes it).
/// `None` under a known filter.
pub fn fstat_id(fd: i32) -> Option<(u64, u64)> {
    if SECCOMP.load(Ordering::Acquire) == FILTERED {
        return None;
    }
    let mut st = [0u64; 18]; // struct stat is 144 bytes on x86_64 (128 on aarch64)
    if loader_uses_fstatat() {
        // SAFETY: newfstatat(fd, "", buf, AT_EMPTY_PATH) into a buffer of the kernel's struct
        // stat size; the empty path is a NUL-terminated static.
        unsafe {
            syscall6(
                nr::NEWFSTATAT,
                [
                    fd as usize,
                    c"".as_ptr() as usize,
                    st.as_mut_ptr() as usize,
                    libc::AT_EMPTY_PATH as usize,
                    0,
                    0,
                ],
            )
        }
        .ok()?;
    } else {
        // SAFETY: fstat into a buffer of the kernel's struct stat size.
        unsafe { syscall3(nr::FSTAT, fd as usize, st.as_mut_ptr() as usize, 0) }.ok()?;
    }
    Some((st[0], st[1]))
}

/// Does the C library's loader ask for a file's status with `newfstatat(fd, "", AT_EMPTY_PATH)`
/// (glibc 2.33 and later) rather than `fstat` (older glibc, musl)? Read once from
/// `gnu_get_libc_version()` (the address of a constant string: no lock, no allocation).
fn loader_uses_fstatat() -> bool {
    #[cfg(target_env = "musl")]
    {
        false
    }
    #[cfg(not(target_env = "musl"))]
    {
        // 0: not read yet, 1: fstat, 2: newfstatat.
        #[unsafe(link_section = "assafe_hot")]
        static CALL: AtomicU8 = AtomicU8::new(0);
        match CALL.load(Ordering::Relaxed) {
            1 => return false,
            2 => return true,
            _ => {}
        }
        unsafe extern "C" {
            fn gnu_get_libc_version() -> *const core::ffi::c_char;
        }
        // SAFETY: glibc's `const char *gnu_get_libc_version(void)`: the address of a constant,
        // NUL-terminated version string ("2.36").
        let v = unsafe { core::ffi::CStr::from_ptr(gnu_get_libc_version()) }.to_bytes();
        let at = assafe_pure::libc_version::at_least(v, 2, 33);
        CALL.store(if at { 2 } else { 1 }, Ordering::Relaxed);
        at
    }
}

/// The link count of `path` (NUL-terminated), from `newfstatat`; `None` when it cannot be had
/// (or in restricted mode).
pub fn link_count(path: &[u8]) -> Option<u64> {
    if path.last() != Some(&0) || restricted() {
        return None;
    }
    // SAFETY: all-zero is a valid struct stat (plain integers).
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: path is NUL-terminated and outlives the call; st is a writable struct stat of the
    // layout the kernel fills for this architecture.
    unsafe {
        syscall6(
            nr::NEWFSTATAT,
            [
                AT_FDCWD as usize,
                path.as_ptr() as usize,
                (&raw mut st) as usize,
                0,
                0,
                0,
            ],
        )
    }
    .ok()?;
    Some(st.st_nlink as u64)
}

/// `read` into uninitialised memory (no zeroing pass first: at load every instruction counts);
/// the first `Ok(n)` bytes of `buf` are then initialised (allowed in restricted mode).
pub fn read_uninit(fd: i32, buf: &mut [core::mem::MaybeUninit<u8>]) -> SysResult {
    // SAFETY: buf is valid writable memory of buf.len() bytes; the kernel only writes to it.
    unsafe { syscall3(nr::READ, fd as usize, buf.as_mut_ptr() as usize, buf.len()) }
}

pub fn sched_yield() {
    // SAFETY: sched_yield takes no arguments.
    let _ = unsafe { syscall3(nr::SCHED_YIELD, 0, 0, 0) };
}

/// Writes all of `buf` to `fd`, retrying on EINTR and short writes.
pub fn write_all(fd: i32, mut buf: &[u8]) -> Result<(), i32> {
    while !buf.is_empty() {
        // SAFETY: buf is a valid readable slice of buf.len() bytes.
        match unsafe { syscall3(nr::WRITE, fd as usize, buf.as_ptr() as usize, buf.len()) } {
            Ok(0) => return Err(libc::EIO),
            Ok(n) => buf = &buf[n.min(buf.len())..],
            Err(libc::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `openat(AT_FDCWD, path, flags, mode)`; `path` must be NUL-terminated.
pub fn open(path: &[u8], flags: i32, mode: u32) -> Result<i32, i32> {
    openat(AT_FDCWD as i32, path, flags, mode)
}

pub fn close(fd: i32) {
    // SAFETY: closing an fd we opened ourselves; no memory is passed.
    let _ = unsafe { syscall3(nr::CLOSE, fd as usize, 0, 0) };
}

/// `pread64` into `buf`; returns the number of bytes read.
pub fn pread(fd: i32, buf: &mut [u8], off: usize) -> Result<usize, i32> {
    // SAFETY: buf is a valid writable slice of buf.len() bytes.
    unsafe {
        syscall6(
            nr::PREAD64,
            [fd as usize, buf.as_mut_ptr() as usize, buf.len(), off, 0, 0],
        )
    }
}

/// `readlink(path)` into `buf` (as `readlinkat(AT_FDCWD, …)`, which every architecture has);
/// returns the length (not NUL-terminated).
pub fn readlink(path: &[u8], buf: &mut [u8]) -> Result<usize, i32> {
    if path.last() != Some(&0) {
        return Err(libc::EINVAL);
    }
    if restricted() {
        return Err(libc::EPERM);
    }
    // SAFETY: path is NUL-terminated (checked), buf is a valid writable slice.
    unsafe {
        syscall6(
            nr::READLINKAT,
            [
                AT_FDCWD as usize,
                path.as_ptr() as usize,
                buf.as_mut_ptr() as usize,
                buf.len(),
                0,
                0,
            ],
        )
    }
}

/// Anonymous private read-write mapping of `len` bytes.
pub fn mmap_anon(len: usize) -> Option<*mut u8> {
    if restricted() {
        return None;
    }
    // SAFETY: an anonymous mapping at a kernel-chosen address touches no existing memory.
    let r = unsafe {
        syscall6(
            nr::MMAP,
            [
                0,
                len,
                (libc::PROT_READ | libc::PROT_WRITE) as usize,
                (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as usize,
                usize::MAX,
                0,
            ],
        )
    };
    r.ok().map(|a| a as *mut u8)
}

/// # Safety
/// `[p, p+len)` must be a mapping obtained from [`mmap_anon`] that nothing uses any more.
pub unsafe fn munmap(p: *mut u8, len: usize) {
    // SAFETY: forwarded contract.
    let _ = unsafe { syscall3(nr::MUNMAP, p as usize, len, 0) };
}

/// # Safety
/// `[p, p+len)` must be a mapping owned by the library.
pub unsafe fn madvise(p: *mut u8, len: usize, advice: i32) -> SysResult {
    // SAFETY: forwarded contract.
    unsafe { syscall3(nr::MADVISE, p as usize, len, advice as usize) }
}

pub fn exit_group(code: i32) -> ! {
    loop {
        // SAFETY: exit_group ends the process; it does not return.
        let _ = unsafe { syscall3(nr::EXIT_GROUP, code as usize, 0, 0) };
    }
}

/// Sends `sig` to the calling thread.
pub fn raise(sig: i32) {
    // SAFETY: tgkill on our own pid/tid with a valid signal number.
    let _ = unsafe {
        syscall3(
            nr::TGKILL,
            getpid() as usize,
            gettid() as usize,
            sig as usize,
        )
    };
}

/// Kernel `struct sigaction` layout for `rt_sigaction` (x86_64 and aarch64: both have
/// `sa_restorer`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct KSigaction {
    pub handler: usize,
    pub flags: u64,
    pub restorer: usize,
    pub mask: u64,
}

/// # Safety
/// `act`/`old` must be null or valid kernel sigaction structs.
pub unsafe fn rt_sigaction(sig: i32, act: *const KSigaction, old: *mut KSigaction) -> SysResult {
    // SAFETY: forwarded contract; the kernel's sigset is 8 bytes on x86_64 and aarch64.
    unsafe {
        syscall6(
            nr::RT_SIGACTION,
            [sig as usize, act as usize, old as usize, 8, 0, 0],
        )
    }
}

/// # Safety
/// `set`/`old` must be null or point to 8-byte kernel signal masks.
pub unsafe fn rt_sigprocmask(how: i32, set: *const u64, old: *mut u64) -> SysResult {
    // SAFETY: forwarded contract.
    unsafe {
        syscall6(
            nr::RT_SIGPROCMASK,
            [how as usize, set as usize, old as usize, 8, 0, 0],
        )
    }
}

/// Aborts the process the way `abort()` would, without calling libc: restore the default
/// SIGABRT action, unblock it, raise it; fall back to `exit_group(134)`. Under a seccomp filter
/// ([`restricted`]) straight `exit_group(134)`: the other calls may be forbidden, and a filter
/// that kills on them would turn a requested halt into SIGSYS.
pub fn abort() -> ! {
    if restricted() {
        exit_group(134)
    }
    let dfl = KSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    let unblock: u64 = 1 << (libc::SIGABRT - 1);
    // SAFETY: valid structs on our stack.
    unsafe {
        let _ = rt_sigaction(libc::SIGABRT, &dfl, core::ptr::null_mut());
        let _ = rt_sigprocmask(libc::SIG_UNBLOCK, &unblock, core::ptr::null_mut());
    }
    raise(libc::SIGABRT);
    exit_group(134)
}

/// Would writing `len` more bytes at the end of `fd` exceed `RLIMIT_FSIZE`? (The kernel would
/// then send SIGXFSZ, whose default action kills the host program: never let our own write do
/// that.) Non-regular files have no size limit.
pub fn exceeds_fsize_limit(fd: i32, len: usize) -> bool {
    if restricted() {
        // Checked when the log file was opened before the filter (see reporting::sink).
        return false;
    }
    let mut lim = [0u64; 2];
    // SAFETY: prlimit64 on ourselves (pid 0), read-only, into a valid 16-byte rlimit.
    if unsafe {
        syscall6(
            nr::PRLIMIT64,
            [
                0,
                libc::RLIMIT_FSIZE as usize,
                0,
                lim.as_mut_ptr() as usize,
                0,
                0,
            ],
        )
    }
    .is_err()
    {
        return false;
    }
    if lim[0] == u64::MAX {
        return false;
    }
    // SAFETY: all-zero bytes are a valid `struct stat` (plain integers).
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fstat into the kernel's struct stat of this architecture (the libc crate's).
    if unsafe { syscall3(nr::FSTAT, fd as usize, (&raw mut st) as usize, 0) }.is_err() {
        return false;
    }
    st.st_mode & libc::S_IFMT == libc::S_IFREG
        && (st.st_size as u64).saturating_add(len as u64) > lim[0]
}

/// `getcwd` into `buf`; returns the length including the NUL.
pub fn getcwd(buf: &mut [u8]) -> SysResult {
    // SAFETY: buf is a valid writable slice.
    unsafe { syscall3(nr::GETCWD, buf.as_mut_ptr() as usize, buf.len(), 0) }
}
