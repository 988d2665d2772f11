/* sig_altstack SIZE: runs a SIGUSR1 handler that calls printf on an alternate signal stack of
 * SIZE bytes ("sigstksz": SIGSTKSZ, "16k": 16 KiB, "tiny": 2 * MINSIGSTKSZ). The handler
 * checks that it runs on that stack. */
#include "sig.h"

static char *stack_lo;
static size_t stack_size;
static volatile sig_atomic_t on_alt, runs;

static void h(int sig) {
    char here;
    on_alt = &here >= stack_lo && &here < stack_lo + stack_size;
    runs++;
    printf("handler: sig=%d\n", sig);
}

int main(int argc, char **argv) {
    const char *size = argc > 1 ? argv[1] : "16k";
    if (strcmp(size, "sigstksz") == 0)
        stack_size = SIGSTKSZ;
    else if (strcmp(size, "tiny") == 0)
        stack_size = 2 * MINSIGSTKSZ;
    else
        stack_size = 16384;
    stack_lo = malloc(stack_size);
    stack_t ss = {.ss_sp = stack_lo, .ss_size = stack_size, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        printf("sigaltstack failed: %s\n", strerror(errno));
        return 2;
    }
    printf("stack size: %zu\n", stack_size);
    fflush(stdout);
    install(SIGUSR1, h, SA_ONSTACK);
    raise(SIGUSR1);
    raise(SIGUSR1);
    printf("main: runs=%d on_alt=%d\n", (int)runs, (int)on_alt);
    return 0;
}
