/* rel_closed_fds DIR: started with fds 0, 1 and 2 closed. Checks they are closed, opens three data
 * files in DIR (they become fds 0, 1 and 2), becomes multi-threaded and forks; the child calls
 * malloc (a report the library must write to its log_path, not into fd 0-2) and _exit(0)s. The
 * parent writes "closed_at_start=… child=… sizes=…" to DIR/result and exits 0 when every data file
 * is still empty. */
#include "mt.h"
#include <fcntl.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
    (void)wait_print; /* from mt.h; unused here (stdout is a data file) */
    if (argc < 2)
        return 2;
    int closed = 0;
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0)
            closed++;
    char path[4096];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/data%d", argv[1], i);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd != i)
            return 3;
    }
    mt_start();
    pid_t pid = fork();
    if (pid < 0)
        return 2;
    if (pid == 0) {
        void *p = v_malloc(64);
        _exit(p == NULL ? 4 : 0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return 2;
    mt_stop();
    struct stat sb[3];
    for (int i = 0; i < 3; i++)
        if (fstat(i, &sb[i]) != 0)
            return 2;
    snprintf(path, sizeof path, "%s/result", argv[1]);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return 2;
    fprintf(f, "closed_at_start=%d child=0x%x sizes=%lld,%lld,%lld\n", closed, st,
            (long long)sb[0].st_size, (long long)sb[1].st_size, (long long)sb[2].st_size);
    fclose(f);
    return sb[0].st_size == 0 && sb[1].st_size == 0 && sb[2].st_size == 0 ? 0 : 1;
}
