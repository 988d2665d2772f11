/* sig_errno MODE: main sets errno = 7 and raises a signal whose handler changes errno to 99
 * (MODE "spoil": SIGUSR1; "sigterm": SIGTERM) or changes and restores it ("restore": SIGUSR1).
 * Main prints errno after the handler. */
#include "sig.h"

static void spoil(int sig) {
    (void)sig;
    errno = 99;
}

static void restore(int sig) {
    (void)sig;
    int saved = errno;
    errno = 99;
    (void)!write(-1, "", 0); /* EBADF */
    errno = saved;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "spoil";
    int sig = SIGUSR1;
    if (strcmp(mode, "restore") == 0) {
        install(SIGUSR1, restore, 0);
    } else if (strcmp(mode, "sigterm") == 0) {
        sig = SIGTERM;
        install(SIGTERM, spoil, 0);
    } else {
        install(SIGUSR1, spoil, 0);
    }
    errno = 7;
    raise(sig);
    int e = errno;
    printf("errno after the handler: %d\n", e);
    return 0;
}
