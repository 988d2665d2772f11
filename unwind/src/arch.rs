//! What differs between the architectures the walker supports: the register set handed in
//! ([`crate::Regs`]), DWARF register numbers, which registers a call clobbers, how the
//! current registers are captured, and signal frames that carry no CFI.

#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(target_arch = "aarch64")]
pub use aarch64::*;

#[cfg(target_arch = "x86_64")]
mod x86_64 {
    use crate::sys::SafeReader;
    use crate::walk::RegFile;

    /// Callee-saved registers plus pc and sp of the innermost frame to unwind from.
    #[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
    #[repr(C)]
    pub struct Regs {
        pub rip: usize,
        pub rsp: usize,
        pub rbp: usize,
        pub rbx: usize,
        pub r12: usize,
        pub r13: usize,
        pub r14: usize,
        pub r15: usize,
    }

    /// DWARF register numbers on x86_64.
    pub(crate) const FP: u16 = 6;
    pub(crate) const SP: u16 = 7;
    /// The return-address column.
    pub(crate) const RA: u16 = 16;
    /// Where the frame's pc is kept: the return-address column itself.
    pub(crate) const PC: u16 = 16;
    pub(crate) const NREGS: usize = 17;
    /// A frame without a rule for the return address is the end of the stack.
    pub(crate) const RA_DEFAULT_SAME: bool = false;
    /// Register rules per row: x86_64 CFI in practice names at most the 17 GPR/RA columns.
    pub(crate) const MAX_RULES: usize = 20;

    /// Caller-saved registers (SysV x86_64): not preserved across a call, so unknown in the
    /// caller unless the CFI (e.g. a signal frame) says otherwise.
    pub(crate) const CALLER_SAVED: &[u16] = &[0, 1, 2, 4, 5, 8, 9, 10, 11];
    /// Registers whose "saved at CFA + n" rules the rule cache holds (callee-saved and RA).
    pub(crate) const CACHED_REGS: &[u16] = &[3, 6, 12, 13, 14, 15, 16];

    pub(crate) fn regfile(r: &Regs) -> RegFile {
        let mut f = RegFile::empty();
        f.set(PC, r.rip);
        f.set(SP, r.rsp);
        f.set(FP, r.rbp);
        f.set(3, r.rbx);
        f.set(12, r.r12);
        f.set(13, r.r13);
        f.set(14, r.r14);
        f.set(15, r.r15);
        f
    }

    /// x86_64 signal trampolines (glibc's `__restore_rt`) carry CFI that restores every
    /// register: nothing to do here.
    pub(crate) fn signal_step(_pc: usize, _regs: &RegFile, _r: &mut SafeReader) -> Option<RegFile> {
        None
    }

    /// The registers live at this point of the caller (pc exact, inside `capture_here`).
    #[inline(always)]
    pub(crate) fn capture(r: &mut Regs) {
        let p: *mut Regs = r;
        // SAFETY: the asm only stores eight words into `r` (offsets match the #[repr(C)]
        // layout: rip 0, rsp 8, rbp 16, rbx 24, r12..r15 32..56) and clobbers `tmp`. It does
        // not touch the stack. Each stored register value is the one live at the captured
        // pc (inside this block), which is what the CFI row at that pc describes; the pc is
        // taken last so that clobbering `tmp` cannot affect the stored callee-saved values.
        unsafe {
            core::arch::asm!(
                "mov [{p} + 8], rsp",
                "mov [{p} + 16], rbp",
                "mov [{p} + 24], rbx",
                "mov [{p} + 32], r12",
                "mov [{p} + 40], r13",
                "mov [{p} + 48], r14",
                "mov [{p} + 56], r15",
                "lea {tmp}, [rip]",
                "mov [{p}], {tmp}",
                p = in(reg) p,
                tmp = out(reg) _,
                options(nostack, preserves_flags),
            );
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod aarch64 {
    use crate::sys::SafeReader;
    use crate::walk::RegFile;

    /// pc, sp, the frame record registers and the callee-saved registers of the innermost
    /// frame to unwind from.
    #[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
    #[repr(C)]
    pub struct Regs {
        pub pc: usize,
        pub sp: usize,
        /// x29, the frame pointer.
        pub fp: usize,
        /// x30, the link register (0 when unknown).
        pub lr: usize,
        /// x19..=x28.
        pub x19_x28: [usize; 10],
    }

    /// DWARF register numbers on aarch64: x0..x30 are 0..30, sp is 31.
    pub(crate) const FP: u16 = 29;
    pub(crate) const SP: u16 = 31;
    /// The return-address column: x30.
    pub(crate) const RA: u16 = 30;
    /// A pseudo column for the frame's pc (aarch64 has no pc column in DWARF).
    pub(crate) const PC: u16 = 32;
    pub(crate) const NREGS: usize = 33;
    /// No rule for x30 means x30 still holds the return address (a leaf, or frame 0).
    pub(crate) const RA_DEFAULT_SAME: bool = true;
    /// Rules per row: x19..x30 and d8..d15 (20), with room to spare.
    pub(crate) const MAX_RULES: usize = 32;

    /// Registers whose "saved at CFA + n" rules the rule cache holds (x19..x30).
    pub(crate) const CACHED_REGS: &[u16] = &[19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30];
    /// x0..x18 are not preserved across a call (AAPCS64; x18 is the platform register).
    pub(crate) const CALLER_SAVED: &[u16] = &[
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
    ];

    pub(crate) fn regfile(r: &Regs) -> RegFile {
        let mut f = RegFile::empty();
        f.set(PC, r.pc);
        f.set(SP, r.sp);
        f.set(FP, r.fp);
        if r.lr != 0 {
            f.set(RA, r.lr);
        }
        for (i, v) in r.x19_x28.iter().enumerate() {
            f.set(19 + i as u16, *v);
        }
        f
    }

    /// `mov x8, #139` (rt_sigreturn) then `svc #0`: the kernel's `__kernel_rt_sigreturn` in
    /// the vDSO (whose CFI, since Linux 5.10, restores x29/x30 only, not the interrupted pc)
    /// and qemu-user's trampoline (no CFI); libgcc matches the same two instructions.
    const SIGRETURN: u64 = 0xd400_0001_d280_1168;
    /// `struct rt_sigframe` at sp: `siginfo_t` (128 bytes), then `ucontext_t`, whose
    /// `uc_mcontext` (`struct sigcontext`, 16-aligned) is at 176: `fault_address`, then
    /// `regs[31]`, `sp`, `pc`.
    const SIGCONTEXT: usize = 128 + 176;

    /// If `pc` is a sigreturn trampoline (the return address a signal handler was entered
    /// with), the interrupted registers from the signal frame at sp.
    pub(crate) fn signal_step(pc: usize, regs: &RegFile, r: &mut SafeReader) -> Option<RegFile> {
        if !pc.is_multiple_of(4) || r.read_usize(pc)? as u64 != SIGRETURN {
            return None;
        }
        let sc = regs.get(SP)?.checked_add(SIGCONTEXT)?;
        let mut f = RegFile::empty();
        for i in 0..31u16 {
            if let Some(v) = r.read_usize(sc + 8 + 8 * i as usize) {
                f.set(i, v);
            }
        }
        f.set(SP, r.read_usize(sc + 8 + 8 * 31)?);
        f.set(PC, r.read_usize(sc + 8 + 8 * 32)?);
        Some(f)
    }

    /// The registers live at this point of the caller (pc exact, inside `capture_here`).
    #[inline(always)]
    pub(crate) fn capture(r: &mut Regs) {
        let p: *mut Regs = r;
        // SAFETY: the asm only stores fourteen words into `r` (offsets match the #[repr(C)]
        // layout: pc 0, sp 8, fp 16, lr 24, x19..x28 32..104) and clobbers `tmp`; it does not
        // touch the stack. x30 is stored as 0 ("unknown"): the CFI row of the captured pc
        // says where the return address lives.
        unsafe {
            core::arch::asm!(
                "mov {tmp}, sp",
                "str {tmp}, [{p}, #8]",
                "stp x29, xzr, [{p}, #16]",
                "stp x19, x20, [{p}, #32]",
                "stp x21, x22, [{p}, #48]",
                "stp x23, x24, [{p}, #64]",
                "stp x25, x26, [{p}, #80]",
                "stp x27, x28, [{p}, #96]",
                "adr {tmp}, .",
                "str {tmp}, [{p}]",
                p = in(reg) p,
                tmp = out(reg) _,
                options(nostack, preserves_flags),
            );
        }
    }
}
