//! Functions whose symbol versions are distinct code (build.rs `PER_VERSION`): glibc's
//! `pthread_cond_*` exist as GLIBC_2.3.2 and as the old GLIBC_2.2.5 ABI. Each version has its
//! own stub whose real function is that same version, so both are checked and an old binary
//! still reaches the old code; a condition variable a fork child initialises itself (either
//! version of `pthread_cond_init`, class `init`) is the child's own object.
#![cfg(all(target_arch = "x86_64", target_env = "gnu"))]

use assafe_tests::*;

/// In the child of a multi-threaded fork: signalling and broadcasting a condvar the child
/// initialised is `portable` (its own object), signalling one made before the fork a `hazard`;
/// through the new and through the old versions, and the old ones run the old code (the
/// program checks: its exit status would say which check failed).
#[test]
fn a_condvar_the_fork_child_initialised_is_its_own_in_both_versions() {
    let env = Env::new("versions_cond");
    let prog = env.compile_file("own_cond", &["-pthread"]);
    for mode in ["new", "old"] {
        let out = env.run(&[prog.as_os_str(), mode.as_ref()], true, "");
        out.assert_ok();
        assert_eq!(out.stdout, "child: exit 0\n", "{mode}: {}", out.dump());
        let verdicts: Vec<(String, String, bool)> = out
            .reports()
            .iter()
            .map(|r| {
                (
                    r["function"].as_str().unwrap().to_owned(),
                    r["severity"].as_str().unwrap().to_owned(),
                    r.get("own_object") == Some(&serde_json::Value::Bool(true)),
                )
            })
            .collect();
        let want = [
            ("pthread_cond_signal", "portable", true),
            ("pthread_cond_broadcast", "portable", true),
            ("pthread_cond_signal", "hazard", false),
        ]
        .map(|(f, s, o)| (f.to_owned(), s.to_owned(), o));
        assert_eq!(verdicts, want, "{mode}: {}", out.dump());
        for r in out.reports() {
            assert_eq!(r["context"], "fork-child", "{r}");
        }
    }
    // Without the preload the program says the same (the old versions are the old code).
    let out = env.run(&[prog.as_os_str(), "old".as_ref()], false, "");
    assert_eq!(out.stdout, "child: exit 0\n", "{}", out.dump());
}
