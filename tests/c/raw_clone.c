/* MT parent makes a child with a raw clone syscall (no fork wrapper, so the thread count is
 * unknown); the child calls opendir("/"). */
#include "mt.h"
#include <dirent.h>
#include <sys/syscall.h>

int main(void) {
    mt_start();
    long r = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
    if (r < 0) {
        perror("clone");
        return 2;
    }
    if (r == 0) {
        DIR *d = opendir("/");
        _exit(d == NULL ? 3 : 0);
    }
    wait_print((pid_t)r, "child");
    mt_stop();
    return 0;
}
