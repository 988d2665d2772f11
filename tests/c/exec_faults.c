/* exec_faults N PRELOAD: vfork+execve /bin/true N times with the environment {PATH, LD_PRELOAD=
 * PRELOAD (empty: none)} and print the children's minor page faults per exec, times 100
 * (getrusage(RUSAGE_CHILDREN)): what a preloaded library costs every program that starts. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    int n = atoi(argv[1]);
    char pre[4200];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", argv[2]);
    char *av[] = {"/bin/true", 0};
    char *ev[] = {"PATH=/usr/bin:/bin", argv[2][0] ? pre : 0, 0};
    for (int i = 0; i < n; i++) {
        pid_t p = vfork();
        if (p == 0) {
            execve(av[0], av, ev);
            _exit(127);
        }
        int st;
        if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    printf("%ld\n", ru.ru_minflt * 100 / n);
    return 0;
}
