# gdb starts the inferior through a vfork child that closes fds (opendir /proc/self/fd) while
# gdb's worker threads run; the parent's SIGCHLD handler may run on return from vfork.
# quick: yes
# tries: 1
setup() { :; }
run() { exec gdb --batch -nx -ex run --args /bin/true; }
