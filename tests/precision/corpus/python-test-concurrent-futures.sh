# CPython's test_concurrent_futures, process pools started with fork from a threaded parent.
# quick: no
# tries: 1
setup() { :; }
run() { exec /usr/bin/python3 -m test test_concurrent_futures -m '*Fork*ProcessPool*' -m '*ProcessPoolFork*'; }
