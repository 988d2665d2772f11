//! Registers SIGUSR1 with `signal_hook::flag::register` (its handler only stores to an atomic)
//! and raises the signal a few times; prints whether the flag was set.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

fn main() {
    let flag = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    signal_hook::flag::register(signal_hook::consts::SIGUSR1, Arc::clone(&flag))
        .expect("register flag");
    signal_hook::flag::register_usize(signal_hook::consts::SIGUSR2, Arc::clone(&count), 7)
        .expect("register usize");
    for _ in 0..3 {
        signal_hook::low_level::raise(signal_hook::consts::SIGUSR1).expect("raise");
    }
    signal_hook::low_level::raise(signal_hook::consts::SIGUSR2).expect("raise");
    println!("flag={}", flag.load(Ordering::SeqCst));
    println!("count={}", count.load(Ordering::SeqCst));
}
