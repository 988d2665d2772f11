/* rel_fork_storm [FORKERS] [FORKS_EACH]: FORKERS threads (default 8) each fork FORKS_EACH times
 * (default 1000) while two more threads malloc/free in a loop. Every child makes exactly three
 * async-signal-unsafe calls from three distinct call sites (malloc, getenv, opendir, through
 * volatile pointers) and _exit(0)s. The parent reaps each child by pid and prints one line per
 * child, "child <pid> <status>", then "forks=N ok=M". Exit status 0 only when every child exited
 * with status 0. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *(*volatile v_malloc)(size_t) = malloc;
static void (*volatile v_free)(void *) = free;
static char *(*volatile v_getenv)(const char *) = getenv;
static DIR *(*volatile v_opendir)(const char *) = opendir;

static int forks_each;
static atomic_int stop;
static pid_t *pids;
static int *statuses;

static void *churn(void *arg) {
    size_t seed = (size_t)arg;
    while (!atomic_load(&stop)) {
        void *p[16];
        for (int i = 0; i < 16; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            p[i] = v_malloc(16 + (seed >> 40) % 4000);
        }
        for (int i = 0; i < 16; i++)
            v_free(p[i]);
    }
    return NULL;
}

static void *forker(void *arg) {
    long id = (long)arg;
    for (int i = 0; i < forks_each; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            if (errno == EAGAIN) {
                i--;
                usleep(1000);
                continue;
            }
            _exit(90);
        }
        if (pid == 0) {
            /* Three unsafe calls, three distinct call sites. */
            void *p = v_malloc(32);
            char *e = v_getenv("PATH");
            DIR *d = v_opendir("/");
            _exit(p != NULL && d != NULL && (e != NULL || e == NULL) ? 0 : 3);
        }
        int st;
        pid_t w;
        while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
        }
        if (w != pid)
            _exit(91);
        pids[id * forks_each + i] = pid;
        statuses[id * forks_each + i] = st;
    }
    return NULL;
}

int main(int argc, char **argv) {
    int forkers = argc > 1 ? atoi(argv[1]) : 8;
    forks_each = argc > 2 ? atoi(argv[2]) : 1000;
    int total = forkers * forks_each;
    pids = calloc(total, sizeof *pids);
    statuses = calloc(total, sizeof *statuses);
    pthread_t c[2], f[64];
    for (long i = 0; i < 2; i++)
        if (pthread_create(&c[i], NULL, churn, (void *)(i + 1)) != 0)
            return 2;
    for (long i = 0; i < forkers; i++)
        if (pthread_create(&f[i], NULL, forker, (void *)i) != 0)
            return 2;
    for (int i = 0; i < forkers; i++)
        pthread_join(f[i], NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(c[i], NULL);
    int ok = 0;
    for (int i = 0; i < total; i++) {
        printf("child %d %d\n", (int)pids[i], statuses[i]);
        if (WIFEXITED(statuses[i]) && WEXITSTATUS(statuses[i]) == 0)
            ok++;
    }
    printf("forks=%d ok=%d\n", total, ok);
    return ok == total ? 0 : 1;
}
