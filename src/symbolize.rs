//! Function names for text-mode stack frames, in process and async-signal-safely.
//!
//! At report time the module's file is read with raw `pread` calls and its `.symtab` (or
//! `.dynsym`, for stripped files) is searched for the function containing the frame. A damaged,
//! replaced or truncated file gives no name (short reads fail the lookup); it cannot crash the
//! host. Rust legacy-mangled names are shortened (`_ZN3foo3bar17h…E` → `foo::bar`); other names
//! are printed as they are. `assafe run` gives full `file:line` offline; this is for `LD_PRELOAD`
//! users reading stderr.

use crate::fmt::Buf;
use crate::resolve::{STT_FUNC, STT_GNU_IFUNC};
use crate::sys;

/// An open module file, read with `pread` (a mapping could raise SIGBUS if the file were
/// truncated under us; a read just comes back short).
struct File {
    fd: i32,
}

impl File {
    fn open(path: &[u8]) -> Option<File> {
        let mut name = [0u8; 1024];
        if path.is_empty() || path.len() >= name.len() || path[0] != b'/' {
            return None;
        }
        name[..path.len()].copy_from_slice(path);
        let fd = sys::open(&name[..path.len() + 1], libc::O_RDONLY | libc::O_CLOEXEC, 0).ok()?;
        Some(File { fd })
    }

    /// Fills all of `buf` from `off`, or fails.
    fn read(&self, off: usize, buf: &mut [u8]) -> Option<()> {
        let mut done = 0;
        while done < buf.len() {
            match sys::pread(self.fd, &mut buf[done..], off.checked_add(done)?) {
                Ok(0) | Err(_) => return None,
                Ok(n) => done += n,
            }
        }
        Some(())
    }

    fn u16(&self, off: usize) -> Option<u16> {
        let mut b = [0u8; 2];
        self.read(off, &mut b)?;
        Some(u16::from_le_bytes(b))
    }
    fn u32(&self, off: usize) -> Option<u32> {
        let mut b = [0u8; 4];
        self.read(off, &mut b)?;
        Some(u32::from_le_bytes(b))
    }
    fn u64(&self, off: usize) -> Option<u64> {
        let mut b = [0u8; 8];
        self.read(off, &mut b)?;
        Some(u64::from_le_bytes(b))
    }
}

impl Drop for File {
    fn drop(&mut self) {
        sys::close(self.fd);
    }
}

const SHT_SYMTAB: u32 = 2;
const SHT_DYNSYM: u32 = 11;
const SYM_SIZE: usize = 24;
/// Symbols read per `pread`.
const CHUNK: usize = 170;

/// Finds the function containing virtual address `vaddr` in an ELF64 file; writes its name.
fn lookup(f: &File, vaddr: u64, out: &mut [u8]) -> Option<usize> {
    let mut ident = [0u8; 5];
    f.read(0, &mut ident)?;
    if &ident[..4] != b"\x7fELF" || ident[4] != 2 {
        return None;
    }
    let shoff = f.u64(0x28)? as usize;
    let shentsize = f.u16(0x3a)? as usize;
    let shnum = f.u16(0x3c)? as usize;
    if shentsize < 64 {
        return None;
    }
    // Prefer the full symbol table; fall back to the dynamic one.
    for want in [SHT_SYMTAB, SHT_DYNSYM] {
        for i in 0..shnum {
            let sh = shoff.checked_add(i.checked_mul(shentsize)?)?;
            if f.u32(sh + 4)? != want {
                continue;
            }
            let off = f.u64(sh + 0x18)? as usize;
            let count = f.u64(sh + 0x20)? as usize / SYM_SIZE;
            let link = f.u32(sh + 0x28)? as usize;
            let strsh = shoff.checked_add(link.checked_mul(shentsize)?)?;
            let stroff = f.u64(strsh + 0x18)? as usize;
            // Only a symbol whose extent contains the address names it: in a stripped library
            // the nearest exported symbol below a local function would be a wrong name.
            let mut chunk = [0u8; CHUNK * SYM_SIZE];
            let mut first = 0;
            while first < count {
                let n = (count - first).min(CHUNK);
                f.read(
                    off.checked_add(first * SYM_SIZE)?,
                    &mut chunk[..n * SYM_SIZE],
                )?;
                for s in chunk[..n * SYM_SIZE].chunks_exact(SYM_SIZE) {
                    let ty = s[4] & 0xf;
                    if ty != STT_FUNC && ty != STT_GNU_IFUNC {
                        continue;
                    }
                    let value = u64::from_le_bytes(s[8..16].try_into().ok()?);
                    let size = u64::from_le_bytes(s[16..24].try_into().ok()?);
                    if value <= vaddr && vaddr < value.saturating_add(size) {
                        let name = u32::from_le_bytes(s[0..4].try_into().ok()?) as usize;
                        let mut raw = [0u8; 256];
                        let len = read_cstr(f, stroff.checked_add(name)?, &mut raw)?;
                        return Some(demangle(&raw[..len], out));
                    }
                }
                first += n;
            }
        }
    }
    None
}

/// Reads a NUL-terminated string of at most `buf.len()` bytes (a longer one is cut).
fn read_cstr(f: &File, off: usize, buf: &mut [u8]) -> Option<usize> {
    let mut done = 0;
    while done < buf.len() {
        let n = sys::pread(f.fd, &mut buf[done..], off.checked_add(done)?).ok()?;
        if n == 0 {
            break;
        }
        if let Some(z) = buf[done..done + n].iter().position(|&c| c == 0) {
            return Some(done + z);
        }
        done += n;
    }
    Some(done)
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
    let Some(f) = File::open(path) else { return };
    let mut name = [0u8; 256];
    if let Some(n) = lookup(&f, offset as u64, &mut name) {
        b.s("in ").printable(&name[..n]).s(" ");
    }
}
