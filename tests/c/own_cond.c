/* own_cond [new|old]: in the child of a multi-threaded fork, initialise a condition variable and
 * signal and broadcast it (the child's own object), then signal one made before the fork.
 * "old" does the same through glibc's GLIBC_2.2.5 (pre-2.3.2 ABI) versions of pthread_cond_init,
 * _signal and _broadcast, and checks that they are the old code: the old pthread_cond_signal
 * allocates the real condvar on first use and stores a pointer to it in the object's first word
 * (nptl/old_pthread_cond_signal.c; the new one, with no waiter, writes nothing there). The exit
 * status's bits say which check failed; x86_64 glibc only. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int old_init(pthread_cond_t *, const pthread_condattr_t *);
int old_signal(pthread_cond_t *);
int old_broadcast(pthread_cond_t *);
__asm__(".symver old_init, pthread_cond_init@GLIBC_2.2.5");
__asm__(".symver old_signal, pthread_cond_signal@GLIBC_2.2.5");
__asm__(".symver old_broadcast, pthread_cond_broadcast@GLIBC_2.2.5");

static int fds[2];
static void *blocker(void *arg) {
    char c;
    (void)arg;
    while (read(fds[0], &c, 1) < 0) {
    }
    return NULL;
}

int main(int argc, char **argv) {
    int old = argc > 1 && strcmp(argv[1], "old") == 0;
    pthread_t t;
    static pthread_cond_t before = PTHREAD_COND_INITIALIZER;
    if (pipe(fds) != 0 || pthread_create(&t, NULL, blocker, NULL) != 0)
        return 1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        pthread_cond_t mine;
        memset(&mine, 0, sizeof mine);
        int bad;
        if (old) {
            bad = (old_init(&mine, NULL) != 0) << 0;
            bad |= (old_signal(&mine) != 0 || old_broadcast(&mine) != 0) << 1;
            void *p;
            memcpy(&p, &mine, sizeof p);
            bad |= (p == NULL) << 2; /* the old code's pointer: the new code leaves 0 */
            bad |= (old_signal(&before) != 0) << 3;
        } else {
            bad = pthread_cond_init(&mine, NULL) != 0;
            bad |= pthread_cond_signal(&mine) != 0 || pthread_cond_broadcast(&mine) != 0;
            bad |= pthread_cond_signal(&before) != 0;
        }
        _exit(bad);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("child: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    if (write(fds[1], "x", 1) != 1 || pthread_join(t, NULL) != 0)
        return 1;
    return 0;
}
