/* fdbench N: N iterations of two fd-making calls that ask for close-on-exec (open(O_CLOEXEC),
 * dup3(O_CLOEXEC)), each fd closed again (close is not interposed): their stubs test the flag and
 * take the fast path. Built with -DPLAIN: open() and dup() without close-on-exec, which the slow
 * path sends to a trampoline that notes the caller. tests/cost.rs bounds both per call. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    for (long i = 0; i < n; i++) {
#ifdef PLAIN
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) return 1;
        int d = dup(fd);
        if (d < 0) return 1;
        close(d);
#else
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return 1;
        if (dup3(fd, 100, O_CLOEXEC) != 100) return 1;
        close(100);
#endif
        close(fd);
    }
    return 0;
}
