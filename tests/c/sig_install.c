/* sig_install HOW: installs a SIGUSR1 handler that calls printf with signal(), sysv_signal(),
 * sigaction() or sigaction() with SA_SIGINFO (the handler prints si_signo and si_code), raises
 * SIGUSR1 twice (sysv_signal's handler reinstalls itself) and prints what ran. */
#include "sig.h"

static volatile sig_atomic_t runs;
static const char *how;

static void plain(int sig) {
    runs++;
    printf("plain handler: sig=%d run=%d\n", sig, (int)runs);
    if (strcmp(how, "sysv_signal") == 0)
        sysv_signal(SIGUSR1, plain); /* System V semantics: one-shot */
}

static void info_handler(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    runs++;
    printf("siginfo handler: sig=%d si_signo=%d si_code=%d run=%d\n", sig, si->si_signo,
           si->si_code, (int)runs);
}

int main(int argc, char **argv) {
    how = argc > 1 ? argv[1] : "signal";
    if (strcmp(how, "signal") == 0) {
        if (signal(SIGUSR1, plain) == SIG_ERR)
            return 2;
    } else if (strcmp(how, "sysv_signal") == 0) {
        if (sysv_signal(SIGUSR1, plain) == SIG_ERR)
            return 2;
    } else if (strcmp(how, "sigaction") == 0) {
        install(SIGUSR1, plain, 0);
    } else if (strcmp(how, "siginfo") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = info_handler;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGUSR1, &sa, NULL) != 0)
            return 2;
    } else {
        return 2;
    }
    raise(SIGUSR1);
    raise(SIGUSR1);
    printf("main: runs=%d\n", (int)runs);
    return 0;
}
