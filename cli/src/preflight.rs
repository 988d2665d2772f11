//! Tells, before running, when a program cannot be checked by an LD_PRELOAD library.

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Endianness, FileKind};
use std::ffi::{CString, OsStr};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Resolves a command name the way `execvp` does: through `PATH` unless it contains a `/`.
pub fn resolve(cmd: &OsStr, path_env: Option<&OsStr>) -> Option<PathBuf> {
    let p = Path::new(cmd);
    if cmd.as_bytes().contains(&b'/') {
        return Some(p.to_path_buf());
    }
    let path_env = path_env
        .map(|s| s.to_os_string())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    for dir in std::env::split_paths(&path_env) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let cand = dir.join(p);
        if let Ok(m) = fs::metadata(&cand)
            && m.is_file()
            && m.permissions().mode() & 0o111 != 0
        {
            return Some(cand);
        }
    }
    None
}

#[cfg(target_arch = "x86_64")]
const HOST_MACHINE: elf::Machine = elf::EM_X86_64;
#[cfg(target_arch = "aarch64")]
const HOST_MACHINE: elf::Machine = elf::EM_AARCH64;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const HOST_MACHINE: elf::Machine = elf::EM_NONE;

/// The ELF machine of the library that will be preloaded (0: not told, the host's is assumed).
static LIB_MACHINE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Tells the preflight which library will be preloaded: a program is checkable when it is built
/// for the library's architecture (an aarch64 program with the aarch64 library, run on an x86_64
/// host through qemu-user's binfmt handler, is), not necessarily the host's.
pub fn use_library(lib: &Path) {
    let machine = fs::File::open(lib)
        .ok()
        .and_then(|f| read_at(&f, 0, 64))
        .and_then(|head| {
            let hdr = elf::FileHeader64::<Endianness>::parse(&head[..]).ok()?;
            Some(hdr.e_machine(hdr.endian().ok()?))
        });
    if let Some(m) = machine {
        LIB_MACHINE.store(u32::from(m.0), std::sync::atomic::Ordering::Relaxed);
    }
    use_musl_build(crate::run::libraries(lib).1.is_some());
}

/// Whether a musl build of the library is preloaded beside the glibc one (see `run::libraries`).
static MUSL_BUILD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Tells the preflight whether musl programs get a build of the library they can load.
pub fn use_musl_build(available: bool) {
    MUSL_BUILD.store(available, std::sync::atomic::Ordering::Relaxed);
}

/// The ELF machine a program must be built for to be checked.
fn expected_machine() -> elf::Machine {
    match LIB_MACHINE.load(std::sync::atomic::Ordering::Relaxed) {
        0 => HOST_MACHINE,
        m => elf::Machine(m as u16),
    }
}

fn has_file_capabilities(path: &Path) -> bool {
    let Ok(cpath) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let name = c"security.capability";
    // SAFETY: both pointers are valid NUL-terminated strings that outlive the call; a null buffer
    // with size 0 asks only for the attribute's size and writes nothing.
    let n = unsafe { libc::getxattr(cpath.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
    n > 0
}

/// Why `path` (already resolved) cannot be checked, or `None` when nothing stands in the way
/// (or it cannot tell).
pub fn why_unchecked(path: &Path) -> Option<String> {
    why_unchecked_depth(path, 0)
}

fn why_unchecked_depth(path: &Path, depth: usize) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    let mode = meta.permissions().mode();
    // SAFETY: getuid/getgid cannot fail and have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    if mode & 0o4000 != 0 && meta.uid() != uid {
        return Some(format!(
            "{} is setuid (owner uid {}): the loader ignores LD_PRELOAD in secure mode",
            path.display(),
            meta.uid()
        ));
    }
    if mode & 0o2000 != 0 && mode & 0o010 != 0 && meta.gid() != gid {
        return Some(format!(
            "{} is setgid (group {}): the loader ignores LD_PRELOAD in secure mode",
            path.display(),
            meta.gid()
        ));
    }
    if has_file_capabilities(path) {
        return Some(format!(
            "{} has file capabilities (security.capability): the loader ignores LD_PRELOAD in secure mode",
            path.display()
        ));
    }
    let file = fs::File::open(path).ok()?;
    // What the kernel itself reads first (BINPRM_BUF_SIZE): enough for `#!` and an ELF header.
    let head = read_at(&file, 0, 256)?;
    if head.starts_with(b"#!") {
        if depth > 4 {
            return None;
        }
        let first = head[2..].split(|b| *b == b'\n').next().unwrap_or(&[]);
        let first = String::from_utf8_lossy(first);
        let mut words = first.split_whitespace();
        let interp = words.next()?;
        let mut interp_path = PathBuf::from(interp);
        if interp_path.file_name() == Some(OsStr::new("env")) {
            // `#!/usr/bin/env [-S] prog`: the program is found through PATH.
            let prog = words.find(|w| !w.starts_with('-'))?;
            interp_path = resolve(OsStr::new(prog), std::env::var_os("PATH").as_deref())?;
        }
        return why_unchecked_depth(&interp_path, depth + 1).map(|why| {
            format!(
                "{} is a script run by {}: {why}",
                path.display(),
                interp_path.display()
            )
        });
    }
    elf_why(path, &file, &head)
}

/// Largest program header table read (glibc's loader itself gives up well before: 64 KiB holds
/// 1170 entries).
const MAX_PHDRS_BYTES: usize = 64 << 10;
/// Longest PT_INTERP read (a path).
const MAX_INTERP_BYTES: usize = 4096;

/// Reads up to `len` bytes at `off` (fewer at the end of the file), in bounded `pread`s: the
/// preflight never reads a whole program, which can be hundreds of megabytes.
fn read_at(file: &fs::File, off: u64, len: usize) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match file.read_at(&mut buf[got..], off + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    buf.truncate(got);
    Some(buf)
}

/// Judges an ELF file from its header, its program headers and its PT_INTERP string only.
fn elf_why(path: &Path, file: &fs::File, head: &[u8]) -> Option<String> {
    let kind = FileKind::parse(head).ok()?;
    match kind {
        FileKind::Elf64 => {
            let hdr = elf::FileHeader64::<Endianness>::parse(head).ok()?;
            let endian = hdr.endian().ok()?;
            let machine = hdr.e_machine(endian);
            let expected = expected_machine();
            if machine != expected {
                return Some(format!(
                    "{} is built for another architecture (ELF machine {}, the library's is {}): this library cannot be loaded into it",
                    path.display(),
                    machine.0,
                    expected.0
                ));
            }
            let entsize = usize::from(hdr.e_phentsize(endian));
            if entsize != std::mem::size_of::<elf::ProgramHeader64<Endianness>>() {
                return None;
            }
            let mut phnum = usize::from(hdr.e_phnum(endian));
            if phnum == usize::from(elf::PN_XNUM) {
                // The real count is in section header 0's sh_info.
                let sh = read_at(
                    file,
                    hdr.e_shoff(endian),
                    std::mem::size_of::<elf::SectionHeader64<Endianness>>(),
                )?;
                let (sh0, _) =
                    object::pod::from_bytes::<elf::SectionHeader64<Endianness>>(&sh).ok()?;
                phnum = sh0.sh_info.get(endian) as usize;
            }
            let len = phnum
                .checked_mul(entsize)
                .filter(|&n| n <= MAX_PHDRS_BYTES)?;
            let table = read_at(file, hdr.e_phoff(endian), len)?;
            let (phdrs, _) =
                object::pod::slice_from_bytes::<elf::ProgramHeader64<Endianness>>(&table, phnum)
                    .ok()?;
            let interp = match phdrs.iter().find(|p| p.p_type(endian) == elf::PT_INTERP) {
                None => None,
                Some(p) => {
                    let n = usize::try_from(p.p_filesz(endian))
                        .ok()?
                        .min(MAX_INTERP_BYTES);
                    let d = read_at(file, p.p_offset(endian), n)?;
                    Some(
                        String::from_utf8_lossy(d.split(|b| *b == 0).next().unwrap_or(&d))
                            .into_owned(),
                    )
                }
            };
            match interp {
                None => {
                    if hdr.e_type(endian) == elf::ET_DYN
                        && path
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().contains(".so"))
                    {
                        // A shared library run directly (like libc.so.6): it has no interpreter.
                        None
                    } else {
                        Some(format!(
                            "{} is a static binary (no ELF interpreter): LD_PRELOAD cannot reach it",
                            path.display()
                        ))
                    }
                }
                Some(i) if is_glibc_loader(&i) => None,
                Some(i)
                    if is_musl_loader(&i)
                        && MUSL_BUILD.load(std::sync::atomic::Ordering::Relaxed) =>
                {
                    None
                }
                Some(i) if is_musl_loader(&i) => Some(format!(
                    "{} is a musl program (interpreter {i}) and this assafe has no musl build of libassafe.so (build it: RUSTFLAGS=\"-C target-feature=-crt-static\" cargo build --release -p assafe --target x86_64-unknown-linux-musl)",
                    path.display()
                )),
                Some(i) => Some(format!(
                    "{} is built for another C library (interpreter {i}): libassafe.so works with glibc and musl only",
                    path.display()
                )),
            }
        }
        FileKind::Elf32 => Some(format!(
            "{} is a 32-bit program: libassafe.so is 64-bit and cannot be loaded into it",
            path.display()
        )),
        _ => None,
    }
}

/// musl's dynamic loader (`/lib/ld-musl-x86_64.so.1`).
pub fn is_musl_loader(interp: &str) -> bool {
    let base = interp.rsplit('/').next().unwrap_or(interp);
    base.starts_with("ld-musl-x86_64")
}

/// glibc's dynamic loaders (`/lib64/ld-linux-x86-64.so.2`, `ld-linux-aarch64.so.1`, …).
pub fn is_glibc_loader(interp: &str) -> bool {
    let base = interp.rsplit('/').next().unwrap_or(interp);
    base.starts_with("ld-linux")
}
