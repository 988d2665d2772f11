//! The machine: one module per target architecture, each with the same small interface (see
//! `x86_64.rs`). Nothing outside this folder writes assembly or names a register.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("assafe supports x86_64 and aarch64 so far: add src/platform/arch/<arch>.rs");

// `rust_eh_personality`: referenced by the unwind tables of the precompiled `core`
// (`DW.ref.rust_eh_personality`); never called (panic = "abort"). Defined hidden, so that it is
// not exported: an exported one came first in the global scope and took the place of libstd's in
// a Rust program linked with the shared libstd (`-C prefer-dynamic`), whose every panic then
// aborted ("failed to initiate panic"), caught or not.
core::arch::global_asm!(
    ".pushsection .text.rust_eh_personality,\"ax\",%progbits",
    ".globl rust_eh_personality",
    ".hidden rust_eh_personality",
    ".type rust_eh_personality, %function",
    "rust_eh_personality:",
    "ret",
    ".size rust_eh_personality, . - rust_eh_personality",
    ".popsection",
);
