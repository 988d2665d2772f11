/* sig_definite MODE:
 *  "definite": the main thread loops malloc/free for ~300 ms while a second thread sends it
 *              SIGUSR1 with pthread_kill every millisecond; the handler calls malloc, so some
 *              deliveries interrupt the main thread inside malloc/free.
 *  "latent":   an interval timer (setitimer, SIGALRM from the kernel) interrupts a pure
 *              computation loop that calls nothing; the handler calls malloc.
 * Leaves with exit(0), so that the library writes a summary. */
#include "sig.h"
#include <pthread.h>
#include <sys/time.h>
#include <time.h>

static pthread_t main_thread;
static volatile int stop;
static volatile sig_atomic_t handled;

static void h(int sig) {
    (void)sig;
    void *p = s_malloc(200); /* another tcache bin than the main loop's */
    s_free(p);
    handled++;
}

static void *sender(void *arg) {
    (void)arg;
    struct timespec ms = {0, 1000000};
    while (!stop) {
        pthread_kill(main_thread, SIGUSR1);
        nanosleep(&ms, NULL);
    }
    return NULL;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "definite";
    if (strcmp(mode, "definite") == 0) {
        install(SIGUSR1, h, SA_RESTART);
        main_thread = pthread_self();
        pthread_t t;
        if (pthread_create(&t, NULL, sender, NULL) != 0)
            return 2;
        double end = now() + 0.3;
        unsigned long loops = 0;
        while (now() < end || handled < 20) {
            for (int i = 0; i < 1000; i++) {
                void *p = malloc(64);
                *(volatile char *)p = 1;
                free(p);
            }
            loops++;
        }
        stop = 1;
        pthread_join(t, NULL);
        printf("handled>=20: %d, loops>0: %d\n", handled >= 20, loops > 0);
    } else {
        install(SIGALRM, h, 0);
        struct itimerval it = {{0, 2000}, {0, 2000}};
        setitimer(ITIMER_REAL, &it, NULL);
        volatile unsigned long x = 1;
        while (handled < 5)
            x = x * 6364136223846793005UL + 1442695040888963407UL;
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
        printf("handled>=5: %d\n", handled >= 5);
    }
    exit(0); /* through the interposed exit: the library writes its summary */
}
