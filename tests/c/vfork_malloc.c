/* vfork_malloc [pids]: the vfork child calls malloc (through a volatile pointer) and _exit(0)s;
 * the parent then calls malloc itself at another site, and prints the child's wait status. */
#include "mt.h"

int main(int argc, char **argv) {
    int pids = argc > 1 && strcmp(argv[1], "pids") == 0;
    pid_t pid = vfork();
    if (pid < 0) {
        perror("vfork");
        return 2;
    }
    if (pid == 0) {
        void *p = v_malloc(32);
        _exit(p == NULL ? 3 : 0);
    }
    void *q = v_malloc(40); /* the parent's own malloc: normal context again */
    if (pids) {
        printf("parent_pid=%d\nchild_pid=%d\n", (int)getpid(), (int)pid);
        fflush(stdout);
    }
    wait_print(pid, "child");
    v_free(q);
    return 0;
}
