/* vfork_handler: a SIGUSR1 handler that only write(2)s runs inside a vfork child (the child
 * raises SIGUSR1 and _exit(0)s). The handler runs on the parent's stack and shares its memory. */
#include "mt.h"

static void h(int sig) {
    (void)sig;
    (void)!write(1, "handler ran\n", 12);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        return 2;
    pid_t pid = vfork();
    if (pid < 0)
        return 2;
    if (pid == 0) {
        raise(SIGUSR1);
        _exit(0);
    }
    wait_print(pid, "child");
    return 0;
}
