/* The classic bug assafe exists to find: a multi-threaded program forks, and the child calls
 * malloc and printf (both take locks another thread may have held at the fork) before it execs.
 * If the other thread happens to be inside malloc at the fork, the child deadlocks; most runs it
 * is not, so tests pass. assafe reports it on every run. (The worker here only sleeps, so that
 * this demo itself never hangs.) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *worker(void *arg) {
    (void)arg;
    for (;;) sleep(1); /* a real program's worker would be allocating, logging, ... */
    return NULL;
}

static char *make_arg(const char *s) {
    char *copy = malloc(strlen(s) + 1); /* BUG: malloc in the child of a multi-threaded fork */
    strcpy(copy, s);
    return copy;
}

int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char *arg = make_arg("hello from the child");
        printf("child: about to exec\n"); /* BUG: stdio in the child */
        fflush(stdout);
        execl("/bin/echo", "echo", arg, (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("parent: child exited with %d\n", WEXITSTATUS(status));
    return 0;
}
