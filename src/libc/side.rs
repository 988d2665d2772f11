//! glibc before 2.34: the functions only a side library exports (libpthread, libdl, librt,
//! libutil, libanl — `pthread_create`, `sem_wait`, `dlopen`, `timer_create`…).
//!
//! # Why their stubs are hidden versioned definitions
//!
//! A build for such a glibc exports these stubs only as `name@VERSION` (one `@`: a hidden,
//! non-default definition; `build.rs` `side_stubs`). glibc's `check_match` (elf/dl-lookup.c,
//! 2.31 lines 109–161) then decides who binds to them:
//! - a **versioned** reference `pthread_create@GLIBC_2.2.5` — every object linked against
//!   libpthread has one — binds: the version name and hash match (`map->l_versions[ndx]`), and
//!   a hidden definition is accepted when its version is the one asked for;
//! - an **unversioned** reference — a weak "is libpthread loaded?" probe in an object not
//!   linked against libpthread (libgcc's and libstdc++'s `__gthread_active_p` reading
//!   `__pthread_key_create`), or `dlsym` — never binds: a symbol of version index ≥ 3 (≥ 2 for
//!   `dlsym`, `DL_LOOKUP_RETURN_NEWEST`) is skipped, and a hidden one is not even remembered as
//!   the sole candidate (`(verstab[symidx] & 0x8000) == 0`). The version script's first node
//!   (`ASSAFE_NO_DEFAULT`, index 2) names no symbol, so every side version has index ≥ 3.
//!
//! The other stubs stay unversioned (base index 1): `_dl_check_map_versions`
//! (elf/dl-version.c, 2.31 line 336) does not enter the base version in `l_versions`, so its
//! hash stays 0 and `check_match` accepts those for a versioned reference, as before.
//!
//! So weak probes see what they see without the preload, and every program linked against
//! libpthread (or libdl, librt…) is checked.
//!
//! # Where the real function comes from
//!
//! A side library loaded at start is in the lookup snapshot of `symbols.rs`. One loaded later
//! (a `dlopen`ed object that needs libpthread) is not, and a call can reach its stub only once
//! it is loaded (a versioned reference implies the library is among its object's dependencies).
//! - After each interposed `dlopen`/`dlmopen` that succeeded ([`after_dlopen`], normal context), the
//!   library records libpthread and librt if they are loaded now. It asks with the real
//!   `dlopen(soname, RTLD_NOLOAD)`, which takes the loader's lock, so an object that another
//!   thread is still loading is not seen half-loaded; the handle is the object's `link_map`,
//!   whose first fields (`l_addr`, `l_name`, `l_ld`) are glibc's public ABI (`<link.h>`). Both
//!   are linked `-z nodelete` (glibc 2.31 nptl/Makefile line 383, rt/Makefile line 61), and a
//!   `dlopen` that succeeded has activated that flag (`activate_nodelete`, elf/dl-open.c), so
//!   they are never unmapped (`_dl_close_worker` keeps `l_nodelete_active` maps, elf/dl-close.c
//!   line 200): lookups in them from any context (a fork child, a handler) are as safe as in
//!   the start-up snapshot. The recorded objects live in this module (append-only, published
//!   with Release/Acquire); no lookup follows the loader's list.
//! - A call before that (a constructor of the `dlopen`ed object) or into libdl, libutil or
//!   libanl (not `nodelete`: a `dlclose` may unmap them) is resolved in normal context by one
//!   pass of the real `dl_iterate_phdr` (the loader's lock: no object is unmapped while it
//!   runs) and not stored. In a fork child or handler such a slot takes the ENOSYS/NULL
//!   fallback (`symbols::fallback`), which counts the call.

use core::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};

use super::LinkMap;
use super::symbols::{self, SLOTS, generated as g};
use crate::platform::elf::{Dyn, Object};
use crate::platform::tls;

/// Side libraries linked `-z nodelete` (recorded after a `dlopen`, never unloaded).
const PINNED: [&[u8]; 2] = [b"libpthread.so.0", b"librt.so.1"];
/// Every side library (glibc < 2.34).
const SIDE: [&[u8]; 5] = [
    b"libpthread.so.0",
    b"libdl.so.2",
    b"librt.so.1",
    b"libutil.so.1",
    b"libanl.so.1",
];

/// Does this build have side-library stubs?
#[inline]
pub fn any() -> bool {
    g::SIDE_FIRST < g::NSYMS
}

/// Pinned side libraries recorded after start (written only by the holder of `WRITING`, before
/// `NLATE` publishes them).
static mut LATE: [Object; PINNED.len()] = [Object::EMPTY; PINNED.len()];
static NLATE: AtomicUsize = AtomicUsize::new(0);
#[unsafe(link_section = "assafe_hot")]
static WRITING: AtomicBool = AtomicBool::new(false);
/// Per late object and version name: the object's version index + 1 (see `symbols::Snapshot`).
static LATE_VCACHE: [[AtomicU16; g::NVERSIONS]; PINNED.len()] =
    [const { [const { AtomicU16::new(0) }; g::NVERSIONS] }; PINNED.len()];

fn late() -> &'static [Object] {
    let n = NLATE.load(Ordering::Acquire);
    // SAFETY: the first NLATE entries were written before NLATE was published (Release, read
    // here with Acquire) and are never written again.
    unsafe { core::slice::from_raw_parts((&raw const LATE).cast::<Object>(), n) }
}

/// Looks side row `idx` up in the recorded late objects (any context: they are never unmapped).
fn lookup_late(idx: usize) -> Option<usize> {
    let vid = g::VERSIONS[idx] as usize;
    let (name, hash, version) = (symbols::name(idx), g::HASHES[idx], g::VERSION_NAMES[vid]);
    late().iter().zip(&LATE_VCACHE).find_map(|(o, cache)| {
        // SAFETY: a nodelete object whose dlopen completed (module doc): its tables stay mapped.
        // No IFUNC: libpthread and librt define none.
        unsafe { o.lookup(name, hash, version, &cache[vid]) }.map(|d| d.addr)
    })
}

/// Is this thread in normal context (no fork child, vfork child, handler; no fork behind our
/// back), where the loader's lock may be taken?
fn normal_context() -> bool {
    // SAFETY: ALIVE points to a byte that stays mapped (symbols::ALIVE's doc).
    tls::state() & tls::CONTEXT_MASK == 0 && unsafe { *symbols::ALIVE.load(Ordering::Relaxed) } != 0
}

/// Resolves side row `idx` that the start-up snapshot does not define (called by
/// `symbols::resolve`). Stores the slot only when found in a pinned object.
#[cold]
pub fn resolve(idx: usize) -> usize {
    if let Some(a) = lookup_late(idx) {
        SLOTS[idx].store(a, Ordering::Relaxed);
        return a;
    }
    if normal_context()
        && let Some(a) = scan(idx)
    {
        return a;
    }
    symbols::fallback(idx)
}

/// What `dl_iterate_phdr` passes its callback (`<link.h>`).
type PhdrInfo = libc::dl_phdr_info;

type IterateFn = unsafe extern "C" fn(
    unsafe extern "C" fn(*const PhdrInfo, usize, *mut usize) -> i32,
    *mut usize,
) -> i32;

/// One pass of the real `dl_iterate_phdr` (normal context only) for a side library that defines
/// `idx`; its address, not stored (the object may be unloaded later).
fn scan(idx: usize) -> Option<usize> {
    unsafe extern "C" fn each(info: *const PhdrInfo, _size: usize, data: *mut usize) -> i32 {
        // SAFETY: dl_iterate_phdr passes a valid info for the callback's duration; `data` is
        // `scan`'s `found`, which holds the index on entry.
        let (info, idx) = unsafe { (&*info, *data) };
        let Some(o) = object_of(info) else { return 0 };
        if !SIDE.contains(&o.soname()) {
            return 0;
        }
        let vid = g::VERSIONS[idx] as usize;
        let cache = AtomicU16::new(0);
        // SAFETY: the loader's lock is held: the object stays mapped while we read it.
        let d = unsafe {
            o.lookup(
                symbols::name(idx),
                g::HASHES[idx],
                g::VERSION_NAMES[vid],
                &cache,
            )
        };
        match d {
            Some(d) => {
                // SAFETY: `data` is scan's `found` (see above).
                unsafe { *data = d.addr };
                1
            }
            None => 0,
        }
    }
    let mut found = idx;
    let busy = tls::state() & tls::BUSY != 0;
    tls::set(tls::BUSY);
    // SAFETY: the slot of dl_iterate_phdr (in libc.so.6 on every glibc) holds the real one, of
    // this type; normal context, so taking the loader's lock is what the program could do.
    let r = unsafe {
        let f: IterateFn = core::mem::transmute(symbols::real(g::IDX_dl_iterate_phdr));
        f(each, &mut found)
    };
    if !busy {
        tls::clear(tls::BUSY);
    }
    (r == 1).then_some(found)
}

/// The object `info` describes, parsed from its `PT_DYNAMIC`.
fn object_of(info: &PhdrInfo) -> Option<Object> {
    (0..info.dlpi_phnum as usize).find_map(|i| {
        // SAFETY: dlpi_phdr points to dlpi_phnum program headers.
        let p = unsafe { &*info.dlpi_phdr.add(i) };
        if p.p_type != libc::PT_DYNAMIC {
            return None;
        }
        // SAFETY: a loaded object's load bias and dynamic section (the loader's lock is held).
        unsafe {
            Object::parse(
                info.dlpi_addr as usize,
                (info.dlpi_addr + p.p_vaddr) as usize as *const Dyn,
            )
        }
    })
}

/// After an interposed `dlopen`/`dlmopen` that succeeded (its caller checks: glibc's successful
/// `dlopen` clears a pending `dlerror` message, so ours must not run after a failure, whose
/// message the program has yet to read): records libpthread and librt if they are loaded now and
/// were not at start (module doc). Normal context only.
pub fn after_dlopen() {
    if !any() || NLATE.load(Ordering::Acquire) == PINNED.len() || !normal_context() {
        return;
    }
    if WRITING
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return; // another thread records
    }
    let busy = tls::state() & tls::BUSY != 0;
    tls::set(tls::BUSY);
    record_late();
    if !busy {
        tls::clear(tls::BUSY);
    }
    WRITING.store(false, Ordering::Release);
}

/// `after_dlopen`'s work, by the holder of `WRITING`.
fn record_late() {
    type DlopenFn = unsafe extern "C" fn(*const u8, i32) -> *mut LinkMap;
    type DlcloseFn = unsafe extern "C" fn(*mut LinkMap) -> i32;
    // SAFETY: an interposed dlopen just returned, so the real dlopen and dlclose are loaded
    // (libdl before 2.34), of these types.
    let (dlopen, dlclose): (DlopenFn, DlcloseFn) = unsafe {
        (
            core::mem::transmute::<usize, DlopenFn>(symbols::real(g::IDX_dlopen)),
            core::mem::transmute::<usize, DlcloseFn>(symbols::real(g::IDX_dlclose)),
        )
    };
    let mut n = NLATE.load(Ordering::Acquire);
    for soname in PINNED {
        let known = symbols::snapshot()
            .iter()
            .chain(late())
            .any(|o| o.soname() == soname);
        if known || !loaded(soname) {
            continue;
        }
        let mut z = [0u8; 16];
        z[..soname.len()].copy_from_slice(soname);
        // SAFETY: a NUL-terminated name; RTLD_NOLOAD loads nothing, it returns the handle of a
        // fully loaded object (it waits for the loader's lock) or NULL.
        let h = unsafe { dlopen(z.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
        if h.is_null() {
            // Unloaded since `loaded` saw it (another thread's dlopen failed). Our failure left
            // a message where the program's successful dlopen left none: read it away.
            // SAFETY: the real dlerror (loaded with dlopen), `char *dlerror(void)`.
            unsafe {
                let dlerror: unsafe extern "C" fn() -> *const u8 =
                    core::mem::transmute::<usize, _>(symbols::real(g::IDX_dlerror));
                dlerror();
            }
            continue;
        }
        // SAFETY: a dlopen handle is the object's link_map (glibc), whose head is public ABI.
        let o = unsafe { Object::parse((*h).l_addr, (*h).l_ld) };
        // SAFETY: drops the reference RTLD_NOLOAD took; the object is nodelete (module doc).
        unsafe { dlclose(h) };
        if let Some(o) = o {
            // SAFETY: only the holder of WRITING writes LATE, entry n is not published yet.
            unsafe { (&raw mut LATE).cast::<Object>().add(n).write(o) };
            n += 1;
            NLATE.store(n, Ordering::Release);
        }
    }
}

/// Is an object whose soname is `soname` in the loader's list (real `dl_iterate_phdr`: the
/// loader's lock)? Asked first so that `dlopen(RTLD_NOLOAD)` never fails (a failure would leave
/// a message for the program's next `dlerror`).
fn loaded(soname: &[u8]) -> bool {
    unsafe extern "C" fn each(info: *const PhdrInfo, _size: usize, data: *mut usize) -> i32 {
        // SAFETY: dl_iterate_phdr passes a valid info; `data` is `loaded`'s `want`: a pointer to
        // the soname slice.
        let (info, want) = unsafe { (&*info, &*(*data as *const &[u8])) };
        object_of(info).is_some_and(|o| o.soname() == *want) as i32
    }
    let mut want = (&raw const soname) as usize;
    // SAFETY: as in `scan`.
    unsafe {
        let f: IterateFn = core::mem::transmute(symbols::real(g::IDX_dl_iterate_phdr));
        f(each, &mut want) == 1
    }
}
