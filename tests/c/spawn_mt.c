/* spawn_mt: a multi-threaded program runs /bin/true with posix_spawn, system("true") and
 * popen("true", "r") from normal code and prints each status. */
#include <spawn.h>
#include "mt.h"

extern char **environ;

int main(void) {
    mt_start();
    for (int i = 0; i < 3; i++) {
        pid_t pid;
        char *argv[] = {"true", NULL};
        int r = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
        if (r != 0) {
            printf("posix_spawn: %s\n", strerror(r));
            return 2;
        }
        wait_print(pid, "posix_spawn");
        r = posix_spawnp(&pid, "true", NULL, NULL, argv, environ);
        if (r != 0) {
            printf("posix_spawnp: %s\n", strerror(r));
            return 2;
        }
        wait_print(pid, "posix_spawnp");
        int st = system("true");
        printf("system: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        FILE *f = popen("true", "r");
        if (!f)
            return 2;
        char buf[16];
        size_t n = fread(buf, 1, sizeof buf, f);
        st = pclose(f);
        printf("popen: read %zu, exit %d\n", n, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    mt_stop();
    return 0;
}
