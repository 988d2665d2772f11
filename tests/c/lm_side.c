/* lm_side: functions that live only in libpthread/libdl/librt before glibc 2.34 (issue 10),
 * called in the child of a multi-threaded fork. Link with -pthread -ldl -lrt.
 *   lm_side start        the side libraries are loaded at start (DT_NEEDED): the child calls
 *                        pthread_rwlock_wrlock, sem_wait (after a sem_post: never blocks) and
 *                        dlopen, each of which must be reported
 *   lm_side late PLUGIN  the process makes its second thread through PLUGIN (lm_side_plugin.so,
 *                        linked -pthread), dlopen'ed: when this program is linked without
 *                        -pthread, libpthread is loaded only then; the child then calls the
 *                        plugin's side_child(), which calls sem_wait (reported) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef LM_SIDE_START
static int fds[2];
static void *blocker(void *arg) {
    char c;
    (void)arg;
    while (read(fds[0], &c, 1) < 0) {
    }
    return NULL;
}
#endif

static int report(pid_t pid) {
    int st = 0;
    waitpid(pid, &st, 0);
    printf("child: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "late") == 0) {
        void *h = dlopen(argv[2], RTLD_NOW);
        if (!h) {
            printf("dlopen: %s\n", dlerror());
            return 1;
        }
        int (*start)(void) = (int (*)(void))dlsym(h, "side_start");
        int (*child)(void) = (int (*)(void))dlsym(h, "side_child");
        int (*stop)(void) = (int (*)(void))dlsym(h, "side_stop");
        if (start() != 0)
            return 1;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0)
            _exit(child());
        report(pid);
        return stop();
    }
#ifdef LM_SIDE_START
    pthread_t t;
    if (pipe(fds) != 0 || pthread_create(&t, NULL, blocker, NULL) != 0)
        return 1;
    pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    sem_t sem;
    sem_init(&sem, 0, 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int bad = pthread_rwlock_wrlock(&rw) != 0;
        sem_post(&sem);
        bad |= sem_wait(&sem) != 0;
        bad |= dlopen("libm.so.6", RTLD_NOW) == NULL;
        _exit(bad);
    }
    report(pid);
    if (write(fds[1], "x", 1) != 1 || pthread_join(t, NULL) != 0)
        return 1;
    return 0;
#else
    return 2;
#endif
}
