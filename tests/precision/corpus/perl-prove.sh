# perl prove -j2 on a small test directory (system and backticks in the tests).
# quick: no
# tries: 1
setup() {
    mkdir -p t
    printf 'use Test::More tests => 2;\nok(1, "one");\nis(system("true"), 0, "system");\n' > t/a.t
    printf 'use Test::More tests => 1;\nmy $x = `echo hi`; like($x, qr/hi/, "backticks");\n' > t/b.t
}
run() { exec prove -j2 t; }
