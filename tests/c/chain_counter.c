/* A second preload, loaded after libassafe: counts the signal() and sigaction() calls that reach
 * it and passes each on (RTLD_NEXT); prints the counts at exit. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static int n_signal, n_sigaction, n_sigset;

sighandler_t signal(int sig, sighandler_t h) {
    n_signal++;
    sighandler_t (*next)(int, sighandler_t) = (sighandler_t (*)(int, sighandler_t))dlsym(RTLD_NEXT, "signal");
    return next(sig, h);
}

sighandler_t sigset(int sig, sighandler_t h) {
    n_sigset++;
    sighandler_t (*next)(int, sighandler_t) = (sighandler_t (*)(int, sighandler_t))dlsym(RTLD_NEXT, "sigset");
    return next(sig, h);
}

int sigaction(int sig, const struct sigaction *a, struct sigaction *o) {
    n_sigaction++;
    int (*next)(int, const struct sigaction *, struct sigaction *) =
        (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
    return next(sig, a, o);
}

__attribute__((destructor)) static void counts(void) {
    char b[64];
    int n = snprintf(b, sizeof b, "counter: signal=%d sigaction=%d sigset=%d\n", n_signal,
                     n_sigaction > 0, n_sigset);
    (void)!write(1, b, n);
}
