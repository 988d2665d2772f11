/* Constructor installs a SIGUSR1 handler with the raw rt_sigaction syscall (bypassing any
 * interposer), as a handler installed before libassafe loaded would be. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
struct ksa { void *handler; unsigned long flags; void *restorer; unsigned long mask; };
__attribute__((naked)) static void restorer(void) { __asm__("mov $15, %eax\n\tsyscall"); }
static void h(int s) { void *(*volatile m)(size_t) = malloc; (void)s; free(m(8)); write(1, "handled\n", 8); }
__attribute__((constructor)) static void install(void) {
    struct ksa a = { (void *)h, 0x04000000 /* SA_RESTORER */, (void *)restorer, 0 };
    syscall(SYS_rt_sigaction, SIGUSR1, &a, NULL, 8);
}
