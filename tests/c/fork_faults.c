/* fork_faults N: what a shell's `$(...)` does N times (a pipe without close-on-exec, a fork, in
 * the child a dup2 of the pipe onto stdout and _exit, in the parent a read and a wait) and print
 * the minor page faults per fork, the process's and its children's, times 100 (getrusage). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faults.h"

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    int n = atoi(argv[1]);
    struct rusage before;
    getrusage(RUSAGE_SELF, &before);
    for (int i = 0; i < n; i++) {
        int p[2];
        if (pipe(p) != 0) return 1;
        pid_t pid = fork();
        if (pid == 0) {
            dup2(p[1], 1);
            close(p[0]);
            close(p[1]);
            (void)!write(1, "x", 1);
            _exit(0);
        }
        close(p[1]);
        char c;
        (void)!read(p[0], &c, 1);
        close(p[0]);
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid) return 1;
    }
    print_faults_per(&before, n);
    return 0;
}
