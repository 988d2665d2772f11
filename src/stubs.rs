//! The interposition stubs (generated from `symbols.txt` by `build.rs`) and their common slow path.
//!
//! Fast path of every stub (4 instructions, no stack, no call):
//! ```text
//!   mov r11, [rip + assafe_tls@GOTTPOFF]   ; initial-exec TLS offset
//!   cmp byte ptr fs:[r11], 0               ; any context flag on this thread?
//!   jne slow
//!   jmp [rip + SLOTS + 8*i]                ; tail-jump to the real function
//! ```
//! Only r11 and the flags change, so `%al` (variadic calls), stack arguments and the return
//! address reach the real function intact. "Cold" (non-hot) stubs add one more test: a byte on a
//! `MADV_WIPEONFORK` page that the kernel zeroes in the child of any fork, so a fork made with a
//! raw `clone` syscall is still noticed by the first cold call in the child.
//!
//! The slow path saves every argument register, calls [`slow`] with the symbol's index and the
//! saved frame, restores the registers and jumps to the address [`slow`] returned: the real
//! function, or a hand-written wrapper (fork, vfork…), with the stack exactly as at entry.

use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::tls;

#[allow(dead_code)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Unsafe,
    Fork,
    UFork,
    Vfork,
    Exec,
    Exit,
    UExit,
    Sigaction,
    Jmp,
    Cancel,
    Dlopen,
}

pub mod generated {
    #![allow(clippy::all, non_snake_case)]
    use super::Class;
    include!(concat!(env!("OUT_DIR"), "/generated.rs"));
}

pub use generated::{CLASS, FLAGS, NAMES, NSYMS, REASONS};

pub const F_POSIX_UNSAFE: u8 = 1;
pub const F_GLIBC_UNSAFE: u8 = 2;
pub const F_HOT: u8 = 4;

/// Real function addresses, filled at load by [`resolve_all`].
pub static SLOTS: [AtomicUsize; NSYMS] = [const { AtomicUsize::new(0) }; NSYMS];

static ALIVE_FALLBACK: u8 = 1;
/// Points to a byte that reads 1 in a process that has not forked behind our back: a byte on a
/// `MADV_WIPEONFORK` page once [`crate::fork::arm`] has run, this constant before.
pub static ALIVE: AtomicPtr<u8> = AtomicPtr::new(&raw const ALIVE_FALLBACK as *mut u8);

/// The argument registers and callee-saved registers at stub entry, as saved by [`slow_entry`].
#[repr(C)]
pub struct Frame {
    pub rdi: usize,
    pub rsi: usize,
    pub rdx: usize,
    pub rcx: usize,
    pub r8: usize,
    pub r9: usize,
    pub rax: usize,
    pub r10: usize,
    pub xmm: [u128; 8],
    pub rbx: usize,
    pub r12: usize,
    pub r13: usize,
    pub r14: usize,
    pub r15: usize,
    _pad: usize,
    /// The caller's rbp (pushed by the slow path).
    pub rbp: usize,
    /// The return address into the caller: the call site.
    pub ret: usize,
}

impl Frame {
    /// The caller's registers just after the call returns, for unwinding.
    pub fn regs(&self) -> assafe_unwind::Regs {
        assafe_unwind::Regs {
            rip: self.ret,
            rsp: (&self.ret as *const usize as usize) + 8,
            rbp: self.rbp,
            rbx: self.rbx,
            r12: self.r12,
            r13: self.r13,
            r14: self.r14,
            r15: self.r15,
        }
    }
}

/// Common slow path. Entry: r11 = symbol index, `[rsp]` = return address, arguments in registers.
#[unsafe(naked)]
pub unsafe extern "C" fn slow_entry() {
    core::arch::naked_asm!(
        "push rbp",
        "mov rbp, rsp",
        "sub rsp, 0xf0",
        "mov [rsp + 0x00], rdi",
        "mov [rsp + 0x08], rsi",
        "mov [rsp + 0x10], rdx",
        "mov [rsp + 0x18], rcx",
        "mov [rsp + 0x20], r8",
        "mov [rsp + 0x28], r9",
        "mov [rsp + 0x30], rax",
        "mov [rsp + 0x38], r10",
        "movaps [rsp + 0x40], xmm0",
        "movaps [rsp + 0x50], xmm1",
        "movaps [rsp + 0x60], xmm2",
        "movaps [rsp + 0x70], xmm3",
        "movaps [rsp + 0x80], xmm4",
        "movaps [rsp + 0x90], xmm5",
        "movaps [rsp + 0xa0], xmm6",
        "movaps [rsp + 0xb0], xmm7",
        "mov [rsp + 0xc0], rbx",
        "mov [rsp + 0xc8], r12",
        "mov [rsp + 0xd0], r13",
        "mov [rsp + 0xd8], r14",
        "mov [rsp + 0xe0], r15",
        "mov rdi, r11",
        "mov rsi, rsp",
        "call {slow}",
        "mov r11, rax",
        "mov rdi, [rsp + 0x00]",
        "mov rsi, [rsp + 0x08]",
        "mov rdx, [rsp + 0x10]",
        "mov rcx, [rsp + 0x18]",
        "mov r8, [rsp + 0x20]",
        "mov r9, [rsp + 0x28]",
        "mov rax, [rsp + 0x30]",
        "mov r10, [rsp + 0x38]",
        "movaps xmm0, [rsp + 0x40]",
        "movaps xmm1, [rsp + 0x50]",
        "movaps xmm2, [rsp + 0x60]",
        "movaps xmm3, [rsp + 0x70]",
        "movaps xmm4, [rsp + 0x80]",
        "movaps xmm5, [rsp + 0x90]",
        "movaps xmm6, [rsp + 0xa0]",
        "movaps xmm7, [rsp + 0xb0]",
        "mov rsp, rbp",
        "pop rbp",
        "jmp r11",
        slow = sym slow,
    );
}

/// The real function behind symbol `idx` (or a function that explains that it is missing).
#[inline]
pub fn real(idx: usize) -> usize {
    match SLOTS[idx].load(Ordering::Relaxed) {
        0 => missing as *const () as usize,
        a => a,
    }
}

/// Reached when a program calls an interposed name that this libc does not define.
extern "C" fn missing() -> ! {
    let _ = crate::sys::write_all(2, b"==ASSAFE== fatal: called a libc function that this libc does not define (symbols.txt names a newer glibc)\n");
    crate::sys::abort()
}

/// The slow path: decide whether the call needs checking, check it, and return where to go.
unsafe extern "C" fn slow(idx: usize, f: *mut Frame) -> usize {
    let st = tls::state();
    if st & tls::BUSY != 0 {
        // The library's own code (or a call it triggered) is running on this thread.
        return wrapper_or_real(idx);
    }
    tls::set(tls::BUSY);
    if st & tls::UNINIT != 0 {
        crate::init::ensure();
        tls::clear(tls::UNINIT);
        tls::set(crate::state::process_context());
    }
    if FLAGS[idx] & F_HOT == 0 {
        crate::fork::check_unseen_fork();
    }
    let ctx = tls::state() & tls::CONTEXT_MASK;
    let mut target = None;
    if ctx != 0 || CLASS[idx] != Class::Unsafe {
        // SAFETY: f points to the frame slow_entry saved on its own stack.
        target = crate::check::call(idx, ctx, unsafe { &*f });
    }
    let target = target.unwrap_or_else(|| wrapper_or_real(idx));
    tls::clear(tls::BUSY);
    target
}

/// Where an interposed call finally goes: a hand-written wrapper for the special classes, the
/// real function otherwise.
fn wrapper_or_real(idx: usize) -> usize {
    match CLASS[idx] {
        Class::Fork | Class::UFork => crate::fork::wrapper(idx),
        Class::Vfork => crate::fork::vfork_wrapper as *const () as usize,
        Class::Sigaction => crate::signal::wrapper(idx),
        Class::Jmp => crate::signal::jmp_wrapper(idx),
        Class::Cancel => crate::wrappers::setcanceltype as *const () as usize,
        Class::Dlopen => crate::wrappers::dl(idx),
        _ => real(idx),
    }
}

/// Fills every slot. Runs once, in normal context.
pub fn resolve_all() {
    // SAFETY: load time, normal context.
    let next = unsafe { crate::resolve::Next::new() };
    for i in 0..NSYMS {
        let name = NAMES[i];
        let vid = generated::VERSIONS[i] as usize;
        let (a, size) = next
            .lookup(&name[..name.len() - 1], vid, generated::VERSION_NAMES[vid])
            .unwrap_or((0, 0));
        SLOTS[i].store(a, Ordering::Relaxed);
        if size != 0
            && FLAGS[i] & (F_POSIX_UNSAFE | F_GLIBC_UNSAFE) != 0
            && CLASS[i] == Class::Unsafe
        {
            // SAFETY: RANGES is written only here, before initialisation is published as done.
            unsafe {
                (&raw mut RANGES)
                    .cast::<(usize, usize)>()
                    .add(i)
                    .write((a, a + size))
            };
        }
    }
}

/// Code ranges of the real unsafe functions (empty where unknown), to tell whether a signal
/// interrupted one of them.
static mut RANGES: [(usize, usize); NSYMS] = [(0, 0); NSYMS];

pub fn ranges() -> &'static [(usize, usize)] {
    // SAFETY: written only during initialisation, read-only afterwards.
    unsafe { (&raw const RANGES).as_ref().unwrap_unchecked() }
}

/// Pseudo symbol index for "a signal handler ran in a vfork child".
pub const HANDLER_IN_VFORK: usize = NSYMS;

/// The symbol's name without NUL.
pub fn name(idx: usize) -> &'static [u8] {
    match NAMES.get(idx) {
        Some(n) => &n[..n.len() - 1],
        None => b"(signal handler)",
    }
}
