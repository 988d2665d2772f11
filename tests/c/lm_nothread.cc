// lm_nothread: a C++ program without threads (not linked with -pthread: on glibc < 2.34 it has
// no libpthread), whose libstdc++ and libgcc_s probe "is libpthread loaded?" with weak
// references: exceptions, a function-local static, a mutex. Must run unchanged under the
// preload (issue 10).
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>

static std::string &name() {
    static std::string s("static-local");
    return s;
}

int main() {
    int n = 0;
    try {
        throw std::runtime_error("caught");
    } catch (const std::exception &e) {
        std::cout << e.what() << "\n";
    }
    std::mutex m;
    {
        std::lock_guard<std::mutex> g(m);
        n++;
    }
    std::cout << name() << " n=" << n << std::endl;
    return 0;
}
