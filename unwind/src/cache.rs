//! A lock-free cache of unwind rules by pc, so that a walk over frames it has seen before costs
//! a few dozen instructions per frame instead of a binary search of `.eh_frame_hdr` and a run of
//! the FDE's CFA program (a few thousand).
//!
//! Only the common rows are cached: the CFA is a register plus an offset, the row is not a
//! signal frame, and every register rule of the row is "saved at CFA + 8k" or "undefined" for
//! one of the architecture's [`CACHED_REGS`]. Anything else is left to the full CFI step.
//!
//! Soundness:
//! - **What a rule depends on.** The row of `pc` is a function of the bytes of the module that
//!   contains `pc`, which do not change while it stays loaded. An entry records the module
//!   table's generation read *before* the lookup that found the module; a hit requires the
//!   current generation to equal it, and every `refresh_modules` (which the crate's contract
//!   requires after each `dlopen`/`dlclose`) moves the generation on. A hit therefore also
//!   stands for "`pc` is in a module of the current table".
//! - **Torn entries.** Each entry has a sequence word: a writer claims it by moving it from
//!   even to odd with a compare-exchange (a writer that loses, or that finds it odd, skips
//!   caching: no waiting), writes the fields, then publishes the next even value (Release). A
//!   reader reads the sequence (Acquire), the fields, and the sequence again after an Acquire
//!   fence; a different or odd value is a miss. A signal handler that interrupts a writer of
//!   its own thread sees the odd value and misses. No lock, no allocation, no system call.
//! - **Fork.** A child has a copy of the cache, valid for the same mappings. A writer
//!   interrupted by fork leaves the child's copy of that entry odd forever: that entry misses.
//!   Lookups never write, so a child that walks only cached frames dirties no page of it.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering, fence};

use crate::arch::{CACHED_REGS, CALLER_SAVED, PC, RA, RA_DEFAULT_SAME, SP};
use crate::sys::SafeReader;
use crate::walk::RegFile;

const ENTRIES: usize = 256;
/// Byte value for "undefined" in a register's slot (0 is "no rule": the value is kept).
const UNDEF: u8 = 0x80;

#[repr(C, align(64))]
struct Entry {
    seq: AtomicUsize,
    pc: AtomicUsize,
    generation: AtomicUsize,
    /// cfa register (bits 0..8), cfa offset as i32 (bits 32..64).
    cfa: AtomicU64,
    /// One byte per [`CACHED_REGS`] entry: 0 no rule, [`UNDEF`], else the offset from the CFA
    /// divided by 8, as i8.
    regs: [AtomicU64; 2],
}

static CACHE: [Entry; ENTRIES] = [const {
    Entry {
        seq: AtomicUsize::new(0),
        pc: AtomicUsize::new(0),
        generation: AtomicUsize::new(0),
        cfa: AtomicU64::new(0),
        regs: [AtomicU64::new(0), AtomicU64::new(0)],
    }
}; ENTRIES];

/// A cached row.
#[derive(Clone, Copy)]
pub(crate) struct Rule {
    cfa_reg: u16,
    cfa_off: i32,
    regs: [u8; 16],
}

impl Rule {
    pub(crate) fn new(cfa_reg: u16, cfa_off: i64) -> Option<Rule> {
        Some(Rule {
            cfa_reg,
            cfa_off: i32::try_from(cfa_off).ok()?,
            regs: [0; 16],
        })
    }

    /// Records "register `r` saved at CFA + `off`" (`Some`) or "undefined" (`None`); false if
    /// the row cannot be cached.
    pub(crate) fn set(&mut self, r: u16, off: Option<i64>) -> bool {
        let Some(i) = CACHED_REGS.iter().position(|&c| c == r) else {
            return false;
        };
        self.regs[i] = match off {
            None => UNDEF,
            Some(o) if o % 8 == 0 && (-127 * 8..=127 * 8).contains(&o) && o != 0 => {
                (o / 8) as i8 as u8
            }
            Some(_) => return false,
        };
        true
    }

    /// The CFA this row gives for `regs`.
    pub(crate) fn cfa(&self, regs: &RegFile) -> Option<usize> {
        Some(
            regs.get(self.cfa_reg)?
                .wrapping_add(self.cfa_off as isize as usize),
        )
    }

    /// The caller's registers (as the full CFI step computes them for such a row); `None`
    /// when the CFA register is unknown or the return address is not known.
    pub(crate) fn step(&self, regs: &RegFile, reader: &mut SafeReader) -> Option<RegFile> {
        let cfa = self.cfa(regs)?;
        let mut next = *regs;
        for &r in CALLER_SAVED {
            next.unset(r);
        }
        if !RA_DEFAULT_SAME {
            next.unset(RA);
        }
        for (i, &r) in CACHED_REGS.iter().enumerate() {
            match self.regs[i] {
                0 => {}
                UNDEF => next.unset(r),
                b => {
                    let off = (b as i8 as isize * 8) as usize;
                    match reader.read_usize(cfa.wrapping_add(off)) {
                        Some(v) => next.set(r, v),
                        None => next.unset(r),
                    }
                }
            }
        }
        next.set(SP, cfa);
        let ra = next.get(RA)?;
        next.set(PC, ra);
        Some(next)
    }
}

/// The two entries `pc` may live in (two independent hashes: a direct-mapped cache let two pcs
/// of one hot stack evict each other on every walk, by chance of the code's layout).
fn slots(pc: usize) -> [&'static Entry; 2] {
    let h1 = ((pc as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % ENTRIES;
    let mut h2 = ((pc as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F) >> 56) as usize % ENTRIES;
    if h2 == h1 {
        h2 ^= 1;
    }
    [&CACHE[h1], &CACHE[h2]]
}

/// The cached row for `pc` at module-table generation `generation`.
pub(crate) fn get(pc: usize, generation: usize) -> Option<Rule> {
    slots(pc).into_iter().find_map(|e| read(e, pc, generation))
}

fn read(e: &Entry, pc: usize, generation: usize) -> Option<Rule> {
    let s1 = e.seq.load(Ordering::Acquire);
    if s1 & 1 != 0 || s1 == 0 {
        return None;
    }
    let p = e.pc.load(Ordering::Relaxed);
    let g = e.generation.load(Ordering::Relaxed);
    let c = e.cfa.load(Ordering::Relaxed);
    let r0 = e.regs[0].load(Ordering::Relaxed);
    let r1 = e.regs[1].load(Ordering::Relaxed);
    fence(Ordering::Acquire);
    if e.seq.load(Ordering::Relaxed) != s1 || p != pc || g != generation {
        return None;
    }
    let mut regs = [0u8; 16];
    regs[..8].copy_from_slice(&r0.to_le_bytes());
    regs[8..].copy_from_slice(&r1.to_le_bytes());
    Some(Rule {
        cfa_reg: (c & 0xffff) as u16,
        cfa_off: (c >> 32) as u32 as i32,
        regs,
    })
}

/// Caches `rule` for `pc` (found at generation `generation`); skipped if another writer holds
/// the entry.
pub(crate) fn put(pc: usize, generation: usize, rule: &Rule) {
    // The first entry if it is free or holds `pc` (a stale generation), else the second: two
    // pcs that share their first entry both stay cached.
    let [first, second] = slots(pc);
    let e = if first.seq.load(Ordering::Relaxed) == 0 || first.pc.load(Ordering::Relaxed) == pc {
        first
    } else {
        second
    };
    let s = e.seq.load(Ordering::Relaxed);
    if s & 1 != 0
        || e.seq
            .compare_exchange(s, s.wrapping_add(1), Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    // The claim must be visible before any field changes (readers check seq after the fields).
    fence(Ordering::Release);
    e.pc.store(pc, Ordering::Relaxed);
    e.generation.store(generation, Ordering::Relaxed);
    e.cfa.store(
        u64::from(rule.cfa_reg) | (u64::from(rule.cfa_off as u32) << 32),
        Ordering::Relaxed,
    );
    let mut r0 = [0u8; 8];
    let mut r1 = [0u8; 8];
    r0.copy_from_slice(&rule.regs[..8]);
    r1.copy_from_slice(&rule.regs[8..]);
    e.regs[0].store(u64::from_le_bytes(r0), Ordering::Relaxed);
    e.regs[1].store(u64::from_le_bytes(r1), Ordering::Relaxed);
    // Odd s+1 → even s+2 (never 0 again, which means "never written").
    e.seq.store(s.wrapping_add(2), Ordering::Release);
}
