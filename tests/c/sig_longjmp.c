/* sig_longjmp MODE: the SIGUSR1 handler calls calloc (reported) and then leaves with
 * siglongjmp (MODE "siglongjmp") or longjmp ("longjmp") back to main, which then calls malloc,
 * strdup and printf in normal code (not reported). Done three times; then a handler that returns
 * normally and calls nothing unsafe, and malloc again. */
#include "sig.h"
#include <setjmp.h>

static sigjmp_buf senv;
static jmp_buf env;
static int use_sig;
static volatile sig_atomic_t jumps;

static void h(int sig) {
    void *p = s_calloc(1, 32);
    (void)p;
    jumps++;
    if (use_sig)
        siglongjmp(senv, sig);
    else
        longjmp(env, sig);
}

static void quiet(int sig) { (void)sig; }

__attribute__((noinline)) static int deep(int n) {
    volatile char pad[256];
    pad[0] = (char)n;
    if (n > 0)
        return deep(n - 1) + pad[0];
    raise(SIGUSR1);
    return -1000; /* not reached */
}

int main(int argc, char **argv) {
    use_sig = argc > 1 && strcmp(argv[1], "siglongjmp") == 0;
    install(SIGUSR1, h, SA_NODEFER);
    for (int round = 0; round < 3; round++) {
        int r = use_sig ? sigsetjmp(senv, 1) : setjmp(env);
        if (r == 0) {
            deep(round * 5); /* jump from different depths */
            printf("not reached\n");
            return 3;
        }
        void *p = s_malloc(64);
        char *d = strdup("after the jump");
        printf("round %d: back in main with %d, %s, p=%d\n", round, r, d, p != NULL);
        free(d);
    }
    install(SIGUSR1, quiet, 0);
    raise(SIGUSR1);
    void *q = s_malloc(100);
    printf("jumps=%d q=%d\n", (int)jumps, q != NULL);
    return 0;
}
