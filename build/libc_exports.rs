//! The C library the build is for (used by `build.rs` only): where it is, which functions it
//! exports at which default version, and how the library recognises it at run time.
//!
//! By default the build machine's libc (how distributions build their packages): for
//! `target_env = "gnu"` the `libc.so.6` the C compiler links against (`cc -print-file-name`), for
//! `target_env = "musl"` musl's `libc.so` from its usual places. `ASSAFE_LIBC=/path/to/libc.so.6`
//! (or a musl `libc.so`) names another one. Its `.dynsym`, `.gnu.version` and
//! `.gnu.version_d` are read here (ELF64 little-endian, std only).
//!
//! The fingerprint must equal what `src/libc/identity.rs` computes at run time from the loaded
//! libc: FNV-1a (64 bit) over the `vd_hash` of the version definitions (index ≥ 2, in table
//! order, 4 bytes little endian each); without version definitions (musl), over the number of
//! dynamic symbols (8 bytes, little endian).

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// glibc's libraries whose functions moved into libc.so.6 in 2.34 (read for the record: their
/// names are counted, never interposed, see docs/symbols.md).
pub const SIDE_LIBS: [&str; 5] = [
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
    "libanl.so.1",
];

/// Where musl's libc.so usually is (Debian's `musl` package, Alpine, a from-source install).
const MUSL_PATHS: [&str; 5] = [
    "/usr/lib/x86_64-linux-musl/libc.so",
    "/lib/x86_64-linux-musl/libc.so",
    "/lib/ld-musl-x86_64.so.1",
    "/usr/lib/musl/lib/libc.so",
    "/usr/local/musl/lib/libc.so",
];

/// One exported function.
#[derive(Clone, Debug)]
pub struct Export {
    /// Its default version (empty without symbol versions: musl).
    pub version: String,
    /// The file name of the library that defines it.
    pub library: String,
}

/// The libc the build is for.
pub struct Libc {
    pub path: PathBuf,
    /// e.g. "glibc GLIBC_2.36" or "musl (1676 symbols)".
    pub label: String,
    pub fingerprint: u64,
    /// Functions libc.so.6 (or musl's libc.so) itself exports.
    pub exports: HashMap<String, Export>,
    /// Functions only a side library (libpthread, libdl, … before glibc 2.34) exports.
    pub side: HashMap<String, Export>,
    /// The compatibility (hidden) versions libc.so.6 defines of each function.
    pub compat: HashMap<String, Vec<String>>,
}

/// What one ELF file exports.
pub struct Elf {
    pub machine: u16,
    /// Version definition names, index ≥ 2, in table order.
    pub verdefs: Vec<String>,
    /// Their `vd_hash` values (the ELF hash of each name), in the same order.
    pub verdef_hashes: Vec<u32>,
    pub nsyms: usize,
    /// Defined global/weak functions at their default version (version "" when unversioned).
    pub functions: Vec<(String, String)>,
    /// Defined global/weak functions at a hidden (compatibility) version: (name, version).
    pub compat: Vec<(String, String)>,
    /// glibc's banner version ("GNU C Library … release version 2.31."), when present.
    pub release: Option<String>,
}

pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;

fn u16_at(d: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(d[o..o + 2].try_into().unwrap())
}
fn u32_at(d: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(d[o..o + 4].try_into().unwrap())
}
fn u64_at(d: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(d[o..o + 8].try_into().unwrap())
}

fn cstr(d: &[u8], o: usize) -> String {
    let end = d[o..]
        .iter()
        .position(|&b| b == 0)
        .map_or(d.len(), |e| o + e);
    String::from_utf8_lossy(&d[o..end]).into_owned()
}

/// Reads the dynamic symbols and version definitions of an ELF64 little-endian shared object.
pub fn read_elf(path: &Path) -> Result<Elf, String> {
    let d = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if d.len() < 64 || &d[..4] != b"\x7fELF" || d[4] != 2 || d[5] != 1 {
        return Err(format!(
            "{}: not an ELF64 little-endian file (a linker script? name the real library)",
            path.display()
        ));
    }
    let machine = u16_at(&d, 0x12);
    let shoff = u64_at(&d, 0x28) as usize;
    let shentsize = u16_at(&d, 0x3a) as usize;
    let shnum = u16_at(&d, 0x3c) as usize;
    // (type, offset, size, link, info, entsize)
    let secs: Vec<(u32, usize, usize, usize, usize, usize)> = (0..shnum)
        .map(|i| {
            let o = shoff + i * shentsize;
            (
                u32_at(&d, o + 4),
                u64_at(&d, o + 0x18) as usize,
                u64_at(&d, o + 0x20) as usize,
                u32_at(&d, o + 0x28) as usize,
                u32_at(&d, o + 0x2c) as usize,
                u64_at(&d, o + 0x38) as usize,
            )
        })
        .collect();
    const SHT_DYNSYM: u32 = 11;
    const SHT_GNU_VERDEF: u32 = 0x6fff_fffd;
    const SHT_GNU_VERSYM: u32 = 0x6fff_ffff;
    let find = |t: u32| secs.iter().find(|s| s.0 == t).copied();
    let dynsym = find(SHT_DYNSYM).ok_or_else(|| format!("{}: no .dynsym", path.display()))?;
    let strtab = secs[dynsym.3].1;
    let mut vnames: HashMap<u16, String> = HashMap::new();
    let mut verdefs = Vec::new();
    let mut verdef_hashes = Vec::new();
    if let Some(vd) = find(SHT_GNU_VERDEF) {
        let vstr = secs[vd.3].1;
        let mut o = vd.1;
        for _ in 0..vd.4 {
            let ndx = u16_at(&d, o + 4);
            let vd_hash = u32_at(&d, o + 8);
            let aux = u32_at(&d, o + 12) as usize;
            let next = u32_at(&d, o + 16) as usize;
            let name = cstr(&d, vstr + u32_at(&d, o + aux) as usize);
            if ndx >= 2 {
                verdefs.push(name.clone());
                verdef_hashes.push(vd_hash);
            }
            vnames.insert(ndx, name);
            if next == 0 {
                break;
            }
            o += next;
        }
    }
    let versym = find(SHT_GNU_VERSYM);
    let nsyms = dynsym.2 / dynsym.5;
    let mut functions = Vec::new();
    let mut compat = Vec::new();
    for i in 1..nsyms {
        let o = dynsym.1 + i * dynsym.5;
        let (name, info, shndx) = (u32_at(&d, o) as usize, d[o + 4], u16_at(&d, o + 6));
        let (ty, bind) = (info & 0xf, info >> 4);
        if shndx == 0 || !(ty == 2 || ty == 10) || !(bind == 1 || bind == 2) {
            continue;
        }
        let version = match versym {
            Some(vs) => {
                let v = u16_at(&d, vs.1 + 2 * i);
                if v & 0x8000 != 0 {
                    // A compatibility (hidden) version.
                    if let Some(n) = vnames.get(&(v & 0x7fff)) {
                        compat.push((cstr(&d, strtab + name), n.clone()));
                    }
                    continue;
                }
                match v & 0x7fff {
                    0 | 1 => String::new(), // local / unversioned global
                    n => vnames.get(&n).cloned().unwrap_or_default(),
                }
            }
            None => String::new(),
        };
        if version == "GLIBC_PRIVATE" {
            continue;
        }
        functions.push((cstr(&d, strtab + name), version));
    }
    let release = d
        .windows(16)
        .position(|w| w == b"release version ")
        .map(|at| {
            let v: String = d[at + 16..]
                .iter()
                .take_while(|c| c.is_ascii_digit() || **c == b'.')
                .map(|&c| c as char)
                .collect();
            v.trim_end_matches('.').to_string()
        })
        .filter(|v| !v.is_empty());
    Ok(Elf {
        release,
        machine,
        verdefs,
        verdef_hashes,
        nsyms,
        functions,
        compat,
    })
}

/// The fingerprint of a libc (see the module doc; the same computation as at run time).
pub fn fingerprint(elf: &Elf) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    if elf.verdefs.is_empty() {
        for b in (elf.nsyms as u64).to_le_bytes() {
            eat(b);
        }
    } else {
        for v in &elf.verdef_hashes {
            v.to_le_bytes().into_iter().for_each(&mut eat);
        }
    }
    h
}

/// A short name for the libc: glibc's banner version, else its newest `GLIBC_2.N` version node, or musl and its symbol count.
pub fn label(elf: &Elf) -> String {
    if let Some(r) = &elf.release {
        return format!("glibc {r}");
    }
    let newest = elf
        .verdefs
        .iter()
        .filter_map(|v| v.strip_prefix("GLIBC_2."))
        .filter_map(|v| {
            let mut p = v.split('.').map(|x| x.parse::<u32>().ok());
            Some((p.next()??, p.next().flatten().unwrap_or(0)))
        })
        .max();
    match newest {
        Some((minor, 0)) => format!("glibc 2.{minor}"),
        Some((minor, patch)) => format!("glibc 2.{minor}.{patch}"),
        None if elf.verdefs.is_empty() => format!("musl ({} symbols)", elf.nsyms),
        None => format!("libc ({})", elf.verdefs.join(" ")),
    }
}

/// The libc of this build: `ASSAFE_LIBC`, else the build machine's for the target. `None` when
/// none is found for the target (a cross build: build.rs then falls back to the export table of
/// data/reference).
pub fn target_libc(arch: &str, env: &str) -> Option<Libc> {
    println!("cargo:rerun-if-env-changed=ASSAFE_LIBC");
    let want = match arch {
        "x86_64" => EM_X86_64,
        "aarch64" => EM_AARCH64,
        _ => 0,
    };
    let named = std::env::var_os("ASSAFE_LIBC").map(PathBuf::from);
    let path = match &named {
        Some(p) => p.clone(),
        None if env == "musl" => MUSL_PATHS.iter().map(PathBuf::from).find(|p| p.exists())?,
        None => compiler_libc().or_else(|| {
            [
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/libc.so.6",
                "/usr/lib64/libc.so.6",
            ]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
        })?,
    };
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    println!("cargo:rerun-if-changed={}", path.display());
    let elf = read_elf(&path).unwrap_or_else(|e| panic!("ASSAFE_LIBC / build libc: {e}"));
    if elf.machine != want {
        if named.is_some() {
            panic!(
                "ASSAFE_LIBC={}: ELF machine {} is not the target's ({arch})",
                path.display(),
                elf.machine
            );
        }
        return None;
    }
    let libname = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    let own = if env == "musl" {
        "libc.so".to_string()
    } else {
        "libc.so.6".to_string()
    };
    let exports: HashMap<String, Export> = elf
        .functions
        .iter()
        .map(|(n, v)| {
            let e = Export {
                version: v.clone(),
                library: own.clone(),
            };
            (n.clone(), e)
        })
        .collect();
    let mut side = HashMap::new();
    if let Some(dir) = path.parent() {
        for lib in SIDE_LIBS {
            let p = dir.join(lib);
            if !p.exists() {
                continue;
            }
            println!("cargo:rerun-if-changed={}", p.display());
            let Ok(e) = read_elf(&p) else { continue };
            for (n, v) in e.functions {
                if !exports.contains_key(&n) {
                    side.entry(n).or_insert(Export {
                        version: v,
                        library: libname(Path::new(lib)),
                    });
                }
            }
        }
    }
    let mut compat: HashMap<String, Vec<String>> = HashMap::new();
    for (n, v) in &elf.compat {
        compat.entry(n.clone()).or_default().push(v.clone());
    }
    for v in compat.values_mut() {
        v.sort();
        v.dedup();
    }
    Some(Libc {
        compat,
        label: label(&elf),
        fingerprint: fingerprint(&elf),
        path,
        exports,
        side,
    })
}

/// The libc.so.6 the C compiler links against (`$CC -print-file-name=libc.so.6`).
fn compiler_libc() -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=CC");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = std::process::Command::new(cc)
        .arg("-print-file-name=libc.so.6")
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    (p.is_absolute() && p.exists()).then_some(p)
}
