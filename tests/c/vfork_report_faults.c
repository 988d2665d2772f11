/* vfork_report_faults N M: N times, vfork a child that (M=1) calls malloc, an unsafe call the
 * library reports, and _exit; print the page faults per child, the process's and its children's,
 * times 100 (getrusage). M=0 is the same without the call: the difference is a report's cost. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faults.h"

void *volatile sink;

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    int n = atoi(argv[1]), m = atoi(argv[2]);
    struct rusage before;
    getrusage(RUSAGE_SELF, &before);
    for (int i = 0; i < n; i++) {
        pid_t pid = vfork();
        if (pid == 0) {
            if (m) sink = malloc(16);
            _exit(0);
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid) return 1;
    }
    print_faults_per(&before, n);
    return 0;
}
