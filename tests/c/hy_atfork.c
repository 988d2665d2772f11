/* A pthread_atfork child handler that calls malloc, in a multi-threaded program. Argument "safe":
 * the child handler only calls write (async-signal-safe). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int safe;
static void *volatile buf;

static void child_handler(void) {
    if (safe) { write(1, "", 0); return; }
    buf = malloc(64);
}

static void *spin(void *a) { (void)a; pause(); return 0; }

int main(int argc, char **argv) {
    safe = argc > 1 && strcmp(argv[1], "safe") == 0;
    pthread_atfork(0, 0, child_handler);
    pthread_t t;
    pthread_create(&t, 0, spin, 0);
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, 0, 0);
    return 0;
}
