//! The restricted contexts and the hand-written wrappers that track them: fork children, vfork
//! children, signal handlers (with the longjmp family that leaves them), asynchronous
//! cancellation, exec (which carries the library into the new program), the dlopen family
//! (which keeps the module table fresh), and the calls after which the log may be unreachable
//! (`sandbox`: seccomp, chroot, namespaces, another uid). `dispatch` is the one place that picks among them.

pub mod cancel;
pub mod dlopen;
pub mod exec;
pub mod fork;
pub mod hygiene;
pub mod sandbox;
pub mod signal;
pub mod vfork;
