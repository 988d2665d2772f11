/* A second thread sets SIGUSR1's handler in a loop, so the library's per-signal writer flag is
 * held much of the time, while the main thread forks 40 children that each set the same handler
 * and exit. A child forked while the other thread held the flag has the flag held, and no thread
 * to release it: its sigaction must still return (it waits a bounded while, then writes). A
 * child that has not exited after 10 s counts as hung. Prints "forks ok" when none hung. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int stop;

static void on_usr1(int sig) { (void)sig; }

static void *setter(void *arg) {
    (void)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    while (!stop) sigaction(SIGUSR1, &sa, NULL);
    return NULL;
}

int main(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, setter, NULL) != 0) return 2;
    int hung = 0;
    for (int i = 0; i < 40; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_usr1;
            sigaction(SIGUSR1, &sa, NULL);
            _exit(0);
        }
        if (pid < 0) return 2;
        int st, done = 0;
        for (int ms = 0; ms < 10000 && !done; ms++) {
            if (waitpid(pid, &st, WNOHANG) == pid) done = 1;
            else {
                struct timespec d = {0, 1000000};
                nanosleep(&d, NULL);
            }
        }
        if (!done) {
            hung++;
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
        }
    }
    stop = 1;
    pthread_join(t, NULL);
    if (hung) {
        printf("%d children hung\n", hung);
        return 1;
    }
    printf("forks ok\n");
    return 0;
}
