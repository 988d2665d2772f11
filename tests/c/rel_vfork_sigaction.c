/* rel_vfork_sigaction: what Python's subprocess (and posix_spawn-like code) does. The parent has a
 * SIGHUP handler; a vfork child resets every handled signal to SIG_DFL with sigaction (allowed: a
 * vfork child's sigaction changes only the child's dispositions in the kernel) and execs
 * /bin/true. Afterwards the parent raises SIGHUP: its handler must still run. Prints
 * "child: exit 0" and "handler runs: 1". */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t runs;
static void h(int sig) {
    (void)sig;
    runs++;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGHUP, &sa, NULL) != 0)
        return 2;
    pid_t pid = vfork();
    if (pid < 0)
        return 2;
    if (pid == 0) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(SIGHUP, &dfl, NULL);
        char *argv[] = {"true", NULL};
        char *envp[] = {NULL};
        execve("/bin/true", argv, envp);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return 2;
    printf("child: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    fflush(stdout);
    raise(SIGHUP);
    printf("handler runs: %d\n", (int)runs);
    return runs == 1 ? 0 : 1;
}
