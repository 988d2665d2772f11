/* cov_call [-st] FUNC...: the parent (multi-threaded unless -st) forks; the child calls each named
 * libc function once, directly from this program, in the order given, then _exit(0)s (or
 * exit(N) with N > 0 when a call misbehaved). Names that end the child (execvp, execveat, abort)
 * must come last. The parent prints the child's wait status ("child: exit 0").
 *
 * Every call is a direct call from this file, so the report's call site is in the program (calls
 * that libc makes internally are not reported). Strings go through volatile pointers so that
 * the compiler cannot turn fputs into fwrite/fputc or printf into puts. */
#include "mt.h"
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <libintl.h>
#include <locale.h>
#include <pwd.h>
#include <semaphore.h>
#include <sys/resource.h>
#include <syslog.h>
#include <time.h>

static const char *volatile v_str = "xy";
static void *volatile sink;
static volatile long lsink;
static volatile int thread_ran;
static FILE *opened;
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;

static void *thread_fn(void *arg) {
    (void)arg;
    thread_ran = 1;
    return NULL;
}

static void on_exit_fn(int st, void *arg) {
    (void)st;
    (void)arg;
}

static void atexit_fn(void) {}

static int call(const char *f) {
    if (!strcmp(f, "malloc")) {
        sink = malloc(24);
    } else if (!strcmp(f, "pthread_mutex_lock")) {
        if (pthread_mutex_lock(&mtx) != 0)
            return 10;
    } else if (!strcmp(f, "fputs")) {
        fputs(v_str, stdout); /* buffered, never flushed: the child _exit()s */
    } else if (!strcmp(f, "fileno")) {
        lsink = fileno(stdin);
    } else if (!strcmp(f, "syslog")) {
        syslog(LOG_USER | LOG_DEBUG, "assafe coverage test %s", v_str); /* masked by the parent */
    } else if (!strcmp(f, "getenv")) {
        sink = getenv("PATH");
    } else if (!strcmp(f, "localtime")) {
        time_t t = 0;
        sink = localtime(&t);
    } else if (!strcmp(f, "tzset")) {
        tzset();
    } else if (!strcmp(f, "dlerror")) {
        sink = dlerror();
    } else if (!strcmp(f, "getpwuid")) {
        sink = getpwuid(getuid());
    } else if (!strcmp(f, "setlocale")) {
        sink = setlocale(LC_ALL, NULL);
    } else if (!strcmp(f, "newlocale")) {
        locale_t l = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        sink = l;
    } else if (!strcmp(f, "gettext")) {
        sink = (gettext)(v_str); /* parenthesised: the real gettext, not the dcgettext macro */
    } else if (!strcmp(f, "on_exit")) {
        lsink = on_exit(on_exit_fn, NULL);
    } else if (!strcmp(f, "atexit")) {
        lsink = atexit(atexit_fn); /* libc_nonshared.a: becomes __cxa_atexit */
    } else if (!strcmp(f, "pthread_atfork")) {
        lsink = pthread_atfork(NULL, NULL, NULL); /* libc_nonshared.a: becomes __register_atfork */
    } else if (!strcmp(f, "random")) {
        lsink = random();
    } else if (!strcmp(f, "opendir")) {
        sink = opendir("/");
    } else if (!strcmp(f, "sem_open")) {
        char name[64];
        snprintf(name, sizeof name, "/assafe-cov-%d", (int)getpid()); /* reported too: stdio */
        sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
        if (s != SEM_FAILED)
            sem_unlink(name);
        sink = s;
    } else if (!strcmp(f, "fopen")) {
        opened = fopen("/dev/null", "r");
        if (opened == NULL)
            return 11;
    } else if (!strcmp(f, "fclose")) {
        /* closes the FILE a preceding "fopen" opened */
        if (opened == NULL || fclose(opened) != 0)
            return 12;
        opened = NULL;
    } else if (!strcmp(f, "pthread_create")) {
        pthread_t t;
        if (pthread_create(&t, NULL, thread_fn, NULL) != 0)
            return 13;
        if (pthread_join(t, NULL) != 0 || !thread_ran)
            return 14;
    } else if (!strcmp(f, "fork")) {
        pid_t p = fork();
        if (p < 0)
            return 15;
        if (p == 0)
            _exit(0);
        int st;
        if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            return 16;
    } else if (!strcmp(f, "snprintf")) {
        static char buf[16];
        lsink = snprintf(buf, sizeof buf, "%s", v_str);
    } else if (!strcmp(f, "pthread_mutex_init")) {
        static pthread_mutex_t made;
        lsink = pthread_mutex_init(&made, 0);
    } else if (!strcmp(f, "l64a")) {
        sink = l64a(42);
    } else if (!strcmp(f, "setuid")) {
        if (setuid(getuid()) != 0)
            return 17;
    } else if (!strcmp(f, "sysv_signal")) {
        if (sysv_signal(SIGUSR2, SIG_IGN) == SIG_ERR)
            return 18;
    } else if (!strcmp(f, "execvp")) {
        char *argv[] = {"true", NULL};
        execvp("true", argv);
        return 19;
    } else if (!strcmp(f, "execveat")) {
        extern char **environ;
        char *argv[] = {"true", NULL};
        execveat(AT_FDCWD, "/bin/true", argv, environ, 0);
        return 20;
    } else if (!strcmp(f, "abort")) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        abort();
    } else {
        return 99; /* unknown name: the test's table and this file disagree */
    }
    return 0;
}

int main(int argc, char **argv) {
    int i = 1, mt = 1;
    if (i < argc && !strcmp(argv[i], "-st")) {
        mt = 0;
        i++;
    }
    /* syslog() in the child must not reach the system log: mask everything but LOG_EMERG. */
    setlogmask(LOG_MASK(LOG_EMERG));
    if (mt)
        mt_start();
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        for (; i < argc; i++) {
            int r = call(argv[i]);
            if (r)
                exit(r);
        }
        _exit(0);
    }
    wait_print(pid, "child");
    mt_stop();
    return 0;
}
