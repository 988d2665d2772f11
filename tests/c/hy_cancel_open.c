/* pthread_cancel of a thread blocked in open() (a cancellation point, interposed: class fd) on a
 * FIFO without a writer: the forced unwind passes through the library's frame, the cleanup
 * handler runs, the thread ends cancelled. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static void cleanup(void *a) {
    (void)a;
    if (write(1, "cleanup ran\n", 12) < 0) _exit(3);
}

static void *blocked(void *path) {
    pthread_cleanup_push(cleanup, 0);
    int fd = open((const char *)path, O_RDONLY);
    printf("opened %d\n", fd);
    pthread_cleanup_pop(0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    unlink(argv[1]);
    if (mkfifo(argv[1], 0600)) return 1;
    pthread_t th;
    pthread_create(&th, 0, blocked, argv[1]);
    usleep(200000);
    pthread_cancel(th);
    void *r;
    pthread_join(th, &r);
    printf("joined, cancelled=%d\n", r == PTHREAD_CANCELED);
    return 0;
}
