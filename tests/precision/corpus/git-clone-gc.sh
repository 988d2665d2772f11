# git clone of a local repository, then git gc in the clone.
# quick: no
# tries: 1
setup() {
    git init -q repo && cd repo &&
    for i in 1 2 3; do echo $i > f$i; git add f$i; git -c user.name=a -c user.email=a@b.invalid commit -qm c$i; done
}
run() { git clone -q repo clone && exec git -C clone gc -q; }
