/* lm_handler printf|sscanf: raise(SIGUSR1) whose handler calls printf or sscanf (issue 10's libc
 * matrix). Compiled with each libc's own headers: with glibc >= 2.38 and _GNU_SOURCE, sscanf
 * binds to __isoc23_sscanf. Prints what the handler read. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile int use_sscanf;
static volatile int got;

static void handler(int sig) {
    (void)sig;
    if (use_sscanf) {
        int x = 0;
        sscanf("42", "%d", &x);
        got = x;
    } else {
        printf("in handler %d\n", (int)sizeof(int));
        fflush(stdout);
        got = 1;
    }
}

int main(int argc, char **argv) {
    struct sigaction sa;
    use_sscanf = argc > 1 && strcmp(argv[1], "sscanf") == 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        return 2;
    raise(SIGUSR1);
    printf("got=%d\n", got);
    return 0;
}
