/* "fork(); fork();" makes 4 processes. Argument "daemon": the daemonising double fork (fork,
 * setsid, fork), whose second fork is deliberate. Every process waits for its children. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "daemon") == 0) {
        pid_t a = fork();
        if (a > 0) { waitpid(a, 0, 0); return 0; }
        setsid();
        pid_t b = fork();
        if (b > 0) _exit(0);
        write(1, "daemon\n", 7);
        _exit(0);
    }
    pid_t a = fork();
    pid_t b = fork();
    if (b > 0) waitpid(b, 0, 0);
    if (a > 0) waitpid(a, 0, 0);
    if (a == 0 || b == 0) _exit(0);
    return 0;
}
