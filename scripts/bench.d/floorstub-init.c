/* Fills the floor stub's slots (see floorstub.S). */
#include <stddef.h>
extern void *real_malloc __attribute__((visibility("hidden"))), *real_free __attribute__((visibility("hidden")));
extern void *__libc_malloc(size_t); extern void __libc_free(void*);
__attribute__((constructor)) static void init(void) { real_malloc = (void*)__libc_malloc; real_free = (void*)__libc_free; }
