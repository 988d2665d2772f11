//! Function names for text-mode stack frames, in process and async-signal-safely.
//!
//! At report time the module's file is read with raw `pread` calls and its `.symtab` (or
//! `.dynsym`, for stripped files) is searched for the function containing the frame. A damaged,
//! replaced or truncated file gives no name (short reads fail the lookup); it cannot crash the
//! host. Rust legacy-mangled names are shortened (`_ZN3foo3bar17h…E` → `foo::bar`); other names
//! are printed as they are. `assafe run` gives full `file:line` offline; this is for `LD_PRELOAD`
//! users reading stderr.

use assafe_pure::demangle::demangle;

use crate::platform::elf::{STT_FUNC, STT_GNU_IFUNC};
use crate::platform::fmt::Buf;
use crate::platform::sys;

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

/// Writes `in NAME ` for the function containing `offset` in module `path` (nothing if unknown).
pub fn function_name(path: &[u8], offset: usize, b: &mut Buf) {
    let Some(f) = File::open(path) else { return };
    let mut name = [0u8; 256];
    if let Some(n) = lookup(&f, offset as u64, &mut name) {
        b.s("in ").printable(&name[..n]).s(" ");
    }
}
