/* A fork child that returns from the function that forked: spawn() forgets _exit after the
 * child's work, so the child returns into main and runs the parent's code ("parent code" is
 * printed twice). Argument "ok": the child calls _exit. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int ok;

__attribute__((noinline)) static pid_t spawn(void) {
    pid_t pid = fork();
    if (pid == 0) {
        write(1, "child work\n", 11);
        if (ok) _exit(0);
    }
    return pid;
}

int main(int argc, char **argv) {
    ok = argc > 1 && strcmp(argv[1], "ok") == 0;
    pid_t pid = spawn();
    char line[64];
    snprintf(line, sizeof line, "parent code in %d\n", (int)getpid());
    write(1, line, strlen(line));
    if (pid > 0) waitpid(pid, 0, 0);
    return 0;
}
