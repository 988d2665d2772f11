/* A preloaded library (after libassafe) that defines getenv as an IFUNC: its resolver announces
 * itself on stdout, so the test sees when it runs (libassafe must run it at load, in normal
 * context, never lazily in a signal handler or a child). */
#include <string.h>
#include <unistd.h>

static char value[] = "ifunc";

static char *my_getenv(const char *name) {
    (void)name;
    return value;
}

static char *(*resolve_getenv(void))(const char *) {
    (void)!write(1, "resolver\n", 9);
    return my_getenv;
}

char *getenv(const char *name) __attribute__((ifunc("resolve_getenv")));
