/* rel_symlink PREFIX TARGET: an attacker's symlink at the child's log file. The multi-threaded
 * parent forks; before letting the child go on (through a pipe) it plants PREFIX.<child pid> ->
 * TARGET. The child then calls malloc (one report, which the library must not write through the
 * symlink) and _exit(0)s. The parent prints the child's wait status.
 *
 * The library may write the child's fork record before the parent plants the link (the child ran
 * first): then PREFIX.<child pid> is already the library's own file, the link cannot be planted
 * (EEXIST), and that child is told to exit at once and the parent forks again. A child whose
 * parent is gone reads end-of-file and exits: no process is left holding the test's pipes. */
#include "mt.h"
#include <errno.h>

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    mt_start();
    for (int attempt = 0; attempt < 100; attempt++) {
        int go[2];
        if (pipe(go) != 0)
            return 2;
        pid_t pid = fork();
        if (pid < 0)
            return 2;
        if (pid == 0) {
            char c = 0;
            close(go[1]);
            while (read(go[0], &c, 1) < 0) {
            }
            if (c != 'g')
                _exit(0);
            void *p = v_malloc(32);
            _exit(p == NULL ? 3 : 0);
        }
        close(go[0]);
        char path[4096];
        snprintf(path, sizeof path, "%s.%d", argv[1], (int)pid);
        int planted = symlink(argv[2], path) == 0;
        if (!planted && errno != EEXIST) {
            perror("symlink");
            return 2;
        }
        (void)!write(go[1], planted ? "g" : "x", 1);
        close(go[1]);
        if (planted) {
            wait_print(pid, "child");
            mt_stop();
            return 0;
        }
        int st;
        waitpid(pid, &st, 0);
    }
    fprintf(stderr, "rel_symlink: the link could not be planted in 100 forks\n");
    return 2;
}
