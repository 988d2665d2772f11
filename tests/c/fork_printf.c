/* MT parent forks; the child uses printf (built with -D_FORTIFY_SOURCE=2 -O2, so the call is
 * __printf_chk). */
#include "mt.h"

static volatile int answer = 42;

int main(void) {
    mt_start();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        printf("child says %d\n", answer);
        fflush(stdout);
        _exit(0);
    }
    wait_print(pid, "child");
    mt_stop();
    return 0;
}
