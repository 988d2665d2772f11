/* sig_resethand MODE: installs a one-shot SIGUSR1 handler (MODE "sigaction": SA_RESETHAND;
 * "siginfo": SA_RESETHAND|SA_SIGINFO; "sysv": sysv_signal()), raises SIGUSR1, prints what
 * sigaction() reads back afterwards, then checks in a child that a second SIGUSR1 really is
 * fatal (the kernel's action was reset too). The handler's printf is the unsafe call. */
#include "sig.h"
#include <sys/wait.h>

static volatile sig_atomic_t runs;

static void h(int sig) {
    runs++;
    printf("handler: sig=%d run=%d\n", sig, (int)runs);
}

static void hi(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    runs++;
    printf("siginfo handler: sig=%d si_signo=%d run=%d\n", sig, si->si_signo, (int)runs);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "sigaction";
    struct sigaction a;
    memset(&a, 0, sizeof a);
    sigemptyset(&a.sa_mask);
    if (strcmp(mode, "sysv") == 0) {
        if (sysv_signal(SIGUSR1, h) == SIG_ERR)
            return 2;
    } else if (strcmp(mode, "siginfo") == 0) {
        a.sa_sigaction = hi;
        a.sa_flags = SA_RESETHAND | SA_SIGINFO;
        if (sigaction(SIGUSR1, &a, NULL) != 0)
            return 2;
    } else {
        a.sa_handler = h;
        a.sa_flags = SA_RESETHAND;
        if (sigaction(SIGUSR1, &a, NULL) != 0)
            return 2;
    }
    raise(SIGUSR1);
    struct sigaction q;
    memset(&q, 0x55, sizeof q);
    if (sigaction(SIGUSR1, NULL, &q) != 0)
        return 2;
    printf("after first delivery: handler=%s flags=%#x runs=%d\n",
           q.sa_handler == SIG_DFL ? "SIG_DFL" : q.sa_handler == h ? "h" : "OTHER",
           (unsigned)q.sa_flags, (int)runs);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        raise(SIGUSR1); /* default action: terminate */
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st))
        printf("second SIGUSR1 in a child: killed by signal %d\n", WTERMSIG(st));
    else
        printf("second SIGUSR1 in a child: exit %d\n", WEXITSTATUS(st));
    printf("main: runs=%d\n", (int)runs);
    return 0;
}
