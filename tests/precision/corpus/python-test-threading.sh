# CPython's test_threading, the tests that fork while threads run.
# quick: no
# tries: 1
setup() { :; }
run() { exec /usr/bin/python3 -m test test_threading -m '*fork*'; }
