/* exit() in a fork child runs the parent's atexit handler a second time. argv[1]:
 *   exit     the child calls exit(): cleanup() runs in the child and again in the parent (reported)
 *   _exit    the child calls _exit(): it runs once, in the parent (clean)
 *   daemon   the child calls setsid() first (a daemon: its exit is the one that counts; clean)
 *   none     no handler registered, the child calls exit() (clean)
 * stdout is written with write(2) only: no stdio output is pending at the fork. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void cleanup(void) {
    char msg[64] = "cleanup in ";
    char pid[16];
    int n = 0;
    for (int p = getpid(); p > 0; p /= 10) pid[n++] = '0' + p % 10;
    size_t l = strlen(msg);
    while (n > 0) msg[l++] = pid[--n];
    msg[l++] = '\n';
    if (write(1, msg, l) < 0) _exit(3);
}

int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "exit";
    if (strcmp(m, "none") != 0) atexit(cleanup);
    pid_t pid = fork();
    if (pid == 0) {
        if (strcmp(m, "_exit") == 0) _exit(0);
        if (strcmp(m, "daemon") == 0) setsid();
        exit(0);
    }
    waitpid(pid, 0, 0);
    return 0;
}
