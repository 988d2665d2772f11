/* A pipe's write end leaked into `cat`: made with pipe() (no O_CLOEXEC) the child keeps it open
 * across exec, so cat (reading the pipe) never sees EOF... unless the parent closes it. Argument
 * "cloexec": pipe2(O_CLOEXEC), nothing leaks. The parent writes, closes its write end and waits
 * with a timeout (alarm) so the program never hangs. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int cloexec = argc > 1 && strcmp(argv[1], "cloexec") == 0;
    int p[2];
    if (cloexec ? pipe2(p, O_CLOEXEC) : pipe(p)) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[0], 0); /* cat reads the pipe; p[1] (and p[0]) stay open without O_CLOEXEC */
        execlp("cat", "cat", (char *)0);
        _exit(127);
    }
    close(p[0]);
    if (write(p[1], "hello\n", 6) != 6) return 1;
    close(p[1]);
    /* with the leak cat never sees EOF: end it after a moment */
    for (int i = 0; i < 20; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return 0;
        usleep(50000);
    }
    kill(pid, SIGTERM);
    waitpid(pid, 0, 0);
    printf("cat did not see EOF\n");
    return 0;
}
