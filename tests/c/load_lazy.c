/* load_lazy: each interposed function below is called for the first time in the process in one
 * context, so that libassafe resolves its real function there, on first use:
 *   random      four threads at once (normal context: not reported)
 *   getenv      a signal handler (reported in signal-handler)
 *   strdup      the child of a multi-threaded fork (reported in fork-child)
 *   localeconv  a vfork child (reported in vfork-child)
 * Then the main thread calls each again (normal context: not reported). The calls go through
 * volatile pointers, bound when the program is loaded, so no lazy PLT binding runs first. */
#include "mt.h"
#include <locale.h>

static long (*volatile p_random)(void) = random;
static char *(*volatile p_getenv)(const char *) = getenv;
static char *(*volatile p_strdup)(const char *) = strdup;
static struct lconv *(*volatile p_localeconv)(void) = localeconv;
static volatile sig_atomic_t handler_result;

static void *racer(void *arg) {
    long s = 0;
    (void)arg;
    for (int i = 0; i < 1000; i++)
        s += p_random() & 1;
    return (void *)s;
}

static void handler(int sig) {
    (void)sig;
    handler_result = p_getenv("ASSAFE_OPTIONS") != NULL ? 1 : 2;
}

int main(void) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, racer, NULL) != 0) {
            perror("pthread_create");
            return 2;
        }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("threads ok\n");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("handler %d\n", (int)handler_result);
    fflush(stdout);

    mt_start();
    pid_t pid = fork();
    if (pid == 0) {
        char *p = p_strdup("x");
        _exit(p != NULL && p[0] == 'x' ? 0 : 3);
    }
    wait_print(pid, "fork child");
    mt_stop();

    pid = vfork();
    if (pid == 0) {
        struct lconv *l = p_localeconv();
        _exit(l != NULL && l->decimal_point != NULL ? 0 : 3);
    }
    wait_print(pid, "vfork child");

    const char *v = p_getenv("ASSAFE_OPTIONS");
    char *q = p_strdup(v != NULL ? "set" : "unset");
    printf("main %s %d %d\n", q, p_localeconv()->decimal_point[0] == '.', p_random() >= 0);
    free(q);
    return 0;
}
