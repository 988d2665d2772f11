/* MT parent forks; the child forks again; the grandchild mallocs. The middle child prints
 * "grandchild_pid=N" with "pids". */
#include "mt.h"

int main(int argc, char **argv) {
    int pids = argc > 1 && strcmp(argv[1], "pids") == 0;
    mt_start();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        pid_t g = fork();
        if (g < 0)
            _exit(6);
        if (g == 0) {
            void *p = v_malloc(24);
            _exit(p == NULL ? 3 : 0);
        }
        int st;
        if (waitpid(g, &st, 0) != g)
            _exit(7);
        if (pids) {
            char buf[64];
            int n = snprintf(buf, sizeof buf, "grandchild_pid=%d\n", (int)g);
            (void)!write(1, buf, n);
        }
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 8);
    }
    wait_print(pid, "child");
    mt_stop();
    return 0;
}
