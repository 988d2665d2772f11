/* load_ifunc: the first call of getenv is made in a signal handler; with load_ifunc_lib.c
 * preloaded after libassafe, getenv's next definition is an IFUNC outside glibc. */
#include "sig.h"

static char *(*volatile p_getenv)(const char *) = getenv;
static const char *volatile got;

static void handler(int sig) {
    (void)sig;
    got = p_getenv("LOAD_IFUNC");
}

int main(void) {
    say("main start\n");
    install(SIGUSR1, handler, 0);
    raise(SIGUSR1);
    printf("handler %s\n", got != NULL ? got : "(null)");
    return 0;
}
