//! x86_64: every line of assembly and every register name of the preload lives in this file
//! (the stub template that `build.rs` emits is the one other place; it is keyed by target arch
//! there). The rest of the crate reaches the machine through the small interface below:
//!
//! - [`syscall6`] and the system call numbers ([`nr`]);
//! - the thread's state byte in initial-exec TLS ([`tls_load`], [`tls_or`], [`tls_and`],
//!   [`tls_store`], [`thread_pointer`], [`thread_word`]);
//! - [`Frame`], the registers the slow path saved, read as "argument i" and "return address";
//! - the naked entry points, emitted by macros so that their targets can live in higher layers:
//!   [`define_slow_entry!`], [`define_vfork_wrapper!`] and [`define_caller_trampoline!`];
//! - [`lazy_trampolines`], the start of the block of lazy-resolution trampolines that
//!   `build.rs`'s stub template emits;
//! - [`switch_stack`], [`stack_pointer`], [`regs_of_ucontext`].

use core::arch::{asm, global_asm};

/// Linux x86_64 system call numbers.
pub mod nr {
    pub const READ: usize = 0;
    pub const WRITE: usize = 1;
    pub const CLOSE: usize = 3;
    pub const FSTAT: usize = 5;
    pub const NEWFSTATAT: usize = 262;
    pub const MMAP: usize = 9;
    pub const MUNMAP: usize = 11;
    pub const RT_SIGACTION: usize = 13;
    pub const RT_SIGPROCMASK: usize = 14;
    pub const PREAD64: usize = 17;
    pub const SCHED_YIELD: usize = 24;
    pub const MADVISE: usize = 28;
    pub const GETPID: usize = 39;
    pub const FCNTL: usize = 72;
    pub const GETCWD: usize = 79;
    pub const GETPPID: usize = 110;
    pub const GETTID: usize = 186;
    pub const EXIT_GROUP: usize = 231;
    pub const TGKILL: usize = 234;
    pub const OPENAT: usize = 257;
    pub const READLINKAT: usize = 267;
    pub const PRLIMIT64: usize = 302;
}

/// Raw system call; returns the kernel's raw result (-4095..-1 is an errno).
///
/// # Safety
/// The arguments must be valid for system call `n`.
#[inline(always)]
pub unsafe fn syscall6(n: usize, a: [usize; 6]) -> usize {
    let ret: usize;
    // SAFETY: the `syscall` instruction clobbers only rax (return), rcx and r11, all declared; the
    // caller guarantees the arguments are valid for this system call.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") n => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack)
        );
    }
    ret
}

// ---- thread-local state ----

/// Size of the per-thread block `assafe_tls` (see `platform::tls::Block`).
pub const TLS_BLOCK: usize = 384;
/// Byte 0 of every thread's block as the thread starts (`platform::tls::UNINIT`).
pub const TLS_INITIAL: u8 = 0x40;

// The block is defined in assembly in `.tdata` so that every access is initial-exec TLS
// (`fs:`-relative through a GOT slot filled at load): stable Rust cannot choose a TLS model, and
// `thread_local!` in a cdylib compiles to `__tls_get_addr` calls.
global_asm!(
    ".pushsection .tdata.assafe_tls,\"awT\",@progbits",
    ".balign 16",
    ".globl assafe_tls",
    ".hidden assafe_tls",
    ".type assafe_tls, @object",
    ".size assafe_tls, 384",
    "assafe_tls:",
    ".byte {initial}",
    ".zero 383",
    ".popsection",
    initial = const TLS_INITIAL,
);

#[inline(always)]
fn tp_offset() -> usize {
    let off: usize;
    // SAFETY: the GOT slot is filled by the dynamic loader (R_X86_64_TPOFF64) before any code of
    // this library runs, and reading it has no side effect.
    unsafe {
        asm!("mov {}, qword ptr [rip + assafe_tls@GOTTPOFF]", out(reg) off, options(nostack, pure, readonly, preserves_flags));
    }
    off
}

/// Byte 0 of this thread's block.
#[inline(always)]
pub fn tls_load() -> u8 {
    let off = tp_offset();
    let v: u8;
    // SAFETY: fs:[off] is this thread's assafe_tls byte 0: static TLS, mapped for the thread's life.
    unsafe {
        asm!("mov {v}, byte ptr fs:[{o}]", o = in(reg) off, v = out(reg_byte) v, options(nostack, readonly, preserves_flags))
    };
    v
}

/// `byte0 |= bits`, one instruction (a signal on this thread sees the byte before or after).
#[inline(always)]
pub fn tls_or(bits: u8) {
    let off = tp_offset();
    // SAFETY: only this thread writes its own TLS byte; one instruction cannot be torn by a signal.
    unsafe {
        asm!("or byte ptr fs:[{o}], {b}", o = in(reg) off, b = in(reg_byte) bits, options(nostack))
    };
}

/// `byte0 &= mask`, one instruction.
#[inline(always)]
pub fn tls_and(mask: u8) {
    let off = tp_offset();
    // SAFETY: as in `tls_or`.
    unsafe {
        asm!("and byte ptr fs:[{o}], {b}", o = in(reg) off, b = in(reg_byte) mask, options(nostack))
    };
}

/// `byte0 = v`, one instruction.
#[inline(always)]
pub fn tls_store(v: u8) {
    let off = tp_offset();
    // SAFETY: as in `tls_or`.
    unsafe {
        asm!("mov byte ptr fs:[{o}], {v}", o = in(reg) off, v = in(reg_byte) v, options(nostack))
    };
}

/// Address of this thread's block.
#[inline(always)]
pub fn tls_block() -> usize {
    thread_pointer().wrapping_add(tp_offset())
}

/// The thread pointer (the TCB's self-pointer at fs:0, which both glibc and musl maintain).
#[inline(always)]
pub fn thread_pointer() -> usize {
    thread_word(0)
}

/// The machine word at `off` bytes from the thread pointer (inside the C library's TCB).
#[inline(always)]
pub fn thread_word(off: usize) -> usize {
    let w: usize;
    // SAFETY: the TCB at fs:0 is mapped for the thread's whole life and the C library keeps its
    // header words (self-pointer, pointer guard…) readable; callers pass offsets inside it.
    unsafe {
        asm!("mov {w}, qword ptr fs:[{o}]", o = in(reg) off, w = out(reg) w, options(nostack, readonly, preserves_flags))
    };
    w
}

/// The current stack pointer.
#[inline(always)]
pub fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: copying a register has no side effect.
    unsafe { asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// Start of the lazy trampolines (`assafe_lazy_trampolines`, a hidden label that `build.rs`'s
/// x86_64 template emits into the stubs): entry `i`, `LAZY_STRIDE * i` bytes further, sets r11 to
/// `i` and jumps to `dispatch::lazy_entry`. A PC-relative address: no relocation.
#[inline(always)]
pub fn lazy_trampolines() -> usize {
    let a: usize;
    // SAFETY: computing an address has no side effect; the label is defined in this library.
    unsafe {
        asm!("lea {}, [rip + assafe_lazy_trampolines]", out(reg) a, options(nomem, nostack, preserves_flags, pure))
    };
    a
}

// ---- the slow path's saved frame ----

/// Integer argument registers, in calling-convention order.
const ARG_REGS: usize = 6;

/// The argument registers and callee-saved registers at stub entry, as saved by the slow entry.
#[repr(C)]
pub struct Frame {
    rdi: usize,
    rsi: usize,
    rdx: usize,
    rcx: usize,
    r8: usize,
    r9: usize,
    rax: usize,
    r10: usize,
    xmm: [u128; 8],
    rbx: usize,
    r12: usize,
    r13: usize,
    r14: usize,
    r15: usize,
    _pad: usize,
    /// The caller's rbp (pushed by the slow path).
    rbp: usize,
    /// The return address into the caller: the call site.
    ret: usize,
}

impl Frame {
    /// Integer (or pointer) argument `i` of the call, counting from 0; arguments past the sixth
    /// (variadic ones included) are read from the caller's stack above the return address.
    pub fn arg(&self, i: usize) -> usize {
        let regs = [self.rdi, self.rsi, self.rdx, self.rcx, self.r8, self.r9];
        if i < ARG_REGS {
            return regs[i];
        }
        let stack = (&self.ret as *const usize as usize) + 8;
        // SAFETY: the caller pushed its stack arguments right above the return address for this
        // very call; callers only ask for arguments the called function's contract says exist.
        unsafe { *((stack + 8 * (i - ARG_REGS)) as *const usize) }
    }

    /// The return address into the caller (the call site).
    pub fn ret_addr(&self) -> usize {
        self.ret
    }

    /// The caller's stack pointer once the call returns (above the return address).
    pub fn caller_sp(&self) -> usize {
        (&self.ret as *const usize as usize) + 8
    }

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

const _: () = assert!(core::mem::size_of::<Frame>() == 0xf0 + 16);

/// The interrupted instruction and the syscall-return register (rax) of a handler's context.
///
/// # Safety
/// `uc` must point to the `ucontext_t` the kernel passed to a handler that is still running.
pub unsafe fn pc_and_ret_of_ucontext(uc: usize) -> (usize, usize) {
    // SAFETY: forwarded contract.
    let g = unsafe { &(*(uc as *const libc::ucontext_t)).uc_mcontext.gregs };
    (
        g[libc::REG_RIP as usize] as usize,
        g[libc::REG_RAX as usize] as usize,
    )
}

/// The interrupted registers of a signal's `ucontext_t`, for unwinding.
///
/// # Safety
/// `uc` must point to the `ucontext_t` the kernel passed to a handler that is still running.
pub unsafe fn regs_of_ucontext(uc: usize) -> assafe_unwind::Regs {
    // SAFETY: forwarded contract.
    let g = unsafe { &(*(uc as *const libc::ucontext_t)).uc_mcontext.gregs };
    assafe_unwind::Regs {
        rip: g[libc::REG_RIP as usize] as usize,
        rsp: g[libc::REG_RSP as usize] as usize,
        rbp: g[libc::REG_RBP as usize] as usize,
        rbx: g[libc::REG_RBX as usize] as usize,
        r12: g[libc::REG_R12 as usize] as usize,
        r13: g[libc::REG_R13 as usize] as usize,
        r14: g[libc::REG_R14 as usize] as usize,
        r15: g[libc::REG_R15 as usize] as usize,
    }
}

/// Defines `$name`, the common slow path of every stub. Entry: r11 = symbol index, `[rsp]` =
/// return address, arguments in registers. Saves every argument register into a [`Frame`],
/// calls `$target(idx, &mut Frame) -> usize`, restores the registers and jumps to the address it
/// returned, with the stack exactly as at entry.
macro_rules! define_slow_entry {
    ($name:ident, $target:path) => {
        #[unsafe(naked)]
        pub unsafe extern "C" fn $name() {
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
                slow = sym $target,
            );
        }
    };
}
pub(crate) use define_slow_entry;

/// Defines `$name::<IDX>`, a trampoline a stub's slow path can send a call to: it passes the
/// caller's return address (at entry: `[rsp]`: the stub tail-jumped) to `$target::<IDX>` as the fifth
/// integer argument, the first four argument registers and the stack unchanged
/// (`hygiene::fds::made`: the caller of an fd-making call).
macro_rules! define_caller_trampoline {
    ($name:ident, $target:ident) => {
        #[unsafe(naked)]
        unsafe extern "C" fn $name<const IDX: usize>() {
            core::arch::naked_asm!("mov r8, [rsp]", "jmp {f}", f = sym $target::<IDX>)
        }
    };
}
pub(crate) use define_caller_trampoline;

/// Defines `$name`, `vfork` for real: the child runs on the parent's stack until it execs or
/// exits, so the wrapper keeps its return address in a register across the syscall (as glibc's
/// vfork does) and uses no stack of its own. The child ORs `$bit` into the thread's state byte,
/// which it shares with the parent; the parent, when it resumes, stores back the byte it had
/// before. On failure it tail-calls `$fail(errno) -> pid_t`.
macro_rules! define_vfork_wrapper {
    ($name:ident, $bit:expr, $fail:path) => {
        // The two global labels mark the parent's window for `vfork_parent_resuming`; the macro
        // is expanded once, so they are defined once.
        #[allow(named_asm_labels)]
        #[unsafe(naked)]
        pub unsafe extern "C" fn $name() {
            core::arch::naked_asm!(
                "pop rsi",                                      // return address (vfork takes no arguments)
                "mov r11, qword ptr [rip + assafe_tls@GOTTPOFF]",
                "movzx edx, byte ptr fs:[r11]",                 // the parent's state byte, kept in rdx
                "mov eax, 58",                                  // SYS_vfork
                "syscall",
                ".globl assafe_vfork_resume",
                ".hidden assafe_vfork_resume",
                "assafe_vfork_resume:",
                "push rsi",
                "mov r11, qword ptr [rip + assafe_tls@GOTTPOFF]", // syscall clobbered r11
                "test rax, rax",
                "jz 4f",
                "mov byte ptr fs:[r11], dl",                    // parent (or failure): restore its own state
                ".globl assafe_vfork_restored",
                ".hidden assafe_vfork_restored",
                "assafe_vfork_restored:",
                "cmp rax, -4095",
                "jae 3f",
                "ret",
                "3:",
                "neg eax",
                "mov edi, eax",
                "jmp {fail}",
                "4:",
                "or byte ptr fs:[r11], {bit}",                  // child: the vfork-child bit
                "ret",
                bit = const $bit,
                fail = sym $fail,
            );
        }
    };
}
pub(crate) use define_vfork_wrapper;

unsafe extern "C" {
    /// The first instruction after the vfork system call in [`define_vfork_wrapper!`].
    static assafe_vfork_resume: u8;
    /// The first instruction after the parent stored back its state byte there.
    static assafe_vfork_restored: u8;
}

/// Did the signal whose handler got `uc` interrupt a vfork *parent* between the system call and
/// the wrapper's restoring of its state byte (which still carries the child's vfork-child bit)?
/// The parent's SIGCHLD arrives exactly there when the child exits at once. The child is at
/// the same instructions with a zero return value.
///
/// # Safety
/// `uc` must point to the `ucontext_t` the kernel passed to a handler that is still running.
pub unsafe fn vfork_parent_resuming(uc: usize) -> bool {
    // SAFETY: forwarded contract.
    let (pc, ret) = unsafe { pc_and_ret_of_ucontext(uc) };
    let (from, to) = (
        &raw const assafe_vfork_resume as usize,
        &raw const assafe_vfork_restored as usize,
    );
    ret != 0 && (from..to).contains(&pc)
}

/// Calls `f(arg)` with the stack pointer at `top`, then switches back.
///
/// # Safety
/// `top` must be 16-byte aligned with enough writable memory below it for `f`; `f` must be a
/// normal `extern "C" fn(*mut u8)`.
#[unsafe(naked)]
pub unsafe extern "C" fn switch_stack(arg: *mut u8, f: usize, top: *mut u8) {
    core::arch::naked_asm!(
        "push rbp",
        "mov rbp, rsp",
        "mov rsp, rdx",
        "call rsi",
        "mov rsp, rbp",
        "pop rbp",
        "ret",
    );
}

/// Bits of a user-space code address that are always zero (x86_64 user addresses are below
/// 2^47, or 2^56 with 5-level paging), free to carry flags next to a handler address.
pub const USER_ADDR_FREE_BITS: usize = 0xff00_0000_0000_0000;

// The library's own `memcpy`, `memmove`, `memset`, `memcmp`, `bcmp` and `strlen` (x86_64):
// hidden symbols, so the code rustc emits (and `unwind/`'s `strlen`) binds to them when the
// library is linked, and the loader has six names fewer to look up for it in every process it
// is preloaded into (each import is a search of the whole global scope at start: ~500
// instructions apiece). Hidden: never exported, so they cannot interpose the program's own.
//
// Small and simple (`rep movsq`/`rep stosq` with a byte tail, a byte loop for memcmp, aligned
// words for strlen): the library copies and compares short buffers (names, paths, log records)
// off the hot path. They touch only the memory their arguments describe (strlen: also the rest
// of the aligned words holding the string, which never cross a page), take no lock, and leave
// the direction flag clear, as the ABI requires. A definition, not an `unsafe` block.

global_asm!(
    ".pushsection .text.assafe_mem,\"ax\",@progbits",
    // memcpy(dst, src, n) -> dst
    ".globl memcpy",
    ".hidden memcpy",
    ".type memcpy,@function",
    "memcpy:",
    "mov rax, rdi",
    "mov rcx, rdx",
    "shr rcx, 3",
    "rep movsq",
    "mov rcx, rdx",
    "and rcx, 7",
    "rep movsb",
    "ret",
    ".size memcpy, .-memcpy",
    // memmove(dst, src, n) -> dst: forwards unless dst lies inside (src, src + n)
    ".globl memmove",
    ".hidden memmove",
    ".type memmove,@function",
    "memmove:",
    "mov rax, rdi",
    "mov rcx, rdx",
    "cmp rdi, rsi",
    "jbe .Lassafe_memmove_fwd",
    "lea r8, [rsi + rdx]",
    "cmp rdi, r8",
    "jae .Lassafe_memmove_fwd",
    "lea rsi, [rsi + rdx - 1]",
    "lea rdi, [rdi + rdx - 1]",
    "std",
    "rep movsb",
    "cld",
    "ret",
    ".Lassafe_memmove_fwd:",
    // Forwards in words, as memcpy copies, is safe too: each word is read before the bytes it
    // overwrites (dst <= src, or no overlap).
    "jmp memcpy",
    ".size memmove, .-memmove",
    // memset(dst, c, n) -> dst
    ".globl memset",
    ".hidden memset",
    ".type memset,@function",
    "memset:",
    "mov r8, rdi",
    "movzx eax, sil",
    "movabs r9, 0x0101010101010101",
    "imul rax, r9",
    "mov rcx, rdx",
    "shr rcx, 3",
    "rep stosq",
    "mov rcx, rdx",
    "and rcx, 7",
    "rep stosb",
    "mov rax, r8",
    "ret",
    ".size memset, .-memset",
    // memcmp(a, b, n) / bcmp(a, b, n) -> <0, 0, >0 (difference of the first unequal bytes)
    ".globl memcmp",
    ".hidden memcmp",
    ".type memcmp,@function",
    ".globl bcmp",
    ".hidden bcmp",
    ".type bcmp,@function",
    "memcmp:",
    "bcmp:",
    "xor eax, eax",
    "test rdx, rdx",
    "jz .Lassafe_memcmp_done",
    ".Lassafe_memcmp_loop:",
    "movzx eax, byte ptr [rdi]",
    "movzx ecx, byte ptr [rsi]",
    "sub eax, ecx",
    "jnz .Lassafe_memcmp_done",
    "inc rdi",
    "inc rsi",
    "dec rdx",
    "jnz .Lassafe_memcmp_loop",
    ".Lassafe_memcmp_done:",
    "ret",
    ".size memcmp, .-memcmp",
    ".size bcmp, .-bcmp",
    // strlen(s) -> n: aligned words (an aligned word never crosses a page, so reading bytes
    // around the string's in its words cannot fault), the first one with the bytes before `s`
    // forced nonzero; (w - 0x01..01) & !w & 0x80..80 flags the first zero byte of a word exactly
    // in its lowest set bit (only bytes above a zero byte can be flagged falsely).
    ".globl strlen",
    ".hidden strlen",
    ".type strlen,@function",
    "strlen:",
    "mov r11, rdi",
    "and r11, -8",
    "mov ecx, edi",
    "and ecx, 7",
    "shl ecx, 3",
    "mov rax, -1",
    "shl rax, cl",
    "not rax",
    "or rax, qword ptr [r11]",
    "movabs r8, 0x0101010101010101",
    "movabs r9, 0x8080808080808080",
    ".Lassafe_strlen_word:",
    "mov rdx, rax",
    "sub rdx, r8",
    "not rax",
    "and rdx, rax",
    "and rdx, r9",
    "jnz .Lassafe_strlen_found",
    "add r11, 8",
    "mov rax, qword ptr [r11]",
    "jmp .Lassafe_strlen_word",
    ".Lassafe_strlen_found:",
    "bsf rdx, rdx",
    "shr rdx, 3",
    "lea rax, [r11 + rdx]",
    "sub rax, rdi",
    "ret",
    ".size strlen, .-strlen",
    ".popsection",
);
