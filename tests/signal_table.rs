//! The signal table under concurrent re-installs (tests/c/sig_table_race.c): one thread switches
//! SIGUSR1 between a `sa_handler` function and a `sa_sigaction` function while another queues the
//! signal at spinning threads. Every call of the `sa_sigaction` function must get the kernel's
//! `siginfo` and `ucontext` (a handler read from one install with the convention of another would
//! get garbage), and the program runs as it does without the preload.
//!
//! The table itself (`assafe_pure::sigtable`) has a unit test that catches a two-step (torn)
//! update within milliseconds; this test checks the wrapper end to end.

use assafe_tests::*;

#[test]
fn reinstalls_with_and_without_siginfo_while_signals_arrive() {
    let env = Env::new("sig_table_race");
    let prog = env.compile_file("sig_table_race", &[]);
    let cmd = [prog.as_os_str(), "1500".as_ref()];
    let bare = env.run(&cmd, false, "");
    assert_eq!(
        bare.stdout, "bad calls: 0\nboth handlers ran: 1\n",
        "without the preload: {}",
        bare.stderr
    );
    for _ in 0..2 {
        let out = env.run(&cmd, true, "");
        out.assert_ok();
        assert_eq!(
            out.stdout,
            "bad calls: 0\nboth handlers ran: 1\n",
            "{}",
            out.dump()
        );
        assert!(out.reports().is_empty(), "{}", out.dump());
    }
}
