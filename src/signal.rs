//! Signal handler contexts (sigaction wrappers come with the signal-handler work).

use crate::report::Context;

/// Fills in the signal-specific parts of a report context.
pub fn describe(c: Context) -> Context {
    c
}
