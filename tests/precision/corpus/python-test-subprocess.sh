# CPython's own test_subprocess, the preexec_fn tests (single-threaded parent).
# quick: no
# tries: 1
setup() { :; }
run() { exec /usr/bin/python3 -m test test_subprocess -m 'test_preexec*' -m '*fork*'; }
