/* MT parent forks; the child mallocs, then execs /bin/true. */
#include "mt.h"

int main(void) {
    mt_start();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        void *p = v_malloc(40);
        if (p == NULL)
            _exit(3);
        execl("/bin/true", "true", (char *)NULL);
        _exit(5);
    }
    wait_print(pid, "child");
    mt_stop();
    return 0;
}
