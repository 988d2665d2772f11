//! Offline symbolization of `(module, offset)` frames: DWARF through `addr2line` (with inlined
//! frames), then the ELF symbol tables through `object`, then `module+0xoffset`.

use crate::logs::RawFrame;
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// One symbolized frame. An address may give several (inlined functions first).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct SymFrame {
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub module: Option<String>,
    /// Offset in the module (ELF virtual address), as `0x…`.
    #[serde(serialize_with = "ser_hex")]
    pub offset: Option<u64>,
    /// The run-time address recorded (varies between processes).
    #[serde(serialize_with = "ser_hex")]
    pub addr: Option<u64>,
    /// This frame was inlined into the next one.
    pub inlined: bool,
    /// The interposed libc function itself (frame #0), not a real frame of the stack.
    #[serde(skip)]
    pub synthetic: bool,
    /// The signal trampoline a handler returns into (`__restore_rt`): the frame printed as
    /// `<signal handler called>`. The frame after it is the interrupted instruction.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub signal_frame: bool,
    /// The text of `file:line` when the file was readable at report time (HTML reports only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

fn ser_hex<S: serde::Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&format!("{v:#x}")),
        None => s.serialize_none(),
    }
}

impl SymFrame {
    /// The part of a frame that identifies it across processes (no run-time address).
    pub fn key(&self) -> String {
        match (&self.function, &self.file) {
            (Some(f), Some(file)) => format!("{f}@{file}:{}", self.line.unwrap_or(0)),
            (Some(f), None) => format!("{f}@{}", self.module.as_deref().unwrap_or("")),
            _ => format!(
                "{}+{:#x}",
                self.module.as_deref().unwrap_or(""),
                self.offset.unwrap_or(0)
            ),
        }
    }

    /// Whether this frame could be the user's own code: not libassafe's synthetic frame, not a
    /// signal trampoline, not the C/C++ runtime or loader, not a system header's inline wrapper
    /// (`/usr/include/…/bits/stdio2.h` of a fortified call), not Rust's std/core/alloc. System
    /// libraries under `/usr/lib` or `/lib` (libcrypto, libpython…) pass this test: see
    /// [`user_frame`] for how they rank below the program's own modules.
    pub fn is_user_code(&self) -> bool {
        if self.synthetic || self.signal_frame {
            return false;
        }
        let Some(module) = self.module.as_deref().filter(|m| !m.is_empty()) else {
            return false;
        };
        if is_system_module(module) {
            return false;
        }
        if let Some(file) = &self.file
            && (is_rust_std_path(file) || is_system_header(file))
        {
            return false;
        }
        if let Some(f) = &self.function
            && is_rust_std_name(f)
        {
            return false;
        }
        true
    }
}

/// Whether a demangled name is a function of Rust's std, core or alloc (or the allocator shims),
/// including trait impls for std types (`<alloc::string::String as core::fmt::Write>::…`) and
/// std traits implemented for std types (`<&str as alloc::ffi::c_str::CString::new::SpecNewImpl>`).
pub fn is_rust_std_name(name: &str) -> bool {
    const STD: [&str; 6] = ["std::", "core::", "alloc::", "__rust_", "__rdl_", "__rg_"];
    let std = |n: &str| STD.iter().any(|p| n.starts_with(p));
    let Some(inner) = name.strip_prefix('<') else {
        return std(name);
    };
    // `<Type as Trait>::f`: std when the type is std's, or when a primitive/reference type
    // implements a std trait.
    let (ty, rest) = match inner.split_once(" as ") {
        Some((t, r)) => (t, Some(r)),
        None => (inner, None),
    };
    let ty = ty
        .trim_start_matches(['&', '*'])
        .trim_start_matches("mut ")
        .trim_start_matches("const ");
    if std(ty) {
        return true;
    }
    let primitive = ty.starts_with('[')
        || ty.starts_with('(')
        || matches!(
            ty.split('<').next().unwrap_or(ty),
            "str"
                | "u8"
                | "u16"
                | "u32"
                | "u64"
                | "u128"
                | "usize"
                | "i8"
                | "i16"
                | "i32"
                | "i64"
                | "i128"
                | "isize"
                | "f32"
                | "f64"
                | "bool"
                | "char"
        );
    primitive && rest.is_some_and(std)
}

/// A C header of the system (`/usr/include/…`, gcc's own `include` directory): its frames are
/// inline wrappers (`printf` → `__printf_chk` in `bits/stdio2.h`), not the program's code.
pub fn is_system_header(file: &str) -> bool {
    file.starts_with("/usr/include/")
        || (file.starts_with("/usr/lib/gcc/") && file.contains("/include/"))
}

/// libc, ld.so, libstdc++, libgcc and the other parts of glibc: the C and C++ runtime and the
/// loader, whose calls are made on the program's behalf.
pub fn is_system_module(module: &str) -> bool {
    let base = module.rsplit('/').next().unwrap_or(module);
    const PREFIXES: [&str; 12] = [
        "libc.so",
        "libc-",
        "ld-linux",
        "ld-2.",
        "ld.so",
        "libstdc++.so",
        "libgcc_s.so",
        "libpthread.so",
        "libpthread-",
        "libm.so",
        "libdl.so",
        "librt.so",
    ];
    PREFIXES.iter().any(|p| base.starts_with(p)) || base.starts_with("linux-vdso")
}

/// The dynamic loader (its frames call libraries' constructors and destructors).
pub fn is_loader_module(module: &str) -> bool {
    let base = module.rsplit('/').next().unwrap_or(module);
    base.starts_with("ld-linux") || base.starts_with("ld-2.") || base.starts_with("ld.so")
}

/// A shared library installed by the system (`/usr/lib`, `/lib`, …): libcrypto in a daemon,
/// a JVM's libjvm. Its frames are the program's own code only when no frame of the program's
/// own modules is in the stack.
pub fn is_installed_library(module: &str) -> bool {
    const DIRS: [&str; 4] = ["/usr/lib/", "/lib/", "/usr/lib64/", "/lib64/"];
    DIRS.iter().any(|d| module.starts_with(d)) && module.contains(".so")
}

/// The first frame in the program's own code: the first frame that [`SymFrame::is_user_code`]
/// accepts outside installed system libraries, else the first one inside them (a JVM's libjvm,
/// when nothing else is in the stack), else none.
pub fn user_frame(stack: &[SymFrame]) -> Option<usize> {
    let own =
        |f: &SymFrame| f.is_user_code() && !f.module.as_deref().is_some_and(is_installed_library);
    stack
        .iter()
        .position(own)
        .or_else(|| stack.iter().position(SymFrame::is_user_code))
}

/// How a signal frame is named (as gdb does).
pub const SIGNAL_FRAME_NAME: &str = "<signal handler called>";

/// Sources of the Rust standard library as rustc records them.
pub fn is_rust_std_path(file: &str) -> bool {
    file.contains("/rustc/")
        || file.contains("library/std/")
        || file.contains("library/alloc/")
        || file.contains("library/core/")
}

/// Whether a frame comes from libassafe itself (never shown or blamed).
pub fn is_assafe_module(module: &str) -> bool {
    module.ends_with("libassafe.so")
}

/// Demangles Rust (without the hash) and C++ names; returns other names unchanged.
pub fn demangle(name: &str) -> String {
    if let Ok(d) = rustc_demangle::try_demangle(name) {
        return format!("{d:#}");
    }
    if name.starts_with("_Z")
        && let Ok(sym) = cpp_demangle::Symbol::new(name)
        && let Ok(d) = sym.demangle()
    {
        return d;
    }
    name.to_owned()
}

/// A file mapped read-only, shared by the module and the DWARF context that borrows from it.
struct Mapped(memmap2::Mmap);

impl Mapped {
    fn open(path: &Path) -> Option<Arc<Mapped>> {
        let f = fs::File::open(path).ok()?;
        // SAFETY: a private read-only mapping of a file the run already finished with (the
        // program and its libraries); were it truncated meanwhile, reading the lost pages would
        // fault, which is the same trust addr2line's own loader places in these files. Nothing
        // writes through the mapping.
        let m = unsafe { memmap2::Mmap::map(&f) }.ok()?;
        Some(Arc::new(Mapped(m)))
    }
}

type Reader = addr2line::gimli::EndianSlice<'static, addr2line::gimli::RunTimeEndian>;

/// The debug sections lookups use (location lists, macros, call-frame and type units are never
/// read or decompressed).
#[derive(Clone, Copy)]
struct Sections {
    endian: addr2line::gimli::RunTimeEndian,
    abbrev: &'static [u8],
    addr: &'static [u8],
    aranges: &'static [u8],
    info: &'static [u8],
    line: &'static [u8],
    line_str: &'static [u8],
    ranges: &'static [u8],
    rnglists: &'static [u8],
    str: &'static [u8],
    str_offsets: &'static [u8],
}

impl Sections {
    /// A `gimli::Dwarf` over these sections, with `info` and `aranges` in place of theirs.
    fn dwarf(
        &self,
        info: &'static [u8],
        aranges: &'static [u8],
    ) -> addr2line::gimli::Dwarf<Reader> {
        use addr2line::gimli::{self, SectionId};
        let load = |id: SectionId| -> Result<Reader, std::convert::Infallible> {
            let b: &'static [u8] = match id {
                SectionId::DebugAbbrev => self.abbrev,
                SectionId::DebugAddr => self.addr,
                SectionId::DebugAranges => aranges,
                SectionId::DebugInfo => info,
                SectionId::DebugLine => self.line,
                SectionId::DebugLineStr => self.line_str,
                SectionId::DebugRanges => self.ranges,
                SectionId::DebugRngLists => self.rnglists,
                SectionId::DebugStr => self.str,
                SectionId::DebugStrOffsets => self.str_offsets,
                _ => &[],
            };
            Ok(gimli::EndianSlice::new(b, self.endian))
        };
        match gimli::Dwarf::load(load) {
            Ok(d) => d,
            Err(never) => match never {},
        }
    }
}

/// A context over one compile unit: `info` is the module's `.debug_info` up to the end of that
/// unit, at its own offset, with the bytes before it presented as one type unit (which addr2line
/// skips): only this unit's abbreviations, ranges, lines and functions are ever parsed, and every
/// offset into `.debug_info` keeps its meaning. Made only for a unit whose abbreviations cannot
/// refer to another unit's entries (see [`Dwarf::refers_outside`]: addr2line drops an inlined
/// frame whose name it cannot reach).
struct UnitContext {
    // Field order is drop order: `ctx` borrows from `_info`.
    ctx: addr2line::Context<Reader>,
    _info: memmap2::Mmap,
}

/// The DWARF of one module. With `.debug_aranges` (gcc, rustc), an address is looked up in a
/// context over the compile unit that covers it (see [`UnitContext`]), made when an address in
/// it is first asked for: work is proportional to the units the findings' frames fall in, not
/// to the module's. Without it (clang's default), for a unit that may refer to other units
/// (rustc's codegen units, LTO, dwz's partial units) or one whose context cannot name a frame,
/// one context over the whole module, whose units addr2line parses all at once (their headers
/// and root entries; their lines and functions lazily).
struct Dwarf {
    // Field order is drop order: the contexts borrow from `_owned` and `_file`.
    units: std::cell::RefCell<HashMap<u64, Option<UnitContext>>>,
    whole: std::cell::OnceCell<Option<addr2line::Context<Reader>>>,
    /// `(begin, end, unit offset)` of every `.debug_aranges` entry.
    aranges: Vec<(u64, u64, u64)>,
    sections: Sections,
    /// Sections that were compressed in the file, decompressed.
    _owned: Vec<Box<[u8]>>,
    _file: Arc<Mapped>,
}

/// What DWARF says about one address: `(function, file, line)` per frame, inlined first.
type DwarfFrames = Vec<(Option<String>, Option<String>, Option<u32>)>;

impl Dwarf {
    /// Finds `file`'s debug sections (decompressing the compressed ones; their bytes are added to
    /// `stats`) and reads `.debug_aranges`. No unit is parsed.
    fn load(file: Arc<Mapped>, stats: &mut SymbolizerStats) -> Option<Dwarf> {
        use addr2line::gimli::{self, SectionId};
        let obj = object::File::parse(&file.0[..]).ok()?;
        let endian = if obj.is_little_endian() {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        let mut owned: Vec<Box<[u8]>> = Vec::new();
        let mut load = |id: SectionId| -> &'static [u8] {
            let Some(section) = obj.section_by_name(id.name()) else {
                return &[];
            };
            match section.uncompressed_data() {
                // SAFETY: the bytes lie in the mapping `file`, which `Dwarf` keeps alive (and
                // unmoved: the mapping's address does not change when the Arc moves) for as long
                // as the contexts, the only holders of this slice, live; they are dropped first.
                Ok(std::borrow::Cow::Borrowed(b)) => unsafe { &*(b as *const [u8]) },
                Ok(std::borrow::Cow::Owned(v)) => {
                    stats.bytes_decompressed += v.len() as u64;
                    let b = v.into_boxed_slice();
                    // SAFETY: a boxed slice's heap buffer does not move when the Box moves into
                    // `owned`, which `Dwarf` keeps until after the contexts are dropped.
                    let r = unsafe { &*(&*b as *const [u8]) };
                    owned.push(b);
                    r
                }
                Err(_) => &[],
            }
        };
        let sections = Sections {
            endian,
            abbrev: load(SectionId::DebugAbbrev),
            addr: load(SectionId::DebugAddr),
            aranges: load(SectionId::DebugAranges),
            info: load(SectionId::DebugInfo),
            line: load(SectionId::DebugLine),
            line_str: load(SectionId::DebugLineStr),
            ranges: load(SectionId::DebugRanges),
            rnglists: load(SectionId::DebugRngLists),
            str: load(SectionId::DebugStr),
            str_offsets: load(SectionId::DebugStrOffsets),
        };
        if sections.info.is_empty() {
            return None;
        }
        let mut aranges = Vec::new();
        let section = gimli::DebugAranges::new(sections.aranges, endian);
        let mut headers = section.headers();
        let complete = loop {
            match headers.next() {
                Ok(Some(h)) => {
                    let unit = h.debug_info_offset().0 as u64;
                    let mut entries = h.entries();
                    loop {
                        match entries.next() {
                            Ok(Some(e)) if e.length() > 0 => {
                                let r = e.range();
                                aranges.push((r.begin, r.end, unit));
                            }
                            Ok(Some(_)) => {}
                            Ok(None) => break,
                            // (Address overflow: ignored, as addr2line does.)
                            Err(_) => break,
                        }
                    }
                }
                Ok(None) => break true,
                Err(_) => break false,
            }
        };
        if !complete {
            aranges.clear();
        }
        Some(Dwarf {
            units: Default::default(),
            whole: Default::default(),
            aranges,
            sections,
            _owned: owned,
            _file: file,
        })
    }

    /// The context over the compile unit at `offset` (see [`UnitContext`]); `None` when it
    /// cannot be made (then the whole module's context serves).
    fn unit_context(&self, offset: u64) -> Option<UnitContext> {
        use addr2line::gimli::{self, Reader as _};
        let info = self.sections.info;
        let off = usize::try_from(offset).ok()?;
        let mut r = gimli::EndianSlice::new(info.get(off..)?, self.sections.endian);
        let (len, _format) = r.read_initial_length().ok()?;
        let end = off
            .checked_add(info.len() - off - r.len())?
            .checked_add(len)?;
        if end > info.len() {
            return None;
        }
        // The fake type unit's header: 4 + 2 + 1 + 1 + 4 + 8 + 4 bytes (32-bit DWARF 5).
        const FAKE: usize = 24;
        if off != 0 && (off < FAKE || off - 4 > 0xffff_fff0) {
            return None;
        }
        if self.refers_outside(offset) != Some(false) {
            // Its entries may name functions in other units (rustc's codegen units, LTO, dwz):
            // addr2line would drop such inlined frames silently here.
            return None;
        }
        // Zeroed, anonymous: the pages before the unit that are not written are never touched.
        let mut buf = memmap2::MmapMut::map_anon(end).ok()?;
        buf[off..end].copy_from_slice(&info[off..end]);
        if off != 0 {
            let little = matches!(self.sections.endian, gimli::RunTimeEndian::Little);
            let u32b = |v: u32| {
                if little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                }
            };
            let u16b = |v: u16| {
                if little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                }
            };
            let len = u32::try_from(off - 4).ok()?;
            buf[0..4].copy_from_slice(&u32b(len));
            buf[4..6].copy_from_slice(&u16b(5));
            buf[6] = gimli::DW_UT_type.0;
            buf[7] = 8; // address size
            // abbreviation offset, type signature and type offset: zero.
        }
        let buf = buf.make_read_only().ok()?;
        // SAFETY: a mapping's address does not change when the `Mmap` moves into the
        // `UnitContext` that holds `ctx`, the only holder of this slice, and unmaps it after it.
        let bytes: &'static [u8] = unsafe { &*(&buf[..] as *const [u8]) };
        let ctx = addr2line::Context::from_dwarf(self.sections.dwarf(bytes, &[])).ok()?;
        Some(UnitContext { ctx, _info: buf })
    }

    /// Whether the unit at `offset` may refer to entries of other units: its abbreviation table
    /// has an attribute of a form that does (`DW_FORM_ref_addr`, the supplementary file's, or
    /// `DW_FORM_indirect`, whose form is known only per entry). Read from the raw table: no
    /// entry of the unit is parsed. `None` when it cannot be read.
    fn refers_outside(&self, offset: u64) -> Option<bool> {
        use addr2line::gimli::{self, Reader as _};
        let endian = self.sections.endian;
        let info = gimli::DebugInfo::new(self.sections.info, endian);
        let header = info
            .header_from_offset(gimli::DebugInfoOffset(usize::try_from(offset).ok()?))
            .ok()?;
        let at = header.debug_abbrev_offset().0;
        let mut r = gimli::EndianSlice::new(self.sections.abbrev.get(at..)?, endian);
        loop {
            let code = r.read_uleb128().ok()?;
            if code == 0 {
                return Some(false);
            }
            let _tag = r.read_uleb128().ok()?;
            let _children = r.read_u8().ok()?;
            loop {
                let name = r.read_uleb128().ok()?;
                let form = r.read_uleb128().ok()?;
                if name == 0 && form == 0 {
                    break;
                }
                let form = gimli::DwForm(u16::try_from(form).ok()?);
                if matches!(
                    form,
                    gimli::DW_FORM_ref_addr
                        | gimli::DW_FORM_indirect
                        | gimli::DW_FORM_GNU_ref_alt
                        | gimli::DW_FORM_ref_sup4
                        | gimli::DW_FORM_ref_sup8
                ) {
                    return Some(true);
                }
                if form == gimli::DW_FORM_implicit_const {
                    r.read_sleb128().ok()?;
                }
            }
        }
    }

    /// Looks `probe` up: in the contexts of the units `.debug_aranges` says cover it, else (no
    /// aranges, a unit that cannot be made, a frame its unit cannot name) in the whole module's.
    fn frames(&self, probe: u64, stats: &mut SymbolizerStats) -> DwarfFrames {
        if !self.aranges.is_empty() {
            let mut units: Vec<u64> = self
                .aranges
                .iter()
                .filter(|(b, e, _)| *b <= probe && probe < *e)
                .map(|a| a.2)
                .collect();
            units.sort_unstable();
            units.dedup();
            if units.is_empty() {
                // No unit has code here (crt's `_start`, assembly): symbols name it.
                return Vec::new();
            }
            let mut complete = true;
            for u in units {
                let mut map = self.units.borrow_mut();
                let uc = map.entry(u).or_insert_with(|| {
                    let c = self.unit_context(u);
                    if c.is_some() {
                        stats.units_parsed += 1;
                    }
                    c
                });
                let Some(uc) = uc else {
                    complete = false;
                    continue;
                };
                let (found, line_only) = lookup(&uc.ctx, probe);
                if found.is_empty() {
                    continue;
                }
                // Every frame named, or a line with no function entry (a line-tables-only build,
                // assembly): what the whole module's context would say too.
                if line_only || found.iter().all(|f| f.0.is_some()) {
                    return found;
                }
                // A function this unit cannot name (its name is in another unit): the whole
                // module's context can.
                complete = false;
            }
            if complete {
                return Vec::new();
            }
        }
        let whole = self.whole.get_or_init(|| {
            stats.whole_modules += 1;
            addr2line::Context::from_dwarf(
                self.sections
                    .dwarf(self.sections.info, self.sections.aranges),
            )
            .ok()
        });
        whole
            .as_ref()
            .map(|c| lookup(c, probe).0)
            .unwrap_or_default()
    }
}

/// `probe` in `ctx`: its frames (inlined first), else its line alone (then `true`).
fn lookup(ctx: &addr2line::Context<Reader>, probe: u64) -> (DwarfFrames, bool) {
    let mut out = Vec::new();
    // Split DWARF (.dwo) units are not followed: their frames fall back to the symbols.
    if let Ok(mut frames) = ctx.find_frames(probe).skip_all_loads() {
        while let Ok(Some(f)) = frames.next() {
            let function = f
                .function
                .as_ref()
                .and_then(|n| n.raw_name().ok())
                .map(|n| demangle(&n));
            let (file, line) = match &f.location {
                Some(l) => (l.file.map(str::to_owned), l.line),
                None => (None, None),
            };
            out.push((function, file, line));
        }
    }
    if out.is_empty()
        && let Ok(Some(l)) = ctx.find_location(probe)
    {
        out.push((None, l.file.map(str::to_owned), l.line));
        return (out, true);
    }
    (out, false)
}

struct Module {
    path: PathBuf,
    /// The GNU build-id of the file on disk now (lower-case hex).
    build_id: Option<String>,
    /// When the file's inode last changed (ctime): a package upgrade replaces the file, and
    /// dpkg cannot backdate a ctime.
    changed: Option<SystemTime>,
    file: Arc<Mapped>,
    /// DWARF from the module itself or its separate debug file: found, mapped and prepared only
    /// when a frame of this module is first looked up in it (never for the C runtime's modules,
    /// see [`Module::wants_dwarf`]; never for a module whose frames only needed their bytes, a
    /// build-id check or a symbol).
    dwarf: std::cell::OnceCell<Option<Dwarf>>,
    /// `(address, size, name)` from `.symtab`, else `.dynsym` and the separate debug file's
    /// `.symtab` (which names the local functions of a stripped library); read only when a frame
    /// gets no function name from DWARF.
    symbols: std::cell::OnceCell<Symbols>,
    /// Addresses looked up in [`Module::symbols`], and what they are in.
    named: std::cell::RefCell<HashMap<u64, Option<String>>>,
}

/// A module's function symbols, `(address, size, name)`; the names borrow from the mapped files.
struct Symbols {
    // Field order is drop order: `list` borrows from `_maps`.
    list: Vec<(u64, u64, &'static [u8])>,
    _maps: Vec<Arc<Mapped>>,
}

impl Module {
    /// Maps the module: nothing is read but its ELF and section headers and its build-id note.
    fn load(path: &Path) -> Option<Module> {
        let file = Mapped::open(path)?;
        let obj = object::File::parse(&file.0[..]).ok()?;
        let build_id = match obj.build_id() {
            Ok(Some(id)) if !id.is_empty() => Some(id.iter().map(|b| format!("{b:02x}")).collect()),
            _ => None,
        };
        let changed = fs::metadata(path).ok().and_then(|m| {
            use std::os::unix::fs::MetadataExt;
            let secs = u64::try_from(m.ctime()).ok()?;
            SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs))
        });
        Some(Module {
            path: path.to_path_buf(),
            build_id,
            changed,
            file,
            dwarf: std::cell::OnceCell::new(),
            symbols: std::cell::OnceCell::new(),
            named: Default::default(),
        })
    }

    /// Whether frames of this module are looked up in DWARF (file, line, inlined functions).
    /// The C and C++ runtime and the loader ([`is_system_module`]) are not: their frames are
    /// calls made on the program's behalf, named from the symbol tables; their debug info (libc's
    /// is tens of megabytes, compressed) would make every report pay for it.
    fn wants_dwarf(&self) -> bool {
        !is_system_module(&self.path.to_string_lossy())
    }

    /// The module's DWARF context, prepared on first use (see [`Module::dwarf`]).
    fn dwarf(&self, stats: &mut SymbolizerStats) -> Option<&Dwarf> {
        self.dwarf
            .get_or_init(|| {
                if !self.wants_dwarf() {
                    return None;
                }
                let obj = object::File::parse(&self.file.0[..]).ok()?;
                let has_dwarf = obj
                    .section_by_name(".debug_info")
                    .is_some_and(|s| s.size() > 0);
                let dwarf_file = if has_dwarf {
                    Some(self.file.clone())
                } else {
                    separate_debug_file(&self.path, &obj).and_then(|p| Mapped::open(&p))
                };
                let d = Dwarf::load(dwarf_file?, stats);
                if d.is_some() {
                    stats
                        .dwarf_modules
                        .push(self.path.to_string_lossy().into_owned());
                }
                d
            })
            .as_ref()
    }

    fn symbols(&self) -> &[(u64, u64, &'static [u8])] {
        &self
            .symbols
            .get_or_init(|| {
                let mut list: Vec<(u64, u64, &'static [u8])> = Vec::new();
                let mut maps = Vec::new();
                let mut add = |map: &Arc<Mapped>| -> Option<bool> {
                    let file = object::File::parse(&map.0[..]).ok()?;
                    // `.symtab` holds every function `.dynsym` does: read one of them.
                    let has_symtab = file.symbols().next().is_some();
                    let symbols = if has_symtab {
                        file.symbols()
                    } else {
                        file.dynamic_symbols()
                    };
                    for sym in symbols {
                        if sym.kind() != SymbolKind::Text || sym.address() == 0 {
                            continue;
                        }
                        let Ok(name) = sym.name_bytes() else { continue };
                        if name.is_empty() {
                            continue;
                        }
                        // SAFETY: the name lies in the mapping `map`, which `Symbols` keeps alive
                        // (and unmoved) beside `list`, the only holder of these slices.
                        let name: &'static [u8] = unsafe { &*(name as *const [u8]) };
                        list.push((sym.address(), sym.size(), name));
                    }
                    maps.push(map.clone());
                    Some(has_symtab)
                };
                let has_symtab = add(&self.file).unwrap_or(true);
                // A stripped library keeps only its exported names: its separate debug file's
                // `.symtab` names the local functions too (libc's `__libc_start_call_main`).
                if !has_symtab
                    && let Ok(file) = object::File::parse(&self.file.0[..])
                    && let Some(debug) =
                        separate_debug_file(&self.path, &file).and_then(|p| Mapped::open(&p))
                {
                    add(&debug);
                }
                // Not sorted: a report looks up a few addresses per module, each once (see
                // `Module::symbol`); a scan of the list costs less than sorting it (libc's debug
                // file has 10 000 symbols).
                Symbols { list, _maps: maps }
            })
            .list
    }

    /// The bytes at virtual address `vaddr` of the file (from its loadable segments).
    fn bytes_at(&self, vaddr: u64, len: usize) -> Option<Vec<u8>> {
        use object::ObjectSegment;
        let file = object::File::parse(&self.file.0[..]).ok()?;
        for seg in file.segments() {
            let (start, size) = (seg.address(), seg.size());
            if vaddr < start || vaddr.checked_add(len as u64)? > start + size {
                continue;
            }
            let data = seg.data().ok()?;
            let at = usize::try_from(vaddr - start).ok()?;
            return data.get(at..at + len).map(<[u8]>::to_vec);
        }
        None
    }

    /// Whether `vaddr` is a signal trampoline: the `rt_sigreturn` sequence the kernel makes a
    /// handler return into (glibc's `__restore_rt` on x86_64, `__kernel_rt_sigreturn` on
    /// aarch64), recognized by its instructions as gdb and libgcc's unwinder do.
    fn is_sigreturn(&self, vaddr: u64) -> bool {
        // x86_64: mov $15, %rax; syscall
        const X86_64: [u8; 9] = [0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05];
        // aarch64: mov x8, #139; svc #0 (little-endian words)
        const AARCH64: [u8; 8] = [0x68, 0x11, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4];
        match self.bytes_at(vaddr, X86_64.len()) {
            Some(b) if b == X86_64 || b[..8] == AARCH64 => true,
            _ => self
                .bytes_at(vaddr, AARCH64.len())
                .is_some_and(|b| b == AARCH64),
        }
    }

    /// Whether a symbol (function) starts exactly at `vaddr`.
    fn is_function_start(&self, vaddr: u64) -> bool {
        self.symbols().iter().any(|s| s.0 == vaddr)
    }

    /// The function symbol `probe` is in: the one that starts last at or before it (of those
    /// that start there, the smallest, then the first by name), unless its size ends before
    /// `probe`. Each address is looked up once.
    fn symbol(&self, probe: u64) -> Option<String> {
        if let Some(v) = self.named.borrow().get(&probe) {
            return v.clone();
        }
        let mut best: Option<&(u64, u64, &'static [u8])> = None;
        for s in self.symbols() {
            if s.0 > probe {
                continue;
            }
            let better = match best {
                None => true,
                Some(b) => s.0 > b.0 || (s.0 == b.0 && (s.1, s.2) < (b.1, b.2)),
            };
            if better {
                best = Some(s);
            }
        }
        let name = best
            .filter(|(addr, size, _)| *size == 0 || probe < addr + size)
            .and_then(|(_, _, name)| std::str::from_utf8(name).ok())
            .map(demangle);
        self.named.borrow_mut().insert(probe, name.clone());
        name
    }
}

/// Debian-style separate debug info: `/usr/lib/debug/.build-id/xx/yyyy.debug`, or the
/// `.gnu_debuglink` name next to the module, in `.debug/`, or under `/usr/lib/debug`.
fn separate_debug_file(path: &Path, file: &object::File) -> Option<PathBuf> {
    if let Ok(Some(id)) = file.build_id()
        && id.len() > 1
    {
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let p = PathBuf::from(format!(
            "/usr/lib/debug/.build-id/{}/{}.debug",
            &hex[..2],
            &hex[2..]
        ));
        if p.is_file() {
            return Some(p);
        }
    }
    if let Ok(Some((name, _crc))) = file.gnu_debuglink() {
        let name = String::from_utf8_lossy(name).into_owned();
        let dir = path.parent().unwrap_or(Path::new("/"));
        let candidates = [
            dir.join(&name),
            dir.join(".debug").join(&name),
            Path::new("/usr/lib/debug")
                .join(dir.strip_prefix("/").unwrap_or(dir))
                .join(&name),
        ];
        return candidates.into_iter().find(|c| c.is_file() && c != path);
    }
    None
}

/// What a [`Symbolizer`] had to read, for the tests that keep symbolization proportional to
/// the findings rather than to the size of the binaries' debug info.
#[derive(Clone, Debug, Default)]
pub struct SymbolizerStats {
    /// Modules opened (mapped; their ELF headers parsed), in order.
    pub modules_opened: Vec<String>,
    /// Modules whose DWARF was prepared for lookups, in order.
    pub dwarf_modules: Vec<String>,
    /// Bytes of compressed debug sections inflated.
    pub bytes_decompressed: u64,
    /// Compile units parsed one by one (see `UnitContext`).
    pub units_parsed: u64,
    /// Modules whose units were all parsed (no `.debug_aranges`, or a frame one unit could not
    /// name).
    pub whole_modules: u64,
}

/// Symbolizes frames, caching every module it opens (and every module it could not open).
/// Work is proportional to the findings: only modules that appear in a stack are opened, they
/// are mapped rather than read, their DWARF is prepared only when one of their frames is first
/// looked up (never for the C runtime's modules, named from their symbol tables), and parsed
/// unit by unit as addresses need it.
#[derive(Default)]
pub struct Symbolizer {
    /// What was read (see [`SymbolizerStats`]).
    pub stats: SymbolizerStats,
    modules: HashMap<String, Option<Module>>,
    /// Modules that could not be opened (deleted since the run, unreadable, not ELF).
    pub missing: Vec<String>,
    /// Modules on disk that are not the build that ran (module → why): never symbolized.
    pub other_build: BTreeMap<String, String>,
    /// Modules symbolized although the log recorded no build-id to check them against.
    pub unverified: BTreeSet<String>,
    /// Signal trampoline checks made: (module, offset) → is one.
    sigreturn: HashMap<(String, u64), bool>,
    /// Warn about [`Self::unverified`] modules (`assafe report` on kept logs; not `run`, which
    /// symbolizes right after the run).
    pub warn_unverified: bool,
}

impl Symbolizer {
    pub fn new() -> Self {
        Self::default()
    }

    fn module(&mut self, path: &str) -> Option<&Module> {
        if !self.modules.contains_key(path) {
            let m = Module::load(Path::new(path));
            match &m {
                None => self.missing.push(path.to_owned()),
                Some(_) => self.stats.modules_opened.push(path.to_owned()),
            }
            self.modules.insert(path.to_owned(), m);
        }
        self.modules.get(path).and_then(Option::as_ref)
    }

    /// Whether the module of `raw` on disk is the build that ran: its build-id equals the one the
    /// log recorded, or (no build-id recorded) the file has not been replaced since `logged_at`.
    fn same_build(&mut self, raw: &RawFrame, logged_at: Option<SystemTime>) -> bool {
        let Some(m) = self.module(&raw.module) else {
            return false;
        };
        let (disk_id, changed) = (m.build_id.clone(), m.changed);
        if self.other_build.contains_key(&raw.module) {
            return false;
        }
        let why = match (&raw.build_id, &disk_id) {
            (Some(rec), Some(disk)) if rec == disk => return true,
            (Some(rec), Some(disk)) => {
                format!("the log recorded build-id {rec}, the file now has {disk}")
            }
            (Some(rec), None) => {
                format!("the log recorded build-id {rec}, the file now has none")
            }
            (None, _) => {
                // Slack for file systems with coarse timestamps.
                let slack = std::time::Duration::from_secs(2);
                match (changed, logged_at) {
                    (Some(c), Some(l)) if c > l + slack => {
                        "the file was replaced after the log was written (no build-id recorded)"
                            .to_owned()
                    }
                    _ => {
                        self.unverified.insert(raw.module.clone());
                        return true;
                    }
                }
            }
        };
        self.other_build.insert(raw.module.clone(), why);
        false
    }

    /// Warnings about builds: modules not symbolized because they changed since the run, and
    /// (with [`Self::warn_unverified`]) modules whose build could not be verified.
    pub fn build_warnings(&self) -> Vec<String> {
        let mut w: Vec<String> = self
            .other_build
            .iter()
            .map(|(m, why)| {
                format!("{m} is not the build that ran ({why}): its frames are shown as module+offset, not symbolized")
            })
            .collect();
        if self.warn_unverified && !self.unverified.is_empty() {
            let list: Vec<&str> = self.unverified.iter().map(String::as_str).collect();
            w.push(format!(
                "cannot verify build: the logs record no build-id for {} module(s) ({}); their names come from the files as they are now",
                list.len(),
                list.join(", ")
            ));
        }
        w
    }

    /// Symbolizes one frame. `return_address`: the frame holds the address after a call, so look
    /// up the byte before it.
    pub fn frame(&mut self, raw: &RawFrame, return_address: bool) -> Vec<SymFrame> {
        self.frame_at(raw, return_address, None)
    }

    /// [`Self::frame`] for a frame logged at `logged_at`: symbolized only against the same build.
    pub fn frame_at(
        &mut self,
        raw: &RawFrame,
        return_address: bool,
        logged_at: Option<SystemTime>,
    ) -> Vec<SymFrame> {
        let base = SymFrame {
            module: (!raw.module.is_empty()).then(|| raw.module.clone()),
            offset: Some(raw.offset),
            addr: Some(raw.addr),
            ..Default::default()
        };
        if raw.module.is_empty() {
            return vec![base];
        }
        let probe = if return_address {
            raw.offset.saturating_sub(1)
        } else {
            raw.offset
        };
        if !self.same_build(raw, logged_at) {
            return vec![base];
        }
        if self.module(&raw.module).is_none() {
            return vec![base];
        }
        let Some(Some(module)) = self.modules.get(&raw.module) else {
            return vec![base];
        };
        let mut out: Vec<SymFrame> = Vec::new();
        if let Some(dwarf) = module.dwarf(&mut self.stats) {
            let found = dwarf.frames(probe, &mut self.stats);
            for (function, file, line) in found {
                // (The last frame is not inlined: cleared below.)
                out.push(SymFrame {
                    function,
                    file,
                    line,
                    inlined: true,
                    ..base.clone()
                });
            }
        }
        if out.is_empty() {
            out.push(base);
        }
        if let Some(last) = out.last_mut() {
            last.inlined = false;
            if last.function.is_none() {
                last.function = module.symbol(probe);
            }
        }
        out
    }

    /// Whether a raw frame is a signal trampoline (see [`Module::is_sigreturn`]). Only the C
    /// runtime's modules and the vDSO hold one; other modules are not read.
    pub fn is_signal_frame(&mut self, raw: &RawFrame) -> bool {
        if raw.module.is_empty() || !is_system_module(&raw.module) {
            return false;
        }
        if let Some(&v) = self.sigreturn.get(&(raw.module.clone(), raw.offset)) {
            return v;
        }
        let v = self
            .module(&raw.module)
            .is_some_and(|m| m.is_sigreturn(raw.offset));
        self.sigreturn.insert((raw.module.clone(), raw.offset), v);
        v
    }

    /// Symbolizes a whole stack, dropping libassafe's own frames.
    pub fn stack(&mut self, raw: &[RawFrame], return_addresses: bool) -> Vec<SymFrame> {
        self.stack_at(raw, return_addresses, None)
    }

    /// [`Self::stack`] for frames logged at `logged_at` (see [`Self::frame_at`]).
    pub fn stack_at(
        &mut self,
        raw: &[RawFrame],
        return_addresses: bool,
        logged_at: Option<SystemTime>,
    ) -> Vec<SymFrame> {
        let mut out = Vec::new();
        // The frame after a signal frame is the interrupted instruction, not a return address:
        // it is looked up as it is (at address−1 it could name the previous function).
        let mut after_signal = false;
        let frames: Vec<&RawFrame> = raw
            .iter()
            .filter(|f| !is_assafe_module(&f.module))
            .collect();
        for (i, &f) in frames.iter().enumerate() {
            // A handler that tail-called the unsafe function is recorded by its own address
            // (the first frame, right before the signal frame): a function's first byte is no
            // return address, and at address−1 it would name the function before it.
            let handler_entry = i == 0
                && frames.get(1).is_some_and(|n| self.is_signal_frame(n))
                && self
                    .module(&f.module)
                    .is_some_and(|m| m.is_function_start(f.offset));
            if handler_entry {
                out.extend(self.frame_at(f, false, logged_at));
                continue;
            }
            if self.is_signal_frame(f) {
                out.push(SymFrame {
                    function: Some(SIGNAL_FRAME_NAME.to_owned()),
                    module: Some(f.module.clone()),
                    offset: Some(f.offset),
                    addr: Some(f.addr),
                    signal_frame: true,
                    ..Default::default()
                });
                after_signal = true;
                continue;
            }
            out.extend(self.frame_at(f, return_addresses && !after_signal, logged_at));
            after_signal = false;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, file: Option<&str>, module: &str) -> SymFrame {
        SymFrame {
            function: Some(function.to_owned()),
            file: file.map(str::to_owned),
            module: Some(module.to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn rust_std_names() {
        for n in [
            "std::process::Command::spawn",
            "alloc::ffi::c_str::CString::new",
            "<alloc::string::String as core::fmt::Write>::write_str",
            "<&str as alloc::ffi::c_str::CString::new::SpecNewImpl>::spec_new_impl",
            "<[u8] as alloc::borrow::ToOwned>::to_owned",
            "__rust_alloc",
        ] {
            assert!(is_rust_std_name(n), "{n}");
        }
        for n in [
            "m::main::{{closure}}",
            "<m::Thing as core::fmt::Display>::fmt",
            "<&m::Thing as core::fmt::Debug>::fmt",
            "main",
        ] {
            assert!(!is_rust_std_name(n), "{n}");
        }
    }

    #[test]
    fn the_first_frame_in_your_code() {
        let stack = vec![
            SymFrame {
                function: Some("__printf_chk".into()),
                synthetic: true,
                ..Default::default()
            },
            frame(
                "printf",
                Some("/usr/include/x86_64-linux-gnu/bits/stdio2.h"),
                "/usr/sbin/sshd",
            ),
            frame("log_it", None, "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"),
            frame("handler", Some("/src/sshd.c"), "/usr/sbin/sshd"),
            frame("main", Some("/src/sshd.c"), "/usr/sbin/sshd"),
        ];
        // Not the system header's inline wrapper, not the installed library: the program.
        assert_eq!(user_frame(&stack), Some(3));
        // Only installed libraries and the runtime: the library.
        let lib_only = vec![
            frame(
                "JVM_handle_linux_signal",
                None,
                "/usr/lib/jvm/x/lib/server/libjvm.so",
            ),
            frame("__restore_rt", None, "/lib/x86_64-linux-gnu/libc.so.6"),
        ];
        assert_eq!(user_frame(&lib_only), Some(0));
        assert!(!frame("x", None, "/lib/x86_64-linux-gnu/libc.so.6").is_user_code());
        assert!(is_installed_library(
            "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"
        ));
        assert!(!is_installed_library("/usr/bin/bash"));
    }
}
