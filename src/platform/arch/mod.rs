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
