/* Execs /usr/bin/env (which prints its environment) with a stripped environment, through the exec
 * function named in argv[1]. The argument list is long enough that execl's variadic arguments
 * spill onto the stack. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
    static char *clean[] = {"PATH=/usr/bin:/bin", NULL};
    char *args[] = {"env", "-u", "X1", "-u", "X2", "-u", "X3", "-u", "X4", NULL};
    const char *how = argc > 1 ? argv[1] : "execve";
    fflush(stdout);
    if (strcmp(how, "execve") == 0) execve("/usr/bin/env", args, clean);
    if (strcmp(how, "execvpe") == 0) execvpe("env", args, clean);
    if (strcmp(how, "execle") == 0)
        execle("/usr/bin/env", "env", "-u", "X1", "-u", "X2", "-u", "X3", "-u", "X4", (char *)NULL, clean);
    environ = clean;
    if (strcmp(how, "execv") == 0) execv("/usr/bin/env", args);
    if (strcmp(how, "execvp") == 0) execvp("env", args);
    if (strcmp(how, "execl") == 0)
        execl("/usr/bin/env", "env", "-u", "X1", "-u", "X2", "-u", "X3", "-u", "X4", (char *)NULL);
    if (strcmp(how, "execlp") == 0)
        execlp("env", "env", "-u", "X1", "-u", "X2", "-u", "X3", "-u", "X4", (char *)NULL);
    perror(how);
    return 127;
}
