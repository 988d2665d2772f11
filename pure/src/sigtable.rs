//! The program's signal actions as the preload's handler wrapper reads them: one word per signal.
//!
//! The wrapper runs on any thread at any moment, so it must see a handler together with the
//! calling convention it was installed with. With the handler and its flags in two atomics written
//! one after the other, a signal arriving between the writes would call the new handler with the
//! old convention (a `sa_sigaction` function called as a one-argument `sa_handler` reads garbage
//! for `info` and `uc`). Here the handler address and the two flags the wrapper needs share one
//! word, in bits no user-space address uses, so a single load always yields a pair that one
//! `publish` stored.

use core::sync::atomic::{AtomicUsize, Ordering};

/// The program installed the handler with `SA_SIGINFO` (a `sa_sigaction` function).
const SIGINFO: usize = 1 << 63;
/// The program installed the handler with `SA_RESETHAND`.
const RESETHAND: usize = 1 << 62;
/// The bits of a word that are flags, not address; the preload checks at compile time that no
/// user-space code address on its architecture has any of them set.
pub const FLAG_BITS: usize = SIGINFO | RESETHAND;

/// One signal's action: the program's handler (`SIG_DFL` = 0, `SIG_IGN` = 1, or a function) and
/// the flags of its installation that the wrapper needs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Action(usize);

impl Action {
    /// `handler` must have no [`FLAG_BITS`] set (see [`Action::representable`]).
    pub const fn new(handler: usize, siginfo: bool, resethand: bool) -> Action {
        let mut w = handler & !FLAG_BITS;
        if siginfo {
            w |= SIGINFO;
        }
        if resethand {
            w |= RESETHAND;
        }
        Action(w)
    }

    /// Can `handler` be stored? (Not when it has flag bits set: no function has such an address.)
    pub const fn representable(handler: usize) -> bool {
        handler & FLAG_BITS == 0
    }

    pub const fn handler(self) -> usize {
        self.0 & !FLAG_BITS
    }

    pub const fn siginfo(self) -> bool {
        self.0 & SIGINFO != 0
    }

    pub const fn resethand(self) -> bool {
        self.0 & RESETHAND != 0
    }

    /// The same flags with the handler reset to `SIG_DFL` (what `SA_RESETHAND` does).
    pub const fn reset(self) -> Action {
        Action(self.0 & FLAG_BITS)
    }
}

/// One [`Action`] per signal number below `N`.
pub struct Actions<const N: usize> {
    words: [AtomicUsize; N],
}

impl<const N: usize> Default for Actions<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Actions<N> {
    pub const fn new() -> Actions<N> {
        Actions {
            words: [const { AtomicUsize::new(0) }; N],
        }
    }

    /// The action of `sig` (`SIG_DFL` for a signal number out of range).
    pub fn load(&self, sig: usize, order: Ordering) -> Action {
        self.words
            .get(sig)
            .map_or(Action(0), |w| Action(w.load(order)))
    }

    pub fn store(&self, sig: usize, a: Action, order: Ordering) {
        self.words[sig].store(a.0, order);
    }

    /// Replaces `sig`'s action with `new` only if it is still `seen`; false if another store
    /// came first.
    pub fn replace(&self, sig: usize, seen: Action, new: Action, order: Ordering) -> bool {
        self.words[sig]
            .compare_exchange(seen.0, new.0, order, Ordering::Relaxed)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn packs_handler_and_flags() {
        let a = Action::new(0x7f12_3456_7890, true, false);
        assert_eq!(a.handler(), 0x7f12_3456_7890);
        assert!(a.siginfo() && !a.resethand());
        let r = Action::new(0x1234, false, true).reset();
        assert_eq!(r.handler(), 0);
        assert!(r.resethand() && !r.siginfo());
        assert!(!Action::representable(1 << 63));
        assert!(Action::representable(0x7fff_ffff_ffff));
    }

    /// A writer alternates two (handler, convention) pairs while readers load: every load must be
    /// one of the two pairs. (With the handler and its flags in two atomics this fails within a
    /// few thousand iterations.)
    #[test]
    fn concurrent_loads_never_see_a_torn_pair() {
        static T: Actions<65> = Actions::new();
        static STOP: AtomicBool = AtomicBool::new(false);
        let a = Action::new(0x5555_0000, false, false);
        let b = Action::new(0x7777_0000, true, true);
        T.store(10, a, Ordering::Relaxed);
        let writer = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let mut i = 0u64;
            while start.elapsed() < std::time::Duration::from_millis(300) {
                for _ in 0..1000 {
                    T.store(
                        10,
                        if i.is_multiple_of(2) { b } else { a },
                        Ordering::Release,
                    );
                    i += 1;
                }
            }
            STOP.store(true, Ordering::Relaxed);
        });
        let readers: Vec<_> = (0..2)
            .map(|_| {
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !STOP.load(Ordering::Relaxed) {
                        let x = T.load(10, Ordering::Acquire);
                        assert!(x == a || x == b, "torn action {x:?}");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        writer.join().unwrap();
        let loads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert!(loads > 1000, "the readers ran ({loads} loads)");
    }

    #[test]
    fn replace_only_if_unchanged() {
        let t: Actions<4> = Actions::new();
        let a = Action::new(0x1000, true, true);
        t.store(2, a, Ordering::Relaxed);
        assert!(t.replace(2, a, a.reset(), Ordering::Relaxed));
        assert_eq!(t.load(2, Ordering::Relaxed).handler(), 0);
        assert!(!t.replace(2, a, Action::new(0x2000, false, false), Ordering::Relaxed));
        assert_eq!(t.load(9, Ordering::Relaxed), Action::new(0, false, false));
    }
}
