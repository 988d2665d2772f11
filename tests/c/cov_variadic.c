/* cov_variadic normal|child: variadic calls with mixed integer, double, long double and stack
 * arguments (printf with > 6 integer and > 8 double arguments, snprintf, sscanf, dprintf, syslog
 * with LOG_PERROR after closelog, sem_open with mode and value, open with a mode, fcntl, ioctl),
 * each printing what it produced; finally execl with many arguments (/bin/echo prints them).
 * "normal": all in the main program. "child": the parent starts a second thread and forks; the
 * child does the same (in a reported context: the library's slow path runs for every
 * interposed call) and the parent prints the child's wait status after the child's output. */
#include "mt.h"
#include <fcntl.h>
#include <semaphore.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <syslog.h>

static volatile size_t short_len = 8;

static void calls(void) {
    char buf[512];
    int n;
    /* 7 integer-class arguments after the format (stack spill at the 6th), 9 doubles (one on
     * the stack), a long double (always in memory). */
    n = printf("A %d %f %s %ld %f %d %d %d %d %f %f %f %f %f %f %Lf %lld %c|\n", -7, 1.5, "str",
               123456789012L, 2.25, 3, 4, 5, 6, 7.125, 8.5, 9.75, 10.0625, 11.5, 12.25, 13.5L,
               -99999999999LL, 'z');
    printf("printf returned %d\n", n);
    n = snprintf(buf, sizeof buf, "B %d %f %s %ld %f %d %d %d %d %f %f %f %f %f %f %Lf %#x %p",
                 1, -1.5, "s2", -5L, 1e10, 10, 20, 30, 40, 0.5, 0.25, 0.125, 0.0625, 3.0, 4.0, -2.5L,
                 0xbeef, (void *)0x1234);
    printf("snprintf %d [%s]\n", n, buf);
    n = snprintf(buf, short_len, "%s-%d-%f", "truncated", 42, 1.0);
    printf("snprintf short %d [%s]\n", n, buf);
    {
        int a, b, c, d, e, f;
        double x, y;
        char w[16];
        n = sscanf("1 2 3 4 5 6 7.5 -8.25 word", "%d %d %d %d %d %d %lf %lf %15s", &a, &b, &c, &d,
                   &e, &f, &x, &y, w);
        printf("sscanf %d: %d %d %d %d %d %d %f %f %s\n", n, a, b, c, d, e, f, x, y, w);
    }
    fflush(stdout);
    n = dprintf(1, "C %d %f %d %f %d %f %d %f %d %f %d %f %d %f\n", 1, 1.0, 2, 2.0, 3, 3.0, 4, 4.0,
                5, 5.0, 6, 6.0, 7, 7.0);
    printf("dprintf returned %d\n", n);
    /* syslog to a closed log: openlog sets LOG_PERROR (which closelog keeps), so the formatted
     * message also goes to stderr, where the test compares it. A missing /dev/log is ignored. */
    openlog("cov", LOG_PERROR, LOG_USER);
    setlogmask(LOG_UPTO(LOG_DEBUG));
    closelog();
    syslog(LOG_USER | LOG_DEBUG, "D %d %f %s %ld %f %d %d %d %d %f", 1, 2.5, "three", 4L, 5.5, 6, 7,
           8, 9, 10.5);
    {
        char name[64];
        snprintf(name, sizeof name, "/assafe-cov-var-%d", (int)getpid());
        sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0640, 3);
        int v = -1;
        if (s != SEM_FAILED) {
            sem_getvalue(s, &v);
            sem_close(s);
            sem_unlink(name);
        }
        printf("sem_open %s value %d\n", s == SEM_FAILED ? "failed" : "ok", v);
    }
    {
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/tmp/assafe-cov-var-%d", (int)getpid());
        mode_t old = umask(0);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0604);
        umask(old);
        int ok = fd >= 0 && fstat(fd, &st) == 0;
        printf("open mode %o\n", ok ? (unsigned)(st.st_mode & 0777) : 0u);
        int r1 = fcntl(fd, F_SETFD, FD_CLOEXEC);
        int r2 = fcntl(fd, F_GETFD);
        int r3 = fcntl(fd, F_DUPFD_CLOEXEC, 50);
        printf("fcntl %d %d %s\n", r1, r2, r3 >= 50 ? "dup>=50" : "dup failed");
        if (r3 >= 0)
            close(r3);
        if (fd >= 0)
            close(fd);
        unlink(path);
        int p[2], avail = -1;
        if (pipe(p) == 0) {
            (void)!write(p[1], "12345", 5);
            int r = ioctl(p[0], FIONREAD, &avail);
            printf("ioctl %d avail %d\n", r, avail);
            close(p[0]);
            close(p[1]);
        }
    }
    fflush(stdout);
    execl("/bin/echo", "echo", "E", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10",
          "a11", "a12", (char *)NULL);
    perror("execl");
    _exit(9);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        mt_start();
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            return 2;
        if (pid == 0)
            calls();
        wait_print(pid, "child");
        mt_stop();
        return 0;
    }
    calls();
    return 0;
}
