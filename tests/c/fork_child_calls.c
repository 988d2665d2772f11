/* fork_child_calls N: forks N times (each child exits at once), then once more; that last child
 * zeroes callgrind's counters and makes stdio calls its parent never made (`putc`, `fputs`,
 * `fwrite`, `fflush`, `ferror`, `feof`, `clearerr`, `fileno`, `__fpurge`), as a shell's
 * `$(echo …)` child does, and exits. Prints that child's pid (its callgrind output file). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    int n = atoi(argv[1]);
    pid_t pid = 0;
    for (int i = 0; i <= n; i++) {
        pid = fork();
        if (pid == 0 && i < n) _exit(0);
        if (pid == 0) {
            CALLGRIND_ZERO_STATS;
            putc('x', stdout);
            fputs("y", stdout);
            fwrite("z", 1, 1, stdout);
            if (ferror(stdout) || feof(stdout) || fileno(stdout) != 1) _exit(1);
            clearerr(stdout);
            __fpurge(stdout);
            fflush(stdout);
            _exit(0);
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || st != 0) return 1;
    }
    printf("%d\n", (int)pid);
    return 0;
}
