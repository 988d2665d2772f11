/* MT parent forks; the child only does async-signal-safe things: dup2, close, execve. */
#include "mt.h"
#include <fcntl.h>

extern char **environ;

int main(void) {
    int fd = open("/dev/null", O_RDONLY);
    if (fd < 0) {
        perror("open");
        return 2;
    }
    mt_start();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        char *argv[] = {"true", NULL};
        if (dup2(fd, 0) < 0)
            _exit(4);
        close(fd);
        execve("/bin/true", argv, environ);
        _exit(5);
    }
    close(fd);
    wait_print(pid, "child");
    mt_stop();
    return 0;
}
