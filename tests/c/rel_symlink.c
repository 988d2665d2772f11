/* rel_symlink PREFIX TARGET: an attacker's symlink at the child's log file. The multi-threaded
 * parent forks; before letting the child go on (through a pipe) it plants PREFIX.<child pid> ->
 * TARGET. The child then calls malloc (one report, which the library must not write through the
 * symlink) and _exit(0)s. The parent prints the child's wait status. */
#include "mt.h"

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    int go[2];
    if (pipe(go) != 0)
        return 2;
    mt_start();
    pid_t pid = fork();
    if (pid < 0)
        return 2;
    if (pid == 0) {
        char c;
        while (read(go[0], &c, 1) < 0) {
        }
        void *p = v_malloc(32);
        _exit(p == NULL ? 3 : 0);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s.%d", argv[1], (int)pid);
    if (symlink(argv[2], path) != 0) {
        perror("symlink");
        return 2;
    }
    (void)!write(go[1], "g", 1);
    wait_print(pid, "child");
    mt_stop();
    return 0;
}
