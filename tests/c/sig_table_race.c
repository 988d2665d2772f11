/* The signal table under concurrent re-installs: one thread re-installs SIGUSR1's handler over and
 * over, alternating a sa_handler function (no SA_SIGINFO) and a sa_sigaction function
 * (SA_SIGINFO), while another thread queues SIGUSR1 with a known value at spinning victim threads.
 *
 * Without the preload the kernel switches dispositions atomically: the sa_sigaction function is
 * always called with the kernel's siginfo and ucontext. Under the preload the kernel runs the
 * library's wrapper, which looks up the program's handler and its calling convention in its own
 * table; if the two could be read from different installs (a torn update), the sa_sigaction
 * function would be called as a one-argument handler and find garbage in `info` and `uc` (or
 * crash on it). The program counts such calls and prints the counts.
 *
 * Usage: sig_table_race MILLISECONDS */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define MAGIC 0x5a5a1234
#define VICTIMS 2

static atomic_int stop;
static atomic_long plain_runs, info_runs, bad, sent, installs;

static void plain(int sig) {
    (void)sig;
    atomic_fetch_add_explicit(&plain_runs, 1, memory_order_relaxed);
}

static void with_info(int sig, siginfo_t *info, void *uc) {
    atomic_fetch_add_explicit(&info_runs, 1, memory_order_relaxed);
    /* Only pointers into this thread's signal frame are plausible: the kernel puts siginfo and
     * ucontext just above the handler's stack pointer. Anything else is garbage from a call with
     * the wrong convention; do not dereference it. */
    char here;
    unsigned long sp = (unsigned long)&here, i = (unsigned long)info, u = (unsigned long)uc;
    if (i < sp || i - sp > (1 << 16) || u < sp || u - sp > (1 << 16)) {
        atomic_fetch_add_explicit(&bad, 1, memory_order_relaxed);
        return;
    }
    if (info->si_signo != sig || info->si_code != SI_QUEUE || info->si_value.sival_int != MAGIC) {
        atomic_fetch_add_explicit(&bad, 1, memory_order_relaxed);
        return;
    }
    ucontext_t *c = uc;
    unsigned long isp = (unsigned long)c->uc_mcontext.gregs[REG_RSP];
    if (isp < u) /* the interrupted stack lies above the signal frame */
        atomic_fetch_add_explicit(&bad, 1, memory_order_relaxed);
}

static void *victim(void *arg) {
    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    }
    return NULL;
}

static void *installer(void *arg) {
    (void)arg;
    struct sigaction a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.sa_handler = plain;
    a.sa_flags = SA_RESTART;
    b.sa_sigaction = with_info;
    b.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&a.sa_mask);
    sigemptyset(&b.sa_mask);
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        if (sigaction(SIGUSR1, &a, NULL) != 0 || sigaction(SIGUSR1, &b, NULL) != 0) {
            perror("sigaction");
            exit(2);
        }
        atomic_fetch_add_explicit(&installs, 2, memory_order_relaxed);
    }
    return NULL;
}

static void *sender(void *arg) {
    pthread_t *v = arg;
    union sigval val = {.sival_int = MAGIC};
    for (long n = 0; !atomic_load_explicit(&stop, memory_order_relaxed); n++) {
        if (pthread_sigqueue(v[n % VICTIMS], SIGUSR1, val) == 0)
            atomic_fetch_add_explicit(&sent, 1, memory_order_relaxed);
    }
    return NULL;
}

int main(int argc, char **argv) {
    long ms = argc > 1 ? atol(argv[1]) : 2000;
    struct sigaction b;
    memset(&b, 0, sizeof b);
    b.sa_sigaction = with_info;
    b.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGUSR1, &b, NULL);
    pthread_t v[VICTIMS], ins, snd;
    for (int i = 0; i < VICTIMS; i++)
        pthread_create(&v[i], NULL, victim, NULL);
    /* Only the victims take the signal. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    pthread_create(&ins, NULL, installer, NULL);
    pthread_create(&snd, NULL, sender, v);
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
    atomic_store(&stop, 1);
    pthread_join(snd, NULL);
    pthread_join(ins, NULL);
    for (int i = 0; i < VICTIMS; i++)
        pthread_join(v[i], NULL);
    fprintf(stderr, "sent %ld, installs %ld, plain %ld, with_info %ld\n", atomic_load(&sent),
            atomic_load(&installs), atomic_load(&plain_runs), atomic_load(&info_runs));
    printf("bad calls: %ld\n", atomic_load(&bad));
    printf("both handlers ran: %d\n", atomic_load(&plain_runs) > 0 && atomic_load(&info_runs) > 0);
    return 0;
}
