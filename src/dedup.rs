//! Lock-free table of (pid, function, call site) → count.
//!
//! The first call from a site is reported; later ones only count, and the summary at exec/exit
//! carries the counts, so a forked worker that calls `malloc` a million times writes a bounded log.
//! The key includes the pid because a vfork child shares this table with its parent.
//! Insertion claims an empty slot with one compare-exchange on a 64-bit hash of the key; the
//! fields are published afterwards with a release store of `idx` (readers skip unpublished slots).

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

const SIZE: usize = 4096;

struct Entry {
    key: AtomicU64,
    count: AtomicU64,
    site: AtomicUsize,
    pid: AtomicU32,
    /// symbol index + 1; 0 while the entry is being filled.
    idx: AtomicU32,
    /// A suppression matched the first report: later calls count nowhere.
    suppressed: core::sync::atomic::AtomicBool,
}

static TABLE: [Entry; SIZE] = [const {
    Entry {
        key: AtomicU64::new(0),
        count: AtomicU64::new(0),
        site: AtomicUsize::new(0),
        pid: AtomicU32::new(0),
        idx: AtomicU32::new(0),
        suppressed: core::sync::atomic::AtomicBool::new(false),
    }
}; SIZE];

/// Calls that found the table full (per process image; a vfork child shares it).
static DROPPED: AtomicU64 = AtomicU64::new(0);

fn mix(pid: i32, idx: usize, site: usize, variant: u8) -> u64 {
    let mut h = (pid as u64)
        ^ ((idx as u64) << 32)
        ^ ((variant as u64) << 48)
        ^ (site as u64).rotate_left(17);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h | 1
}

pub enum Hit {
    /// First time this (pid, function, site) is seen: write a report.
    First,
    /// Seen before: counted.
    Again,
    /// The table is full: counted as dropped, and reported (we cannot tell it is a repeat).
    Full,
}

/// `variant` separates reports that differ in more than the site (a definite vs a latent signal
/// handler report from the same call).
pub fn hit(pid: i32, idx: usize, site: usize, variant: u8) -> Hit {
    let key = mix(pid, idx, site, variant);
    let start = key as usize % SIZE;
    for probe in 0..SIZE {
        let e = &TABLE[(start + probe) % SIZE];
        let k = e.key.load(Ordering::Acquire);
        if k == key {
            e.count.fetch_add(1, Ordering::Relaxed);
            return Hit::Again;
        }
        if k == 0 {
            match e
                .key
                .compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    e.count.store(1, Ordering::Relaxed);
                    e.site.store(site, Ordering::Relaxed);
                    e.pid.store(pid as u32, Ordering::Relaxed);
                    e.idx.store(idx as u32 + 1, Ordering::Release);
                    return Hit::First;
                }
                Err(k2) if k2 == key => {
                    e.count.fetch_add(1, Ordering::Relaxed);
                    return Hit::Again;
                }
                Err(_) => {}
            }
        }
    }
    DROPPED.fetch_add(1, Ordering::Relaxed);
    Hit::Full
}

pub struct Site {
    pub idx: usize,
    pub site: usize,
    pub count: u64,
}

/// Totals for `pid`: (unsafe calls, distinct sites, dropped).
pub fn totals(pid: i32) -> (u64, u64, u64) {
    let (mut calls, mut distinct) = (0, 0);
    each(pid, |s| {
        calls += s.count;
        distinct += 1;
    });
    let dropped = DROPPED.load(Ordering::Relaxed);
    (calls + dropped, distinct, dropped)
}

/// Marks the entry of (pid, idx, site, variant) as suppressed.
pub fn suppress(pid: i32, idx: usize, site: usize, variant: u8) {
    let key = mix(pid, idx, site, variant);
    let start = key as usize % SIZE;
    for probe in 0..SIZE {
        let e = &TABLE[(start + probe) % SIZE];
        match e.key.load(Ordering::Acquire) {
            k if k == key => return e.suppressed.store(true, Ordering::Relaxed),
            0 => return,
            _ => {}
        }
    }
}

/// Calls `f` for each published, unsuppressed entry of `pid`.
pub fn each(pid: i32, mut f: impl FnMut(Site)) {
    for e in TABLE.iter() {
        if e.key.load(Ordering::Relaxed) == 0 {
            continue;
        }
        let idx = e.idx.load(Ordering::Acquire);
        if idx == 0 || e.pid.load(Ordering::Relaxed) != pid as u32 || e.suppressed.load(Ordering::Relaxed) {
            continue;
        }
        f(Site {
            idx: idx as usize - 1,
            site: e.site.load(Ordering::Relaxed),
            count: e.count.load(Ordering::Relaxed),
        });
    }
}

/// In a fork child: the parent's dropped count is not ours.
pub fn child_reset() {
    DROPPED.store(0, Ordering::Relaxed);
}
