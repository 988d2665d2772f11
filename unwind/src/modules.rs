//! Fixed-capacity, lock-free table of loaded modules.
//!
//! Two tables are kept. [`refresh_modules`] (normal context only) fills the inactive
//! one and publishes it with a Release store of the active-table index. Every table also carries a
//! sequence counter (seqlock): readers, which may run in signal handlers or fork
//! children concurrently with a refresh on another thread, copy an entry out with
//! Relaxed atomic loads and retry if the counter moved meanwhile. All fields are
//! atomics, so there is no data race even while a slow reader overlaps a writer.

use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

use gimli::{BaseAddresses, EhFrameHdr, NativeEndian, Pointer};

/// Maximum number of modules recorded (further modules are ignored).
pub const MAX_MODULES: usize = 512;
/// Maximum number of PT_LOAD segments recorded per module.
pub const MAX_LOADS: usize = 8;

const PT_LOAD: u32 = 1;
const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
const PT_NOTE: u32 = 4;
const NT_GNU_BUILD_ID: u32 = 3;
/// Longest build-id recorded (GNU ld writes 20 bytes for sha1, 16 for md5/uuid).
pub const MAX_BUILD_ID: usize = 64;

#[repr(C)]
struct Elf64Phdr {
    p_type: u32,
    p_flags: u32,
    p_offset: u64,
    p_vaddr: u64,
    p_paddr: u64,
    p_filesz: u64,
    p_memsz: u64,
    p_align: u64,
}

/// glibc's `struct dl_phdr_info` (only the leading fields we use; the callback
/// receives the real size and we never read past these).
#[repr(C)]
struct DlPhdrInfo {
    dlpi_addr: usize,
    dlpi_name: *const c_char,
    dlpi_phdr: *const Elf64Phdr,
    dlpi_phnum: u16,
}

type DlCallback = unsafe extern "C" fn(*mut DlPhdrInfo, usize, *mut c_void) -> c_int;

unsafe extern "C" {
    fn dl_iterate_phdr(callback: DlCallback, data: *mut c_void) -> c_int;
}

/// A module as copied out of the table (plain values, consistent snapshot).
#[derive(Clone, Copy, Default)]
pub(crate) struct Module {
    pub base: usize,
    pub nloads: usize,
    pub loads: [(usize, usize); MAX_LOADS],
    pub path_ptr: usize,
    pub path_len: usize,
    pub eh_hdr: usize,
    pub eh_hdr_len: usize,
    pub eh_frame: usize,
    pub eh_frame_len: usize,
    /// The `NT_GNU_BUILD_ID` note's descriptor in the loaded image (0, 0: none).
    pub build_id_ptr: usize,
    pub build_id_len: usize,
}

impl Module {
    fn contains(&self, addr: usize) -> bool {
        self.loads[..self.nloads.min(MAX_LOADS)]
            .iter()
            .any(|&(s, e)| addr >= s && addr < e)
    }
}

struct Slot {
    base: AtomicUsize,
    lo: AtomicUsize,
    hi: AtomicUsize,
    nloads: AtomicUsize,
    loads: [(AtomicUsize, AtomicUsize); MAX_LOADS],
    path_ptr: AtomicUsize,
    path_len: AtomicUsize,
    eh_hdr: AtomicUsize,
    eh_hdr_len: AtomicUsize,
    eh_frame: AtomicUsize,
    eh_frame_len: AtomicUsize,
    build_id_ptr: AtomicUsize,
    build_id_len: AtomicUsize,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            base: AtomicUsize::new(0),
            lo: AtomicUsize::new(0),
            hi: AtomicUsize::new(0),
            nloads: AtomicUsize::new(0),
            loads: [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; MAX_LOADS],
            path_ptr: AtomicUsize::new(0),
            path_len: AtomicUsize::new(0),
            eh_hdr: AtomicUsize::new(0),
            eh_hdr_len: AtomicUsize::new(0),
            eh_frame: AtomicUsize::new(0),
            eh_frame_len: AtomicUsize::new(0),
            build_id_ptr: AtomicUsize::new(0),
            build_id_len: AtomicUsize::new(0),
        }
    }

    fn store(&self, m: &Module) {
        let r = Ordering::Relaxed;
        let n = m.nloads.min(MAX_LOADS);
        let lo = m.loads[..n].iter().map(|l| l.0).min().unwrap_or(0);
        let hi = m.loads[..n].iter().map(|l| l.1).max().unwrap_or(0);
        self.base.store(m.base, r);
        self.lo.store(lo, r);
        self.hi.store(hi, r);
        self.nloads.store(n, r);
        for (dst, src) in self.loads.iter().zip(m.loads.iter()) {
            dst.0.store(src.0, r);
            dst.1.store(src.1, r);
        }
        self.path_ptr.store(m.path_ptr, r);
        self.path_len.store(m.path_len, r);
        self.eh_hdr.store(m.eh_hdr, r);
        self.eh_hdr_len.store(m.eh_hdr_len, r);
        self.eh_frame.store(m.eh_frame, r);
        self.eh_frame_len.store(m.eh_frame_len, r);
        self.build_id_ptr.store(m.build_id_ptr, r);
        self.build_id_len.store(m.build_id_len, r);
    }

    fn load(&self) -> Module {
        let r = Ordering::Relaxed;
        let mut m = Module {
            base: self.base.load(r),
            nloads: self.nloads.load(r).min(MAX_LOADS),
            path_ptr: self.path_ptr.load(r),
            path_len: self.path_len.load(r),
            eh_hdr: self.eh_hdr.load(r),
            eh_hdr_len: self.eh_hdr_len.load(r),
            eh_frame: self.eh_frame.load(r),
            eh_frame_len: self.eh_frame_len.load(r),
            build_id_ptr: self.build_id_ptr.load(r),
            build_id_len: self.build_id_len.load(r).min(MAX_BUILD_ID),
            ..Module::default()
        };
        for (dst, src) in m.loads.iter_mut().zip(self.loads.iter()) {
            *dst = (src.0.load(r), src.1.load(r));
        }
        m
    }
}

#[repr(C)]
struct Table {
    /// Seqlock counter: odd while a writer is filling this table.
    seq: AtomicUsize,
    count: AtomicUsize,
    slots: [Slot; MAX_MODULES],
}

impl Table {
    const fn new() -> Self {
        Table {
            seq: AtomicUsize::new(0),
            count: AtomicUsize::new(0),
            slots: [const { Slot::new() }; MAX_MODULES],
        }
    }
}

static TABLES: [Table; 2] = [Table::new(), Table::new()];
/// Index of the published table.
#[unsafe(link_section = "assafe_hot")]
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// Held by the one refreshing writer.
#[unsafe(link_section = "assafe_hot")]
static WRITER: AtomicBool = AtomicBool::new(false);
/// Set by every refresh request; the writer loops until it is clear.
#[unsafe(link_section = "assafe_hot")]
static PENDING: AtomicBool = AtomicBool::new(false);
/// Number of completed refreshes.
#[unsafe(link_section = "assafe_hot")]
static GENERATION: AtomicUsize = AtomicUsize::new(0);

/// The executable's path in the table: the slot of the main program holds this marker instead
/// of a pointer, and [`ModuleRef::path`] asks the embedding library ([`main_path`]). Nothing
/// reads the path when the table is filled (at load, in every process).
const MAIN_PATH: usize = usize::MAX;

/// Where the executable's path comes from ([`set_exe_provider`]; 0: none, the path is empty).
#[unsafe(link_section = "assafe_hot")]
static PROVIDER: AtomicUsize = AtomicUsize::new(0);

/// Lets the embedding library give the executable's path (it reads it once for its own records,
/// knows when `/proc` may not be read, and keeps it across a `chroot`). `f` must be
/// async-signal-safe and return a path that never changes; `None` leaves the path empty.
pub fn set_exe_provider(f: fn() -> Option<&'static [u8]>) {
    PROVIDER.store(f as usize, Ordering::Release);
}

fn main_path() -> &'static [u8] {
    let p = PROVIDER.load(Ordering::Acquire);
    if p == 0 {
        return &[];
    }
    // SAFETY: PROVIDER holds 0 or a `fn() -> Option<&'static [u8]>` stored by set_exe_provider.
    let f: fn() -> Option<&'static [u8]> = unsafe { core::mem::transmute(p) };
    f().unwrap_or(&[])
}

struct Fill<'a> {
    table: &'a Table,
    n: usize,
    first: bool,
}

/// Builds a [`Module`] from one `dl_phdr_info`.
///
/// # Safety
/// `info` must be a valid `dl_phdr_info` as passed by `dl_iterate_phdr`.
unsafe fn module_from_info(info: &DlPhdrInfo, first: bool) -> Option<Module> {
    let mut m = Module {
        base: info.dlpi_addr,
        ..Module::default()
    };
    if info.dlpi_phdr.is_null() {
        return None;
    }
    // SAFETY: dl_iterate_phdr guarantees dlpi_phdr points to dlpi_phnum program headers
    // that stay mapped while the module is loaded.
    let phdrs = unsafe { core::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    for ph in phdrs {
        let start = info.dlpi_addr.wrapping_add(ph.p_vaddr as usize);
        let end = start.wrapping_add(ph.p_memsz as usize);
        if ph.p_type == PT_LOAD && ph.p_memsz > 0 && m.nloads < MAX_LOADS {
            m.loads[m.nloads] = (start, end);
            m.nloads += 1;
        } else if ph.p_type == PT_GNU_EH_FRAME && ph.p_memsz > 0 {
            m.eh_hdr = start;
            m.eh_hdr_len = ph.p_memsz as usize;
        }
    }
    if m.nloads == 0 {
        return None;
    }
    for ph in phdrs {
        if ph.p_type == PT_NOTE && m.build_id_len == 0 {
            let start = info.dlpi_addr.wrapping_add(ph.p_vaddr as usize);
            let len = ph.p_memsz.min(ph.p_filesz) as usize;
            // A note segment outside the loaded segments is not in memory: skip it.
            if len > 0 && m.contains(start) && m.contains(start + len - 1) {
                // SAFETY: the segment lies inside mapped PT_LOAD segments of a loaded module
                // (checked just above), which stay mapped while the module is loaded.
                let notes = unsafe { core::slice::from_raw_parts(start as *const u8, len) };
                if let Some((off, n)) = gnu_build_id(notes) {
                    m.build_id_ptr = start + off;
                    m.build_id_len = n;
                }
            }
        }
    }
    // Path bytes (without NUL).
    let name = info.dlpi_name;
    let name_len = if name.is_null() {
        0
    } else {
        // SAFETY: a non-null dlpi_name is a NUL-terminated string owned by the dynamic
        // linker's link_map, valid until the module is unloaded.
        unsafe { strlen(name) }
    };
    if name_len == 0 && first {
        (m.path_ptr, m.path_len) = (MAIN_PATH, 0);
    } else {
        m.path_ptr = name as usize;
        m.path_len = name_len;
    }
    // `.eh_frame` is located from the header only when a walk looks the module up
    // ([`Module::locate_eh_frame`]): the header is on a page of its own in most modules, and
    // reading it here cost every process one page fault per loaded module at load.
    if m.eh_hdr != 0 && !m.contains(m.eh_hdr) {
        m.eh_hdr = 0;
        m.eh_hdr_len = 0;
    }
    Some(m)
}

impl Module {
    /// Sets `eh_frame` from the module's `.eh_frame_hdr`, bounded by the end of its PT_LOAD
    /// segment; clears the header when it names no `.eh_frame`.
    ///
    /// # Safety
    /// The module must be loaded: its PT_LOAD segments mapped (true of every module in the table
    /// until the refresh after its `dlclose`, the same condition under which a walk reads its
    /// unwind tables).
    unsafe fn locate_eh_frame(&mut self) {
        if self.eh_hdr != 0 {
            // SAFETY: PT_GNU_EH_FRAME lies inside a mapped PT_LOAD segment of a loaded module
            // (checked when the table was filled; caller's contract).
            let hdr =
                unsafe { core::slice::from_raw_parts(self.eh_hdr as *const u8, self.eh_hdr_len) };
            if let Some(p) = eh_frame_ptr(hdr, self.eh_hdr)
                && let Some(&(_, end)) = self.loads[..self.nloads]
                    .iter()
                    .find(|l| p >= l.0 && p < l.1)
            {
                self.eh_frame = p;
                self.eh_frame_len = end - p;
            }
        }
        if self.eh_frame == 0 {
            self.eh_hdr = 0;
            self.eh_hdr_len = 0;
        }
    }
}

/// `.eh_frame`'s address from its `.eh_frame_hdr` at `addr`. The encoding every linker writes
/// (version 1, `DW_EH_PE_pcrel | DW_EH_PE_sdata4`) is read directly; any other goes to gimli.
fn eh_frame_ptr(hdr: &[u8], addr: usize) -> Option<usize> {
    const PCREL_SDATA4: u8 = 0x1b;
    if hdr.len() >= 8 && hdr[0] == 1 && hdr[1] == PCREL_SDATA4 {
        let off = i32::from_ne_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        return Some((addr + 4).wrapping_add(off as isize as usize));
    }
    let bases = BaseAddresses::default().set_eh_frame_hdr(addr as u64);
    match EhFrameHdr::new(hdr, NativeEndian)
        .parse(&bases, 8)
        .ok()?
        .eh_frame_ptr()
    {
        Pointer::Direct(p) => Some(p as usize),
        Pointer::Indirect(_) => None,
    }
}

/// The offset and length of the `NT_GNU_BUILD_ID` descriptor in a PT_NOTE segment's bytes.
fn gnu_build_id(notes: &[u8]) -> Option<(usize, usize)> {
    let word = |at: usize| -> Option<usize> {
        let b = notes.get(at..at + 4)?;
        Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let align4 = |n: usize| n.checked_add(3).map(|v| v & !3);
    let mut at = 0;
    while at + 12 <= notes.len() {
        let (namesz, descsz, kind) = (word(at)?, word(at + 4)?, word(at + 8)?);
        let name_at = at + 12;
        let desc_at = name_at.checked_add(align4(namesz)?)?;
        let next = desc_at.checked_add(align4(descsz)?)?;
        if desc_at.checked_add(descsz)? > notes.len() {
            return None;
        }
        if kind == NT_GNU_BUILD_ID as usize
            && notes.get(name_at..name_at + namesz) == Some(b"GNU\0".as_slice())
            && descsz > 0
            && descsz <= MAX_BUILD_ID
        {
            return Some((desc_at, descsz));
        }
        at = next;
    }
    None
}

/// # Safety
/// `s` must be a valid NUL-terminated string.
unsafe fn strlen(s: *const c_char) -> usize {
    let mut n = 0;
    // SAFETY: the string is NUL-terminated (caller's contract), so every byte up to
    // and including the terminator is readable.
    while unsafe { *s.add(n) } != 0 {
        n += 1;
    }
    n
}

unsafe extern "C" fn callback(info: *mut DlPhdrInfo, _size: usize, data: *mut c_void) -> c_int {
    // SAFETY: `data` is the `&mut Fill` passed to dl_iterate_phdr by `do_refresh`, alive
    // for the whole iteration, and only this callback uses it.
    let fill = unsafe { &mut *(data as *mut Fill<'_>) };
    let first = fill.first;
    fill.first = false;
    if info.is_null() || fill.n >= MAX_MODULES {
        return 0;
    }
    // SAFETY: dl_iterate_phdr passes a valid info pointer for the callback's duration.
    if let Some(m) = unsafe { module_from_info(&*info, first) } {
        fill.table.slots[fill.n].store(&m);
        fill.n += 1;
    }
    0
}

fn do_refresh() {
    let inactive = 1 - (ACTIVE.load(Ordering::Relaxed) & 1);
    let table = &TABLES[inactive];
    // Seqlock write side: odd counter, then (fenced) data stores.
    table.seq.fetch_add(1, Ordering::Relaxed);
    fence(Ordering::Release);
    let mut fill = Fill {
        table,
        n: 0,
        first: true,
    };
    // SAFETY: the callback matches dl_iterate_phdr's expected signature and `fill`
    // outlives the call. We are in normal context (caller's contract).
    unsafe { dl_iterate_phdr(callback, &mut fill as *mut Fill<'_> as *mut c_void) };
    table.count.store(fill.n, Ordering::Relaxed);
    table.seq.fetch_add(1, Ordering::Release);
    ACTIVE.store(inactive, Ordering::Release);
    GENERATION.fetch_add(1, Ordering::Release);
}

/// Re-reads the list of loaded modules into the table.
///
/// Concurrent refreshes are coalesced: if another thread is refreshing, this call
/// returns at once and that thread re-runs the refresh so this request's state is
/// captured too.
///
/// # Safety
/// Must be called from normal context only (not from a signal handler nor a fork or
/// vfork child): it calls `dl_iterate_phdr`, which takes the dynamic linker's lock.
pub unsafe fn refresh_modules() {
    loop {
        PENDING.store(true, Ordering::SeqCst);
        if WRITER
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return; // The current writer will see PENDING and refresh again.
        }
        while PENDING.swap(false, Ordering::SeqCst) {
            do_refresh();
        }
        WRITER.store(false, Ordering::Release);
        if !PENDING.load(Ordering::SeqCst) {
            return;
        }
    }
}

/// Number of completed refreshes (0: the table was never filled).
pub fn generation() -> usize {
    GENERATION.load(Ordering::Acquire)
}

/// Number of modules in the published table.
pub fn module_count() -> usize {
    let t = &TABLES[ACTIVE.load(Ordering::Acquire) & 1];
    t.count.load(Ordering::Relaxed).min(MAX_MODULES)
}

/// Finds the module whose PT_LOAD segments contain `addr` (consistent snapshot).
pub(crate) fn lookup(addr: usize) -> Option<Module> {
    // A reader retries while refreshes rewrite the table it read (a preempted reader can meet
    // several in a row when another thread refreshes in a loop; 16 retries were seen to run out).
    for _ in 0..64 {
        let t = &TABLES[ACTIVE.load(Ordering::Acquire) & 1];
        let s1 = t.seq.load(Ordering::Acquire);
        if s1 & 1 == 1 {
            core::hint::spin_loop();
            continue;
        }
        let n = t.count.load(Ordering::Relaxed).min(MAX_MODULES);
        let mut found = None;
        for slot in &t.slots[..n] {
            if addr >= slot.lo.load(Ordering::Relaxed) && addr < slot.hi.load(Ordering::Relaxed) {
                let m = slot.load();
                if m.contains(addr) {
                    found = Some(m);
                    break;
                }
            }
        }
        fence(Ordering::Acquire);
        if t.seq.load(Ordering::Relaxed) == s1 {
            return found.map(|mut m| {
                // SAFETY: a module of the published table is loaded (see locate_eh_frame).
                unsafe { m.locate_eh_frame() };
                m
            });
        }
    }
    None
}

/// A module containing some address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleRef {
    /// Load base (`dlpi_addr`): 0 for non-PIE executables.
    pub base: usize,
    /// The main program (the first module; its path is the executable's, read on demand).
    pub main: bool,
    /// The path of a module other than the main program ([`ModuleRef::path`]).
    other_path: &'static [u8],
    /// `addr - base`.
    pub offset: usize,
    /// The module's GNU build-id bytes (`NT_GNU_BUILD_ID`, read from its loaded PT_NOTE when the
    /// table was filled); empty when it has none. Valid while the module stays loaded.
    pub build_id: &'static [u8],
}

impl ModuleRef {
    /// Path bytes without the NUL (the executable's `/proc/self/exe` target for the main
    /// program, read when first asked for, [`set_exe_provider`]; `linux-vdso.so.1` for the vdso).
    /// Valid while the module stays loaded. Async-signal-safe.
    pub fn path(&self) -> &'static [u8] {
        if self.main {
            main_path()
        } else {
            self.other_path
        }
    }
}

/// Which loaded module contains `addr`? Async-signal-safe, lock-free, no allocation.
/// Returns `None` for unknown addresses or before the first [`refresh_modules`].
pub fn module_of(addr: usize) -> Option<ModuleRef> {
    let m = lookup(addr)?;
    let main = m.path_ptr == MAIN_PATH;
    let other_path: &'static [u8] = if main || m.path_ptr == 0 || m.path_len == 0 {
        &[]
    } else {
        // SAFETY: path_ptr/path_len describe the dynamic linker's NUL-terminated name of a
        // module that is still loaded (the table is refreshed after every dlclose).
        unsafe { core::slice::from_raw_parts(m.path_ptr as *const u8, m.path_len) }
    };
    let build_id: &'static [u8] = if m.build_id_ptr == 0 || m.build_id_len == 0 {
        &[]
    } else {
        // SAFETY: build_id_ptr/build_id_len describe a note descriptor inside a PT_LOAD segment
        // of a module that is still loaded (checked when the table was filled; the table is
        // refreshed after every dlclose), and the length is bounded by MAX_BUILD_ID.
        unsafe { core::slice::from_raw_parts(m.build_id_ptr as *const u8, m.build_id_len) }
    };
    Some(ModuleRef {
        base: m.base,
        main,
        other_path,
        offset: addr.wrapping_sub(m.base),
        build_id,
    })
}
