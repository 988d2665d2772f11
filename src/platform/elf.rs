//! Finds the "next" definition of a symbol (what `dlsym(RTLD_NEXT, …)` / `dlvsym` would return)
//! by walking the loader's list of loaded objects and their ELF dynamic symbol tables directly.
//!
//! Why not `dlsym`: it may call `calloc` (which is this library's own `calloc`, so resolving the
//! malloc family through it needs a bootstrap arena), `dlsym`/`dlvsym` are themselves interposed
//! (a call from here would come back to our own stub), and it takes the loader lock. This walk
//! allocates nothing, takes no lock and picks the exact symbol version `symbols.txt` names, so an
//! unversioned interposer never hands a caller the wrong version of a function.
//!
//! The C library supplies the list of loaded objects (`libc::loaded_objects`); this module only
//! reads ELF. It runs once, at load (or at the first interposed call, if another library's constructor calls
//! e.g. `malloc` before ours runs), never in a fork child or a signal handler.

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
const DT_GNU_HASH: i64 = 0x6fff_fef5;
const DT_VERSYM: i64 = 0x6fff_fff0;
const DT_VERDEF: i64 = 0x6fff_fffc;
const DT_VERDEFNUM: i64 = 0x6fff_fffd;

pub const STT_FUNC: u8 = 2;
pub const STT_GNU_IFUNC: u8 = 10;

/// One object's dynamic symbol table.
struct Object {
    base: usize,
    symtab: *const Sym,
    strtab: *const u8,
    gnu_hash: *const u32,
    hash: *const u32,
    versym: *const u16,
    verdef: *const u8,
    verdefnum: usize,
    /// Version index of each version id asked for so far (u16::MAX: not looked up yet).
    vcache: [core::cell::Cell<u16>; 64],
}

fn gnu_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 5381;
    for &c in name {
        h = h.wrapping_mul(33).wrapping_add(c as u32);
    }
    h
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

/// Compares a NUL-terminated C string with `name` (no NUL).
///
/// # Safety
/// `s` must point to a NUL-terminated string.
unsafe fn cstr_eq(s: *const u8, name: &[u8]) -> bool {
    for (i, &c) in name.iter().enumerate() {
        // SAFETY: we stop at the first mismatch, so we never read past s's NUL.
        if unsafe { *s.add(i) } != c {
            return false;
        }
    }
    // SAFETY: all of name matched, so s has at least name.len() more bytes before its NUL.
    unsafe { *s.add(name.len()) == 0 }
}

impl Object {
    /// # Safety
    /// `base` and `dynamic` must be a loaded object's load bias and dynamic section.
    unsafe fn new(base: usize, dynamic: *const Dyn) -> Option<Object> {
        // glibc relocates most d_ptr entries in place; the vdso and some objects keep them as
        // virtual addresses. Either way the result must be an absolute address.
        let abs = |p: usize| if p < base { p + base } else { p };
        let mut o = Object {
            base,
            symtab: core::ptr::null(),
            strtab: core::ptr::null(),
            gnu_hash: core::ptr::null(),
            hash: core::ptr::null(),
            versym: core::ptr::null(),
            verdef: core::ptr::null(),
            verdefnum: 0,
            vcache: [const { core::cell::Cell::new(u16::MAX) }; 64],
        };
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
                _ => {}
            }
            // SAFETY: not past DT_NULL yet.
            d = unsafe { d.add(1) };
        }
        if o.symtab.is_null() || o.strtab.is_null() || (o.gnu_hash.is_null() && o.hash.is_null()) {
            return None;
        }
        Some(o)
    }

    /// The version index (in this object) of the version named `version`, whose id is `vid`
    /// (0 if the object does not define it), cached per id.
    ///
    /// # Safety
    /// The object's tables must be valid.
    unsafe fn version_index(&self, vid: usize, version: &[u8]) -> u16 {
        if let Some(c) = self.vcache.get(vid) {
            let v = c.get();
            if v != u16::MAX {
                return v;
            }
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
        if let Some(c) = self.vcache.get(vid) {
            c.set(found);
        }
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

    /// Does symbol `i` define `name` with version `version` (or the default version, or no version
    /// information at all, as the loader would accept)?
    ///
    /// # Safety
    /// `i` must be a valid symbol index of this object.
    unsafe fn matches(
        &self,
        i: usize,
        name: &[u8],
        vid: usize,
        version: &[u8],
    ) -> Option<(usize, usize)> {
        // SAFETY: i is a valid symbol index.
        let s = unsafe { &*self.symtab.add(i) };
        let ty = s.st_info & 0xf;
        let bind = s.st_info >> 4;
        if s.st_shndx == 0 || (ty != STT_FUNC && ty != STT_GNU_IFUNC) || (bind != 1 && bind != 2) {
            return None;
        }
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
                    !version.is_empty() && unsafe { self.version_index(vid, version) } == ndx;
                let default = v & 0x8000 == 0;
                // Another version of the name: keep looking (libc may define several).
                if !(exact || (default && version.is_empty())) {
                    return None;
                }
            }
        }
        let mut addr = self.base + s.st_value as usize;
        let mut size = s.st_size as usize;
        if ty == STT_GNU_IFUNC {
            size = 0;
            // SAFETY: an IFUNC symbol's value is its resolver, `fn() -> address`; the loader has
            // already run the same resolvers for relocations, so the CPU feature data is ready.
            let resolver: extern "C" fn() -> usize = unsafe { core::mem::transmute(addr) };
            addr = resolver();
        }
        Some((addr, size))
    }

    /// # Safety
    /// The object's tables must be valid.
    unsafe fn lookup(&self, name: &[u8], vid: usize, version: &[u8]) -> Option<(usize, usize)> {
        if !self.gnu_hash.is_null() {
            let t = self.gnu_hash;
            // SAFETY: GNU hash table layout: nbuckets, symoffset, bloom_size, bloom_shift,
            // bloom[bloom_size] (u64), buckets[nbuckets] (u32), chain[] (u32).
            unsafe {
                let nbuckets = *t as usize;
                let symoffset = *t.add(1) as usize;
                let bloom_size = *t.add(2) as usize;
                if nbuckets == 0 {
                    return None;
                }
                let buckets = t.add(4 + bloom_size * 2);
                let chain = buckets.add(nbuckets);
                let h = gnu_hash(name);
                let mut i = *buckets.add(h as usize % nbuckets) as usize;
                if i < symoffset {
                    return None;
                }
                loop {
                    let ch = *chain.add(i - symoffset);
                    if (ch | 1) == (h | 1)
                        && let Some(a) = self.matches(i, name, vid, version)
                    {
                        return Some(a);
                    }
                    if ch & 1 != 0 {
                        return None;
                    }
                    i += 1;
                }
            }
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
                if let Some(a) = self.matches(i, name, vid, version) {
                    return Some(a);
                }
                i = *chain.add(i) as usize;
                guard += 1;
            }
        }
        None
    }
}

/// The objects loaded after this library, in the loader's search order, with their tables parsed
/// once: lookups in them give the `RTLD_NEXT` definition of a name.
pub struct Next {
    objects: [Option<Object>; 64],
    n: usize,
}

impl Next {
    /// Parses the objects `objects` yields (load bias, dynamic section), in search order, skipping
    /// the one loaded at `me`; if `me` is among them, only the objects after it are searched.
    ///
    /// # Safety
    /// Every pair must describe a loaded object that stays loaded while the `Next` is used (in
    /// normal context, not concurrently with `dlclose`).
    pub unsafe fn new<I>(objects: I, me: usize) -> Next
    where
        I: Iterator<Item = (usize, *const Dyn)> + Clone,
    {
        let mut next = Next {
            objects: [const { None }; 64],
            n: 0,
        };
        // Skip up to and including ourselves; if we are not in the list, search all but ourselves.
        let after_me = objects.clone().skip_while(|&(b, _)| b != me).skip(1);
        let found_me = objects.clone().any(|(b, _)| b == me);
        let mut add = |(base, dynamic): (usize, *const Dyn)| {
            if base == me || next.n >= next.objects.len() {
                return;
            }
            // SAFETY: a live object's dynamic section (the caller's contract).
            if let Some(o) = unsafe { Object::new(base, dynamic) } {
                next.objects[next.n] = Some(o);
                next.n += 1;
            }
        };
        if found_me {
            after_me.for_each(&mut add);
        } else {
            objects.for_each(&mut add);
        }
        next
    }

    /// Looks up `name` (without NUL) at `version` (empty = default), whose id (a small number
    /// unique to the version string) is `vid`. Returns the address and the symbol's size (0 when
    /// unknown, e.g. for an IFUNC).
    pub fn lookup(&self, name: &[u8], vid: usize, version: &[u8]) -> Option<(usize, usize)> {
        for o in self.objects[..self.n].iter().flatten() {
            // SAFETY: tables of a live object, parsed in `new`.
            if let Some(a) = unsafe { o.lookup(name, vid, version) } {
                return Some(a);
            }
        }
        None
    }
}
