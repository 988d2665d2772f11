/* vfork_nested [pids]: a vfork child vforks again; the grandchild _exit(7)s; the child waits for
 * it, calls malloc (reported: still a vfork child) and _exit(8)s; the parent calls malloc
 * (normal context: not reported) and prints the child's wait status. */
#include "mt.h"

int main(int argc, char **argv) {
    int pids = argc > 1 && strcmp(argv[1], "pids") == 0;
    pid_t pid = vfork();
    if (pid < 0) {
        perror("vfork");
        return 2;
    }
    if (pid == 0) {
        pid_t g = vfork();
        if (g < 0)
            _exit(2);
        if (g == 0)
            _exit(7);
        int st;
        if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
            _exit(3);
        void *p = v_malloc(16);
        _exit(p ? 8 : 4);
    }
    void *q = v_malloc(24);
    if (pids) {
        printf("parent_pid=%d\nchild_pid=%d\n", (int)getpid(), (int)pid);
        fflush(stdout);
    }
    wait_print(pid, "child");
    v_free(q);
    return 0;
}
