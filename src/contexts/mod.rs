//! The restricted contexts and the hand-written wrappers that track them: fork children, vfork
//! children, signal handlers (with the longjmp family that leaves them), asynchronous
//! cancellation, exec (which carries the library into the new program), and the dlopen family
//! (which keeps the module table fresh). `dispatch` is the one place that picks among them.

pub mod cancel;
pub mod dlopen;
pub mod exec;
pub mod fork;
pub mod signal;
pub mod vfork;
