#!/usr/bin/env python3
"""Loads an `assafe report --format html` page in headless Chromium (Debian's `chromium`) through
the DevTools protocol over a pipe (--remote-debugging-pipe; the standard library only), and checks:
no console error or uncaught exception, the headline and per-package counts, that the page shows
the report's groups (one per root cause, in the report's order, each with its functions, its call
sites and its first call's stack cut as --max-frames cuts it), that each filter shows the groups it
should, and that a permalink opens its group or call site.

Usage: html-check.py PAGE.html REPORT.json [--screenshot OUT.png]
REPORT.json is the same report as JSON (`--format json`): the expected counts come from it."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            sys.exit("html-check: chromium is not installed (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="assafe-chromium.")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4: the shell puts the pipe
        # ends there and execs it.
        self.proc = subprocess.Popen(
            ["sh", "-c", 'r=$1; w=$2; shift 2; exec "$@" 3<&"$r" 4>&"$w"', "sh",
             str(to_browser_r), str(from_browser_w), exe,
             "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             "--disable-extensions", "--remote-debugging-pipe", "--window-size=1280,1000",
             f"--user-data-dir={self.profile}", "about:blank"],
            pass_fds=(to_browser_r, from_browser_w), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def send(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        want = self.next_id
        deadline = time.time() + 30
        while time.time() < deadline:
            for m in self._read():
                if m.get("id") == want:
                    if "error" in m:
                        raise RuntimeError(f"{method}: {m['error']}")
                    return m.get("result", {})
                self.events.append(m)
        raise TimeoutError(method)

    def _read(self):
        chunk = os.read(self.from_browser, 1 << 20)
        if not chunk:
            raise RuntimeError("chromium exited")
        self.buf += chunk
        *msgs, self.buf = self.buf.split(b"\0")
        return [json.loads(m) for m in msgs if m]

    def open(self, url):
        t = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        a = self.send("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True},
                      session=False)
        self.session = a["sessionId"]
        self.send("Runtime.enable")
        self.send("Log.enable")
        self.send("Page.enable")
        self.send("Page.navigate", {"url": url})
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.eval("document.body && document.body.dataset.ready === '1'"):
                return
            time.sleep(0.1)
        raise TimeoutError("the page never finished rendering (no body[data-ready])")

    def eval(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def errors(self):
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(p["exceptionDetails"].get("exception", {}).get("description")
                           or p["exceptionDetails"].get("text"))
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(p["entry"].get("text"))
        return out

    def close(self):
        try:
            self.send("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    page, report = sys.argv[1], sys.argv[2]
    shot = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--screenshot" else None
    r = json.load(open(report))
    b = Browser()
    failures = []

    def check(what, got, want):
        ok = got == want
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: {got!r}" + ("" if ok else f" (want {want!r})"))
        if not ok:
            failures.append(what)

    try:
        b.open("file://" + os.path.abspath(page))
        groups, findings = r["groups"], r["findings"]
        n = len(groups)
        check("headline findings (groups)", b.eval("document.querySelector('#n-findings b').textContent"), str(n))
        check("headline call sites", b.eval("document.querySelector('#n-sites b').textContent"), str(len(findings)))
        check("headline processes checked",
              b.eval("document.querySelector('#n-checked b').textContent"), str(r["processes_checked"]))
        check("groups rendered", b.eval("document.querySelectorAll('details.group').length"), n)
        check("groups in the report's order",
              b.eval("[...document.querySelectorAll('details.group')].map(d => d.id)"),
              ["g-" + g["id"] for g in groups])
        check("call sites rendered", b.eval("document.querySelectorAll('details.group details.finding').length"),
              len(findings))
        check("findings shown", b.eval("document.getElementById('shown').textContent"), str(n))
        check("call sites shown", b.eval("document.getElementById('shown-sites').textContent"), str(len(findings)))
        max_frames = int(b.eval("document.body.dataset.maxFrames"))

        def printed(stack, user):
            # The text report's cut (render::stack_lines): frames printed, and whether elided.
            n = len(stack)
            if max_frames == 0 or n <= max_frames:
                return n, False
            tail = min(max(max_frames // 4, 1), max_frames - 1)
            head = max(max_frames - tail, 0 if user is None else user + 1)
            return (n, False) if head + tail >= n else (head + tail, True)

        for gi, g in enumerate(groups):
            sel = f"document.querySelectorAll('details.group')[{gi}]"
            check(f"group {gi + 1} call sites", b.eval(f"{sel}.querySelectorAll('details.finding').length"),
                  len(g["findings"]))
            check(f"group {gi + 1} functions", b.eval(f"{sel}.querySelectorAll('table.functions tbody tr').length"),
                  len(g["functions"]))
            check(f"group {gi + 1} title", g["title"] in b.eval(f"{sel}.querySelector('summary').textContent"), True)
            frames, elided = printed(g["stack"], g["user_frame"])
            pre = f"{sel}.querySelector(':scope > .stack pre')"
            check(f"group {gi + 1} first call: frames printed",
                  b.eval(f"{pre}.querySelectorAll('span:not(.src):not(.elided)').length"), frames)
            check(f"group {gi + 1} first call: elided", b.eval(f"{pre}.querySelectorAll('.elided').length"),
                  1 if elided else 0)
        for p in r["packages"]:
            got = b.eval(f"document.querySelector('#packages tr[data-package=\"{p['package']}\"] .n-findings').textContent")
            check(f"package {p['package']} findings", got, str(p["findings"]))
        check("chart bars", b.eval("document.querySelectorAll('#chart rect.bar').length"),
              sum(len(p["by_context"]) for p in r["packages"]) if r["packages"] else
              len({f["context"] for f in findings}))

        def shown_after(kind, value):
            b.eval(f"(() => {{ const s = document.getElementById('filter-{kind}'); s.value = {json.dumps(value)};"
                   " s.dispatchEvent(new Event('change')); })()")
            return int(b.eval("document.getElementById('shown').textContent"))

        def group_packages(g):
            return {p for i in g["findings"] for p in findings[i]["packages"]}

        for ctx in sorted({g["context"] for g in groups}):
            check(f"filter context={ctx}", shown_after("context", ctx),
                  sum(g["context"] == ctx for g in groups))
        shown_after("context", "")
        for sev in sorted({g["severity"] for g in groups}):
            check(f"filter severity={sev}", shown_after("severity", sev),
                  sum(g["severity"] == sev for g in groups))
        shown_after("severity", "")
        for p in r["packages"]:
            check(f"filter package={p['package']}", shown_after("package", p["package"]),
                  sum(p["package"] in group_packages(g) for g in groups))
        shown_after("package", "")
        if groups:
            g = groups[-1]
            b.eval(f"location.hash = '#g-{g['id']}'")
            time.sleep(0.3)
            check("permalink opens its group", b.eval(f"document.getElementById('g-{g['id']}').open"), True)
            b.eval(f"document.getElementById('g-{g['id']}').open = false")
        if findings:
            f = findings[-1]
            b.eval(f"location.hash = '#f-{f['fingerprint']}'")
            time.sleep(0.3)
            check("permalink opens its call site",
                  b.eval(f"document.getElementById('f-{f['fingerprint']}').open"), True)
            check("... inside its group, opened",
                  b.eval(f"document.getElementById('f-{f['fingerprint']}').closest('details.group').open"), True)
            check("the opened call site shows its stacks",
                  b.eval(f"document.querySelectorAll('#f-{f['fingerprint']} .stack').length"),
                  len(f["stacks"]))
            b.eval("location.hash = ''")
        if shot:
            b.eval("document.querySelectorAll('details.group')[0] && (document.querySelectorAll('details.group')[0].open = true)")
            b.send("Emulation.setDeviceMetricsOverride",
                   {"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
            data = b.send("Page.captureScreenshot", {"format": "png"})["data"]
            import base64
            open(shot, "wb").write(base64.b64decode(data))
            print(f"  screenshot: {shot}")
        errs = b.errors()
        check("console errors and exceptions", errs, [])
    finally:
        b.close()
    if failures:
        sys.exit(f"html-check: FAILED: {', '.join(failures)}")
    print("html-check: ok")


if __name__ == "__main__":
    main()
