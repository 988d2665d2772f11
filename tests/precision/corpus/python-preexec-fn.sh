# CPython subprocess with preexec_fn while another thread runs: the child re-initialises the
# interpreter (PyOS_AfterFork_Child) and calls the Python function: malloc, mutexes.
# quick: no
# tries: 1
setup() {
    cat > pre.py <<'PY'
import subprocess, threading
stop = threading.Event()
t = threading.Thread(target=stop.wait)
t.start()
subprocess.run(["/bin/true"], preexec_fn=lambda: None, check=True)
stop.set(); t.join()
PY
}
run() { exec /usr/bin/python3 pre.py; }
