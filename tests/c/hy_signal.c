/* signal(SIGINT, handler): a portability finding. Argument "ign": signal(SIGINT, SIG_IGN) and
 * sigaction for the handler: clean. */
#include <signal.h>
#include <string.h>

static void h(int s) { (void)s; }

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "ign") == 0) {
        signal(SIGINT, SIG_IGN);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = h;
        sigaction(SIGINT, &sa, 0);
        return 0;
    }
    signal(SIGINT, h);
    return 0;
}
