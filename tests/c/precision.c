/* Severity of findings (issue 12): one program, one mode per case (argv[1]).
 *   fork-malloc      multi-threaded parent, fork(): malloc in the child (portable on glibc)
 *   ufork-malloc     the same after _Fork() (hazard: nothing was reset)
 *   fork-mutex       fork(): lock a mutex made before the fork (hazard)
 *   own-mutex        fork(): init a mutex in the child, then lock/unlock it (portable), as
 *                    CPython's PyOS_AfterFork_Child does
 *   segv-program     SIGSEGV handler that printf()s, after a null write in program code
 *   segv-libc        the same handler after strlen(NULL) (the fault is inside libc)
 *   segv-callback    the same handler after a null write in a qsort comparator (program code,
 *                    called by an unsafe function: the unwinding finds qsort on the stack)
 *   self-signal      single-threaded: raise(SIGUSR1), handler mallocs (portable)
 *   self-then-async  then another process sends SIGUSR1 (hazard: reported again)
 *   vfork-quiet      single-threaded parent with a SIGUSR1 handler blocks every signal, vfork
 *                    child mallocs (portable: no handler can run in the child)
 *   vfork-loud       the same without blocking signals (hazard)
 *   vfork-nohandler  no handler at all, nothing blocked (portable)
 *   vfork-sigchld    2000 vforks whose children _exit at once, with a SIGCHLD handler that only
 *                    counts: nothing to report
 *   snprintf-handler a SIGUSR1 handler (asynchronous) calls snprintf */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern pid_t _Fork(void);

static pthread_mutex_t before = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t after;
static volatile int go;
static void *idle(void *a) {
    (void)a;
    while (!go)
        usleep(1000);
    return 0;
}

static pthread_t start_thread(void) {
    pthread_t t;
    pthread_create(&t, 0, idle, 0);
    return t;
}

static void stop_thread(pthread_t t) {
    go = 1;
    pthread_join(t, 0);
}

static int wait_child(pid_t p) {
    int st;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static sigjmp_buf env;
static void on_segv(int sig) {
    printf("caught %d\n", sig);
    fflush(stdout);
    siglongjmp(env, 1);
}

static void *volatile nowhere;

static int faulting_compare(const void *a, const void *b) {
    (void)a;
    (void)b;
    *(volatile int *)nowhere = 1;
    return 0;
}

static void *volatile kept;
static void on_usr1(int sig) {
    (void)sig;
    kept = malloc(32);
}

static char line[64];
static void on_usr1_fmt(int sig) {
    snprintf(line, sizeof line, "signal %d", sig);
}

static volatile sig_atomic_t chld;
static void on_chld(int sig) {
    (void)sig;
    chld++;
}

static int fork_case(const char *mode) {
    pthread_t t = start_thread();
    pid_t p = strcmp(mode, "ufork-malloc") == 0 ? _Fork() : fork();
    if (p == 0) {
        if (!strcmp(mode, "fork-malloc") || !strcmp(mode, "ufork-malloc")) {
            kept = malloc(64);
        } else if (!strcmp(mode, "fork-mutex")) {
            pthread_mutex_lock(&before);
            pthread_mutex_unlock(&before);
        } else if (!strcmp(mode, "own-mutex")) {
            pthread_mutex_init(&after, 0);
            pthread_mutex_lock(&after);
            pthread_mutex_unlock(&after);
            pthread_mutex_lock(&before);
            pthread_mutex_unlock(&before);
        }
        _exit(0);
    }
    int r = wait_child(p);
    stop_thread(t);
    return r;
}

static int vfork_case(int quiet, int handler) {
    sigset_t all, old;
    if (handler)
        signal(SIGUSR1, on_usr1);
    sigfillset(&all);
    if (quiet)
        sigprocmask(SIG_SETMASK, &all, &old);
    pid_t p = vfork();
    if (p == 0) {
        kept = malloc(16);
        _exit(0);
    }
    if (quiet)
        sigprocmask(SIG_SETMASK, &old, 0);
    return wait_child(p);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strstr(mode, "fork-") || !strcmp(mode, "own-mutex"))
        if (strncmp(mode, "vfork", 5) != 0)
            return fork_case(mode);
    if (!strcmp(mode, "segv-program") || !strcmp(mode, "segv-libc") ||
        !strcmp(mode, "segv-callback")) {
        signal(SIGSEGV, on_segv);
        if (sigsetjmp(env, 1) == 0) {
            if (!strcmp(mode, "segv-program")) {
                *(volatile int *)nowhere = 1;
            } else if (!strcmp(mode, "segv-callback")) {
                static int v[64];
                qsort(v, 64, sizeof v[0], faulting_compare);
            } else {
                printf("%zu\n", strlen((const char *)nowhere));
            }
        }
        printf("recovered\n");
        return 0;
    }
    if (!strcmp(mode, "self-signal") || !strcmp(mode, "self-then-async")) {
        signal(SIGUSR1, on_usr1);
        raise(SIGUSR1);
        if (!strcmp(mode, "self-then-async")) {
            sigset_t s, old;
            sigemptyset(&s);
            sigaddset(&s, SIGUSR1);
            sigprocmask(SIG_BLOCK, &s, &old);
            pid_t parent = getpid();
            pid_t p = fork();
            if (p == 0) {
                kill(parent, SIGUSR1);
                _exit(0);
            }
            wait_child(p);
            sigprocmask(SIG_SETMASK, &old, 0); /* delivered here, from another process */
        }
        printf("done\n");
        return 0;
    }
    if (!strcmp(mode, "vfork-quiet"))
        return vfork_case(1, 1);
    if (!strcmp(mode, "vfork-loud"))
        return vfork_case(0, 1);
    if (!strcmp(mode, "vfork-nohandler"))
        return vfork_case(0, 0);
    if (!strcmp(mode, "vfork-sigchld")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_chld;
        sigaction(SIGCHLD, &sa, 0);
        for (int i = 0; i < 2000; i++) {
            pid_t p = vfork();
            if (p == 0)
                _exit(0);
            while (waitpid(p, 0, 0) < 0)
                ;
        }
        printf("sigchld %d\n", chld > 0);
        return 0;
    }
    if (!strcmp(mode, "snprintf-handler")) {
        signal(SIGUSR1, on_usr1_fmt);
        pthread_t t = start_thread();
        pthread_kill(t, 0);
        pid_t parent = getpid();
        pid_t p = fork();
        if (p == 0) {
            kill(parent, SIGUSR1);
            _exit(0);
        }
        wait_child(p);
        while (!line[0])
            usleep(1000);
        stop_thread(t);
        printf("%s\n", line);
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
