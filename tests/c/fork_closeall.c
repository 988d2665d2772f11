/* MT parent forks; the child closes every fd, then mallocs (the report must still reach the log
 * file, which the library opens by path). */
#include "mt.h"
#include <linux/close_range.h>
#include <sys/syscall.h>

int main(void) {
    mt_start();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        if (syscall(SYS_close_range, 0U, ~0U, 0U) != 0) {
            for (int fd = 0; fd < 1024; fd++)
                close(fd);
        }
        void *p = v_malloc(64);
        _exit(p == NULL ? 3 : 0);
    }
    wait_print(pid, "child");
    mt_stop();
    return 0;
}
