/* sig_oldact: installs SIGUSR1 actions with specific masks and flags and prints every field of
 * what sigaction() reports back (through act == NULL queries and through oldact of the next
 * install), plus the mask and flags a delivered handler actually runs with. The output must be
 * the same with and without the preload. */
#include "sig.h"

static void h1(int sig) { (void)sig; }

static sigset_t seen_mask;
static volatile sig_atomic_t seen_sig, seen_info_signo;

static void h2(int sig, siginfo_t *si, void *uc) {
    seen_sig = sig;
    seen_info_signo = si ? si->si_signo : -1;
    sigprocmask(SIG_BLOCK, NULL, &seen_mask);
    (void)uc;
}

static void h3(int sig) {
    seen_sig = sig;
    sigprocmask(SIG_BLOCK, NULL, &seen_mask);
}

static const char *name_of(const struct sigaction *a) {
    if (a->sa_flags & SA_SIGINFO) {
        if (a->sa_sigaction == h2)
            return "h2";
    }
    if (a->sa_handler == SIG_DFL)
        return "SIG_DFL";
    if (a->sa_handler == SIG_IGN)
        return "SIG_IGN";
    if (a->sa_handler == h1)
        return "h1";
    if (a->sa_handler == h3)
        return "h3";
    if ((void *)a->sa_sigaction == (void *)h2)
        return "h2(no SA_SIGINFO)";
    return "OTHER";
}

static void print_mask(const char *label, const sigset_t *m) {
    printf("  %s:", label);
    for (int s = 1; s <= 64; s++)
        if (sigismember(m, s) == 1)
            printf(" %d", s);
    printf("\n");
}

static void print_act(const char *label, const struct sigaction *a) {
    printf("%s: handler=%s flags=%#x\n", label, name_of(a), (unsigned)a->sa_flags);
    print_mask("mask", &a->sa_mask);
}

static struct sigaction act(void *h, int flags, int m1, int m2) {
    struct sigaction a;
    memset(&a, 0, sizeof a);
    if (flags & SA_SIGINFO)
        a.sa_sigaction = (void (*)(int, siginfo_t *, void *))h;
    else
        a.sa_handler = (void (*)(int))h;
    a.sa_flags = flags;
    sigemptyset(&a.sa_mask);
    if (m1)
        sigaddset(&a.sa_mask, m1);
    if (m2)
        sigaddset(&a.sa_mask, m2);
    return a;
}

static void check(int r, const char *what) {
    if (r != 0) {
        printf("%s failed: %s\n", what, strerror(errno));
        exit(3);
    }
}

int main(void) {
    struct sigaction a, old, q;

    memset(&old, 0x55, sizeof old);
    a = act((void *)h1, SA_RESTART | SA_NODEFER, SIGUSR2, SIGALRM);
    check(sigaction(SIGUSR1, &a, &old), "install h1");
    print_act("initial (oldact of first install)", &old);

    memset(&q, 0x55, sizeof q);
    check(sigaction(SIGUSR1, NULL, &q), "query 1");
    print_act("query after h1", &q);

    memset(&old, 0x55, sizeof old);
    a = act((void *)h2, SA_SIGINFO | SA_ONSTACK, SIGUSR2, 0);
    check(sigaction(SIGUSR1, &a, &old), "install h2");
    print_act("oldact of h2 install", &old);

    memset(&q, 0x55, sizeof q);
    check(sigaction(SIGUSR1, NULL, &q), "query 2");
    print_act("query after h2", &q);

    raise(SIGUSR1);
    printf("h2 ran: sig=%d si_signo=%d\n", (int)seen_sig, (int)seen_info_signo);
    print_mask("mask inside h2", &seen_mask);

    /* act and oldact are the same object (through a volatile pointer: glibc declares them
     * restrict, but programs do this and the kernel interface allows it). */
    a = act((void *)h3, SA_RESTART | SA_NODEFER, SIGALRM, SIGTERM);
    struct sigaction *volatile ap = &a;
    check(sigaction(SIGUSR1, ap, ap), "install h3 (aliased)");
    print_act("aliased oldact of h3 install", &a);

    seen_sig = 0;
    raise(SIGUSR1);
    printf("h3 ran: sig=%d\n", (int)seen_sig);
    print_mask("mask inside h3", &seen_mask);

    memset(&old, 0x55, sizeof old);
    a = act((void *)SIG_IGN, 0, SIGHUP, 0);
    check(sigaction(SIGUSR1, &a, &old), "install SIG_IGN");
    print_act("oldact of SIG_IGN install", &old);

    memset(&q, 0x55, sizeof q);
    check(sigaction(SIGUSR1, NULL, &q), "query 3");
    print_act("query after SIG_IGN", &q);

    memset(&old, 0x55, sizeof old);
    a = act((void *)h2, SA_SIGINFO | SA_RESTART, 0, 0);
    check(sigaction(SIGUSR1, &a, &old), "install h2 again");
    print_act("oldact of second h2 install", &old);
    memset(&old, 0x55, sizeof old);
    a = act((void *)SIG_DFL, 0, 0, 0);
    check(sigaction(SIGUSR1, &a, &old), "install SIG_DFL");
    print_act("oldact of SIG_DFL install", &old);

    /* signal() returns the previous handler. */
    void (*p1)(int) = signal(SIGUSR2, h1);
    void (*p2)(int) = signal(SIGUSR2, h3);
    void (*p3)(int) = signal(SIGUSR2, SIG_DFL);
    printf("signal(): p1_is_dfl=%d p2_is_h1=%d p3_is_h3=%d\n", p1 == SIG_DFL, p2 == h1, p3 == h3);
    memset(&q, 0x55, sizeof q);
    check(sigaction(SIGUSR2, NULL, &q), "query SIGUSR2");
    print_act("SIGUSR2 after signal(SIG_DFL)", &q);

    /* Invalid calls fail the same way. */
    errno = 0;
    int r = sigaction(0, &a, NULL);
    printf("sigaction(0): r=%d errno=%d\n", r, errno);
    errno = 0;
    r = sigaction(SIGKILL, &a, NULL);
    printf("sigaction(SIGKILL): r=%d errno=%d\n", r, errno);
    errno = 0;
    r = sigaction(65, NULL, &q);
    printf("sigaction(65): r=%d errno=%d\n", r, errno);
    return 0;
}
