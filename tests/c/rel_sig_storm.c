/* rel_sig_storm [N]: a helper process (forked first, while the program is single-threaded) sends N
 * SIGUSR1 signals with kill(2) to this process, each only after the previous one was handled (the
 * handler bumps a counter in a MAP_SHARED page the sender watches), so none coalesce. The
 * handler calls printf; stdout is pointed at /dev/null while the storm lasts (the results go to the
 * saved stdout). The main thread mallocs and frees the whole time; stdout's buffer is allocated
 * before the storm, so the handler's printf never needs the heap (printf in a handler could
 * otherwise deadlock in malloc without any preload).
 * Prints "sent=N handled=M sender=<status>" and leaves with exit(0) when M == N. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void *(*volatile v_malloc)(size_t) = malloc;
static void (*volatile v_free)(void *) = free;
static int (*volatile v_printf)(const char *, ...) = printf;

static atomic_long *handled; /* shared with the sender */

static void h(int sig) {
    (void)sig;
    v_printf("signal %d\n", sig);
    atomic_fetch_add(handled, 1);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000;
    handled = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (handled == MAP_FAILED)
        return 2;
    atomic_long *go = handled + 1;
    int out = dup(1);
    int devnull = open("/dev/null", O_WRONLY);
    if (out < 0 || devnull < 0 || dup2(devnull, 1) != 1)
        return 2;
    v_printf("warm-up\n"); /* allocates stdout's buffer now, outside any handler */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        return 2;
    pid_t parent = getpid();
    pid_t sender = fork();
    if (sender < 0)
        return 2;
    if (sender == 0) {
        while (!atomic_load(go))
            sched_yield();
        for (long i = 0; i < n; i++) {
            if (kill(parent, SIGUSR1) != 0)
                _exit(3);
            while (atomic_load(handled) <= i) {
                if (getppid() != parent)
                    _exit(4);
                sched_yield();
            }
        }
        _exit(0);
    }
    atomic_store(go, 1);
    unsigned long seed = 7, sum = 0;
    while (atomic_load(handled) < n) {
        void *p[8];
        for (int i = 0; i < 8; i++) {
            seed = seed * 6364136223846793005UL + 1442695040888963407UL;
            p[i] = v_malloc(16 + (seed >> 40) % 2000);
            sum += (unsigned long)p[i] & 1;
        }
        for (int i = 0; i < 8; i++)
            v_free(p[i]);
    }
    int st;
    while (waitpid(sender, &st, 0) < 0 && errno == EINTR) {
    }
    fflush(stdout);
    dup2(out, 1);
    printf("sent=%ld handled=%ld sender=%d\n", n, atomic_load(handled), st);
    exit(atomic_load(handled) == n && st == 0 ? 0 : 1);
}
