# rsync -a between two local directories: three processes; rsync's SIGCHLD handler reaps the
# children with waitpid and returns with errno changed.
# quick: no
# tries: 1
setup() { mkdir -p src && for i in $(seq 1 50); do head -c 2000 /dev/urandom > src/f$i; done; }
run() { exec rsync -a src/ dst/; }
