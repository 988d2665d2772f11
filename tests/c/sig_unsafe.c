/* sig_unsafe MODE [exit]: raises SIGUSR1 whose handler does MODE: printf, malloc, syslog (unsafe)
 * or flag (sets a volatile sig_atomic_t), write (write(2) only): safe. Then prints in normal
 * code, and returns from main (or, with "exit", calls exit(0) itself). */
#include "sig.h"
#include <syslog.h>

static const char *mode;
static volatile sig_atomic_t flag, runs;

static void handler(int sig) {
    if (strcmp(mode, "printf") == 0) {
        printf("handler: signal %d\n", sig);
    } else if (strcmp(mode, "malloc") == 0) {
        void *p = s_malloc(48);
        flag = p != NULL;
        /* leaked on purpose: only malloc is the subject here */
    } else if (strcmp(mode, "syslog") == 0) {
        syslog(LOG_DEBUG, "assafe test: signal %d", sig);
        flag = 1;
    } else if (strcmp(mode, "flag") == 0) {
        flag = 1;
    } else if (strcmp(mode, "write") == 0) {
        say("handler: write\n");
        flag = 1;
    }
    runs++; /* also keeps the calls above from being compiled as tail calls */
}

int main(int argc, char **argv) {
    mode = argc > 1 ? argv[1] : "printf";
    install(SIGUSR1, handler, 0);
    raise(SIGUSR1);
    fflush(stdout);
    printf("main: flag=%d runs=%d\n", (int)flag, (int)runs);
    if (argc > 2 && strcmp(argv[2], "exit") == 0)
        exit(0);
    return 0;
}
