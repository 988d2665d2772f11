// lm_thread: a C++ program with std::thread, std::mutex, std::call_once and an exception that
// must run unchanged under the preload (issue 10's libc matrix).
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

int main() {
    std::mutex m;
    std::once_flag once;
    int n = 0, inits = 0;
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; i++)
        ts.emplace_back([&] {
            std::call_once(once, [&] { inits++; });
            std::lock_guard<std::mutex> g(m);
            n++;
        });
    for (auto &t : ts)
        t.join();
    try {
        throw std::runtime_error("caught");
    } catch (const std::exception &e) {
        std::cout << e.what() << "\n";
    }
    std::cout << "n=" << n << " inits=" << inits << std::endl;
    return 0;
}
