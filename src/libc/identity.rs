//! Which C library is running, compared with the one the build's stubs were generated for
//! (`build.rs`: `BUILD_LIBC`, `BUILD_FINGERPRINT`).
//!
//! The fingerprint is FNV-1a (64 bit) over the `vd_hash` of the libc's version definitions (the
//! ELF hash of each name, which the linker stores; index ≥ 2, in table order, 4 bytes little
//! endian each) — glibc adds a version node with every release that adds functions, so two libcs
//! with the same nodes export the same functions — and, for a libc without symbol versions
//! (musl), over its number of dynamic symbols. `build.rs` computes the same from the file
//! (`build/libc_exports.rs`). A few hundred instructions at load (no name is read).
//!
//! On another libc, the functions it exports at a default version that this build does not know
//! (not in symbols.txt, or an interposed-class name the build libc lacked, so without a stub)
//! are counted: those calls go unchecked, and the process is only *partially checked*.

use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use super::symbols::generated::{BUILD_FINGERPRINT, KNOWN_BLOB, KNOWN_OFF, MUSL_VERSIONS, NKNOWN};
use crate::platform::elf::{self, Object};

/// The libc the build is for (`"glibc 2.36"`).
pub use super::symbols::generated::BUILD_LIBC;

/// 0: not recognised yet (or no libc object found); `SAME`; `OTHER`.
#[unsafe(link_section = "assafe_hot")]
static STATE: AtomicU8 = AtomicU8::new(0);
const SAME: u8 = 1;
const OTHER: u8 = 2;
/// On another libc: functions it exports that this build does not know.
#[unsafe(link_section = "assafe_hot")]
static UNKNOWN: AtomicUsize = AtomicUsize::new(0);
/// On another libc: its version (`gnu_get_libc_version()`, or "unversioned"), NUL-padded.
#[unsafe(link_section = "assafe_hot")]
static mut RUNNING: [u8; 24] = [0; 24];
/// On another libc: its object (for the verbosity=1 list). Written once at load, before
/// `STATE` publishes it.
#[unsafe(link_section = "assafe_hot")]
static mut LIBC: Object = Object::EMPTY;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The fingerprint of a loaded libc (see the module doc).
///
/// # Safety
/// `o` must be a loaded object whose tables stay mapped.
unsafe fn fingerprint(o: &Object) -> u64 {
    let mut h = FNV_OFFSET;
    let mut any = false;
    // SAFETY: forwarded contract.
    unsafe {
        o.for_each_version_hash(|v| {
            any = true;
            h = fnv(h, &v.to_le_bytes());
        })
    };
    if !any {
        h = fnv(FNV_OFFSET, &(o.symbol_count() as u64).to_le_bytes());
    }
    h
}

/// Is `name` one of the names this build knows (binary search of the sorted blob)?
fn known(name: &[u8]) -> bool {
    let at = |i: usize| &KNOWN_BLOB[KNOWN_OFF[i] as usize..KNOWN_OFF[i + 1] as usize];
    let (mut lo, mut hi) = (0, NKNOWN);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match at(mid).cmp(name) {
            core::cmp::Ordering::Less => lo = mid + 1,
            core::cmp::Ordering::Greater => hi = mid,
            core::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// At load, in normal context, with the running C library's object (never unmapped): compare
/// it with the build's; on another libc count the functions this build does not know.
pub fn recognise(o: &Object) {
    if STATE.load(Ordering::Relaxed) != 0 {
        return;
    }
    // SAFETY: the C library was loaded at start and is never unloaded.
    let fp = unsafe { fingerprint(o) };
    if BUILD_FINGERPRINT == 0 || fp == BUILD_FINGERPRINT {
        STATE.store(SAME, Ordering::Release);
        return;
    }
    let (mut n, mut names) = (0, 0u64);
    // SAFETY: as above.
    unsafe {
        o.for_each_public_function(|name| {
            names = names.wrapping_add(fnv(FNV_OFFSET, name));
            if !known(name) {
                n += 1;
            }
        })
    };
    UNKNOWN.store(n, Ordering::Relaxed);
    let mut label = [0u8; 24];
    let v: &[u8] = match running_version(o) {
        Some(v) => v,
        None if !has_versions(o) => musl_version(names),
        None => b"unversioned",
    };
    let k = v.len().min(label.len() - 1);
    label[..k].copy_from_slice(&v[..k]);
    // SAFETY: written once here, at load, before STATE publishes them (Release); read only after
    // an Acquire load sees OTHER.
    unsafe {
        RUNNING = label;
        LIBC = *o;
    }
    STATE.store(OTHER, Ordering::Release);
}

/// Does the libc define symbol versions (glibc does; musl does not)?
fn has_versions(o: &Object) -> bool {
    let mut any = false;
    // SAFETY: the C library's tables stay mapped.
    unsafe { o.for_each_version_hash(|_| any = true) };
    any
}

/// A libc without symbol versions (musl), named by its exports: `names` is the wrapping sum of
/// the FNV-1a hashes of the names of the functions it exports, which `build.rs` computed for
/// every musl of data/reference/exports (musl 1.2.4 dropped the `*64` LFS names such as
/// `open64`, 1.2.5 added `statx`, `preadv2`, `renameat2`…, so each version has its own sum).
fn musl_version(names: u64) -> &'static [u8] {
    match MUSL_VERSIONS.iter().find(|(_, h)| *h == names) {
        Some(("1.2.3", _)) => b"musl 1.2.3",
        Some(("1.2.5", _)) => b"musl 1.2.5",
        Some((v, _)) => v.as_bytes(),
        None => b"musl (unknown version)",
    }
}

/// glibc's version string (`gnu_get_libc_version()`: returns a pointer to a constant string,
/// takes no lock), when the libc has the function.
fn running_version(o: &Object) -> Option<&'static [u8]> {
    let name = b"gnu_get_libc_version";
    let cache = core::sync::atomic::AtomicU16::new(0);
    // SAFETY: the C library's tables stay mapped; an empty version asks for the default one.
    let d = unsafe { o.lookup(name, elf::gnu_hash(name), b"", &cache) }?;
    if d.ifunc {
        return None;
    }
    // SAFETY: glibc's `const char *gnu_get_libc_version(void)`, which returns the address of a
    // static string; called once, at load, in normal context.
    let f: extern "C" fn() -> *const u8 = unsafe { core::mem::transmute(d.addr) };
    let p = f();
    if p.is_null() {
        return None;
    }
    let mut n = 0;
    // SAFETY: a NUL-terminated constant string (bounded to 23 bytes here).
    while n < 23 && unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    // SAFETY: n bytes before the NUL (or the bound) are readable and never change.
    Some(unsafe { core::slice::from_raw_parts(p, n) })
}

/// The running musl's version as `MAJOR * 10000 + MINOR * 100 + PATCH` (what the musl rows of
/// data/fork-resets.tsv are compared with): the build's on the build's musl, the one its exports
/// name on another, 0 when unknown (no fork reset is then assumed: `hazard`). No lock, no
/// allocation (fork children and handlers ask).
#[cfg(target_env = "musl")]
pub fn musl_version_number() -> u32 {
    match STATE.load(Ordering::Acquire) {
        SAME => super::symbols::generated::BUILD_MUSL_VERSION,
        OTHER => {
            let v = running().strip_prefix(b"musl ").unwrap_or(b"");
            let (mut n, mut part, mut parts) = (0u32, 0u32, 0);
            for &c in v {
                match c {
                    b'0'..=b'9' => part = part * 10 + u32::from(c - b'0'),
                    b'.' => {
                        n = n * 100 + part;
                        part = 0;
                        parts += 1;
                    }
                    _ => return 0,
                }
            }
            if parts == 2 && !v.is_empty() {
                n * 100 + part
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// Is the running libc another one than the build's?
pub fn other_libc() -> bool {
    STATE.load(Ordering::Acquire) == OTHER
}

/// Functions the running libc exports that this build does not know (0 on the build's libc).
pub fn unknown_functions() -> usize {
    if other_libc() {
        UNKNOWN.load(Ordering::Relaxed)
    } else {
        0
    }
}

/// The running libc's version (`"2.31"`; `"unversioned"` without `gnu_get_libc_version`); empty
/// on the build's libc.
pub fn running() -> &'static [u8] {
    if !other_libc() {
        return b"";
    }
    // SAFETY: published before STATE (see `recognise`), never written again, so a shared
    // reference to it for the process's life is sound.
    let l: &'static [u8; 24] = unsafe { (&raw const RUNNING).as_ref().unwrap_unchecked() };
    let n = l.iter().position(|&c| c == 0).unwrap_or(l.len());
    &l[..n]
}

/// On another libc: calls `f` with each function it exports that this build does not know.
/// Normal context.
pub fn for_each_unknown(mut f: impl FnMut(&[u8])) {
    if !other_libc() {
        return;
    }
    // SAFETY: published before STATE, never written again (a copy of it is read).
    let o: Object = unsafe { core::ptr::read(&raw const LIBC) };
    // SAFETY: as above.
    unsafe {
        o.for_each_public_function(|name| {
            if !known(name) {
                f(name)
            }
        })
    };
}
