/* A strict seccomp filter (read, write, exit_group, rt_sigreturn; anything else kills the
 * process), then unsafe calls: "handler" - in a SIGALRM handler (filter via prctl);
 * "forkchild" - in the child of a multi-threaded fork (filter via syscall(SYS_seccomp));
 * "sigaction" - the filter also allows rt_sigaction, and the program installs a handler under it;
 * "halt" - as "handler", run with halt_on_error=1: the process must exit 134, not die of SIGSYS. */
#define _GNU_SOURCE
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* A filter that allows only the system calls in `allow` and kills the process on any other. */
static void install_filter(int via_syscall, const int *allow, int n) {
    struct sock_filter f[16];
    int k = 0;
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (int i = 0; i < n; i++) /* jump over the remaining tests and the kill, to the allow */
        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, allow[i], n - i, 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog p = {k, f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("no_new_privs"); exit(2); }
    long r = via_syscall ? syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p)
                         : prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p);
    if (r != 0) { perror("seccomp"); exit(2); }
}

/* The strict filter: read, write, exit_group, rt_sigreturn. */
static void strict_filter(int via_syscall) {
    static const int allow[] = {__NR_read, __NR_write, __NR_exit_group, __NR_rt_sigreturn};
    install_filter(via_syscall, allow, 4);
}

/* The strict filter plus rt_sigaction (what the program's own sigaction() needs). */
static void sigaction_filter(void) {
    static const int allow[] = {__NR_read, __NR_write, __NR_exit_group, __NR_rt_sigreturn,
                                __NR_rt_sigaction};
    install_filter(0, allow, 5);
}

static volatile sig_atomic_t runs;
static void *volatile keep;

static void on_alarm(int sig) {
    (void)sig;
    keep = malloc(32); /* unsafe in a handler */
    runs++;
}

static void say(const char *s) { (void)!write(1, s, strlen(s)); }

static void *idle(void *a) { (void)a; pause(); return 0; }

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "sigaction") == 0) {
        sigaction_filter();
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        if (sigaction(SIGUSR1, &sa, 0) != 0) _exit(4);
        struct sigaction old;
        if (sigaction(SIGUSR1, 0, &old) != 0 || old.sa_handler != on_alarm) _exit(5);
        say("sigaction: survived\n");
        _exit(0);
    }
    if (argc > 1 && (strcmp(argv[1], "handler") == 0 || strcmp(argv[1], "halt") == 0)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, 0);
        free(malloc(64)); /* the heap exists before the filter (malloc's first brk) */
        struct itimerval it = {{0, 2000}, {0, 2000}};
        setitimer(ITIMER_REAL, &it, 0);
        strict_filter(0);
        while (runs < 3) {
        }
        say("handler: survived\n");
        _exit(0);
    }
    pthread_t t;
    pthread_create(&t, 0, idle, 0);
    fflush(stdout);
    free(malloc(64));
    pid_t pid = fork();
    if (pid == 0) {
        strict_filter(1);
        keep = malloc(48); /* unsafe in the child of a multi-threaded fork */
        say("child: survived\n");
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st))
        printf("child: signal %d\n", WTERMSIG(st));
    else
        printf("child: exit %d\n", WEXITSTATUS(st));
    return 0;
}
