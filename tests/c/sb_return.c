/* Six handler runs (SIGUSR1 three times, SIGUSR2 three times), each an unsafe call, then a return
 * from main: the summary must say 6 and name both signals. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static void *volatile keep;
static void on_sig(int sig) { (void)sig; keep = malloc(16); }

int main(void) {
    signal(SIGUSR1, on_sig);
    signal(SIGUSR2, on_sig);
    for (int i = 0; i < 3; i++) {
        raise(SIGUSR1);
        raise(SIGUSR2);
    }
    printf("done\n");
    return 0;
}
