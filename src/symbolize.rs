//! Function names for text-mode stack frames, in process and async-signal-safely.
//!
//! At report time the module's file is mapped read-only with raw system calls and its `.symtab`
//! (or `.dynsym`, for stripped files) is searched for the function containing the frame. Every
//! read is bounds-checked against the file size, so a damaged or replaced file cannot crash the
//! host. Rust legacy-mangled names are shortened (`_ZN3foo3bar17h…E` → `foo::bar`); other names
//! are printed as they are. `assafe run` gives full `file:line` offline; this is for `LD_PRELOAD`
//! users reading stderr.

use crate::fmt::Buf;
use crate::sys;

/// A read-only mapping of a whole file.
struct Mapped {
    p: *const u8,
    len: usize,
}

impl Mapped {
    fn open(path: &[u8]) -> Option<Mapped> {
        let mut name = [0u8; 1024];
        if path.is_empty() || path.len() >= name.len() || path[0] != b'/' {
            return None;
        }
        name[..path.len()].copy_from_slice(path);
        let fd = sys::open(&name[..path.len() + 1], libc::O_RDONLY | libc::O_CLOEXEC, 0).ok()?;
        let len = sys::file_size(fd);
        let p = match len {
            Some(len) if len >= 64 => sys::mmap_file(fd, len),
            _ => None,
        };
        sys::close(fd);
        Some(Mapped { p: p?, len: len? })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: a private read-only mapping of `len` bytes that lives as long as self.
        unsafe { core::slice::from_raw_parts(self.p, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: our own mapping; the slices borrowed from it are gone with self.
        unsafe { sys::munmap(self.p as *mut u8, self.len) };
    }
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

const SHT_SYMTAB: u32 = 2;
const SHT_DYNSYM: u32 = 11;
const STT_FUNC: u8 = 2;
const STT_GNU_IFUNC: u8 = 10;

/// Finds the function containing virtual address `vaddr` in an ELF64 image; writes its name.
fn lookup(elf: &[u8], vaddr: u64, out: &mut [u8]) -> Option<usize> {
    if elf.get(..4)? != b"\x7fELF" || *elf.get(4)? != 2 {
        return None;
    }
    let shoff = u64_at(elf, 0x28)? as usize;
    let shentsize = u16_at(elf, 0x3a)? as usize;
    let shnum = u16_at(elf, 0x3c)? as usize;
    if shentsize < 64 {
        return None;
    }
    // Prefer the full symbol table; fall back to the dynamic one.
    for want in [SHT_SYMTAB, SHT_DYNSYM] {
        for i in 0..shnum {
            let sh = shoff.checked_add(i.checked_mul(shentsize)?)?;
            if u32_at(elf, sh + 4)? != want {
                continue;
            }
            let off = u64_at(elf, sh + 0x18)? as usize;
            let size = u64_at(elf, sh + 0x20)? as usize;
            let link = u32_at(elf, sh + 0x28)? as usize;
            let entsize = (u64_at(elf, sh + 0x38)? as usize).max(24);
            let strsh = shoff.checked_add(link.checked_mul(shentsize)?)?;
            let stroff = u64_at(elf, strsh + 0x18)? as usize;
            let strsize = u64_at(elf, strsh + 0x20)? as usize;
            let strtab = elf.get(stroff..stroff.checked_add(strsize)?)?;
            let syms = elf.get(off..off.checked_add(size)?)?;
            // Only a symbol whose extent contains the address names it: in a stripped library
            // the nearest exported symbol below a local function would be a wrong name.
            let mut found = None;
            for s in syms.chunks_exact(entsize) {
                let ty = s[4] & 0xf;
                if ty != STT_FUNC && ty != STT_GNU_IFUNC {
                    continue;
                }
                let value = u64_at(s, 8)?;
                let sz = u64_at(s, 16)?;
                if value <= vaddr && vaddr < value.saturating_add(sz) {
                    found = Some(u32_at(s, 0)?);
                    break;
                }
            }
            if let Some(name) = found {
                let name = strtab.get(name as usize..)?;
                let end = name.iter().position(|&c| c == 0)?;
                return Some(demangle(&name[..end], out));
            }
        }
    }
    None
}

/// Shortens a Rust legacy-mangled name (`_ZN` (len ident)+ `17h<hash>E`, maybe followed by
/// `.llvm.N`) to `a::b::{{closure}}`; copies other names unchanged. Returns the length written.
fn demangle(name: &[u8], out: &mut [u8]) -> usize {
    let mut b = Buf::new(out);
    if let Some(mut rest) = name.strip_prefix(b"_ZN") {
        // Drop a compiler suffix such as ".llvm.1234" after the closing 'E'.
        if let Some(dot) = rest.iter().position(|&c| c == b'.')
            && dot > 0
            && rest[dot - 1] == b'E'
        {
            rest = &rest[..dot];
        }
        let mut first = true;
        loop {
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 || digits > 4 {
                break;
            }
            let n = rest[..digits]
                .iter()
                .fold(0usize, |n, &c| n * 10 + (c - b'0') as usize);
            let Some(ident) = rest.get(digits..digits + n) else {
                break;
            };
            rest = &rest[digits + n..];
            let is_hash = ident.len() == 17
                && ident[0] == b'h'
                && ident[1..].iter().all(|c| c.is_ascii_hexdigit());
            if is_hash && rest == b"E" {
                return b.len();
            }
            if !first {
                b.s("::");
            }
            first = false;
            unescape(ident, &mut b);
        }
        if rest == b"E" && !first {
            return b.len();
        }
        b.truncate(0);
    }
    b.bytes(name);
    b.len()
}

/// Rust legacy symbol escapes: `$u7b$` → `{`, `$LT$` → `<`, `..` → `::`, …
fn unescape(mut s: &[u8], b: &mut Buf) {
    // An identifier that starts with an escape is written with a leading '_'.
    if s.starts_with(b"_$") {
        s = &s[1..];
    }
    const ESC: &[(&[u8], &str)] = &[
        (b"$SP$", "@"),
        (b"$BP$", "*"),
        (b"$RF$", "&"),
        (b"$LT$", "<"),
        (b"$GT$", ">"),
        (b"$LP$", "("),
        (b"$RP$", ")"),
        (b"$C$", ","),
        (b"$u7b$", "{"),
        (b"$u7d$", "}"),
        (b"$u20$", " "),
        (b"$u27$", "'"),
        (b"$u5b$", "["),
        (b"$u5d$", "]"),
        (b"$u7e$", "~"),
        (b"..", "::"),
    ];
    'outer: while let Some(&c) = s.first() {
        for (from, to) in ESC {
            if s.starts_with(from) {
                b.s(to);
                s = &s[from.len()..];
                continue 'outer;
            }
        }
        b.c(c);
        s = &s[1..];
    }
}

/// Writes `in NAME ` for the function containing `offset` in module `path` (nothing if unknown).
pub fn function_name(path: &[u8], offset: usize, b: &mut Buf) {
    let Some(m) = Mapped::open(path) else { return };
    let mut name = [0u8; 256];
    if let Some(n) = lookup(m.bytes(), offset as u64, &mut name) {
        b.s("in ").printable(&name[..n]).s(" ");
    }
}
