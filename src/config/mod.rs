//! The options: the table (in `assafe_pure::options`, unit-tested there) and the one copy the
//! process reads, written once at load.

pub use assafe_pure::options::{
    Options, PATH_MAX, Path, Problems, SafeList, help, parse, trim, warning,
};

/// The options, written once by `init` before initialisation is published as done, read-only
/// afterwards.
static mut OPTIONS: Options = Options::defaults();

pub fn options() -> &'static Options {
    // SAFETY: OPTIONS is written only through `options_mut`, by the single thread that runs
    // initialisation, before it publishes DONE; every reader runs after initialisation returned
    // (the first interposed call on any thread waits for it), so no reference outlives a write.
    unsafe { (&raw const OPTIONS).as_ref().unwrap_unchecked() }
}

/// The options, for the one writer.
///
/// # Safety
/// Only the thread running load-time initialisation may call this, before publishing DONE, and
/// only once.
pub unsafe fn options_mut() -> &'static mut Options {
    // SAFETY: forwarded contract: no other reference to OPTIONS exists yet.
    unsafe { (&raw mut OPTIONS).as_mut().unwrap_unchecked() }
}
