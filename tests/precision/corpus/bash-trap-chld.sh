# bash runs a CHLD trap inside its SIGCHLD handler (jobs.c waitchld -> run_sigchld_trap) while
# `wait` waits for background jobs. Whether a SIGCHLD arrives in that window is timing: tries.
# quick: yes
# tries: 5
setup() { :; }
run() {
    # Sixteen jobs that end together: a SIGCHLD arrives while bash handles the previous one.
    exec bash -c 'trap "echo child" CHLD; for i in $(seq 16); do sleep 0.3 & done; wait; echo done'
}
