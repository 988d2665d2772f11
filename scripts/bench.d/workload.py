# A "real program" workload: allocation-heavy pure Python (dicts, strings, json).
import json, sys
n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
data = [{"id": i, "name": "item%d" % i, "tags": ["a", "b", str(i)]} for i in range(2000)]
total = 0
for _ in range(n):
    s = json.dumps(data)
    total += len(json.loads(s))
print(total)
