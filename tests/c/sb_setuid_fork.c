/* A process drops to nobody (65534) first, then starts a thread and forks: the child makes an
 * unsafe call. The child can no longer create its own file in the root-owned 0700 log
 * directory; its records go to the file its parent kept open when it dropped privileges. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile keep;
static void *idle(void *a) { (void)a; pause(); return 0; }

int main(void) {
    if (setgid(65534) != 0 || setuid(65534) != 0) return 3;
    pthread_t t;
    pthread_create(&t, 0, idle, 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        keep = malloc(48);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("child: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 0;
}
