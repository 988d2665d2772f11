mod common;

use assafe_unwind::{Regs, capture_here, module_of, walk, walk_and_find};
use common::{fn_range, init, ra_in};
use std::hint::black_box;
use std::sync::Mutex;

fn dump(frames: &[usize]) -> String {
    frames
        .iter()
        .map(|&a| match module_of(a) {
            Some(m) => format!(
                "  {a:#x} {}+{:#x}\n",
                String::from_utf8_lossy(m.path()),
                m.offset
            ),
            None => format!("  {a:#x} ?\n"),
        })
        .collect()
}

type FnBuf = fn(&mut [usize]) -> usize;

// ---------- a -> b -> c -> capture_here ----------

#[inline(never)]
fn func_c(out: &mut [usize]) -> usize {
    let n = capture_here(out);
    black_box(n) + black_box(0)
}
#[inline(never)]
fn func_b(out: &mut [usize]) -> usize {
    let n = func_c(out);
    black_box(n) * black_box(1)
}
#[inline(never)]
fn func_a(out: &mut [usize]) -> usize {
    let n = func_b(out);
    black_box(n) | black_box(0)
}
#[inline(never)]
fn driver(out: &mut [usize]) -> usize {
    let n = func_a(out);
    black_box(n) ^ black_box(0)
}

#[test]
fn chain_a_b_c() {
    init();
    let mut buf = [0usize; 64];
    let n = driver(&mut buf);
    let f = &buf[..n];
    let (a, b, c, d) = (
        fn_range(func_a as FnBuf as usize),
        fn_range(func_b as FnBuf as usize),
        fn_range(func_c as FnBuf as usize),
        fn_range(driver as FnBuf as usize),
    );
    assert!(n >= 5, "short stack:\n{}", dump(f));
    assert!(ra_in(f[0], c), "frame 0 not in c:\n{}", dump(f));
    assert!(ra_in(f[1], b), "frame 1 not in b:\n{}", dump(f));
    assert!(ra_in(f[2], a), "frame 2 not in a:\n{}", dump(f));
    assert!(ra_in(f[3], d), "frame 3 not in driver:\n{}", dump(f));
    // The harness runs tests on spawned threads: the walk should continue through std's
    // thread start into libc's start_thread (no return-address rule ends it there).
    assert!(n >= 8, "stack ends early:\n{}", dump(f));
    let last = module_of(f[n - 1]).unwrap();
    assert!(
        String::from_utf8_lossy(last.path()).contains("libc.so.6"),
        "outermost frame not in libc (start_thread/clone3):\n{}",
        dump(f)
    );
}

#[test]
fn output_slice_bounds_frames() {
    init();
    let mut buf = [0usize; 2];
    assert_eq!(driver(&mut buf), 2);
    let mut empty: [usize; 0] = [];
    assert_eq!(driver(&mut empty), 0);
}

// ---------- an interception stub (no CFI) calling walk / walk_and_find ----------

std::arch::global_asm!(
    ".globl assafe_test_stub",
    ".type assafe_test_stub, @function",
    "assafe_test_stub:",
    // entry: [rsp] = return address into the caller; entry rsp = 8 (mod 16)
    "sub rsp, 72",
    "mov rax, [rsp + 72]",
    "mov [rsp], rax",
    "lea rax, [rsp + 80]",
    "mov [rsp + 8], rax",
    "mov [rsp + 16], rbp",
    "mov [rsp + 24], rbx",
    "mov [rsp + 32], r12",
    "mov [rsp + 40], r13",
    "mov [rsp + 48], r14",
    "mov [rsp + 56], r15",
    "mov rdi, rsp",
    "call {target}",
    "add rsp, 72",
    "ret",
    ".size assafe_test_stub, . - assafe_test_stub",
    target = sym stub_target,
);

unsafe extern "C" {
    fn assafe_test_stub();
}

struct StubResult {
    ranges: Vec<(usize, usize)>,
    frames: Vec<usize>,
    hit: Option<usize>,
}
static STUB: Mutex<Option<StubResult>> = Mutex::new(None);

extern "C" fn stub_target(regs: *const Regs) {
    let mut buf = [0usize; 64];
    let mut g = STUB.lock().unwrap();
    let st = g.as_mut().unwrap();
    // SAFETY: regs points to the stub's on-stack Regs; module table current.
    let (n, hit) = unsafe { walk_and_find(&*regs, false, &mut buf, &st.ranges) };
    // plain walk must agree
    let mut buf2 = [0usize; 64];
    // SAFETY: as above.
    let n2 = unsafe { walk(&*regs, false, &mut buf2) };
    assert_eq!(&buf[..n], &buf2[..n2]);
    st.frames = buf[..n].to_vec();
    st.hit = hit;
}

#[inline(never)]
fn stub_mid() {
    // SAFETY: the stub preserves callee-saved registers and follows the C ABI.
    unsafe { assafe_test_stub() };
    black_box(());
}
#[inline(never)]
fn stub_outer() {
    stub_mid();
    black_box(());
}

fn run_stub(ranges: Vec<(usize, usize)>) -> (Vec<usize>, Option<usize>) {
    *STUB.lock().unwrap() = Some(StubResult {
        ranges,
        frames: vec![],
        hit: None,
    });
    stub_outer();
    let r = STUB.lock().unwrap().take().unwrap();
    (r.frames, r.hit)
}

#[test]
fn stub_walk_and_find() {
    init();
    let mid = fn_range(stub_mid as fn() as usize);
    let outer = fn_range(stub_outer as fn() as usize);
    let unrelated = fn_range(func_a as FnBuf as usize);
    let (f, hit) = run_stub(vec![unrelated, outer, (0, 1), mid]);
    assert!(ra_in(f[0], mid), "frame 0 not in stub_mid:\n{}", dump(&f));
    assert!(
        ra_in(f[1], outer),
        "frame 1 not in stub_outer:\n{}",
        dump(&f)
    );
    assert_eq!(hit, Some(3), "innermost hit is stub_mid");
    let (_, hit) = run_stub(vec![unrelated, outer]);
    assert_eq!(hit, Some(1));
    let (_, hit) = run_stub(vec![unrelated, (0, 1)]);
    assert_eq!(hit, None);
}

// ---------- rbp-chain fallback through a frame-pointer function without CFI ----------

std::arch::global_asm!(
    ".globl assafe_test_nocfi",
    ".type assafe_test_nocfi, @function",
    "assafe_test_nocfi:",
    "push rbp",
    "mov rbp, rsp",
    "call {cb}",
    "pop rbp",
    "ret",
    ".size assafe_test_nocfi, . - assafe_test_nocfi",
    cb = sym nocfi_cb,
);
unsafe extern "C" {
    fn assafe_test_nocfi() -> usize;
}
static NOCFI: Mutex<Vec<usize>> = Mutex::new(Vec::new());

extern "C" fn nocfi_cb() -> usize {
    let mut buf = [0usize; 64];
    let n = capture_here(&mut buf);
    *NOCFI.lock().unwrap() = buf[..n].to_vec();
    n
}
#[inline(never)]
fn nocfi_caller() -> usize {
    // SAFETY: plain C-ABI function.
    let n = unsafe { assafe_test_nocfi() };
    black_box(n) + black_box(0)
}

#[test]
fn rbp_fallback_through_function_without_cfi() {
    init();
    nocfi_caller();
    let f = NOCFI.lock().unwrap().clone();
    let asm_start = assafe_test_nocfi as unsafe extern "C" fn() -> usize as usize;
    let caller = fn_range(nocfi_caller as fn() -> usize as usize);
    let cb = fn_range(nocfi_cb as extern "C" fn() -> usize as usize);
    // frame 0: nocfi_cb; frame 1: the asm function (no FDE: rbp chain); frame 2: its caller.
    assert!(f.len() >= 4, "{}", dump(&f));
    assert!(ra_in(f[0], cb), "frame 0 not in nocfi_cb:\n{}", dump(&f));
    assert!(
        ra_in(f[1], (asm_start, asm_start + 16)),
        "frame 1 not in asm fn:\n{}",
        dump(&f)
    );
    assert!(
        ra_in(f[2], caller),
        "frame 2 not in nocfi_caller:\n{}",
        dump(&f)
    );
}

// ---------- through libc: qsort comparator ----------

static QSORT: Mutex<Vec<usize>> = Mutex::new(Vec::new());

extern "C" fn cmp(a: *const libc::c_void, b: *const libc::c_void) -> libc::c_int {
    let mut g = QSORT.lock().unwrap();
    if g.is_empty() {
        let mut buf = [0usize; 64];
        let n = capture_here(&mut buf);
        *g = buf[..n].to_vec();
    }
    // SAFETY: qsort passes pointers to elements of our i32 array.
    let (a, b) = unsafe { (*(a as *const i32), *(b as *const i32)) };
    a.cmp(&b) as libc::c_int
}

#[inline(never)]
fn qsort_caller() {
    let mut v: Vec<i32> = (0..100).rev().collect();
    // SAFETY: valid array, element size and comparator.
    unsafe { libc::qsort(v.as_mut_ptr().cast(), v.len(), 4, Some(cmp)) };
    assert_eq!(v[0], 0);
    black_box(&v);
}

#[test]
fn through_libc_qsort() {
    init();
    QSORT.lock().unwrap().clear();
    qsort_caller();
    let f = QSORT.lock().unwrap().clone();
    let caller = fn_range(qsort_caller as fn() as usize);
    let libc_frames = f
        .iter()
        .take_while(|&&a| !ra_in(a, caller))
        .filter(|&&a| {
            module_of(a).is_some_and(|m| String::from_utf8_lossy(m.path()).contains("libc.so.6"))
        })
        .count();
    assert!(
        libc_frames >= 1,
        "no libc frame before the caller:\n{}",
        dump(&f)
    );
    assert!(
        f.iter().any(|&a| ra_in(a, caller)),
        "qsort_caller not reached:\n{}",
        dump(&f)
    );
}

// ---------- module_of ----------

#[test]
fn module_of_names_libc_and_test_binary() {
    init();
    assert!(assafe_unwind::generation() >= 1);
    assert!(assafe_unwind::module_count() >= 3);
    let q = libc::qsort as unsafe extern "C" fn(_, _, _, _) as usize;
    let m = module_of(q).expect("qsort in a module");
    assert!(
        String::from_utf8_lossy(m.path()).contains("libc.so.6"),
        "{:?}",
        String::from_utf8_lossy(m.path())
    );
    assert_eq!(m.offset, q - m.base);

    let f = driver as FnBuf as usize;
    let m = module_of(f).expect("test fn in a module");
    let exe = std::fs::read_link("/proc/self/exe").unwrap();
    assert_eq!(m.path(), exe.as_os_str().as_encoded_bytes());
    assert_eq!(m.offset, f - m.base);
    assert!(m.base != 0, "test binaries are PIE");

    // SAFETY: getauxval is always safe to call.
    let vdso = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize;
    if vdso != 0 {
        let m = module_of(vdso + 0x100).expect("vdso is in the table");
        assert_eq!(m.path(), b"linux-vdso.so.1");
    }

    assert!(module_of(0).is_none());
    assert!(module_of(usize::MAX).is_none());
    let heap = Box::new(5u64);
    assert!(module_of(&*heap as *const u64 as usize).is_none());
}

// ---------- corrupted registers ----------

#[test]
fn corrupt_registers_give_short_stacks() {
    init();
    let mut buf = [0usize; 32];
    let code = driver as FnBuf as usize;
    let cases = [
        // rip = 0: nothing to report
        (
            Regs {
                rip: 0,
                rsp: 0x1000,
                ..Regs::default()
            },
            0,
        ),
        // rip in unmapped memory: reported, then unknown module
        (
            Regs {
                rip: 0x10,
                rsp: 0x1000,
                ..Regs::default()
            },
            1,
        ),
        // rip valid, rsp unmapped: the return-address slot cannot be read
        (
            Regs {
                rip: code + 1,
                rsp: 0x10,
                rbp: 0x20,
                ..Regs::default()
            },
            1,
        ),
        (
            Regs {
                rip: code + 1,
                rsp: usize::MAX - 7,
                rbp: usize::MAX,
                ..Regs::default()
            },
            1,
        ),
        (
            Regs {
                rip: code + 1,
                rsp: 0,
                ..Regs::default()
            },
            1,
        ),
        // all ones
        (
            Regs {
                rip: usize::MAX,
                rsp: usize::MAX,
                rbp: usize::MAX,
                rbx: usize::MAX,
                r12: usize::MAX,
                r13: usize::MAX,
                r14: usize::MAX,
                r15: usize::MAX,
            },
            1,
        ),
    ];
    for (i, (r, want)) in cases.iter().enumerate() {
        for exact in [false, true] {
            // SAFETY: module table current; registers are garbage on purpose.
            let n = unsafe { walk(r, exact, &mut buf) };
            assert_eq!(n, *want, "case {i} exact={exact}: {}", dump(&buf[..n]));
        }
    }
}

/// xorshift
fn rng(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[test]
fn fuzz_fake_stacks_never_crash() {
    init();
    // Candidate "return addresses": all over libc and the test binary's text.
    let libc_fn = libc::qsort as unsafe extern "C" fn(_, _, _, _) as usize;
    let me = driver as FnBuf as usize;
    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut fake = vec![0usize; 4096];
    let mut buf = [0usize; 64];
    let mut total = 0;
    let fake_base = fake.as_ptr() as usize;
    for _ in 0..20_000 {
        for w in fake.iter_mut() {
            let r = rng(&mut seed);
            *w = match r % 6 {
                0 => libc_fn
                    .wrapping_add((r >> 8) as usize % 0x100000)
                    .wrapping_sub(0x80000),
                1 => me
                    .wrapping_add((r >> 8) as usize % 0x40000)
                    .wrapping_sub(0x20000),
                2 => fake_base + ((r >> 8) as usize % (4096 * 8)),
                3 => 0,
                _ => r as usize,
            };
        }
        let base = fake.as_ptr() as usize;
        let pick = |seed: &mut u64| -> usize {
            let r = rng(seed);
            match r % 4 {
                0 => r as usize,
                _ => base + (r >> 8) as usize % (4096 * 8),
            }
        };
        let r0 = rng(&mut seed);
        let rip = match r0 % 3 {
            0 => libc_fn
                .wrapping_add((r0 >> 8) as usize % 0x100000)
                .wrapping_sub(0x80000),
            1 => me
                .wrapping_add((r0 >> 8) as usize % 0x40000)
                .wrapping_sub(0x20000),
            _ => r0 as usize,
        };
        let regs = Regs {
            rip,
            rsp: pick(&mut seed) & !7,
            rbp: pick(&mut seed),
            rbx: pick(&mut seed),
            r12: pick(&mut seed),
            r13: pick(&mut seed),
            r14: pick(&mut seed),
            r15: pick(&mut seed),
        };
        // SAFETY: module table current; stack content is garbage on purpose.
        total += unsafe { walk(&regs, r0 & 1 == 0, &mut buf) };
    }
    black_box(total);
}

// ---------- signal handler: walk through the kernel's signal frame ----------

static mut SIG_FRAMES: [usize; 64] = [0; 64];
static SIG_N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn on_sigusr1(_sig: libc::c_int) {
    // Async-signal-safe: capture into a static array.
    let mut buf = [0usize; 64];
    let n = capture_here(&mut buf);
    // SAFETY: only this handler writes SIG_FRAMES, and the test reads it after raise() returned.
    unsafe { (*std::ptr::addr_of_mut!(SIG_FRAMES)) = buf };
    SIG_N.store(n, std::sync::atomic::Ordering::SeqCst);
}

#[inline(never)]
fn raise_caller() {
    // SAFETY: sending ourselves a signal with a handler installed.
    unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGUSR1) };
    black_box(());
}

#[test]
fn through_signal_frame() {
    init();
    // SAFETY: installing a handler for SIGUSR1, used by this test only.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigusr1 as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
    raise_caller();
    let n = SIG_N.load(std::sync::atomic::Ordering::SeqCst);
    // SAFETY: the handler finished.
    let f = unsafe { (&*std::ptr::addr_of!(SIG_FRAMES))[..n].to_vec() };
    let caller = fn_range(raise_caller as fn() as usize);
    assert!(
        f.iter().any(|&a| ra_in(a, caller)),
        "walk did not cross the signal frame into raise_caller:\n{}",
        dump(&f)
    );
    if std::env::var_os("ASSAFE_UNWIND_DUMP").is_some() {
        eprintln!("signal stack:\n{}", dump(&f));
    }
}

// ---------- fork child of a multi-threaded process ----------

#[test]
fn works_in_fork_child() {
    init();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let t = std::thread::spawn(move || {
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            black_box(vec![0u8; 100]);
        }
    });
    let mut fds = [0i32; 2];
    // SAFETY: plain pipe/fork; the child only uses async-signal-safe calls and _exit.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        let pid = libc::fork();
        if pid == 0 {
            let mut buf = [0usize; 64];
            let n = driver(&mut buf);
            let ok = n >= 5 && ra_in_nostd(buf[0], func_c as FnBuf as usize);
            let byte = [if ok { b'y' } else { b'n' }];
            libc::write(fds[1], byte.as_ptr().cast(), 1);
            libc::_exit(0);
        }
        libc::close(fds[1]);
        let mut byte = [0u8];
        assert_eq!(libc::read(fds[0], byte.as_mut_ptr().cast(), 1), 1);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        assert_eq!(byte[0], b'y');
        libc::close(fds[0]);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    t.join().unwrap();
}

/// Allocation-free check for the fork child: within 4 KiB after the start.
fn ra_in_nostd(ra: usize, start: usize) -> bool {
    ra > start && ra < start + 4096
}

// ---------- refresh concurrent with readers ----------

#[test]
fn refresh_concurrent_with_walks() {
    init();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = vec![];
    for _ in 0..2 {
        let s = stop.clone();
        readers.push(std::thread::spawn(move || {
            let c = func_c as FnBuf as usize;
            let mut walks = 0u64;
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                let mut buf = [0usize; 64];
                let n = driver(&mut buf);
                assert!(n >= 5 && ra_in_nostd(buf[0], c));
                assert!(module_of(c).is_some());
                walks += 1;
            }
            walks
        }));
    }
    // Refresh for a while (time-bounded so readers overlap many refreshes).
    let t = std::time::Instant::now();
    let mut refreshes = 0;
    while refreshes < 500 || t.elapsed() < std::time::Duration::from_millis(300) {
        // SAFETY: normal context.
        unsafe { assafe_unwind::refresh_modules() };
        refreshes += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
}

// ---------- cost ----------

#[inline(never)]
fn deep(level: u32, out: &mut [usize]) -> usize {
    if level == 0 {
        capture_here(out)
    } else {
        let n = deep(black_box(level - 1), out);
        black_box(n)
    }
}

#[test]
fn cost_of_a_walk() {
    init();
    let mut buf = [0usize; 10];
    let iters = 10_000;
    let t = std::time::Instant::now();
    let mut total = 0;
    for _ in 0..iters {
        total += deep(black_box(12), &mut buf);
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / iters as f64;
    assert_eq!(total, iters * 10);
    eprintln!("assafe-unwind: one 10-frame walk (capture_here) = {per:.2} us");
}
