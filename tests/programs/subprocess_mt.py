"""subprocess_mt.py [N]: with a second thread alive, runs /bin/true N times (default 20) with
subprocess.run and no preexec_fn (CPython then uses vfork in _posixsubprocess), and once with
close_fds=False and once with pass_fds; prints the return codes."""

import subprocess
import sys
import threading

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
print("use_vfork:", getattr(subprocess, "_USE_VFORK", "unknown"))
stop = threading.Event()
t = threading.Thread(target=stop.wait)
t.start()
try:
    codes = [subprocess.run(["/bin/true"]).returncode for _ in range(n)]
    codes.append(subprocess.run(["/bin/true"], close_fds=False).returncode)
    r, w = __import__("os").pipe()
    codes.append(subprocess.run(["/bin/true"], pass_fds=[w]).returncode)
    print("threads alive:", threading.active_count())
    print("return codes:", sorted(set(codes)), "count:", len(codes))
finally:
    stop.set()
    t.join()
