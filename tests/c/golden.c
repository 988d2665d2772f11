/* golden [exec-target]: one process tree that makes the library write one record of every kind
 * it can (run with verbosity=2 and strict=1; see tests/golden.rs and docs/log-format.md):
 *   start     every process image (main, and the image the fork child execs)
 *   fork      every fork child (verbosity=2)
 *   report    fork-child with strict:true (fork of the still single-threaded parent),
 *             fork-child (multi-threaded parent), vfork-child, signal-handler, async-cancel,
 *             and "(signal handler)" (a handler run in a vfork child)
 *   errno     the SIGUSR1 handler returns with errno changed
 *   exec      the multi-threaded fork child execs itself after an unsafe call
 *   exit      the strict fork child, the vfork children and main exit after unsafe calls
 *   report    with "kind":"zombie" (process hygiene): main exits without waiting for its last child
 * The name of the function each context calls differs (malloc, calloc, realloc, strdup, valloc), so
 * the test can tell the reports apart. */
#include "mt.h"
#include <errno.h>

static void *volatile sink;

static void on_usr1(int sig) {
    (void)sig;
    sink = strdup("in a handler"); /* signal-handler report */
    errno = 99;                    /* errno record: not restored */
}

static void on_usr2(int sig) {
    (void)sig;
    (void)!write(1, "", 0);
}

static void *async_cancel(void *arg) {
    int old;
    (void)arg;
    pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
    sink = valloc(64); /* async-cancel report */
    pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "exec-target") == 0)
        return 0;
    pid_t p = fork();
    if (p == 0) {
        sink = malloc(16); /* fork-child, strict: the parent has one thread */
        _exit(0);
    }
    wait_print(p, "strict fork child");

    mt_start();
    p = fork();
    if (p == 0) {
        sink = calloc(1, 16); /* fork-child */
        execl("/proc/self/exe", argv[0], "exec-target", (char *)NULL);
        _exit(127);
    }
    wait_print(p, "fork child");

    p = vfork();
    if (p == 0) {
        sink = realloc(sink, 16); /* vfork-child (sink is volatile: no malloc in disguise) */
        _exit(0);
    }
    wait_print(p, "vfork child");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
    p = vfork();
    if (p == 0) {
        raise(SIGUSR2); /* report "(signal handler)" in the vfork child */
        _exit(0);
    }
    wait_print(p, "vfork handler child");

    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    errno = 7;
    raise(SIGUSR1);
    printf("errno after the handler: %d\n", errno);

    pthread_t t;
    if (pthread_create(&t, NULL, async_cancel, NULL) != 0 || pthread_join(t, NULL) != 0)
        return 3;
    mt_stop();
    p = fork();
    if (p == 0)
        _exit(0);
    usleep(100000); /* a child never waited for: a "zombie" process-hygiene report at exit */
    exit(0); /* exit summary of main (returning from main calls exit inside libc: not seen) */
}
