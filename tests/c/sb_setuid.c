/* Changes of uid (to nobody, 65534) and an unsafe call in the child of a multi-threaded fork:
 *   child-drops  the fork child drops privileges, then calls malloc;
 *   drop-fork    the process drops privileges first, then forks: the child cannot create its own
 *                file in the root-owned 0700 log directory and writes to the one its parent kept;
 *   drop-exec    the process drops privileges and execs itself ("execd"): the new image reaches
 *                the log through the file its first image kept and handed over. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile keep;
static void *idle(void *a) { (void)a; pause(); return 0; }

static int drop(void) { return setgid(65534) != 0 || setuid(65534) != 0; }

/* A second thread, then a fork child that (after dropping privileges when asked) calls malloc.
 * Returns the child's exit status. */
static int fork_malloc_child(int child_drops) {
    pthread_t t;
    pthread_create(&t, 0, idle, 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (child_drops && drop()) _exit(3);
        keep = malloc(48);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "child-drops";
    if (strcmp(mode, "execd") == 0) {
        int st = fork_malloc_child(0);
        printf("exec'd image: uid %d, child exit %d\n", (int)getuid(), st);
        return 0;
    }
    if (strcmp(mode, "drop-exec") == 0) {
        if (drop()) return 3;
        execl("/proc/self/exe", argv[0], "execd", (char *)0);
        return 4;
    }
    if (strcmp(mode, "drop-fork") == 0 && drop()) return 3;
    printf("child: exit %d\n", fork_malloc_child(strcmp(mode, "child-drops") == 0));
    return 0;
}
