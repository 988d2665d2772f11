/* stdout is a pipe or file (fully buffered): "before fork" is still in the buffer at fork.
 * Argument "exit": the child calls exit(), which prints it a second time; "_exit": it does not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int use_exit = argc > 1 && strcmp(argv[1], "exit") == 0;
    printf("before fork\n");
    pid_t pid = fork();
    if (pid == 0) {
        if (use_exit) exit(0);
        _exit(0);
    }
    waitpid(pid, 0, 0);
    return 0;
}
