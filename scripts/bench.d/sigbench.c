/* Signal delivery microbenchmark: N self-sent SIGUSR1 into a handler that only counts.
 * argv[2] = "info" installs it with SA_SIGINFO. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static volatile sig_atomic_t count;
static void plain(int s) { (void)s; count++; }
static void info(int s, siginfo_t *si, void *uc) { (void)s; (void)si; (void)uc; count++; }
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    struct sigaction a;
    memset(&a, 0, sizeof a);
    if (argc > 2 && strcmp(argv[2], "info") == 0) {
        a.sa_sigaction = info;
        a.sa_flags = SA_SIGINFO;
    } else {
        a.sa_handler = plain;
    }
    sigaction(SIGUSR1, &a, NULL);
    for (long i = 0; i < n; i++) raise(SIGUSR1);
    printf("%ld\n", (long)count);
    return 0;
}
