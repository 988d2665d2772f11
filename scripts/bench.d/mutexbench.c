/* pthread_mutex_lock/unlock microbenchmark: 2*N interposed calls. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    int (*volatile lock)(pthread_mutex_t *) = pthread_mutex_lock;
    int (*volatile unlock)(pthread_mutex_t *) = pthread_mutex_unlock;
    for (long i = 0; i < n; i++) { lock(&mu); unlock(&mu); }
    printf("%ld\n", n);
    return 0;
}
