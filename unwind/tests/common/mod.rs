//! Test helpers (std allowed): function sizes from the test binary's ELF symtab.
#![allow(dead_code)]

use std::sync::OnceLock;

pub struct Syms {
    /// (value, size) of every STT_FUNC symbol.
    funcs: Vec<(u64, u64)>,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

fn load() -> Syms {
    let b = std::fs::read("/proc/self/exe").unwrap();
    let shoff = u64_at(&b, 0x28) as usize;
    let shentsize = u16_at(&b, 0x3a) as usize;
    let shnum = u16_at(&b, 0x3c) as usize;
    let mut funcs = Vec::new();
    for i in 0..shnum {
        let sh = shoff + i * shentsize;
        if u32_at(&b, sh + 4) != 2 {
            continue; // SHT_SYMTAB
        }
        let off = u64_at(&b, sh + 0x18) as usize;
        let size = u64_at(&b, sh + 0x20) as usize;
        for s in (off..off + size).step_by(24) {
            let info = b[s + 4];
            let value = u64_at(&b, s + 8);
            let sz = u64_at(&b, s + 16);
            if info & 0xf == 2 && value != 0 {
                funcs.push((value, sz));
            }
        }
    }
    assert!(!funcs.is_empty(), "test binary has no symtab");
    Syms { funcs }
}

pub fn syms() -> &'static Syms {
    static S: OnceLock<Syms> = OnceLock::new();
    S.get_or_init(load)
}

/// `[start, end)` of the function whose address is `f` (absolute).
pub fn fn_range(f: usize) -> (usize, usize) {
    let m = assafe_unwind::module_of(f).expect("test fn in a known module");
    let rel = (f - m.base) as u64;
    let size = syms()
        .funcs
        .iter()
        .find(|&&(v, _)| v == rel)
        .map(|&(_, s)| s)
        .unwrap_or_else(|| panic!("no symbol for fn at {f:#x}"));
    assert!(size > 0);
    (f, f + size as usize)
}

/// Return address `ra` belongs to the function `[s, e)` (the call may be its last instruction).
pub fn ra_in(ra: usize, r: (usize, usize)) -> bool {
    ra > r.0 && ra <= r.1
}

pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The executable's path, as the library gives it (`reporting::exe_for_modules`).
        assafe_unwind::set_exe_provider(exe);
        // SAFETY: normal context.
        unsafe { assafe_unwind::refresh_modules() }
    });
}

fn exe() -> Option<&'static [u8]> {
    static EXE: OnceLock<Vec<u8>> = OnceLock::new();
    Some(EXE.get_or_init(|| {
        std::fs::read_link("/proc/self/exe")
            .unwrap()
            .into_os_string()
            .into_encoded_bytes()
    }))
}
