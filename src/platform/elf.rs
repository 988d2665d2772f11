//! Finds the "next" definition of a symbol (what `dlsym(RTLD_NEXT, …)` / `dlvsym` would return)
//! by reading loaded objects' ELF dynamic symbol tables directly.
//!
//! Why not `dlsym`: it may call `calloc` (which is this library's own `calloc`, so resolving the
//! malloc family through it needs a bootstrap arena), `dlsym`/`dlvsym` are themselves interposed
//! (a call from here would come back to our own stub), and it takes the loader lock. This code
//! allocates nothing, takes no lock, makes no system call and picks the exact symbol version
//! `symbols.txt` names, so an unversioned interposer never hands a caller the wrong version of a
//! function.
//!
//! It only reads: an [`Object`] is parsed once from an object's dynamic section (in normal
//! context, at load), and a lookup reads nothing but that object's immutable tables (hash table,
//! symbol table, string table, version tables) and the caller's version cache. It calls no IFUNC
//! resolver itself: a lookup returns a [`Def`] and the caller decides whether and when to call
//! the resolver. So a lookup is async-signal-safe and fork-safe as long as the object stays
//! mapped, which `libc::symbols` guarantees by keeping only objects that are never unloaded.

use core::sync::atomic::{AtomicU16, Ordering};

/// One entry of an object's dynamic section.
#[repr(C)]
pub struct Dyn {
    d_tag: i64,
    d_val: usize,
}

#[repr(C)]
struct Sym {
    st_name: u32,
    st_info: u8,
    st_other: u8,
    st_shndx: u16,
    st_value: u64,
    st_size: u64,
}

#[repr(C)]
struct Verdef {
    vd_version: u16,
    vd_flags: u16,
    vd_ndx: u16,
    vd_cnt: u16,
    vd_hash: u32,
    vd_aux: u32,
    vd_next: u32,
}

#[repr(C)]
struct Verdaux {
    vda_name: u32,
    vda_next: u32,
}

const DT_NULL: i64 = 0;
const DT_HASH: i64 = 4;
const DT_STRTAB: i64 = 5;
const DT_SYMTAB: i64 = 6;
const DT_SONAME: i64 = 14;
const DT_GNU_HASH: i64 = 0x6fff_fef5;
const DT_VERSYM: i64 = 0x6fff_fff0;
const DT_VERDEF: i64 = 0x6fff_fffc;
const DT_VERDEFNUM: i64 = 0x6fff_fffd;

pub const STT_FUNC: u8 = 2;
pub const STT_GNU_IFUNC: u8 = 10;

/// One object's dynamic symbol table: pointers into the object's own, immutable tables.
#[derive(Clone, Copy)]
pub struct Object {
    base: usize,
    symtab: *const Sym,
    strtab: *const u8,
    gnu_hash: *const u32,
    hash: *const u32,
    versym: *const u16,
    verdef: *const u8,
    verdefnum: usize,
    soname: *const u8,
}

/// A definition found by [`Object::lookup`].
#[derive(Clone, Copy)]
pub struct Def {
    /// The symbol's address (for an IFUNC: its resolver's).
    pub addr: usize,
    /// The symbol's size (0 when unknown).
    pub size: usize,
    /// `STT_GNU_IFUNC`: `addr` is a resolver, `fn() -> address`.
    pub ifunc: bool,
}

impl Def {
    /// The function's address: `addr`, or what the IFUNC resolver returns.
    ///
    /// # Safety
    /// For an IFUNC, calling its resolver must be sound where this runs (the caller decides: the
    /// C library's resolvers only read the CPU feature data the loader filled at start).
    pub unsafe fn function(&self) -> usize {
        if !self.ifunc {
            return self.addr;
        }
        // SAFETY: an IFUNC symbol's value is its resolver, `fn() -> address` (caller's contract
        // for calling it here).
        let resolver: extern "C" fn() -> usize = unsafe { core::mem::transmute(self.addr) };
        resolver()
    }
}

fn sysv_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0;
    for &c in name {
        h = (h << 4).wrapping_add(c as u32);
        let g = h & 0xf000_0000;
        if g != 0 {
            h ^= g >> 24;
        }
        h &= !g;
    }
    h
}

/// The GNU hash of `name` (build.rs precomputes it for the interposed names).
pub fn gnu_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 5381;
    for &c in name {
        h = h.wrapping_mul(33).wrapping_add(c as u32);
    }
    h
}

/// Compares a NUL-terminated C string with `name` (no NUL).
///
/// # Safety
/// `s` must point to a NUL-terminated string.
pub unsafe fn cstr_eq(s: *const u8, name: &[u8]) -> bool {
    for (i, &c) in name.iter().enumerate() {
        // SAFETY: we stop at the first mismatch, so we never read past s's NUL.
        if unsafe { *s.add(i) } != c {
            return false;
        }
    }
    // SAFETY: all of name matched, so s has at least name.len() more bytes before its NUL.
    unsafe { *s.add(name.len()) == 0 }
}

/// The bytes of the NUL-terminated string at `s` (without the NUL).
///
/// # Safety
/// `s` must point to a NUL-terminated string that outlives the result.
unsafe fn cstr<'a>(s: *const u8) -> &'a [u8] {
    let mut n = 0;
    // SAFETY: the string is NUL-terminated; we stop at the NUL.
    while unsafe { *s.add(n) } != 0 {
        n += 1;
    }
    // SAFETY: n bytes before the NUL are readable.
    unsafe { core::slice::from_raw_parts(s, n) }
}

impl Object {
    /// A placeholder for unused entries of a fixed table.
    pub const EMPTY: Object = Object {
        base: 0,
        symtab: core::ptr::null(),
        strtab: core::ptr::null(),
        gnu_hash: core::ptr::null(),
        hash: core::ptr::null(),
        versym: core::ptr::null(),
        verdef: core::ptr::null(),
        verdefnum: 0,
        soname: core::ptr::null(),
    };

    /// Parses an object's dynamic section; `None` when it has no usable symbol table.
    ///
    /// # Safety
    /// `base` and `dynamic` must be a loaded object's load bias and dynamic section.
    pub unsafe fn parse(base: usize, dynamic: *const Dyn) -> Option<Object> {
        // glibc relocates most d_ptr entries in place; the vdso and some objects keep them as
        // virtual addresses. Either way the result must be an absolute address.
        let abs = |p: usize| if p < base { p + base } else { p };
        let mut o = Object {
            base,
            ..Object::EMPTY
        };
        let mut soname = usize::MAX;
        let mut d = dynamic;
        if d.is_null() {
            return None;
        }
        loop {
            // SAFETY: the dynamic section is an array terminated by DT_NULL.
            let e = unsafe { &*d };
            match e.d_tag {
                DT_NULL => break,
                DT_SYMTAB => o.symtab = abs(e.d_val) as *const Sym,
                DT_STRTAB => o.strtab = abs(e.d_val) as *const u8,
                DT_GNU_HASH => o.gnu_hash = abs(e.d_val) as *const u32,
                DT_HASH => o.hash = abs(e.d_val) as *const u32,
                DT_VERSYM => o.versym = abs(e.d_val) as *const u16,
                DT_VERDEF => o.verdef = abs(e.d_val) as *const u8,
                DT_VERDEFNUM => o.verdefnum = e.d_val,
                DT_SONAME => soname = e.d_val,
                _ => {}
            }
            // SAFETY: not past DT_NULL yet.
            d = unsafe { d.add(1) };
        }
        if o.symtab.is_null() || o.strtab.is_null() || (o.gnu_hash.is_null() && o.hash.is_null()) {
            return None;
        }
        if soname != usize::MAX {
            // SAFETY: DT_SONAME is an offset into the string table.
            o.soname = unsafe { o.strtab.add(soname) };
        }
        Some(o)
    }

    /// About how many dynamic symbols the object has (the linker places `.dynstr` right after
    /// `.dynsym`; `usize::MAX` when the layout says nothing). An estimate, to choose between
    /// scanning the table and looking names up.
    pub fn symbols_estimate(&self) -> usize {
        let (sym, str) = (self.symtab as usize, self.strtab as usize);
        if str > sym {
            (str - sym) / core::mem::size_of::<Sym>()
        } else {
            usize::MAX
        }
    }

    /// Can the object define a symbol whose GNU hash is `hash`? (Its GNU bloom filter: `false`
    /// is certain, `true` may be wrong; always `true` without a GNU hash table.)
    ///
    /// # Safety
    /// The object's tables must be valid and mapped.
    pub unsafe fn may_define(&self, hash: u32) -> bool {
        let t = self.gnu_hash;
        if t.is_null() {
            return true;
        }
        // SAFETY: GNU hash layout (see `lookup`).
        unsafe {
            let bloom_size = *t.add(2) as usize;
            let bloom_shift = *t.add(3);
            if bloom_size == 0 {
                return false;
            }
            let word = *(t.add(4) as *const u64).add((hash as usize / 64) % bloom_size);
            let mask = (1u64 << (hash % 64)) | (1u64 << ((hash >> bloom_shift) % 64));
            word & mask == mask
        }
    }

    /// The object's load bias.
    pub fn base(&self) -> usize {
        self.base
    }

    /// The object's `DT_SONAME` (empty when it has none).
    pub fn soname(&self) -> &[u8] {
        if self.soname.is_null() {
            return b"";
        }
        // SAFETY: a NUL-terminated string in the object's string table, mapped as long as the
        // object (the contract of `parse`).
        unsafe { cstr(self.soname) }
    }

    /// The version index (in this object) of the version named `version` (0 if the object does
    /// not define it), cached in `cache` (0: not looked up yet, else index + 1). Racing callers
    /// compute and store the same value.
    ///
    /// # Safety
    /// The object's tables must be valid.
    unsafe fn version_index(&self, version: &[u8], cache: &AtomicU16) -> u16 {
        let c = cache.load(Ordering::Relaxed);
        if c != 0 {
            return c - 1;
        }
        let mut found = 0;
        for ndx in 2..=(self.verdefnum as u16 + 1) {
            // SAFETY: tables of a loaded object.
            let vn = unsafe { self.version_name(ndx) };
            // SAFETY: vn is null or a NUL-terminated string in strtab.
            if !vn.is_null() && unsafe { cstr_eq(vn, version) } {
                found = ndx;
                break;
            }
        }
        cache.store(found + 1, Ordering::Relaxed);
        found
    }

    /// Name of version index `ndx` from the version definitions.
    ///
    /// # Safety
    /// The object's tables must be valid (they come from a loaded object).
    unsafe fn version_name(&self, ndx: u16) -> *const u8 {
        if self.verdef.is_null() {
            return core::ptr::null();
        }
        let mut p = self.verdef;
        for _ in 0..self.verdefnum {
            // SAFETY: p walks the verdef chain of a loaded object, at most verdefnum entries.
            let vd = unsafe { &*(p as *const Verdef) };
            if vd.vd_ndx == ndx {
                // SAFETY: vd_aux is the offset of the first Verdaux, whose name is the version.
                let aux = unsafe { &*(p.add(vd.vd_aux as usize) as *const Verdaux) };
                // SAFETY: vda_name is a string table offset.
                return unsafe { self.strtab.add(aux.vda_name as usize) };
            }
            if vd.vd_next == 0 {
                break;
            }
            // SAFETY: vd_next is the offset to the next entry.
            p = unsafe { p.add(vd.vd_next as usize) };
        }
        core::ptr::null()
    }

    /// The number of dynamic symbols: `DT_HASH`'s chain count, else the layout estimate.
    pub fn symbol_count(&self) -> usize {
        if !self.hash.is_null() {
            // SAFETY: SysV hash layout: nbucket, nchain, …; a loaded object's table.
            return unsafe { *self.hash.add(1) } as usize;
        }
        self.symbols_estimate()
    }

    /// Calls `f` with the `vd_hash` (the ELF hash of the name, stored by the linker) of each
    /// version definition of index ≥ 2, in table order: a fingerprint of the version nodes
    /// without reading their names (`libc::identity`).
    ///
    /// # Safety
    /// The object's tables must be valid and mapped.
    pub unsafe fn for_each_version_hash(&self, mut f: impl FnMut(u32)) {
        let mut p = self.verdef;
        if p.is_null() {
            return;
        }
        for _ in 0..self.verdefnum {
            // SAFETY: p walks the verdef chain of a loaded object, at most verdefnum entries.
            let vd = unsafe { &*(p as *const Verdef) };
            if vd.vd_ndx >= 2 {
                f(vd.vd_hash);
            }
            if vd.vd_next == 0 {
                break;
            }
            // SAFETY: vd_next is the offset to the next entry.
            p = unsafe { p.add(vd.vd_next as usize) };
        }
    }

    /// Calls `f` with the name of each function the object exports at a default version (a
    /// defined global or weak FUNC/IFUNC, not a hidden compatibility version, not
    /// `GLIBC_PRIVATE`).
    ///
    /// # Safety
    /// The object's tables must be valid and mapped.
    pub unsafe fn for_each_public_function(&self, mut f: impl FnMut(&[u8])) {
        let n = self.symbol_count();
        if n == usize::MAX {
            return;
        }
        for i in 1..n {
            // SAFETY: i is below the symbol count.
            let Some(s) = (unsafe { self.defined_function(i) }) else {
                continue;
            };
            if !self.versym.is_null() {
                // SAFETY: versym has one entry per symbol.
                let v = unsafe { *self.versym.add(i) };
                if v & 0x8000 != 0 {
                    continue;
                }
                // SAFETY: tables of a loaded object.
                let vn = unsafe { self.version_name(v & 0x7fff) };
                // SAFETY: vn is null or a NUL-terminated string in strtab.
                if v & 0x7fff >= 2 && !vn.is_null() && unsafe { cstr_eq(vn, b"GLIBC_PRIVATE") } {
                    continue;
                }
            }
            // SAFETY: st_name is a string table offset.
            f(unsafe { cstr(self.strtab.add(s.st_name as usize)) });
        }
    }

    /// The address of the defined data object `name` (global or weak; any version), by a scan
    /// of the symbol table: for the loader's few exported variables.
    ///
    /// # Safety
    /// The object's tables must be valid and mapped.
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    pub unsafe fn find_data(&self, name: &[u8]) -> Option<usize> {
        const STT_OBJECT: u8 = 1;
        let n = self.symbols_estimate();
        if n == usize::MAX {
            return None;
        }
        for i in 0..n {
            // SAFETY: i is below the symbol count the table layout gives.
            let s = unsafe { &*self.symtab.add(i) };
            let bind = s.st_info >> 4;
            if s.st_shndx == 0 || s.st_info & 0xf != STT_OBJECT || (bind != 1 && bind != 2) {
                continue;
            }
            // SAFETY: st_name is a string table offset.
            if unsafe { cstr_eq(self.strtab.add(s.st_name as usize), name) } {
                return Some(self.base + s.st_value as usize);
            }
        }
        None
    }

    /// Is symbol `i` a defined function (or IFUNC) with global or weak binding?
    ///
    /// # Safety
    /// `i` must be a valid symbol index of this object.
    unsafe fn defined_function(&self, i: usize) -> Option<&Sym> {
        // SAFETY: i is a valid symbol index.
        let s = unsafe { &*self.symtab.add(i) };
        let ty = s.st_info & 0xf;
        let bind = s.st_info >> 4;
        if s.st_shndx == 0 || (ty != STT_FUNC && ty != STT_GNU_IFUNC) || (bind != 1 && bind != 2) {
            return None;
        }
        Some(s)
    }

    /// Does symbol `i` define `name` with version `version` (or the default version, or no version
    /// information at all, as the loader would accept)?
    ///
    /// # Safety
    /// `i` must be a valid symbol index of this object.
    unsafe fn matches(
        &self,
        i: usize,
        name: &[u8],
        version: &[u8],
        vcache: &AtomicU16,
    ) -> Option<Def> {
        // SAFETY: forwarded contract.
        let s = unsafe { self.defined_function(i) }?;
        // SAFETY: st_name is a string table offset.
        if !unsafe { cstr_eq(self.strtab.add(s.st_name as usize), name) } {
            return None;
        }
        if !self.versym.is_null() {
            // SAFETY: versym has one entry per symbol.
            let v = unsafe { *self.versym.add(i) };
            let ndx = v & 0x7fff;
            if ndx >= 2 {
                // SAFETY: tables of a loaded object.
                let exact =
                    !version.is_empty() && unsafe { self.version_index(version, vcache) } == ndx;
                let default = v & 0x8000 == 0;
                // Another version of the name: keep looking (libc may define several).
                if !(exact || (default && version.is_empty())) {
                    return None;
                }
            }
        }
        let ifunc = s.st_info & 0xf == STT_GNU_IFUNC;
        Some(Def {
            addr: self.base + s.st_value as usize,
            size: if ifunc { 0 } else { s.st_size as usize },
            ifunc,
        })
    }

    /// The address of the defined data object `name` at its default version, through the GNU
    /// hash table (None without one): for a libc variable that must not be a link-time import.
    ///
    /// # Safety
    /// The object's tables must be valid and mapped.
    // musl exports no variable the library reads this way (src/libc/musl.rs).
    #[cfg_attr(target_env = "musl", allow(dead_code))]
    pub unsafe fn lookup_data(&self, name: &[u8]) -> Option<usize> {
        const STT_OBJECT: u8 = 1;
        // SAFETY: the caller's guarantee; symbol indices from the chain are valid.
        unsafe {
            self.gnu_chain(gnu_hash(name), |i| {
                let s = &*self.symtab.add(i);
                let default = self.versym.is_null() || *self.versym.add(i) & 0x8000 == 0;
                (s.st_shndx != 0
                    && s.st_info & 0xf == STT_OBJECT
                    && default
                    && cstr_eq(self.strtab.add(s.st_name as usize), name))
                .then(|| self.base + s.st_value as usize)
            })
        }
    }

    /// Walks the GNU hash table's chain for `hash`: calls `f` with each symbol index whose hash
    /// matches until it returns `Some`. `None` without a GNU hash table, or when its bloom
    /// filter rules the name out.
    ///
    /// # Safety
    /// The object's tables must be valid and mapped.
    unsafe fn gnu_chain<T>(&self, hash: u32, mut f: impl FnMut(usize) -> Option<T>) -> Option<T> {
        let t = self.gnu_hash;
        if t.is_null() {
            return None;
        }
        // SAFETY: GNU hash table layout: nbuckets, symoffset, bloom_size, bloom_shift,
        // bloom[bloom_size] (u64), buckets[nbuckets] (u32), chain[] (u32).
        unsafe {
            let nbuckets = *t as usize;
            let symoffset = *t.add(1) as usize;
            let bloom_size = *t.add(2) as usize;
            let bloom_shift = *t.add(3);
            if nbuckets == 0 || bloom_size == 0 {
                return None;
            }
            let bloom = t.add(4) as *const u64;
            let word = *bloom.add((hash as usize / 64) % bloom_size);
            let mask = (1u64 << (hash % 64)) | (1u64 << ((hash >> bloom_shift) % 64));
            if word & mask != mask {
                return None;
            }
            let buckets = t.add(4 + bloom_size * 2);
            let chain = buckets.add(nbuckets);
            let mut i = *buckets.add(hash as usize % nbuckets) as usize;
            if i < symoffset {
                return None;
            }
            loop {
                let ch = *chain.add(i - symoffset);
                if (ch | 1) == (hash | 1)
                    && let Some(r) = f(i)
                {
                    return Some(r);
                }
                if ch & 1 != 0 {
                    return None;
                }
                i += 1;
            }
        }
    }

    /// Looks up `name` (without NUL), whose GNU hash is `hash`, at `version` (empty = default).
    /// `vcache` caches this object's index of `version` (one cell per object and version).
    ///
    /// # Safety
    /// The object's tables must be valid and mapped.
    pub unsafe fn lookup(
        &self,
        name: &[u8],
        hash: u32,
        version: &[u8],
        vcache: &AtomicU16,
    ) -> Option<Def> {
        if !self.gnu_hash.is_null() {
            // SAFETY: the caller's guarantee.
            return unsafe { self.gnu_chain(hash, |i| self.matches(i, name, version, vcache)) };
        }
        // SAFETY: SysV hash layout: nbucket, nchain, bucket[nbucket], chain[nchain].
        unsafe {
            let t = self.hash;
            let nbucket = *t as usize;
            if nbucket == 0 {
                return None;
            }
            let bucket = t.add(2);
            let chain = bucket.add(nbucket);
            let mut i = *bucket.add(sysv_hash(name) as usize % nbucket) as usize;
            let mut guard = 0;
            while i != 0 && guard < 1 << 20 {
                if let Some(d) = self.matches(i, name, version, vcache) {
                    return Some(d);
                }
                i = *chain.add(i) as usize;
                guard += 1;
            }
        }
        None
    }

    /// Calls `f(name, gnu hash)` for every defined IFUNC function of the object (one pass over
    /// its dynamic symbol table).
    ///
    /// # Safety
    /// The object's tables must be valid and mapped.
    pub unsafe fn for_each_ifunc(&self, mut f: impl FnMut(&[u8], u32)) {
        // The symbols to scan: [first, end).
        let (first, end) = if !self.gnu_hash.is_null() {
            let t = self.gnu_hash;
            // SAFETY: GNU hash layout (see `lookup`): the symbols it covers are symoffset up to
            // the end of the chain that starts at the highest bucket value.
            unsafe {
                let nbuckets = *t as usize;
                let symoffset = *t.add(1) as usize;
                let bloom_size = *t.add(2) as usize;
                let buckets = t.add(4 + bloom_size * 2);
                let chain = buckets.add(nbuckets);
                let mut last = 0;
                for b in 0..nbuckets {
                    last = last.max(*buckets.add(b) as usize);
                }
                if last < symoffset {
                    return;
                }
                while *chain.add(last - symoffset) & 1 == 0 {
                    last += 1;
                }
                (symoffset, last + 1)
            }
        } else {
            // SAFETY: SysV hash layout: nchain is the number of symbols.
            (1, unsafe { *self.hash.add(1) } as usize)
        };
        let mut i = first;
        while i < end {
            // SAFETY: i < the table's symbol count.
            let ifunc = unsafe { (*self.symtab.add(i)).st_info } & 0xf == STT_GNU_IFUNC;
            // SAFETY: as above.
            if ifunc && let Some(s) = unsafe { self.defined_function(i) } {
                // SAFETY: st_name is a string table offset of a NUL-terminated name.
                let name = unsafe { cstr(self.strtab.add(s.st_name as usize)) };
                f(name, gnu_hash(name));
            }
            i += 1;
        }
    }
}
