/* A dlopen'ed plugin that forks while the process has two threads; its child mallocs. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static int fds[2];
static void *blocker(void *a) { char c; (void)a; read(fds[0], &c, 1); return NULL; }
int plug_fork(void) {
    pthread_t t;
    pipe(fds);
    pthread_create(&t, NULL, blocker, NULL);
    pid_t p = fork();
    if (p == 0) {
        void *(*volatile m)(size_t) = malloc;
        m(16);
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    write(fds[1], "x", 1);
    pthread_join(t, NULL);
    return WEXITSTATUS(st);
}
