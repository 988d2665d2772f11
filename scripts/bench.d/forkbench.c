/* fork microbenchmark: N times fork a child that calls malloc/free and _exit, and wait for it,
 * from a process with a second thread (the case assafe checks).  argv[1] = N. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void *idle(void *a) { pause(); return a; }
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 2000;
    pthread_t t;
    pthread_create(&t, 0, idle, 0);
    for (long i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0)
            _exit(0);
        int st;
        waitpid(p, &st, 0);
    }
    printf("%ld\n", n);
    return 0;
}
