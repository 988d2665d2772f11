/* lm_side_plugin: a plugin linked -pthread, dlopen'ed by lm_side ("late"): it makes the second
 * thread (pthread_create, through the preload's hidden versioned stub once libpthread is loaded
 * by this dlopen) and, in the fork child, calls sem_wait. Build: -shared -fPIC -pthread. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <unistd.h>

static int fds[2];
static pthread_t t;
static sem_t sem;

static void *blocker(void *arg) {
    char c;
    (void)arg;
    while (read(fds[0], &c, 1) < 0) {
    }
    return NULL;
}

int side_start(void) {
    sem_init(&sem, 0, 1);
    if (pipe(fds) != 0 || pthread_create(&t, NULL, blocker, NULL) != 0)
        return 1;
    return 0;
}

int side_child(void) {
    return sem_wait(&sem) != 0;
}

int side_stop(void) {
    if (write(fds[1], "x", 1) != 1 || pthread_join(t, NULL) != 0)
        return 1;
    return 0;
}
