/* malloc/free microbenchmark: N iterations of malloc(32) + free, i.e. 2*N interposed calls. */
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    void *(*volatile m)(size_t) = malloc;
    void (*volatile f)(void *) = free;
    unsigned long acc = 0;
    for (long i = 0; i < n; i++) {
        char *p = m(32);
        acc += (unsigned long)p & 0xff;
        f(p);
    }
    printf("%lu\n", acc);
    return 0;
}
