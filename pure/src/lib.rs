//! The pure part of libassafe: code that touches neither the machine nor the C library, so that
//! `cargo test` runs its unit tests like any other crate's. `no_std` and without `alloc`, as the
//! preload that links it.
//!
//! The log's contract (names, schema, contexts, reasons, glob, the JSON escaper) is not here but in
//! `assafe-proto`, which the readers share; this crate is what only the preload uses
//! (docs/architecture.md says why they are two crates).
#![cfg_attr(not(test), no_std)]

pub mod demangle;
pub mod fmt;
pub mod libc_version;
pub mod options;
pub mod proc_stat;
pub mod sigtable;

use fmt::Buf;
