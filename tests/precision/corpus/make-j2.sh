# make -j2: recipes through /bin/sh (dash); make's SIGCHLD handling.
# quick: yes
# tries: 1
setup() { printf 'all: a b c d\na b c d:\n\t@sleep 0.1; echo $@ > /dev/null\n' > Makefile; }
run() { exec make -j2 -B; }
