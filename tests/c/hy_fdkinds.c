/* fd leaks other than fork + pipe(): argv[1] chooses
 *   socket        socket() without SOCK_CLOEXEC, then fork + exec: the socket leaks (reported)
 *   socket-cloexec  socket(SOCK_CLOEXEC): clean
 *   vfork         pipe() then vfork + exec: the write end leaks into the vfork child's program
 *   vfork-cloexec pipe2(O_CLOEXEC) then vfork + exec: clean
 *   dup2-into-place pipe(), the child dup2's the write end to fd 5 for the program and closes
 *                 the pipe's own fds: deliberate, clean
 *   child-made    the child itself makes a pipe without O_CLOEXEC and execs: not inherited
 *                 from the parent, clean
 *   file          open() without O_CLOEXEC, then fork + exec: the file leaks (reported)
 *   named         pipe(), then fork + exec of a program whose arguments name both fds
 *                 (`--in 3 --out=4`, as gpg's --status-fd N): handed over on purpose, clean
 * The exec'd program is `true`. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int mode(const char *m, const char *want) { return strcmp(m, want) == 0; }

int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "socket";
    int p[2] = {-1, -1};
    pid_t pid;
    if (mode(m, "socket") || mode(m, "socket-cloexec")) {
        int s = socket(AF_UNIX, SOCK_STREAM | (mode(m, "socket") ? 0 : SOCK_CLOEXEC), 0);
        if (s < 0) return 1;
    } else if (mode(m, "vfork") || mode(m, "vfork-cloexec")) {
        if (mode(m, "vfork") ? pipe(p) : pipe2(p, O_CLOEXEC)) return 1;
        pid = vfork();
        if (pid == 0) {
            execlp("true", "true", (char *)0);
            _exit(127);
        }
        waitpid(pid, 0, 0);
        return 0;
    } else if (mode(m, "dup2-into-place")) {
        if (pipe(p)) return 1;
        pid = fork();
        if (pid == 0) {
            dup2(p[1], 5);
            close(p[0]);
            close(p[1]);
            execlp("true", "true", (char *)0);
            _exit(127);
        }
        waitpid(pid, 0, 0);
        return 0;
    } else if (mode(m, "child-made")) {
        pid = fork();
        if (pid == 0) {
            if (pipe(p)) _exit(1);
            execlp("true", "true", (char *)0);
            _exit(127);
        }
        waitpid(pid, 0, 0);
        return 0;
    } else if (mode(m, "named")) {
        if (pipe(p) || p[0] != 3 || p[1] != 4) return 1;
        pid = fork();
        if (pid == 0) {
            execlp("true", "true", "--in", "3", "--out=4", (char *)0);
            _exit(127);
        }
        waitpid(pid, 0, 0);
        return 0;
    } else if (mode(m, "file")) {
        if (open("/dev/null", O_RDONLY) < 0) return 1;
    } else {
        return 2;
    }
    pid = fork();
    if (pid == 0) {
        execlp("true", "true", (char *)0);
        _exit(127);
    }
    waitpid(pid, 0, 0);
    return 0;
}
