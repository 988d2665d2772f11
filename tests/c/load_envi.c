/* Execs argv[1] with an environment that has neither LD_PRELOAD nor ASSAFE_OPTIONS. */
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    (void)argc;
    execve(argv[1], argv + 1, envp);
    perror("execve");
    return 127;
}
