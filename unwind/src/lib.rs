//! Async-signal-safe stack unwinding for x86_64 and aarch64 Linux.
//!
//! `#![no_std]`, no `alloc`: the walker uses only stack storage, never takes a lock and
//! calls no libc function. Stack memory is read through `process_vm_readv` on our own
//! pid (a raw syscall), which reports `EFAULT` instead of faulting, so a corrupt stack
//! yields a short trace instead of a crash. `.eh_frame_hdr` / `.eh_frame` are read
//! directly from the module segments recorded by [`refresh_modules`], and parsed with
//! `gimli` (feature `read-core` only, which needs no allocator).
//!
//! Usage: call [`refresh_modules`] once at load time and after every `dlopen` /
//! `dlclose` returns (normal context). Then [`walk`], [`walk_and_find`],
//! [`capture_here`] and [`module_of`] may be used anywhere, including in signal
//! handlers and in the children of `fork` / `vfork`.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(not(all(
    any(target_arch = "x86_64", target_arch = "aarch64"),
    target_os = "linux"
)))]
compile_error!("assafe-unwind supports x86_64 and aarch64 Linux only");

mod arch;
mod cache;
const _: () = assert!(arch::CACHED_REGS.len() <= 16);
mod modules;
mod sys;
pub use sys::{make_probe_pipe, memory_readable, restrict_to_read_write, set_before_read};
mod walk;

pub use modules::{
    MAX_LOADS, MAX_MODULES, ModuleRef, generation, module_count, module_of, refresh_modules,
    set_exe_provider,
};

pub use arch::Regs;

/// Fills `out` with return addresses (`out[0]` = the pc of `regs`), innermost first; returns
/// how many. At most `out.len()` frames are produced.
///
/// `regs.rip` of frames > 0 are return addresses, and the FDE is looked up at `rip - 1`
/// (the call instruction). For frame 0 the same holds unless `first_is_exact` is true
/// (e.g. an interrupted pc taken from a signal ucontext). The walk stops at an unknown
/// module, a missing return-address rule (end of stack), an unreadable stack slot, a
/// frame that does not move rsp upwards, or an unsupported CFI construct. Frames with no
/// FDE are stepped through the rbp chain when rbp looks like a frame pointer.
///
/// Async-signal-safe: no allocation, no lock, no libc call.
///
/// # Safety
/// The module table must be current: every module it lists must still be mapped (call
/// [`refresh_modules`] after each `dlclose`). The register values themselves may be
/// arbitrary garbage.
pub unsafe fn walk(regs: &Regs, first_is_exact: bool, out: &mut [usize]) -> usize {
    let start = walk::RegFile::from_regs(regs);
    // SAFETY: forwarded caller contract (module table current).
    unsafe { walk::walk_impl(&start, first_is_exact, 0, out, &[]).0 }
}

/// Like [`walk`], and also reports whether any recorded frame's pc lies in one of the
/// `[start, end)` `ranges`: returns `(frames, Some(index of the range))` for the
/// innermost frame that hits. The pc compared is `rip - 1` for return addresses (so a
/// call that is the last instruction of a function still counts as inside it) and
/// `rip` for an exact frame 0.
///
/// # Safety
/// As [`walk`].
pub unsafe fn walk_and_find(
    regs: &Regs,
    first_is_exact: bool,
    out: &mut [usize],
    ranges: &[(usize, usize)],
) -> (usize, Option<usize>) {
    let start = walk::RegFile::from_regs(regs);
    // SAFETY: forwarded caller contract (module table current).
    unsafe { walk::walk_impl(&start, first_is_exact, 0, out, ranges) }
}

/// The canonical frame address of the function `regs` is in: its stack pointer once it has
/// returned (so a later call whose return-address slot is at or above `cfa - 8` is made from
/// outside it). `None` when its CFI (or frame-pointer chain) does not say.
///
/// Async-signal-safe: no allocation, no lock, no libc call.
///
/// # Safety
/// As [`walk`].
pub unsafe fn frame_cfa(regs: &Regs) -> Option<usize> {
    let start = walk::RegFile::from_regs(regs);
    // SAFETY: forwarded caller contract (module table current).
    unsafe { walk::frame_cfa(&start) }
}

/// Captures the caller's stack: `out[0]` is the return address into the function that
/// called `capture_here`, then its callers. Returns the number of frames written.
///
/// Requires the module table to be current, as [`walk`] does (a module unmapped by
/// `dlclose` without a following [`refresh_modules`] could make it fault).
#[inline(never)]
pub fn capture_here(out: &mut [usize]) -> usize {
    let mut r = Regs::default();
    arch::capture(&mut r);
    let start = walk::RegFile::from_regs(&r);
    // SAFETY: module table currency is this function's documented requirement. Frame 0
    // (this function, at an exact pc) is skipped.
    let n = unsafe { walk::walk_impl(&start, true, 1, out, &[]).0 };
    core::hint::black_box(&r);
    n
}

#[cfg(test)]
mod tests {
    extern crate std;

    #[test]
    fn walker_stack_footprint_is_small() {
        let ctx = core::mem::size_of::<crate::walk::Ctx>();
        let reader = core::mem::size_of::<crate::sys::SafeReader>();
        std::eprintln!("UnwindContext<StoreOnStack>: {ctx} bytes, SafeReader: {reader} bytes");
        assert!(
            ctx + reader < 8192,
            "walker state too large for a signal stack"
        );
    }
}
