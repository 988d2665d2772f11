/* A preloaded library whose constructor calls malloc, possibly before libassafe's constructor. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((constructor)) static void early(void) {
    void *(*volatile m)(size_t) = malloc;
    char *p = m(64);
    snprintf(p, 64, "ctor malloc ok\n");
    write(1, p, 15);
    free(p);
}
