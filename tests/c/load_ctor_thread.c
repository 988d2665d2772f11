/* A preloaded library whose constructor starts a thread that makes the process's first calls of
 * interposed functions (possibly before libassafe's constructor has run), and joins it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *(*volatile p_strdup)(const char *) = strdup;
static void (*volatile p_free)(void *) = free;

static void *run(void *arg) {
    (void)arg;
    char *p = p_strdup("ctor thread ok\n");
    (void)!write(1, p, strlen(p));
    p_free(p);
    return NULL;
}

__attribute__((constructor)) static void early(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, run, NULL) == 0)
        pthread_join(t, NULL);
}
