/* chroot into an empty directory (argv[2]), then an unsafe call in the child of a multi-threaded
 * fork. "child": the fork comes first, the child chroots; "first": the process chroots, then
 * starts a thread and forks (no /proc: the thread count is unknown). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile keep;
static void *idle(void *a) { (void)a; pause(); return 0; }

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int first = strcmp(argv[1], "first") == 0;
    pthread_t t;
    if (first) {
        if (chroot(argv[2]) != 0 || chdir("/") != 0) { perror("chroot"); return 2; }
    }
    pthread_create(&t, 0, idle, 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (!first && (chroot(argv[2]) != 0 || chdir("/") != 0)) { perror("chroot"); _exit(2); }
        keep = malloc(48);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("child: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 0;
}
