//! The DWARF CFI stack walker.

use gimli::{
    BaseAddresses, CfaRule, EhFrame, EhFrameHdr, NativeEndian, Register, RegisterRule,
    UnwindContext, UnwindContextStorage, UnwindSection, UnwindTableRow,
};

use crate::cache;
use crate::modules::{self, Module};
use crate::sys::SafeReader;

/// Fixed-size storage for gimli's unwind context (no heap), as in the `unwinding`
/// crate's `StoreOnStack`.
pub(crate) struct StoreOnStack;

use crate::arch::{CALLER_SAVED, FP, MAX_RULES, NREGS, PC, RA, RA_DEFAULT_SAME, SP};

/// Depth of DW_CFA_remember_state nesting supported (+1 for the current row).
const MAX_STACK: usize = 3;

impl<T: gimli::ReaderOffset> UnwindContextStorage<T> for StoreOnStack {
    type Rules = [(Register, RegisterRule<T>); MAX_RULES];
    type Stack = [UnwindTableRow<T, Self>; MAX_STACK];
}

pub(crate) type Ctx = UnwindContext<usize, StoreOnStack>;

/// Registers known for a frame, by DWARF number (and the arch's pc column).
#[derive(Clone, Copy)]
pub(crate) struct RegFile {
    vals: [usize; NREGS],
    known: u64,
}

impl RegFile {
    pub(crate) fn empty() -> Self {
        RegFile {
            vals: [0; NREGS],
            known: 0,
        }
    }

    pub(crate) fn from_regs(r: &crate::Regs) -> Self {
        crate::arch::regfile(r)
    }

    pub(crate) fn get(&self, reg: u16) -> Option<usize> {
        let i = reg as usize;
        if i < NREGS && self.known & (1 << i) != 0 {
            Some(self.vals[i])
        } else {
            None
        }
    }

    pub(crate) fn set(&mut self, reg: u16, v: usize) {
        let i = reg as usize;
        if i < NREGS {
            self.vals[i] = v;
            self.known |= 1 << i;
        }
    }

    pub(crate) fn unset(&mut self, reg: u16) {
        let i = reg as usize;
        if i < NREGS {
            self.known &= !(1 << i);
        }
    }
}

/// Largest distance between a frame's rsp and its rbp accepted by the rbp fallback.
const MAX_RBP_DISTANCE: usize = 8 << 20;
/// Maximum signal frames crossed in one walk (they may move rsp downwards).
const MAX_SIGNAL_FRAMES: usize = 8;
/// Maximum operations executed by one DWARF expression.
const MAX_EXPR_STEPS: usize = 256;

enum CfiError {
    /// The module has no FDE for this pc.
    NoFde,
    /// Anything else: stop the walk.
    Fail,
}

struct Step {
    regs: RegFile,
    /// The frame just unwound was a signal trampoline: the caller's pc is exact.
    signal: bool,
}

/// Walks the stack; see [`crate::walk`]. Skips the first `skip` frames (not recorded).
///
/// # Safety
/// The module table must describe currently loaded modules (see [`crate::walk`]).
pub(crate) unsafe fn walk_impl(
    start: &RegFile,
    first_is_exact: bool,
    mut skip: usize,
    out: &mut [usize],
    ranges: &[(usize, usize)],
) -> (usize, Option<usize>) {
    let mut regs = *start;
    let mut exact = first_is_exact;
    let mut reader = SafeReader::new();
    let mut ctx = Ctx::new_in();
    let mut n = 0;
    let mut hit = None;
    let mut signals = 0;
    while n < out.len() {
        let Some(pc) = regs.get(PC) else { break };
        if pc == 0 {
            break;
        }
        let lookup = if exact { pc } else { pc - 1 };
        if skip > 0 {
            skip -= 1;
        } else {
            out[n] = pc;
            n += 1;
            if hit.is_none() {
                hit = ranges.iter().position(|&(s, e)| lookup >= s && lookup < e);
            }
            if n == out.len() {
                break;
            }
        }
        let old_rsp = regs.get(SP).unwrap_or(0);
        let generation = modules::generation();
        if let Some(rule) = cache::get(lookup, generation) {
            // A cached row (module known, not a signal frame): see `cache`.
            let Some(next) = rule.step(&regs, &mut reader) else {
                break;
            };
            match next.get(SP) {
                Some(new_rsp) if new_rsp > old_rsp => {}
                _ => break,
            }
            regs = next;
            exact = false;
            continue;
        }
        let module = modules::lookup(lookup);
        let cfi = match &module {
            // SAFETY: `m` comes from the table, whose segments are mapped (caller's
            // contract); stack memory is only read through `reader`.
            Some(m) => unsafe { cfi_step(m, lookup, &regs, &mut reader, &mut ctx, generation) },
            None => Err(CfiError::NoFde),
        };
        let step = match cfi {
            // A signal frame whose CFI restores only some registers (aarch64's vDSO since
            // Linux 5.10 gives x29/x30 from a frame record, not the interrupted pc): the
            // architecture's reading of the whole signal context, where it has one.
            Ok(s) if s.signal => match crate::arch::signal_step(pc, &regs, &mut reader) {
                Some(next) => Step {
                    regs: next,
                    signal: true,
                },
                None => s,
            },
            Ok(s) => s,
            Err(CfiError::NoFde) => {
                // A signal trampoline without CFI (the vDSO before Linux 5.10, qemu-user's),
                // else the frame-pointer chain inside a known module.
                if let Some(next) = crate::arch::signal_step(pc, &regs, &mut reader) {
                    Step {
                        regs: next,
                        signal: true,
                    }
                } else if module.is_some() {
                    match rbp_step(&regs, &mut reader) {
                        Some(s) => s,
                        None => break,
                    }
                } else {
                    break;
                }
            }
            Err(CfiError::Fail) => break,
        };
        let Some(new_rsp) = step.regs.get(SP) else {
            break;
        };
        if step.signal {
            // The interrupted context may be on another stack (sigaltstack): only require
            // that rsp changed, and bound how many signal frames we cross.
            signals += 1;
            if new_rsp == old_rsp || signals > MAX_SIGNAL_FRAMES {
                break;
            }
        } else if new_rsp <= old_rsp {
            break; // no progress
        }
        regs = step.regs;
        exact = step.signal;
    }
    (n, hit)
}

/// One step using the frame-pointer chain (for code without CFI).
fn rbp_step(regs: &RegFile, reader: &mut SafeReader) -> Option<Step> {
    let rbp = regs.get(FP)?;
    let rsp = regs.get(SP)?;
    if rbp % 8 != 0 || rbp < rsp || rbp - rsp > MAX_RBP_DISTANCE {
        return None;
    }
    let saved_rbp = reader.read_usize(rbp)?;
    let ra = reader.read_usize(rbp.checked_add(8)?)?;
    let mut next = *regs;
    for &r in CALLER_SAVED {
        next.unset(r);
    }
    next.set(FP, saved_rbp);
    next.set(RA, ra);
    next.set(PC, ra);
    next.set(SP, rbp.checked_add(16)?);
    Some(Step {
        regs: next,
        signal: false,
    })
}

/// One step using the module's `.eh_frame` CFI.
///
/// # Safety
/// `m`'s eh_frame_hdr / eh_frame ranges must be mapped.
unsafe fn cfi_step(
    m: &Module,
    pc: usize,
    regs: &RegFile,
    reader: &mut SafeReader,
    ctx: &mut Ctx,
    generation: usize,
) -> Result<Step, CfiError> {
    if m.eh_hdr == 0 || m.eh_frame == 0 {
        return Err(CfiError::NoFde);
    }
    // SAFETY: both ranges were validated at refresh time to lie inside PT_GNU_EH_FRAME
    // and a PT_LOAD segment of this module, which is mapped while the module is loaded.
    let (hdr, frame) = unsafe {
        (
            core::slice::from_raw_parts(m.eh_hdr as *const u8, m.eh_hdr_len),
            core::slice::from_raw_parts(m.eh_frame as *const u8, m.eh_frame_len),
        )
    };
    let bases = BaseAddresses::default()
        .set_eh_frame_hdr(m.eh_hdr as u64)
        .set_eh_frame(m.eh_frame as u64);
    let parsed = EhFrameHdr::new(hdr, NativeEndian)
        .parse(&bases, 8)
        .map_err(|_| CfiError::NoFde)?;
    let table = parsed.table().ok_or(CfiError::NoFde)?;
    let eh_frame = EhFrame::new(frame, NativeEndian);
    let fde = match table.fde_for_address(&eh_frame, &bases, pc as u64, EhFrame::cie_from_offset) {
        Ok(f) => f,
        Err(gimli::Error::NoUnwindInfoForAddress) => return Err(CfiError::NoFde),
        Err(_) => return Err(CfiError::Fail),
    };
    let signal = fde.cie().is_signal_trampoline();
    // The CFA program is bounded by the FDE's byte length (every instruction consumes at
    // least one byte) and the remember_state depth by MAX_STACK (gimli errors beyond it).
    let row = fde
        .unwind_info_for_address(&eh_frame, &bases, ctx, pc as u64)
        .map_err(|_| CfiError::Fail)?;

    // The row as a cache entry, while every rule seen is one the cache can hold.
    let mut rule = None;
    let cfa = match row.cfa() {
        CfaRule::RegisterAndOffset { register, offset } => {
            if !signal {
                rule = cache::Rule::new(register.0, *offset);
            }
            regs.get(register.0)
                .ok_or(CfiError::Fail)?
                .wrapping_add(*offset as usize)
        }
        CfaRule::Expression(e) => {
            let expr = e.get(&eh_frame).map_err(|_| CfiError::Fail)?;
            eval(expr.0.slice(), regs, reader, None).ok_or(CfiError::Fail)?
        }
    };

    let mut next = *regs;
    if !signal {
        for &r in CALLER_SAVED {
            next.unset(r);
        }
    }
    // Without an explicit rule the return address is undefined (end of stack) on x86_64;
    // on aarch64 it is still in x30 (the same value).
    if !RA_DEFAULT_SAME {
        next.unset(RA);
    }
    for (reg, rule_) in row.registers() {
        let r = reg.0;
        if r as usize >= NREGS || r == SP || (r == PC && PC != RA) {
            continue;
        }
        if let Some(c) = &mut rule {
            let ok = match rule_ {
                RegisterRule::Undefined => c.set(r, None),
                RegisterRule::Offset(o) => c.set(r, Some(*o)),
                _ => false,
            };
            if !ok {
                rule = None;
            }
        }
        let value = match rule_ {
            RegisterRule::Undefined | RegisterRule::Architectural => None,
            RegisterRule::SameValue => regs.get(r),
            RegisterRule::Offset(o) => reader.read_usize(cfa.wrapping_add(*o as usize)),
            RegisterRule::ValOffset(o) => Some(cfa.wrapping_add(*o as usize)),
            RegisterRule::Register(src) => regs.get(src.0),
            RegisterRule::Expression(e) => {
                let expr = e.get(&eh_frame).map_err(|_| CfiError::Fail)?;
                eval(expr.0.slice(), regs, reader, Some(cfa)).and_then(|a| reader.read_usize(a))
            }
            RegisterRule::ValExpression(e) => {
                let expr = e.get(&eh_frame).map_err(|_| CfiError::Fail)?;
                eval(expr.0.slice(), regs, reader, Some(cfa))
            }
            RegisterRule::Constant(c) => Some(*c as usize),
        };
        match value {
            Some(v) => next.set(r, v),
            None => next.unset(r),
        }
    }
    // The row alone decides the rest (a missing return address ends the walk either way).
    if let Some(c) = &rule {
        cache::put(pc, generation, c);
    }
    // sp is the CFA by definition; the caller's pc is the return address.
    next.set(SP, cfa);
    let Some(ra) = next.get(RA) else {
        return Err(CfiError::Fail);
    };
    next.set(PC, ra);
    Ok(Step { regs: next, signal })
}

fn read_uleb(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *b.get(*i)?;
        *i += 1;
        if shift < 64 {
            v |= u64::from(byte & 0x7f) << shift;
        }
        shift += 7;
        if byte & 0x80 == 0 {
            return Some(v);
        }
        if shift > 70 {
            return None;
        }
    }
}

fn read_sleb(b: &[u8], i: &mut usize) -> Option<i64> {
    let mut v: i64 = 0;
    let mut shift = 0;
    loop {
        let byte = *b.get(*i)?;
        *i += 1;
        if shift < 64 {
            v |= i64::from(byte & 0x7f) << shift;
        }
        shift += 7;
        if byte & 0x80 == 0 {
            if shift < 64 && byte & 0x40 != 0 {
                v |= -1i64 << shift;
            }
            return Some(v);
        }
        if shift > 70 {
            return None;
        }
    }
}

fn read_fixed<const N: usize>(b: &[u8], i: &mut usize) -> Option<[u8; N]> {
    let s = b.get(*i..i.checked_add(N)?)?;
    *i += N;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Some(a)
}

/// Evaluates a DWARF expression as found in x86_64 CFI (signal trampolines, PLT
/// entries). Supports the stack, arithmetic, comparison, branch, constant, `bregN`,
/// `deref` operations; anything else (register locations, pieces, TLS…) fails.
/// `initial` is pushed first (the CFA, for register rules). Memory reads are fault-free.
fn eval(
    code: &[u8],
    regs: &RegFile,
    reader: &mut SafeReader,
    initial: Option<usize>,
) -> Option<usize> {
    const DEPTH: usize = 16;
    let mut st = [0usize; DEPTH];
    let mut sp = 0usize;
    macro_rules! push {
        ($v:expr) => {{
            let v: usize = $v;
            if sp >= DEPTH {
                return None;
            }
            st[sp] = v;
            sp += 1;
        }};
    }
    macro_rules! pop {
        () => {{
            if sp == 0 {
                return None;
            }
            sp -= 1;
            st[sp]
        }};
    }
    if let Some(v) = initial {
        push!(v);
    }
    let mut i = 0usize;
    let mut steps = 0usize;
    while i < code.len() {
        steps += 1;
        if steps > MAX_EXPR_STEPS {
            return None;
        }
        let op = code[i];
        i += 1;
        match op {
            0x03 => push!(usize::from_ne_bytes(read_fixed::<8>(code, &mut i)?)), // addr
            0x06 => {
                let a = pop!();
                push!(reader.read_usize(a)?)
            } // deref
            0x08 => push!(read_fixed::<1>(code, &mut i)?[0] as usize),
            0x09 => push!(read_fixed::<1>(code, &mut i)?[0] as i8 as isize as usize),
            0x0a => push!(u16::from_le_bytes(read_fixed::<2>(code, &mut i)?) as usize),
            0x0b => push!(i16::from_le_bytes(read_fixed::<2>(code, &mut i)?) as isize as usize),
            0x0c => push!(u32::from_le_bytes(read_fixed::<4>(code, &mut i)?) as usize),
            0x0d => push!(i32::from_le_bytes(read_fixed::<4>(code, &mut i)?) as isize as usize),
            0x0e | 0x0f => push!(u64::from_le_bytes(read_fixed::<8>(code, &mut i)?) as usize),
            0x10 => push!(read_uleb(code, &mut i)? as usize),
            0x11 => push!(read_sleb(code, &mut i)? as usize),
            0x12 => {
                let a = pop!();
                push!(a);
                push!(a)
            } // dup
            0x13 => {
                pop!();
            } // drop
            0x14 => {
                if sp < 2 {
                    return None;
                }
                push!(st[sp - 2])
            } // over
            0x15 => {
                let k = read_fixed::<1>(code, &mut i)?[0] as usize;
                if k >= sp {
                    return None;
                }
                push!(st[sp - 1 - k])
            } // pick
            0x16 => {
                if sp < 2 {
                    return None;
                }
                st.swap(sp - 1, sp - 2);
            } // swap
            0x17 => {
                if sp < 3 {
                    return None;
                }
                let top = st[sp - 1];
                st[sp - 1] = st[sp - 2];
                st[sp - 2] = st[sp - 3];
                st[sp - 3] = top;
            } // rot
            0x19 => {
                let a = pop!() as isize;
                push!(a.unsigned_abs())
            }
            0x1f => {
                let a = pop!();
                push!(a.wrapping_neg())
            }
            0x20 => {
                let a = pop!();
                push!(!a)
            }
            0x23 => {
                let a = pop!();
                push!(a.wrapping_add(read_uleb(code, &mut i)? as usize))
            } // plus_uconst
            0x1a
            | 0x1b
            | 0x1c
            | 0x1d
            | 0x1e
            | 0x21
            | 0x22
            | 0x24
            | 0x25
            | 0x26
            | 0x27
            | 0x29..=0x2e => {
                let b = pop!();
                let a = pop!();
                let (sa, sb) = (a as isize, b as isize);
                let v = match op {
                    0x1a => a & b,
                    0x1b => {
                        if b == 0 {
                            return None;
                        }
                        sa.wrapping_div(sb) as usize
                    }
                    0x1c => a.wrapping_sub(b),
                    0x1d => {
                        if b == 0 {
                            return None;
                        }
                        a % b
                    }
                    0x1e => a.wrapping_mul(b),
                    0x21 => a | b,
                    0x22 => a.wrapping_add(b),
                    0x24 => a.checked_shl(b as u32).unwrap_or(0),
                    0x25 => a.checked_shr(b as u32).unwrap_or(0),
                    0x26 => {
                        sa.checked_shr(b as u32)
                            .unwrap_or(if sa < 0 { -1 } else { 0 }) as usize
                    }
                    0x27 => a ^ b,
                    0x29 => (sa == sb) as usize,
                    0x2a => (sa >= sb) as usize,
                    0x2b => (sa > sb) as usize,
                    0x2c => (sa <= sb) as usize,
                    0x2d => (sa < sb) as usize,
                    _ => (sa != sb) as usize,
                };
                push!(v)
            }
            0x28 | 0x2f => {
                let off = i16::from_le_bytes(read_fixed::<2>(code, &mut i)?);
                let take = if op == 0x28 { pop!() != 0 } else { true };
                if take {
                    let t = i as isize + off as isize;
                    if t < 0 || t as usize > code.len() {
                        return None;
                    }
                    i = t as usize;
                }
            }
            0x30..=0x4f => push!((op - 0x30) as usize), // lit0..31
            0x70..=0x8f => {
                let off = read_sleb(code, &mut i)?;
                push!(regs.get((op - 0x70) as u16)?.wrapping_add(off as usize))
            } // breg0..31
            0x92 => {
                let r = read_uleb(code, &mut i)?;
                let off = read_sleb(code, &mut i)?;
                push!(regs.get(u16::try_from(r).ok()?)?.wrapping_add(off as usize))
            } // bregx
            0x94 => {
                let size = read_fixed::<1>(code, &mut i)?[0] as usize;
                let a = pop!();
                if size == 0 || size > 8 {
                    return None;
                }
                let v = reader.read_usize(a)?;
                push!(if size == 8 {
                    v
                } else {
                    v & ((1usize << (size * 8)) - 1)
                })
            } // deref_size (little-endian: low bytes first)
            0x96 => {}                                  // nop
            _ => return None,
        }
    }
    if sp == 0 { None } else { Some(st[sp - 1]) }
}

/// The canonical frame address of the frame `start` is in (its stack pointer once it has
/// returned), from its CFI or, without CFI, the frame-pointer chain; `None` when neither gives a
/// frame above `start`'s stack pointer.
///
/// # Safety
/// As [`walk_impl`] (module table current).
pub(crate) unsafe fn frame_cfa(start: &RegFile) -> Option<usize> {
    let pc = start.get(PC)?;
    let sp = start.get(SP)?;
    if pc == 0 {
        return None;
    }
    let lookup = pc - 1;
    let generation = modules::generation();
    if let Some(rule) = cache::get(lookup, generation) {
        return rule.cfa(start).filter(|&cfa| cfa > sp);
    }
    let mut reader = SafeReader::new();
    let mut ctx = Ctx::new_in();
    let module = modules::lookup(lookup)?;
    // SAFETY: `module` comes from the table, whose segments are mapped (caller's contract);
    // stack memory is only read through `reader`.
    let step = match unsafe { cfi_step(&module, lookup, start, &mut reader, &mut ctx, generation) }
    {
        Ok(s) if !s.signal => s,
        Ok(_) => return None,
        Err(CfiError::NoFde) => rbp_step(start, &mut reader)?,
        Err(CfiError::Fail) => return None,
    };
    step.regs.get(SP).filter(|&cfa| cfa > sp)
}
