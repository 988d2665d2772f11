#!/usr/bin/env python3
"""Writes an assafe log directory with N distinct fork-child findings whose stacks lie in MODULE
(a binary with debug info), for timing symbolization: `fakelogs.py MODULE N DIR`.

The frames are return addresses just after call instructions of MODULE's functions (from
`objdump -d`), so that every finding symbolizes to real functions, files and lines."""
import json, os, random, subprocess, sys

module, n, out = os.path.abspath(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
os.makedirs(out, exist_ok=True)
# Return addresses: the address after each `call` in the text (objdump prints `addr:` lines).
calls = []
proc = subprocess.Popen(["objdump", "-d", "--no-show-raw-insn", module],
                        stdout=subprocess.PIPE, text=True)
prev_call = False
for line in proc.stdout:
    parts = line.split(":", 1)
    if len(parts) != 2 or not parts[0].strip() or " " in parts[0].strip():
        continue
    try:
        addr = int(parts[0].strip(), 16)
    except ValueError:
        continue
    if prev_call:
        calls.append(addr)
    prev_call = "\tcall" in parts[1] or " call " in parts[1]
    if len(calls) > 200000:
        break
proc.stdout.close()
proc.wait()
if not calls:
    sys.exit(f"no call instructions found in {module}")
rng = random.Random(1)
pid = 4242
with open(os.path.join(out, f"assafe.{pid}"), "w") as f:
    f.write(json.dumps({"event": "start", "pid": pid, "ppid": 1, "exe": module,
                        "version": "0.1.0"}) + "\n")
    for i in range(n):
        offs = rng.sample(calls, 6)
        stack = [{"addr": hex(0x555500000000 + o), "module": module, "offset": hex(o)}
                 for o in offs]
        f.write(json.dumps({"event": "report", "context": "fork-child", "function": "malloc",
                            "reason": "heap", "pid": pid, "ppid": 1, "tid": pid, "exe": module,
                            "parent_threads": 2, "site": stack[0]["addr"],
                            "frames": [s["addr"] for s in stack], "stack": stack}) + "\n")
