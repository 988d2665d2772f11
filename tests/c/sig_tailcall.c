/* sig_tailcall: the SIGUSR1 handler's last statement is a printf call, which gcc -O2 compiles
 * as a tail call (jmp printf): the handler's frame is gone when printf runs, and printf returns
 * straight to whoever called the handler. */
#include "sig.h"

static void h(int sig) { printf("handler: signal %d\n", sig); }

int main(void) {
    install(SIGUSR1, h, 0);
    raise(SIGUSR1);
    printf("main: done\n");
    return 0;
}
