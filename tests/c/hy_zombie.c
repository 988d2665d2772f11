/* Three children that exit and are never waited for (zombies at exit). Argument "reap": waited
 * for; "ignore": SIGCHLD ignored (the kernel reaps them). */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int reap = argc > 1 && strcmp(argv[1], "reap") == 0;
    if (argc > 1 && strcmp(argv[1], "ignore") == 0) signal(SIGCHLD, SIG_IGN);
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        if (kids[i] == 0) _exit(0);
    }
    usleep(200000); /* let them exit */
    if (reap)
        for (int i = 0; i < 3; i++) waitpid(kids[i], 0, 0);
    return 0;
}
