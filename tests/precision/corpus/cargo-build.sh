# cargo build of a new crate, offline.
# quick: no
# tries: 1
setup() { cargo new -q --vcs none tiny; }
run() { cd tiny && exec cargo build --offline -q; }
