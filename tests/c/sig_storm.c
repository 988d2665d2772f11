/* sig_storm [N]: the main thread's SIGUSR1 handler calls printf (printing nothing) and counts
 * its runs; one thread re-installs the same handler with sigaction in a loop; another sends N
 * signals to the main thread with pthread_kill, each only after the previous one was handled (so
 * none coalesce). Prints the handler-run count and leaves with exit(0). */
#include "sig.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static pthread_t main_thread;
static atomic_long count;
static atomic_int done, go;
static long target;
static atomic_long reinstalls;

static void h(int sig) {
    (void)sig;
    s_printf("%s", "");
    atomic_fetch_add(&count, 1);
}

static struct sigaction act;

static void *reinstaller(void *arg) {
    (void)arg;
    while (!atomic_load(&done)) {
        struct sigaction old;
        if (sigaction(SIGUSR1, &act, &old) != 0 || old.sa_handler != h) {
            printf("reinstall: unexpected old handler\n");
            exit(4);
        }
        atomic_fetch_add(&reinstalls, 1);
    }
    return NULL;
}

static void *sender(void *arg) {
    (void)arg;
    /* Start only once main is in its waiting loop (no libc call in flight there), so that every
     * delivery interrupts the same kind of code. */
    while (!atomic_load(&go))
        sched_yield();
    for (long i = 0; i < target; i++) {
        if (pthread_kill(main_thread, SIGUSR1) != 0)
            exit(5);
        while (atomic_load(&count) <= i)
            sched_yield();
    }
    return NULL;
}

int main(int argc, char **argv) {
    target = argc > 1 ? atol(argv[1]) : 100000;
    memset(&act, 0, sizeof act);
    act.sa_handler = h;
    act.sa_flags = SA_RESTART;
    sigemptyset(&act.sa_mask);
    if (sigaction(SIGUSR1, &act, NULL) != 0)
        return 2;
    main_thread = pthread_self();
    pthread_t r, s;
    if (pthread_create(&r, NULL, reinstaller, NULL) != 0 ||
        pthread_create(&s, NULL, sender, NULL) != 0)
        return 2;
    atomic_store(&go, 1);
    while (atomic_load(&count) < target)
        sched_yield();
    pthread_join(s, NULL);
    atomic_store(&done, 1);
    pthread_join(r, NULL);
    printf("handler runs: %ld\nreinstalls>0: %d\n", atomic_load(&count), atomic_load(&reinstalls) > 0);
    exit(0); /* through the interposed exit: the library writes its summary */
}
