/* lm_weak: "is it there?" probes that must answer the same with and without the preload (issue
 * 10): a weak reference to __pthread_key_create (libgcc_s's and libstdc++'s "is libpthread
 * loaded?" test; on glibc < 2.34 the name lives in libpthread, which this program does not link)
 * and dlsym probes of names an older glibc lacks (arc4random: glibc 2.36) or keeps in libpthread
 * (pthread_once before 2.34). Link with -ldl on glibc < 2.34, never with -pthread. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

extern int __pthread_key_create(void *, void (*)(void *)) __attribute__((weak));

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "call") == 0) {
        /* Calls arc4random through whatever dlsym finds (under a library built for a newer
         * glibc, its stub; glibc 2.31 has no arc4random): must fail cleanly, not crash. */
        unsigned (*f)(void) = (unsigned (*)(void))dlsym(RTLD_DEFAULT, "arc4random");
        if (!f) {
            printf("arc4random: absent\n");
            return 0;
        }
        errno = 0;
        unsigned v = f();
        printf("arc4random: %s\n", v == (unsigned)-1 && errno == ENOSYS ? "ENOSYS" : "a number");
        return 0;
    }
    printf("__pthread_key_create: %s\n", __pthread_key_create ? "present" : "absent");
    const char *names[] = {"arc4random", "pthread_once", "pthread_key_create", "pthread_create", "__isoc23_sscanf",
                           "free_sized"};
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        printf("%s: %s\n", names[i], dlsym(RTLD_DEFAULT, names[i]) ? "present" : "absent");
    return 0;
}
