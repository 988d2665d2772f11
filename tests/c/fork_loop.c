/* MT parent forks a worker that calls malloc+free 100000 times from one call site each. */
#include "mt.h"

#define N 100000

int main(void) {
    mt_start();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        unsigned long sum = 0;
        for (int i = 0; i < N; i++) {
            char *p = v_malloc(16 + (i & 7));
            if (p == NULL)
                _exit(3);
            p[0] = (char)i;
            sum += (unsigned char)p[0];
            v_free(p);
        }
        _exit(sum == 0 ? 4 : 0);
    }
    wait_print(pid, "worker");
    mt_stop();
    return 0;
}
