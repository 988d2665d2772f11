/* fdbench N: N iterations of two fd-making calls that ask for close-on-exec (open(O_CLOEXEC),
 * dup3(O_CLOEXEC)), each fd closed again (close is not interposed). The class `fd` stubs always
 * take the slow path, which sends the call to a trampoline that notes its caller: tests/cost.rs
 * bounds what that costs per call. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    for (long i = 0; i < n; i++) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return 1;
        if (dup3(fd, 100, O_CLOEXEC) != 100) return 1;
        close(100);
        close(fd);
    }
    return 0;
}
