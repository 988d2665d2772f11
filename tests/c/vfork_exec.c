/* vfork_exec: the vfork child dup2()s stdout, closes the copy and execve()s /bin/true. */
#include "mt.h"

extern char **environ;

int main(void) {
    pid_t pid = vfork();
    if (pid < 0) {
        perror("vfork");
        return 2;
    }
    if (pid == 0) {
        char *argv[] = {"true", NULL};
        if (dup2(1, 10) != 10)
            _exit(4);
        close(10);
        execve("/bin/true", argv, environ);
        _exit(127);
    }
    wait_print(pid, "child");
    return 0;
}
