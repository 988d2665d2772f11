/* arm_smoke MODE: small programs for the aarch64 smoke suite (tests/aarch64.rs, run under
 * qemu-aarch64).
 *   variadic    printf with 9 int/double arguments, and with 9 ints and 9 doubles (stack
 *               arguments too), in normal code (fast path) and in a SIGUSR1 handler (slow path:
 *               reported); every line must come out unchanged.
 *   handler     the SIGUSR1 handler calls printf (reported).
 *   vfork_exec  the vfork child only execs (/bin/true, clean environment): nothing reported.
 *   vfork_malloc the vfork child calls malloc (reported), then _exit.
 *   inner_jump  the SIGUSR1 handler siglongjmps to a sigsetjmp of its own (it stays in the
 *               handler), then calls malloc: still reported (the jmp_buf's target stack pointer,
 *               unmangled with glibc's pointer guard, is inside the handler).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *(*volatile v_malloc)(size_t) = malloc;

static void print9(const char *who) {
    printf("%s mix: %d %.2f %d %.2f %d %.2f %d %.2f %d\n", who, 1, 2.25, 3, 4.5, 5, 6.75, 7, 8.125,
           9);
    printf("%s ints: %d %d %d %d %d %d %d %d %d doubles: %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f "
           "%.1f\n",
           who, 11, 12, 13, 14, 15, 16, 17, 18, 19, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5);
    fflush(stdout);
}

static void on_usr1_variadic(int sig) {
    (void)sig;
    print9("handler");
}

static void on_usr1_printf(int sig) {
    printf("in handler %d\n", sig);
    fflush(stdout);
}

static __attribute__((noinline)) void jump_back(sigjmp_buf *b) { siglongjmp(*b, 1); }

static void on_usr1_inner_jump(int sig) {
    sigjmp_buf b;
    (void)sig;
    if (sigsetjmp(b, 0) == 0)
        jump_back(&b);
    void *p = v_malloc(48);
    printf("inner jump done %d\n", p != NULL);
    fflush(stdout);
}

static void install(void (*h)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0) {
        perror("sigaction");
        exit(2);
    }
}

static int wait_child(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "variadic") == 0) {
        print9("normal");
        install(on_usr1_variadic);
        raise(SIGUSR1);
        print9("after");
        return 0;
    }
    if (strcmp(mode, "handler") == 0) {
        install(on_usr1_printf);
        raise(SIGUSR1);
        return 0;
    }
    if (strcmp(mode, "inner_jump") == 0) {
        install(on_usr1_inner_jump);
        raise(SIGUSR1);
        return 0;
    }
    if (strcmp(mode, "vfork_exec") == 0 || strcmp(mode, "vfork_malloc") == 0) {
        int do_malloc = strcmp(mode, "vfork_malloc") == 0;
        pid_t pid = vfork();
        if (pid < 0) {
            perror("vfork");
            return 2;
        }
        if (pid == 0) {
            if (do_malloc) {
                void *p = v_malloc(32);
                _exit(p == NULL ? 3 : 0);
            }
            char *args[] = {"true", NULL};
            char *env[] = {NULL};
            execve("/bin/true", args, env);
            _exit(127);
        }
        printf("child: %d\n", wait_child(pid));
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
