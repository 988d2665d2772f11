/* fd leaks at posix_spawn: argv[1] chooses
 *   leak          pipe() without O_CLOEXEC, then posix_spawn of `cat` reading the pipe (fd 0 is
 *                 the read end through adddup2): the write end leaks, cat never sees EOF
 *                 (reported, with the read end: both made by pipe() in main)
 *   leakp         the same with posix_spawnp("cat")
 *   old           the same through posix_spawn@GLIBC_2.2.5 (glibc: the old ABI's version)
 *   closed        pipe(), both ends closed by posix_spawn_file_actions_addclose: clean
 *   cloexec       pipe2(O_CLOEXEC): clean
 *   dup2          pipe(), adddup2(write end, 1), both original ends closed: clean
 *   closefrom     pipe(), addclosefrom_np(3) (glibc >= 2.34): clean
 *   dup2-self     pipe(), adddup2(fd, fd) of both ends (make's way of handing its jobserver
 *                 fds on: it clears close-on-exec on purpose): clean
 *   close-read    pipe(), addclose of the read end only: the write end leaks (reported)
 *   named         pipe(), posix_spawn of `true --in N --out=M` naming both fds: clean
 *   script-old DIR, script-new DIR: spawn DIR/noshebang, an executable script without `#!`,
 *                 through posix_spawn@GLIBC_2.2.5 (which runs it with /bin/sh on ENOEXEC) or
 *                 the default posix_spawn (which fails with ENOEXEC); prints the
 *                 child's exit status
 * A last argument "noenv" gives the spawned program an empty environment (tests/aarch64.rs: a
 * host program spawned under qemu-user must not get the aarch64 library's LD_PRELOAD).
 * The program prints "cat did not see EOF" when the leak was real. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#if defined(__GLIBC__) && defined(__x86_64__)
int old_posix_spawn(pid_t *, const char *, const posix_spawn_file_actions_t *,
                    const posix_spawnattr_t *, char *const[], char *const[]);
__asm__(".symver old_posix_spawn, posix_spawn@GLIBC_2.2.5");
#define HAVE_OLD 1
#endif

static int mode(const char *m, const char *want) { return strcmp(m, want) == 0; }

/* Reaps `pid`; whether it ended by itself within a second. */
static int reaped(pid_t pid) {
    for (int i = 0; i < 20; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return 1;
        usleep(50000);
    }
    kill(pid, SIGTERM);
    waitpid(pid, 0, 0);
    return 0;
}

int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "leak";
    char *no_env[] = {0};
    char **env = argc > 2 && strcmp(argv[argc - 1], "noenv") == 0 ? no_env : environ;
    if ((mode(m, "script-old") || mode(m, "script-new")) && argc > 2) {
        char path[4096];
        snprintf(path, sizeof path, "%s/noshebang", argv[2]);
        FILE *f = fopen(path, "w");
        if (!f) return 1;
        fputs("echo ran by sh\n", f);
        fclose(f);
        chmod(path, 0755);
        char *args[] = {path, 0};
        pid_t pid;
        int r;
#ifdef HAVE_OLD
        if (mode(m, "script-old"))
            r = old_posix_spawn(&pid, path, 0, 0, args, environ);
        else
#endif
            r = posix_spawn(&pid, path, 0, 0, args, environ);
        if (r) {
            printf("spawn error %d\n", r);
            return 0;
        }
        int st;
        waitpid(pid, &st, 0);
        fflush(stdout);
        printf("status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return 0;
    }
    int p[2];
    if (mode(m, "cloexec") ? pipe2(p, O_CLOEXEC) : pipe(p)) return 1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    pid_t pid;
    int r;
    if (mode(m, "leak") || mode(m, "leakp") || mode(m, "old") || mode(m, "cloexec")) {
        char *cat[] = {"cat", 0};
        posix_spawn_file_actions_adddup2(&fa, p[0], 0);
        if (mode(m, "leakp"))
            r = posix_spawnp(&pid, "cat", &fa, 0, cat, env);
#ifdef HAVE_OLD
        else if (mode(m, "old"))
            r = old_posix_spawn(&pid, "/bin/cat", &fa, 0, cat, env);
#endif
        else
            r = posix_spawn(&pid, "/bin/cat", &fa, 0, cat, env);
        if (r) return 2;
        close(p[0]);
        if (write(p[1], "hello\n", 6) != 6) return 1;
        close(p[1]);
        if (!reaped(pid)) printf("cat did not see EOF\n");
        return 0;
    }
    char *tru[] = {"true", 0, 0, 0, 0, 0};
    char in[16], out[16];
    if (mode(m, "closed")) {
        posix_spawn_file_actions_addclose(&fa, p[0]);
        posix_spawn_file_actions_addclose(&fa, p[1]);
    } else if (mode(m, "dup2-self")) {
        posix_spawn_file_actions_adddup2(&fa, p[0], p[0]);
        posix_spawn_file_actions_adddup2(&fa, p[1], p[1]);
    } else if (mode(m, "close-read")) {
        posix_spawn_file_actions_addclose(&fa, p[0]);
    } else if (mode(m, "dup2")) {
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
        posix_spawn_file_actions_addclose(&fa, p[1]);
        posix_spawn_file_actions_addclose(&fa, p[0]);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
    } else if (mode(m, "closefrom")) {
        posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    } else if (mode(m, "named")) {
        snprintf(in, sizeof in, "%d", p[0]);
        snprintf(out, sizeof out, "--out=%d", p[1]);
        tru[1] = "--in";
        tru[2] = in;
        tru[3] = out;
    } else {
        return 3;
    }
    r = posix_spawnp(&pid, "true", &fa, 0, tru, env);
    if (r) return 2;
    waitpid(pid, 0, 0);
    return 0;
}
