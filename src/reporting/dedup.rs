//! Lock-free table of (pid, function, call site) → count.
//!
//! The first call from a site is reported; later ones only count, and the summary at exec/exit
//! carries the counts, so a forked worker that calls `malloc` a million times writes a bounded log.
//! A site first reported as a *latent* signal-handler call is reported once more the first time it
//! turns out *definite* (the handler interrupted an unsafe function on the same thread), and a
//! site is reported once more the first time a call from it is more severe than before.
//! The key includes the pid because a vfork child shares this table with its parent.
//! Insertion claims an empty slot with one compare-exchange on a 64-bit hash of the key; the
//! fields are published afterwards with a release store of `idx` (readers skip unpublished slots).

use core::sync::atomic::{
    AtomicBool, AtomicU8, AtomicU16, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

const SIZE: usize = 4096;

/// After this many latent calls from one site, stop unwinding interrupted contexts to look for a
/// definite one (unwinding costs microseconds; a signal storm must not pay it every time).
pub const MAX_DEFINITE_TRIES: u32 = 64;

struct Entry {
    key: AtomicU64,
    count: AtomicU64,
    site: AtomicUsize,
    pid: AtomicU32,
    /// symbol index + 1; 0 while the entry is being filled.
    idx: AtomicU32,
    /// A suppression matched the first report: later calls count nowhere.
    suppressed: AtomicBool,
    /// A definite report has been written for this site.
    definite: AtomicBool,
    /// Latent calls seen (bounded by MAX_DEFINITE_TRIES for the unwinding decision).
    tries: AtomicU32,
    /// The highest severity rank (`assafe_proto::Severity as u8`) reported for this site.
    worst: AtomicU8,
}

static TABLE: [Entry; SIZE] = [const {
    Entry {
        key: AtomicU64::new(0),
        count: AtomicU64::new(0),
        site: AtomicUsize::new(0),
        pid: AtomicU32::new(0),
        idx: AtomicU32::new(0),
        suppressed: AtomicBool::new(false),
        definite: AtomicBool::new(false),
        tries: AtomicU32::new(0),
        worst: AtomicU8::new(0),
    }
}; SIZE];

/// The slots in use, in the order they were claimed (slot index + 1; 0 while being appended),
/// so that the summary at exec and exit visits the few entries in use instead of all `SIZE`
/// (160 KB: a vfork child's summary paid ~20 µs for the scan). Slots are never freed, so each
/// appears once.
static ORDER: [AtomicU16; SIZE] = [const { AtomicU16::new(0) }; SIZE];
#[unsafe(link_section = "assafe_hot")]
static USED: AtomicUsize = AtomicUsize::new(0);

const _: () = assert!(SIZE < u16::MAX as usize);

/// Calls that found the table full (per process image; a vfork child shares it).
#[unsafe(link_section = "assafe_hot")]
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Has anything been recorded (so that `totals` need not scan the table in the many processes
/// that never made an unsafe call)?
#[unsafe(link_section = "assafe_hot")]
static ANY: AtomicBool = AtomicBool::new(false);
/// Signals (bit n for signal n) whose handlers made unsafe calls in this process.
#[unsafe(link_section = "assafe_hot")]
static SIGNALS: AtomicU64 = AtomicU64::new(0);

/// Notes that a handler for `sig` made an unsafe call.
pub fn note_signal(sig: i32) {
    if (1..64).contains(&sig) {
        SIGNALS.fetch_or(1 << sig, Ordering::Relaxed);
    }
}

/// The signals noted by [`note_signal`], bit n for signal n.
pub fn signals() -> u64 {
    SIGNALS.load(Ordering::Relaxed)
}

fn mix(pid: i32, idx: usize, site: usize) -> u64 {
    let mut h = (pid as u64) ^ ((idx as u64) << 32) ^ (site as u64).rotate_left(17);
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
    /// Seen before, but this call is the first definite one: write a report.
    Definite,
    /// Seen before, but this call is more severe than every report so far (a handler that ran
    /// for a signal the process sent itself now runs for one from elsewhere): write a report.
    Worse,
    /// The table is full: counted as dropped, and reported (we cannot tell it is a repeat).
    Full,
}

fn find(key: u64) -> Option<&'static Entry> {
    let start = key as usize % SIZE;
    for probe in 0..SIZE {
        let e = &TABLE[(start + probe) % SIZE];
        match e.key.load(Ordering::Acquire) {
            k if k == key => return Some(e),
            0 => return None,
            _ => {}
        }
    }
    None
}

/// Is it still worth unwinding to find out whether a call from this site is definite?
pub fn worth_unwinding(pid: i32, idx: usize, site: usize) -> bool {
    match find(mix(pid, idx, site)) {
        None => true,
        Some(e) => {
            !e.definite.load(Ordering::Relaxed)
                && e.tries.load(Ordering::Relaxed) < MAX_DEFINITE_TRIES
        }
    }
}

/// The highest severity rank recorded for (pid, function, site), if the site has been seen.
pub fn worst(pid: i32, idx: usize, site: usize) -> Option<u8> {
    find(mix(pid, idx, site))
        .filter(|e| e.idx.load(Ordering::Acquire) != 0)
        .map(|e| e.worst.load(Ordering::Relaxed))
}

pub fn hit(pid: i32, idx: usize, site: usize, definite: bool, severity: u8) -> Hit {
    if !ANY.load(Ordering::Relaxed) {
        ANY.store(true, Ordering::Relaxed);
    }
    let key = mix(pid, idx, site);
    let start = key as usize % SIZE;
    for probe in 0..SIZE {
        let e = &TABLE[(start + probe) % SIZE];
        let mut k = e.key.load(Ordering::Acquire);
        if k == 0 {
            match e
                .key
                .compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    e.count.store(1, Ordering::Relaxed);
                    e.site.store(site, Ordering::Relaxed);
                    e.pid.store(pid as u32, Ordering::Relaxed);
                    e.definite.store(definite, Ordering::Relaxed);
                    e.worst.store(severity, Ordering::Relaxed);
                    e.idx.store(idx as u32 + 1, Ordering::Release);
                    let n = USED.fetch_add(1, Ordering::Relaxed);
                    if let Some(o) = ORDER.get(n) {
                        o.store(((start + probe) % SIZE + 1) as u16, Ordering::Release);
                    }
                    return Hit::First;
                }
                Err(k2) => k = k2,
            }
        }
        if k == key {
            e.count.fetch_add(1, Ordering::Relaxed);
            let worse = e.worst.fetch_max(severity, Ordering::Relaxed) < severity;
            if definite {
                if !e.definite.swap(true, Ordering::Relaxed) {
                    return Hit::Definite;
                }
            } else {
                e.tries.fetch_add(1, Ordering::Relaxed);
            }
            if worse {
                return Hit::Worse;
            }
            return Hit::Again;
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

/// Has any call been recorded (by this process, or before its fork, by its parent)?
pub fn any() -> bool {
    ANY.load(Ordering::Relaxed)
}

/// Totals for `pid`: (unsafe calls, distinct sites, dropped).
pub fn totals(pid: i32) -> (u64, u64, u64) {
    if !any() {
        return (0, 0, 0);
    }
    let (mut calls, mut distinct) = (0, 0);
    each(pid, |s| {
        calls += s.count;
        distinct += 1;
    });
    let dropped = DROPPED.load(Ordering::Relaxed);
    (calls + dropped, distinct, dropped)
}

/// Marks the entry of (pid, idx, site) as suppressed.
pub fn suppress(pid: i32, idx: usize, site: usize) {
    if let Some(e) = find(mix(pid, idx, site)) {
        e.suppressed.store(true, Ordering::Relaxed);
    }
}

/// Calls `f` for each published, unsuppressed entry of `pid`, in the order they were claimed.
pub fn each(pid: i32, mut f: impl FnMut(Site)) {
    let used = USED.load(Ordering::Relaxed).min(SIZE);
    for o in &ORDER[..used] {
        let slot = o.load(Ordering::Acquire) as usize;
        if slot == 0 {
            // Being appended (by a thread this one interrupted, or another thread).
            continue;
        }
        let e = &TABLE[slot - 1];
        let idx = e.idx.load(Ordering::Acquire);
        if idx == 0
            || e.pid.load(Ordering::Relaxed) != pid as u32
            || e.suppressed.load(Ordering::Relaxed)
        {
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
    // Only what is not already 0: a store dirties the page, a copy-on-write fault per fork.
    if DROPPED.load(Ordering::Relaxed) != 0 {
        DROPPED.store(0, Ordering::Relaxed);
    }
    if SIGNALS.load(Ordering::Relaxed) != 0 {
        SIGNALS.store(0, Ordering::Relaxed);
    }
}
