/* sig_nested: the SIGUSR1 handler raises SIGUSR2, whose handler calls malloc (depth 2); back in
 * the SIGUSR1 handler, calloc (depth 1). */
#include "sig.h"

static volatile sig_atomic_t ok1, ok2;

static void h2(int sig) {
    void *p = s_malloc(24);
    ok2 = sig == SIGUSR2 && p != NULL;
}

static void h1(int sig) {
    raise(SIGUSR2);
    void *p = s_calloc(1, 24);
    ok1 = sig == SIGUSR1 && p != NULL;
}

int main(void) {
    install(SIGUSR1, h1, 0);
    install(SIGUSR2, h2, 0);
    raise(SIGUSR1);
    void *p = s_malloc(16); /* normal code again: not reported */
    printf("ok1=%d ok2=%d p=%d\n", (int)ok1, (int)ok2, p != NULL);
    return 0;
}
