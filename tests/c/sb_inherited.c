/* A seccomp filter that comes with the exec: "launch" installs a filter that kills the process on
 * a few system calls the library would make without knowing about a filter (process_vm_readv,
 * readlinkat, madvise) and allows everything else, then execs itself as
 * "target" (LD_PRELOAD is inherited: the library loads under the filter). The target's SIGALRM
 * handler calls malloc: the library must learn of the filter from /proc/self/status before its
 * first such call, report the malloc (stack read through its pipe reader), and let the program
 * finish. */
#define _GNU_SOURCE
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *volatile keep;
static void on_alarm(int sig) {
    (void)sig;
    keep = malloc(32); /* unsafe in a handler */
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "target") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        if (sigaction(SIGALRM, &sa, 0) != 0) return 4;
        raise(SIGALRM);
        printf("target: survived\n");
        return 0;
    }
    static const int deny[] = {__NR_process_vm_readv, __NR_readlinkat, __NR_madvise};
    const int n = sizeof deny / sizeof deny[0];
    struct sock_filter f[16];
    int k = 0;
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (int i = 0; i < n; i++) /* jump over the remaining tests and the allow, to the kill */
        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, deny[i], n - i, 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    struct sock_fprog p = {k, f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("no_new_privs"); return 2; }
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p) != 0) { perror("seccomp"); return 2; }
    fflush(stdout);
    execl(argv[0], argv[0], "target", (char *)0);
    perror("execl");
    return 3;
}
