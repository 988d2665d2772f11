/* process_vm_readv answers ENOSYS (as under qemu-user), through a filter installed with a raw
 * system call the library does not see; then an unsafe call in a SIGUSR1 handler: the unwinder
 * must fall back to its pipe reader and still find the handler's callers. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static long raw3(long n, long a, long b, long c) {
    long r;
    register long r10 __asm__("r10") = 0;
    register long r8 __asm__("r8") = 0;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return r;
}

static void *volatile keep;
static void on_usr1(int sig) { (void)sig; keep = malloc(24); }

int main(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_readv, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog p = {sizeof f / sizeof f[0], f};
    if (raw3(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0) != 0) return 2;
    if (raw3(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&p) != 0) return 3;
    signal(SIGUSR1, on_usr1);
    raise(SIGUSR1);
    printf("ok\n");
    return 0;
}
