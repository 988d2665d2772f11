/* fork_malloc [mt|st] [pids]: the parent (multi-threaded with "mt") forks; the child calls
 * malloc once and _exit(0)s. The parent prints the child's wait status (and, with "pids", the
 * pids: only for runs that are not compared for transparency). */
#include "mt.h"

int main(int argc, char **argv) {
    int mt = argc > 1 && strcmp(argv[1], "mt") == 0;
    int pids = argc > 2 && strcmp(argv[2], "pids") == 0;
    if (mt)
        mt_start();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        void *p = v_malloc(32);
        if (p == NULL)
            _exit(3);
        _exit(0);
    }
    if (pids) {
        printf("parent_pid=%d\nchild_pid=%d\n", (int)getpid(), (int)pid);
        fflush(stdout);
    }
    wait_print(pid, "child");
    mt_stop();
    return 0;
}
