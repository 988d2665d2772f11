/* cov_async_cancel [warm]: a worker thread switches to PTHREAD_CANCEL_ASYNCHRONOUS, calls malloc (unsafe:
 * reported with context "async-cancel"), then the three functions POSIX allows in that state
 * (pthread_setcancelstate, pthread_cancel on a helper thread, pthread_setcanceltype), switches back
 * to PTHREAD_CANCEL_DEFERRED and calls malloc again from another call site (normal context: not
 * reported). Nobody cancels the worker. Prints what happened; exit 0 when all went as planned.
 * glibc's first pthread_cancel dlopens libgcc_s (the loader then mallocs internally). With "warm"
 * main cancels a throwaway thread first, in normal context, so the region's pthread_cancel does
 * not load anything; without it, that load happens inside the region. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int helper_pipe[2];
static pthread_t helper;
static void *volatile sink1, *volatile sink2;
static int results[6];

static void *helper_fn(void *arg) {
    char c;
    (void)arg;
    for (;;)
        read(helper_pipe[0], &c, 1); /* a cancellation point; never gets data */
    return NULL;
}

static void *worker(void *arg) {
    int old = -1, st = -1, t2 = -1;
    (void)arg;
    results[0] = pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
    /* ---- asynchronous cancellation region ---- */
    sink1 = malloc(40);                                           /* reported */
    results[1] = pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &st); /* allowed */
    results[2] = pthread_cancel(helper);                           /* allowed */
    results[3] = pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &t2); /* allowed */
    results[4] = pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &t2);
    /* ---- deferred again ---- */
    sink2 = malloc(48); /* not reported */
    results[5] = (old == PTHREAD_CANCEL_DEFERRED && st == PTHREAD_CANCEL_ENABLE &&
                  t2 == PTHREAD_CANCEL_ASYNCHRONOUS)
                     ? 0
                     : 1;
    return NULL;
}

static void *sleeper(void *arg) {
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

int main(int argc, char **argv) {
    pthread_t w;
    void *hret = NULL;
    if (argc > 1 && strcmp(argv[1], "warm") == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, sleeper, NULL) != 0 || pthread_cancel(t) != 0 ||
            pthread_join(t, &hret) != 0 || hret != PTHREAD_CANCELED)
            return 5;
    }
    if (pipe(helper_pipe) != 0 || pthread_create(&helper, NULL, helper_fn, NULL) != 0)
        return 2;
    if (pthread_create(&w, NULL, worker, NULL) != 0 || pthread_join(w, NULL) != 0)
        return 3;
    if (pthread_join(helper, &hret) != 0)
        return 4;
    for (int i = 0; i < 6; i++)
        printf("result[%d]=%d\n", i, results[i]);
    printf("helper %s\n", hret == PTHREAD_CANCELED ? "canceled" : "not canceled");
    printf("allocated %s\n", sink1 && sink2 ? "yes" : "no");
    free(sink1);
    free(sink2);
    return 0;
}
