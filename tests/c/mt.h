/* Shared helpers for the test programs: a second thread that stays alive (blocked on a pipe
 * read) so that the process is multi-threaded at fork time, and a wait helper that prints the
 * child's wait status on stdout in a pid-free form (so stdout is the same with and without the
 * preload). */
#ifndef ASSAFE_TEST_MT_H
#define ASSAFE_TEST_MT_H
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int mt_pipe[2];
static pthread_t mt_thread;
static int mt_running;

static void *mt_blocker(void *arg) {
    char c;
    (void)arg;
    while (read(mt_pipe[0], &c, 1) < 0) {
    }
    return NULL;
}

/* Makes the process multi-threaded: one extra thread blocked in read(2). The pipe is
 * close-on-exec: a program the test execs must not inherit it (that is an fd-leak finding). */
static void mt_start(void) {
    if (pipe2(mt_pipe, O_CLOEXEC) != 0 || pthread_create(&mt_thread, NULL, mt_blocker, NULL) != 0) {
        perror("mt_start");
        exit(2);
    }
    mt_running = 1;
}

static void mt_stop(void) {
    if (mt_running) {
        (void)!write(mt_pipe[1], "x", 1);
        pthread_join(mt_thread, NULL);
        mt_running = 0;
    }
}

/* Waits for `pid` and prints "<what>: exit N" or "<what>: signal N" on stdout. */
static int wait_print(pid_t pid, const char *what) {
    int st;
    if (waitpid(pid, &st, 0) != pid) {
        perror("waitpid");
        exit(2);
    }
    if (WIFEXITED(st))
        printf("%s: exit %d\n", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        printf("%s: signal %d\n", what, WTERMSIG(st));
    else
        printf("%s: status 0x%x\n", what, st);
    fflush(stdout);
    return st;
}

/* Called through volatile pointers so the compiler can neither delete nor inline the calls. */
static void *(*volatile v_malloc)(size_t) = malloc;
static void (*volatile v_free)(void *) = free;

#endif
