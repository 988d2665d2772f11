/* rel_symlink PREFIX TARGET: an attacker's symlink at the child's log file. The multi-threaded
 * parent forks; before letting the child go on (through a pipe) it plants PREFIX.<child pid> ->
 * TARGET. The child then calls malloc (one report, which the library must not write through the
 * symlink) and _exit(0)s. The child's log file may exist already (its `fork` record): it is
 * replaced. The parent prints the child's wait status. */
#include "mt.h"
#include <errno.h>

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
        close(go[1]); /* a parent that fails must not leave the child blocked forever */
        while (read(go[0], &c, 1) < 0) {
        }
        void *p = v_malloc(32);
        _exit(p == NULL ? 3 : 0);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s.%d", argv[1], (int)pid);
    /* The child's `fork` record (written as it starts) may already have created its log file:
     * replace it with the symlink before letting the child make its report. */
    if (symlink(argv[2], path) != 0 && (errno != EEXIST || unlink(path) != 0 || symlink(argv[2], path) != 0)) {
        perror("symlink");
        return 2;
    }
    (void)!write(go[1], "g", 1);
    wait_print(pid, "child");
    mt_stop();
    return 0;
}
