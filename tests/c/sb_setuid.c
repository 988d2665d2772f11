/* The child of a multi-threaded fork drops to nobody (65534), then makes an unsafe call. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile keep;
static void *idle(void *a) { (void)a; pause(); return 0; }

int main(void) {
    pthread_t t;
    pthread_create(&t, 0, idle, 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
        keep = malloc(48);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("child: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 0;
}
