// A C++ global whose destructor writes: exit() in a fork child runs it a second time (argv[1]
// "exit"; "_exit": once, in the parent).
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

struct Logger {
    std::string name = "global logger";
    ~Logger() {
        std::string m = "closing " + name + "\n";
        if (write(1, m.data(), m.size()) < 0) _exit(3);
    }
};
Logger logger;

int main(int argc, char **argv) {
    bool use_exit = argc > 1 && std::strcmp(argv[1], "exit") == 0;
    pid_t pid = fork();
    if (pid == 0) {
        if (use_exit) std::exit(0);
        _exit(0);
    }
    waitpid(pid, nullptr, 0);
    return 0;
}
