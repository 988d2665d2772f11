/* rel_environ null|fresh|clear: the program replaces its environment before a multi-threaded
 * fork: `environ = NULL`, a fresh two-entry array, or clearenv(). The child calls malloc and
 * getenv (two reports), then execs /bin/true (execv: it inherits the replaced environment) and the
 * parent prints the child's wait status. */
#include "mt.h"

extern char **environ;
static char *(*volatile v_getenv)(const char *) = getenv;
static char *fresh[] = {"ASSAFE_REL_FRESH=1", "PATH=/usr/bin:/bin", NULL};

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "null";
    mt_start();
    if (strcmp(mode, "null") == 0)
        environ = NULL;
    else if (strcmp(mode, "fresh") == 0)
        environ = fresh;
    else if (clearenv() != 0)
        return 2;
    pid_t pid = fork();
    if (pid < 0)
        return 2;
    if (pid == 0) {
        void *p = v_malloc(16);
        char *e = v_getenv("ASSAFE_REL_FRESH");
        int want = strcmp(mode, "fresh") == 0;
        if (p == NULL || (e != NULL) != want)
            _exit(5);
        char *args[] = {"true", NULL};
        execv("/bin/true", args);
        _exit(6);
    }
    wait_print(pid, "child");
    mt_stop();
    return 0;
}
