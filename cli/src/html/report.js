"use strict";
(function () {
  const R = JSON.parse(document.getElementById("assafe-data").textContent);
  const COLORS = {"fork-child": "#b91c1c", "vfork-child": "#7c3aed", "signal-handler": "#d97706",
    "async-cancel": "#0891b2", "errno": "#65a30d"};
  const color = c => COLORS[c] || "#6b7280";
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  };
  const $ = id => document.getElementById(id);
  const findings = R.findings;
  const contexts = [...new Set(findings.map(f => f.context))].sort();
  const severities = ["definite", "hazard", "portable"].filter(s => findings.some(f => f.severity === s));
  const pkgNames = R.packages.map(p => p.package);
  const unchecked = R.processes_unchecked.length, partial = R.processes_partially_checked.length;

  // Headline.
  const head = $("headline");
  const stat = (n, label, id) => head.append(el("div", {id}, el("b", {}, n), label));
  stat(R.groups.length, "findings", "n-findings");
  stat(findings.length, "call sites", "n-sites");
  if (pkgNames.length) stat(pkgNames.length, "packages", "n-packages");
  stat(R.processes_checked, "processes checked", "n-checked");
  stat(unchecked, "not checked", "n-unchecked");
  stat(partial, "partially checked", "n-partial");
  stat(R.suppressed.length, "suppressed", "n-suppressed");

  // Per-package table.
  if (pkgNames.length) {
    const t = $("packages");
    const hdr = ["package", "version", "tests", "checked", "not checked", "partial", "findings"]
      .concat(contexts, severities);
    t.append(el("thead", {}, el("tr", {}, ...hdr.map(h => el("th", {}, h)))));
    const body = el("tbody", {});
    for (const p of R.packages) {
      const tests = Object.entries(p.tests);
      const failed = tests.filter(([, v]) => v !== "PASS" && v !== "SKIP");
      const testCell = el("td", {class: failed.length ? "fail" : "pass",
        title: tests.map(([k, v]) => k + ": " + v).join("\n")},
        tests.length ? (tests.length - failed.length) + "/" + tests.length + " pass" : "-");
      const row = el("tr", {"data-package": p.package}, el("td", {}, p.package), el("td", {}, p.version || ""),
        testCell, el("td", {}, p.processes_checked), el("td", {}, p.processes_not_checked),
        el("td", {}, p.processes_partially_checked), el("td", {class: "n-findings"}, p.findings),
        ...contexts.map(c => el("td", {}, p.by_context[c] || 0)),
        ...severities.map(s => el("td", {}, p.by_severity[s] || 0)));
      body.append(row);
    }
    t.append(body);
  } else {
    $("packages-section").classList.add("hidden");
  }

  // Chart: findings per package (or per program without packages), stacked by context.
  const rows = pkgNames.length
    ? R.packages.map(p => [p.package, p.by_context])
    : [["all runs", contexts.reduce((m, c) => (m[c] = findings.filter(f => f.context === c).length, m), {})]];
  const max = Math.max(1, ...rows.map(([, bc]) => Object.values(bc).reduce((a, b) => a + b, 0)));
  const NS = "http://www.w3.org/2000/svg", W = 520, L = 170, BH = 18, GAP = 6;
  const svg = document.createElementNS(NS, "svg");
  const H = rows.length * (BH + GAP) + 30;
  svg.setAttribute("viewBox", `0 0 ${L + W + 60} ${H}`);
  svg.setAttribute("width", L + W + 60);
  svg.setAttribute("height", H);
  const svgEl = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  rows.forEach(([name, bc], i) => {
    const y = i * (BH + GAP);
    svgEl("text", {x: L - 6, y: y + BH - 4, "text-anchor": "end"}, name);
    let x = L, total = 0;
    for (const c of contexts) {
      const n = bc[c] || 0;
      if (!n) continue;
      const w = n / max * W;
      const r = svgEl("rect", {x, y, width: w, height: BH, fill: color(c), class: "bar",
        "data-package": name, "data-context": c});
      const tt = document.createElementNS(NS, "title");
      tt.textContent = `${name}: ${n} ${c}`;
      r.append(tt);
      x += w; total += n;
    }
    svgEl("text", {x: x + 4, y: y + BH - 4}, total);
  });
  let lx = L;
  for (const c of contexts) {
    svgEl("rect", {x: lx, y: H - 16, width: 12, height: 12, fill: color(c)});
    svgEl("text", {x: lx + 16, y: H - 6}, c);
    lx += 30 + c.length * 7;
  }
  $("chart").append(svg);

  // Filters.
  const addOptions = (sel, values) => {
    sel.append(el("option", {value: ""}, "all"));
    for (const v of values) sel.append(el("option", {value: v}, v));
  };
  addOptions($("filter-context"), contexts);
  addOptions($("filter-severity"), severities);
  addOptions($("filter-package"), pkgNames);
  if (!pkgNames.length) $("filter-package").parentNode.classList.add("hidden");

  // Findings.
  const frameText = (i, f, user) => {
    let s = "#" + i;
    if (f.addr) s += " " + f.addr;
    if (f.function) s += " in " + f.function;
    if (f.file) s += " " + f.file + (f.line ? ":" + f.line : "");
    else if (f.module) s += " (" + f.module + "+" + (f.offset || "0x0") + ")";
    if (f.inlined) s += " (inlined)";
    if (user) s += "  <== first frame in your code";
    return s;
  };
  // Elides the middle of a stack as the text report does (--max-frames): the first frames,
  // always through the frame in the program's own code, then the outermost few.
  const MAX_FRAMES = parseInt(document.body.dataset.maxFrames || "16", 10);
  const stackPre = (stack, user) => {
    const n = stack.length;
    let head = n, tail = 0;
    if (MAX_FRAMES > 0 && n > MAX_FRAMES) {
      tail = Math.min(Math.max(Math.floor(MAX_FRAMES / 4), 1), MAX_FRAMES - 1);
      head = Math.max(MAX_FRAMES - tail, user === null || user === undefined ? 0 : user + 1);
      if (head + tail >= n) { head = n; tail = 0; }
    }
    const pre = el("pre", {});
    const frame = i => {
      const fr = stack[i];
      pre.append(el("span", {class: i === user ? "user" : ""}, frameText(i, fr, i === user) + "\n"));
      if (fr.source) pre.append(el("span", {class: "src"}, "        " + fr.source.trim() + "\n"));
    };
    for (let i = 0; i < head; i++) frame(i);
    if (tail > 0) {
      const skipped = n - head - tail;
      pre.append(el("span", {class: "elided"}, `    … ${skipped} frame${skipped === 1 ? "" : "s"} …\n`));
      for (let i = n - tail; i < n; i++) frame(i);
    }
    return pre;
  };
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  const rootText = g => {
    if (!g.root || !g.root.frame) return null;
    const fr = g.root.frame;
    let s = fr.function || g.root.name;
    if (fr.file) s += " " + fr.file + (fr.line ? ":" + fr.line : "");
    else if (fr.module) s += " (" + fr.module + ")";
    return (g.root.kind === "handler" ? "handler: " : "root: ") + s;
  };
  // One block per root cause (R.groups, first seen first, process hygiene after the
  // async-signal-safety findings), as the text report: its functions with their calls, the
  // first call's stack, then its call sites (R.findings) with their stacks.
  const list = $("findings");
  const ids = new Set();
  const uniq = base => {
    let id = base, k = 2;
    while (ids.has(id)) id = base + "-" + k++;
    ids.add(id);
    return id;
  };
  // Where a call site is: its frame in the program's own code (else its first real frame).
  const where = f => {
    const fr = (f.user_frame !== null && f.user_frame !== undefined && f.stack[f.user_frame]) ||
      f.stack.find(x => x.file) || f.stack.find(x => x.module);
    if (!fr) return "";
    let s = " at " + (fr.function || "?");
    if (fr.file) s += " " + fr.file.split("/").pop() + (fr.line ? ":" + fr.line : "");
    return s;
  };
  const siteBlock = f => {
    const d = el("details", {class: "finding", id: uniq("f-" + f.fingerprint)});
    d.append(el("summary", {},
      el("span", {class: "sev sev-" + f.severity}, f.severity), " ", f.title,
      el("span", {class: "ctx"}, where(f)),
      el("span", {class: "pkgs"}, ` — ${plural(f.count, "call", "calls")} in ${plural(f.processes, "process", "processes")}`),
      el("a", {class: "permalink", href: "#" + d.id, title: "permalink"}, "#")));
    d.append(el("p", {}, f.explanation));
    if (f.site) d.append(el("p", {class: "ctx"}, `call site: ${f.site.module}+${f.site.offset}` +
      (f.site.build_id ? ` (build-id ${f.site.build_id})` : "")));
    d.append(el("p", {class: "pkgs"}, "programs: " + f.programs.join(", ")));
    f.stacks.forEach((s, si) => {
      const box = el("div", {class: "stack"}, el("b", {}, `stack ${si + 1} of ${f.stacks.length}: `),
        `${plural(s.count, "call", "calls")} in ${plural(s.processes, "process", "processes")}` +
        (s.packages.length ? " (" + s.packages.join(", ") + ")" : ""));
      box.append(stackPre(s.stack, s.user_frame));
      d.append(box);
    });
    return d;
  };
  R.groups.forEach(g => {
    const members = g.findings.map(i => findings[i]).filter(Boolean);
    if (!members.length) return;
    const pk = [...new Set(members.flatMap(f => f.packages))].sort();
    const d = el("details", {class: "group", id: uniq("g-" + g.id), "data-context": g.context,
      "data-severity": g.severity, "data-packages": JSON.stringify(pk), "data-sites": members.length});
    d.append(el("summary", {},
      el("span", {class: "sev sev-" + g.severity}, g.severity), " ",
      el("span", {class: "ctx"}, g.context), " ", g.title,
      el("span", {class: "pkgs"}, ` — ${plural(g.count, "call", "calls")} at ${plural(members.length, "call site", "call sites")} in ${plural(g.processes, "process", "processes")}` +
        (pk.length ? `; ${plural(pk.length, "package", "packages")}: ${pk.join(", ")}` : "")),
      el("a", {class: "permalink", href: "#" + d.id, title: "permalink"}, "#")));
    const root = rootText(g);
    if (root) d.append(el("p", {class: "ctx root"}, root));
    const explained = [];
    for (const m of members) {
      if (!explained.includes(m.reason) && explained.length < 4) {
        explained.push(m.reason);
        d.append(el("p", {}, m.explanation));
      }
    }
    d.append(el("p", {class: "pkgs"}, "programs: " + g.programs.join(", ")));
    const fns = el("table", {class: "functions"},
      el("thead", {}, el("tr", {}, el("th", {}, "function"), el("th", {}, "calls"), el("th", {}, "call sites"))));
    const fb = el("tbody", {});
    for (const fc of g.functions)
      fb.append(el("tr", {}, el("td", {}, fc.function + "()"), el("td", {}, fc.count), el("td", {}, fc.sites)));
    fns.append(fb);
    d.append(fns);
    const first = el("div", {class: "stack"}, el("b", {}, "first call: "));
    first.append(stackPre(g.stack, g.user_frame));
    d.append(first);
    const sites = el("div", {class: "sites"});
    members.forEach(f => sites.append(siteBlock(f)));
    d.append(sites);
    list.append(d);
  });

  const apply = () => {
    const c = $("filter-context").value, s = $("filter-severity").value, p = $("filter-package").value;
    let shown = 0, shownSites = 0;
    for (const d of list.children) {
      const ok = (!c || d.dataset.context === c) && (!s || d.dataset.severity === s) &&
        (!p || JSON.parse(d.dataset.packages).includes(p));
      d.classList.toggle("hidden", !ok);
      if (ok) { shown++; shownSites += parseInt(d.dataset.sites, 10); }
    }
    $("shown").textContent = shown;
    $("shown-sites").textContent = shownSites;
    for (const tr of document.querySelectorAll("#packages tbody tr"))
      tr.classList.toggle("hidden", !!p && tr.dataset.package !== p);
  };
  for (const id of ["filter-context", "filter-severity", "filter-package"])
    $(id).addEventListener("change", apply);
  // Filters from the query string (?context=…&severity=…&package=…), for links and scripts.
  const q = new URLSearchParams(location.search);
  for (const k of ["context", "severity", "package"]) if (q.get(k)) $("filter-" + k).value = q.get(k);
  apply();

  // Permalinks: open and show the finding named in the fragment.
  const openHash = () => {
    const t = location.hash && document.getElementById(location.hash.slice(1));
    if (!t || t.tagName !== "DETAILS") return;
    // A call site opens inside its group.
    for (let p = t; p; p = p.parentElement ? p.parentElement.closest("details") : null) {
      p.open = true;
      p.classList.remove("hidden");
    }
    t.scrollIntoView();
  };
  window.addEventListener("hashchange", openHash);
  openHash();
  document.body.dataset.ready = "1";
})();
