/* MT parent calls _Fork() (glibc 2.34+: no atfork handlers); the child mallocs. */
#include "mt.h"

int main(void) {
    mt_start();
    pid_t pid = _Fork();
    if (pid < 0) {
        perror("_Fork");
        return 2;
    }
    if (pid == 0) {
        void *p = v_malloc(48);
        _exit(p == NULL ? 3 : 0);
    }
    wait_print(pid, "child");
    mt_stop();
    return 0;
}
