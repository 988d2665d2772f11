//! The bottom layer: the machine and the kernel. Raw system calls, the per-thread state byte,
//! formatting into caller buffers, ELF symbol lookup, and (in `arch/`) every line of assembly.
//! Nothing here knows about contexts, options or reports.

pub mod arch;
pub mod elf;
pub use assafe_pure::fmt;
pub mod sys;
pub mod tls;

unsafe extern "C" {
    /// Start of this library's ELF header (defined by the linker): its load base.
    static __ehdr_start: u8;
    /// End of this library's image (defined by the linker after `.bss`; local: the version
    /// script exports only the stubs).
    static _end: u8;
}

/// This library's load base (the linker-defined `__ehdr_start`; taking its address reads nothing).
pub fn self_base() -> usize {
    (&raw const __ehdr_start) as usize
}

/// Is `addr` inside libassafe itself? Two compares against the linker's bounds of the image (a
/// module-table lookup per frame cost every fork ~4 k instructions: the fork's stack drops the
/// library's own frames).
pub fn in_self(addr: usize) -> bool {
    (self_base()..(&raw const _end) as usize).contains(&addr)
}

/// The name of signal `sig` (`"SIGUSR1"`), or `"SIG?"`.
pub fn signame(sig: i32) -> &'static str {
    const NAMES: [&str; 32] = [
        "SIG0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    if (0..32).contains(&sig) {
        NAMES[sig as usize]
    } else if (32..=64).contains(&sig) {
        "SIGRT"
    } else {
        "SIG?"
    }
}
