/* cov_versions normal|child: calls old (non-default) versions of libc functions, as a binary
 * linked against an old glibc would.
 *   skipped by the library (distinct code per version):
 *     realpath@GLIBC_2.2.5   the old one rejects resolved == NULL with EINVAL; the new one mallocs
 *     memcpy@GLIBC_2.2.5     the old one behaves like memmove (overlap-safe)
 *     pthread_cond_*@GLIBC_2.2.5  the pre-NPTL-2.3.2 condvar ABI (allocates the real condvar)
 *   interposed (versions are the same code):
 *     dlerror@GLIBC_2.2.5, pthread_create@GLIBC_2.2.5 (libdl/libpthread moved into libc in 2.34)
 * "normal" prints what each returned; "child" calls the interposed old versions in the child of
 * a multi-threaded fork (reported) and the parent prints the child's status. */
#include "mt.h"
#include <errno.h>
#include <limits.h>

__asm__(".symver realpath_old,realpath@GLIBC_2.2.5");
__asm__(".symver memcpy_old,memcpy@GLIBC_2.2.5");
__asm__(".symver cond_init_old,pthread_cond_init@GLIBC_2.2.5");
__asm__(".symver cond_destroy_old,pthread_cond_destroy@GLIBC_2.2.5");
__asm__(".symver cond_wait_old,pthread_cond_wait@GLIBC_2.2.5");
__asm__(".symver cond_signal_old,pthread_cond_signal@GLIBC_2.2.5");
__asm__(".symver cond_broadcast_old,pthread_cond_broadcast@GLIBC_2.2.5");
__asm__(".symver dlerror_old,dlerror@GLIBC_2.2.5");
__asm__(".symver pthread_create_old,pthread_create@GLIBC_2.2.5");

extern char *realpath_old(const char *, char *);
extern void *memcpy_old(void *, const void *, size_t);
extern int cond_init_old(pthread_cond_t *, const pthread_condattr_t *);
extern int cond_destroy_old(pthread_cond_t *);
extern int cond_wait_old(pthread_cond_t *, pthread_mutex_t *);
extern int cond_signal_old(pthread_cond_t *);
extern int cond_broadcast_old(pthread_cond_t *);
extern char *dlerror_old(void);
extern int pthread_create_old(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static void *(*volatile v_memcpy_old)(void *, const void *, size_t) = memcpy_old;

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static int turn, rounds_done;
static volatile int thread_ran;

/* Ping-pong between two threads through one old-ABI condition variable. */
static void *ponger(void *arg) {
    (void)arg;
    pthread_mutex_lock(&m);
    for (int i = 0; i < 100; i++) {
        while (turn != 1)
            cond_wait_old(&cv, &m);
        turn = 0;
        rounds_done++;
        cond_signal_old(&cv);
    }
    pthread_mutex_unlock(&m);
    return NULL;
}

static void *ran(void *arg) {
    (void)arg;
    thread_ran = 1;
    return NULL;
}

static void normal(void) {
    char buf[PATH_MAX];
    errno = 0;
    char *o = realpath_old("/", NULL);
    printf("realpath@GLIBC_2.2.5(\"/\", NULL) = %s errno=%s\n", o ? o : "NULL",
           errno == EINVAL ? "EINVAL" : errno ? "other" : "0");
    o = realpath_old("/proc/self/../self/.", buf);
    printf("realpath@GLIBC_2.2.5(buf) = %s\n", o ? (strncmp(o, "/proc/", 6) == 0 ? "/proc/<pid>" : o) : "NULL");
    char *n = realpath("/", NULL);
    printf("realpath@@GLIBC_2.3(\"/\", NULL) = %s\n", n ? n : "NULL");
    free(n);

    char s[64] = "0123456789abcdefghijklmnopqrstuvwxyz";
    v_memcpy_old(s + 3, s, 30); /* overlapping, forwards: memmove semantics in the old version */
    printf("memcpy@GLIBC_2.2.5 overlap = %s\n", s);

    if (cond_init_old(&cv, NULL) != 0) {
        printf("cond_init_old failed\n");
        return;
    }
    pthread_t t;
    pthread_create(&t, NULL, ponger, NULL);
    pthread_mutex_lock(&m);
    for (int i = 0; i < 100; i++) {
        turn = 1;
        cond_broadcast_old(&cv);
        while (turn != 0)
            cond_wait_old(&cv, &m);
    }
    pthread_mutex_unlock(&m);
    pthread_join(t, NULL);
    printf("pthread_cond_*@GLIBC_2.2.5 rounds = %d destroy = %d\n", rounds_done, cond_destroy_old(&cv));

    char *e = dlerror_old();
    printf("dlerror@GLIBC_2.2.5 = %s\n", e ? e : "NULL");
    pthread_t t2;
    int r = pthread_create_old(&t2, NULL, ran, NULL);
    pthread_join(t2, NULL);
    printf("pthread_create@GLIBC_2.2.5 = %d ran = %d\n", r, thread_ran);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        mt_start();
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            return 2;
        if (pid == 0) {
            char *e = dlerror_old();
            pthread_t t;
            if (e != NULL || pthread_create_old(&t, NULL, ran, NULL) != 0 ||
                pthread_join(t, NULL) != 0 || !thread_ran)
                _exit(3);
            _exit(0);
        }
        wait_print(pid, "child");
        mt_stop();
        return 0;
    }
    normal();
    return 0;
}
