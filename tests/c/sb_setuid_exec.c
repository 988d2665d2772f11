/* Drops to nobody (65534), then execs itself as "child": the new image, which the 0700 log
 * directory now refuses, makes an unsafe call in the child of a multi-threaded fork. Its records
 * reach the log through the file the first image kept and handed over through the exec. */
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
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
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
        printf("exec'd image: uid %d, child exit %d\n", (int)getuid(),
               WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        return 0;
    }
    if (setgid(65534) != 0 || setuid(65534) != 0) return 3;
    execl("/proc/self/exe", argv[0], "child", (char *)0);
    return 4;
}
