/* vfork_many [N]: vforks N (default 1000) times from recursion depths 0..16 (each frame with
 * its own stack padding); child k _exit(k % 251)s; the parent sums the exit codes and prints the
 * sum. Multi-threaded while it does so. */
#include "mt.h"

static long total;

__attribute__((noinline)) static int spawn_at(int depth, int k) {
    volatile char pad[96 + 16 * (depth % 5)];
    pad[0] = (char)k;
    if (depth > 0)
        return spawn_at(depth - 1, k) + (pad[0] - (char)k);
    pid_t pid = vfork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        _exit(k % 251);
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    mt_start();
    for (int k = 0; k < n; k++) {
        int code = spawn_at(k % 17, k);
        if (code < 0) {
            printf("vfork %d failed\n", k);
            return 3;
        }
        total += code;
    }
    mt_stop();
    printf("children=%d sum=%ld\n", n, total);
    return 0;
}
