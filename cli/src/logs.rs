//! Reading the JSON-lines log files that `libassafe.so` writes (`<prefix>.<pid>`).
//!
//! Event names and keys come from `assafe-proto`, the schema the writer shares. A `start` record
//! declaring a newer [`proto::FORMAT_VERSION`] than this reader's makes the read fail with a clear
//! message; records of an event this reader does not know are skipped (and counted in a warning).

use assafe_proto::{self as proto, event, key};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One stack frame as the library recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    pub addr: u64,
    /// Absolute path of the module, or empty when unknown.
    pub module: String,
    /// Address minus the module's load base (equals `addr` when the module is unknown).
    pub offset: u64,
    /// The module's GNU build-id (lower-case hex) as the library recorded it: the frame's own
    /// `build_id` key, else the record's `modules` list. `None` when the log does not say (logs of
    /// libraries that do not record build-ids): the symbolizer then cannot verify the build.
    pub build_id: Option<String>,
}

/// Which kind of record an [`Occurrence`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `"event":"report"`: an unsafe call; frames are return addresses.
    Report,
    /// `"event":"errno"`: a handler changed errno; the single frame is the handler's address.
    Errno,
}

/// An unsafe call (or errno change) at one call site in one process, with how often it happened.
#[derive(Clone, Debug)]
pub struct Occurrence {
    pub kind: Kind,
    /// Index of the log directory (or file) this came from, so pids of merged runs stay apart.
    pub run: usize,
    pub pid: i64,
    pub exe: String,
    /// A [`proto::Context`] name (`fork-child`, …), or [`proto::ERRNO_RULE`] for errno records.
    pub context: String,
    pub function: String,
    pub reason: String,
    pub count: u64,
    pub strict: bool,
    pub signal_name: Option<String>,
    pub certainty: Option<String>,
    pub parent_threads: Option<u64>,
    pub errno_before: Option<i64>,
    pub errno_after: Option<i64>,
    /// The call site (`site`): the return address of the call into the interposed function.
    pub site: Option<u64>,
    pub stack: Vec<RawFrame>,
    /// When the log file was last written (its mtime): a module replaced after this time is not
    /// the build that ran.
    pub logged_at: Option<std::time::SystemTime>,
}

/// What the logs tell about one process.
#[derive(Clone, Debug, Default)]
pub struct ProcessInfo {
    pub run: usize,
    pub pid: i64,
    pub ppid: Option<i64>,
    /// Every program image the process ran with the library loaded (`start` records), or that it
    /// reported from.
    pub exes: Vec<String>,
    /// Whether the process wrote a `start` record.
    pub started: bool,
    /// The path of an exec the process made after which no `start` record came: the new image
    /// may have run without the library.
    pub exec_without_start: Option<String>,
    /// Why the process was only partly checked (calls not counted, a raw-clone fork child whose
    /// first calls were not seen, torn records); empty when fully checked.
    pub partial: Vec<String>,
}

/// Where a run's logs came from: a log directory, and the package whose tests wrote it (from an
/// autopkgtest output directory's `testpkg-version`) when there is one.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunSource {
    /// Source package name (`None`: not an autopkgtest run).
    pub package: Option<String>,
    pub version: Option<String>,
    pub path: PathBuf,
    /// `(test, verdict)` from autopkgtest's `summary` file.
    pub verdicts: Vec<(String, String)>,
}

/// Everything read from a set of log directories.
#[derive(Clone, Debug, Default)]
pub struct Logs {
    pub sources: Vec<PathBuf>,
    /// One per run (index = `run`), with its package when known.
    pub runs: Vec<RunSource>,
    pub occurrences: Vec<Occurrence>,
    pub processes: BTreeMap<(usize, i64), ProcessInfo>,
    /// Problems found while reading.
    pub warnings: Vec<String>,
    pub unparsable_lines: usize,
    /// Records of events this reader does not know (from a newer library), by event name.
    pub unknown_events: BTreeMap<String, usize>,
}

/// Parses `"0x1234"` (or a JSON number) as an address.
pub fn parse_hex(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            let h = s
                .strip_prefix("0x")
                .or_else(|| s.strip_prefix("0X"))
                .unwrap_or(s);
            u64::from_str_radix(h, 16).ok()
        }
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn n(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

/// The record key of a list of `{"module","build_id"}` objects: a module's build-id for frames
/// that do not carry their own [`key::BUILD_ID`]. The library writes the build-id in each frame
/// and summary site; this list is accepted for logs made by other writers and tests.
pub const KEY_MODULES: &str = "modules";

fn build_id_of(v: &Value) -> Option<String> {
    let b = v.get(key::BUILD_ID)?.as_str()?.trim().to_ascii_lowercase();
    (!b.is_empty() && b.bytes().all(|c| c.is_ascii_hexdigit())).then_some(b)
}

/// `module path → build-id` from a record's `modules` list.
fn modules_of(v: &Value) -> BTreeMap<String, String> {
    v.get(KEY_MODULES)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|m| Some((s(m, key::MODULE)?, build_id_of(m)?)))
                .collect()
        })
        .unwrap_or_default()
}

fn parse_stack(v: &Value) -> Vec<RawFrame> {
    let modules = modules_of(v);
    if let Some(stack) = v.get(key::STACK).and_then(Value::as_array) {
        let frames: Vec<RawFrame> = stack
            .iter()
            .filter_map(|f| {
                let addr = f.get(key::ADDR).and_then(parse_hex)?;
                let module = s(f, key::MODULE).unwrap_or_default();
                let offset = f.get(key::OFFSET).and_then(parse_hex).unwrap_or(addr);
                let build_id = build_id_of(f).or_else(|| modules.get(&module).cloned());
                Some(RawFrame {
                    addr,
                    module,
                    offset,
                    build_id,
                })
            })
            .collect();
        if !frames.is_empty() {
            return frames;
        }
    }
    // No `stack`: fall back to bare addresses (`frames`, else `site`), unsymbolizable.
    let addrs: Vec<u64> = match v.get(key::FRAMES).and_then(Value::as_array) {
        Some(a) => a.iter().filter_map(parse_hex).collect(),
        None => v.get(key::SITE).and_then(parse_hex).into_iter().collect(),
    };
    addrs
        .into_iter()
        .map(|addr| RawFrame {
            addr,
            module: String::new(),
            offset: addr,
            build_id: None,
        })
        .collect()
}

/// One summary site: `(function, site address)` → count, plus where it is.
#[derive(Clone, Debug)]
struct SummarySite {
    function: String,
    site: Option<u64>,
    frame: Option<RawFrame>,
    count: u64,
}

#[derive(Clone, Debug)]
struct Summary {
    context: Option<String>,
    exe: Option<String>,
    sites: Vec<SummarySite>,
}

/// Records of one program image (from one `start` record to the next) of one pid.
#[derive(Default)]
struct Segment {
    reports: Vec<Occurrence>,
    summary: Option<Summary>,
}

impl Logs {
    /// Reads log directories (every file named `<prefix>.<pid>`) or single log files.
    pub fn read(paths: &[PathBuf]) -> io::Result<Logs> {
        let runs: Vec<RunSource> = paths
            .iter()
            .map(|p| RunSource {
                path: p.clone(),
                ..Default::default()
            })
            .collect();
        Self::read_runs(&runs)
    }

    /// Reads runs found by [`crate::collect::discover`] (each a log directory or file, with its
    /// package), in the order given.
    pub fn read_runs(runs: &[RunSource]) -> io::Result<Logs> {
        let mut logs = Logs::default();
        for r in runs {
            logs.add_run(r.clone())?;
        }
        if !logs.unknown_events.is_empty() {
            let list: Vec<String> = logs
                .unknown_events
                .iter()
                .map(|(e, n)| format!("{n} \"{e}\""))
                .collect();
            logs.warnings.push(format!(
                "skipped log records of events this assafe does not know ({}): the library that wrote them is newer",
                list.join(", ")
            ));
        }
        Ok(logs)
    }

    /// Adds one directory or file as a new run.
    pub fn add_source(&mut self, path: &Path) -> io::Result<()> {
        self.add_run(RunSource {
            path: path.to_path_buf(),
            ..Default::default()
        })
    }

    /// Adds one run (a directory or file of logs).
    pub fn add_run(&mut self, source: RunSource) -> io::Result<()> {
        let run = self.sources.len();
        let path = source.path.clone();
        let path = path.as_path();
        self.sources.push(path.to_path_buf());
        self.runs.push(source);
        let meta = fs::metadata(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = fs::read_dir(path)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file() && is_log_name(p))
                .collect();
            files.sort();
            for f in files {
                self.read_file(run, &f)?;
            }
        } else {
            self.read_file(run, path)?;
        }
        Ok(())
    }

    fn read_file(&mut self, run: usize, path: &Path) -> io::Result<()> {
        let bytes = fs::read(path)?;
        let logged_at = fs::metadata(path).and_then(|m| m.modified()).ok();
        let text = String::from_utf8_lossy(&bytes);
        // Per pid: the segments (program images) in file order.
        let mut segments: BTreeMap<i64, Vec<Segment>> = BTreeMap::new();
        let file_pid = pid_from_name(path);
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let v: Value = match serde_json::from_str(line) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    self.unparsable_lines += 1;
                    continue;
                }
            };
            let ev = s(&v, key::EVENT).unwrap_or_default();
            if ev.is_empty() {
                // No event name: not a record of any format.
                self.unparsable_lines += 1;
                continue;
            }
            if !event::is_known(&ev) {
                // A newer writer's event: skipped, not fatal (keys and format are unknown).
                *self.unknown_events.entry(ev).or_default() += 1;
                continue;
            }
            if ev == event::START {
                let format = v.get(key::FORMAT);
                let declared = match format {
                    None => None,
                    Some(f) => Some(f.as_u64().ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{}: unreadable log format {f}", path.display()),
                        )
                    })?),
                };
                proto::check_format(declared).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                })?;
            }
            let pid = n(&v, key::PID).or(file_pid).unwrap_or(-1);
            let proc_ = self
                .processes
                .entry((run, pid))
                .or_insert_with(|| ProcessInfo {
                    run,
                    pid,
                    ..Default::default()
                });
            if proc_.ppid.is_none() {
                proc_.ppid = n(&v, key::PPID);
            }
            let exe = s(&v, key::EXE);
            if let Some(e) = &exe
                && !proc_.exes.contains(e)
            {
                proc_.exes.push(e.clone());
            }
            let segs = segments.entry(pid).or_default();
            if segs.is_empty() {
                segs.push(Segment::default());
            }
            match ev.as_str() {
                event::START => {
                    proc_.started = true;
                    proc_.exec_without_start = None;
                    if let Some(n) = v.get(key::UNKNOWN_FUNCTIONS).and_then(Value::as_u64) {
                        // The library ran on a libc other than the one it was built for.
                        let why = format!(
                            "{n} functions unknown to this build: libc {}",
                            s(&v, key::LIBC).unwrap_or_default()
                        );
                        if !proc_.partial.contains(&why) {
                            proc_.partial.push(why);
                        }
                    }
                    if !segs
                        .last()
                        .is_some_and(|s| s.reports.is_empty() && s.summary.is_none())
                    {
                        segs.push(Segment::default());
                    }
                }
                event::REPORT | event::ERRNO => {
                    let kind = if ev == event::REPORT {
                        Kind::Report
                    } else {
                        Kind::Errno
                    };
                    let context = if kind == Kind::Errno {
                        proto::ERRNO_RULE.to_owned()
                    } else {
                        s(&v, key::CONTEXT).unwrap_or_else(|| "unknown".to_owned())
                    };
                    if kind == Kind::Report
                        && v.get(key::PARENT_THREADS).and_then(Value::as_u64) == Some(0)
                        && proc_.partial.is_empty()
                    {
                        proc_.partial.push(
                            "a fork made with a raw clone: calls before its first non-hot interposed call were not checked".to_owned(),
                        );
                    }
                    let occ = Occurrence {
                        kind,
                        logged_at,
                        run,
                        pid,
                        exe: exe.unwrap_or_default(),
                        context,
                        function: s(&v, key::FUNCTION).unwrap_or_default(),
                        reason: s(&v, key::REASON).unwrap_or_else(|| {
                            if kind == Kind::Errno {
                                proto::ERRNO_RULE.to_owned()
                            } else {
                                String::new()
                            }
                        }),
                        count: 1,
                        strict: v.get(key::STRICT).and_then(Value::as_bool).unwrap_or(false),
                        signal_name: s(&v, key::SIGNAL_NAME)
                            .or_else(|| n(&v, key::SIGNAL).map(|n| format!("signal {n}"))),
                        certainty: s(&v, key::CERTAINTY),
                        parent_threads: v.get(key::PARENT_THREADS).and_then(Value::as_u64),
                        errno_before: n(&v, key::ERRNO_BEFORE),
                        errno_after: n(&v, key::ERRNO_AFTER),
                        site: v.get(key::SITE).and_then(parse_hex),
                        stack: parse_stack(&v),
                    };
                    segs.last_mut().expect("pushed above").reports.push(occ);
                }
                event::EXEC | event::EXIT => {
                    if ev == event::EXEC {
                        proc_.exec_without_start = Some(s(&v, key::PATH).unwrap_or_default());
                    }
                    if let Some(u) = n(&v, key::UNRESOLVED_CALLS).filter(|u| *u > 0)
                        && !proc_
                            .partial
                            .iter()
                            .any(|p| p.contains("failed with ENOSYS"))
                    {
                        proc_.partial.push(format!(
                            "{u} calls to functions this libc lacks failed with ENOSYS"
                        ));
                    }
                    if let Some(d) = n(&v, key::DROPPED).filter(|d| *d > 0) {
                        proc_.partial.push(format!(
                            "{d} unsafe calls not counted (the library's table was full)"
                        ));
                    }
                    let modules = modules_of(&v);
                    let sites = v
                        .get(key::SITES)
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .map(|site| {
                                    let addr = site.get(key::SITE).and_then(parse_hex);
                                    SummarySite {
                                        function: s(site, key::FUNCTION).unwrap_or_default(),
                                        site: addr,
                                        frame: addr.map(|addr| {
                                            let module = s(site, key::MODULE).unwrap_or_default();
                                            RawFrame {
                                                addr,
                                                offset: site
                                                    .get(key::OFFSET)
                                                    .and_then(parse_hex)
                                                    .unwrap_or(addr),
                                                build_id: build_id_of(site)
                                                    .or_else(|| modules.get(&module).cloned()),
                                                module,
                                            }
                                        }),
                                        count: site
                                            .get(key::COUNT)
                                            .and_then(Value::as_u64)
                                            .unwrap_or(1),
                                    }
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    // Counts are cumulative: the last summary of the image wins.
                    segs.last_mut().expect("pushed above").summary = Some(Summary {
                        context: s(&v, key::CONTEXT),
                        exe,
                        sites,
                    });
                    if n(&v, key::DROPPED).is_some_and(|d| d > 0) {
                        self.warnings.push(format!(
                            "pid {pid}: {} unsafe calls were not counted (the library's table was full)",
                            n(&v, key::DROPPED).unwrap_or(0)
                        ));
                    }
                }
                // `fork` (verbosity=2) carries nothing a report uses.
                _ => {}
            }
        }
        for (pid, segs) in segments {
            for seg in segs {
                self.finish_segment(run, pid, seg, logged_at);
            }
        }
        Ok(())
    }

    /// Gives each report its count from the image's last summary, and turns summary sites that
    /// have no report record into occurrences of their own.
    fn finish_segment(
        &mut self,
        run: usize,
        pid: i64,
        seg: Segment,
        logged_at: Option<std::time::SystemTime>,
    ) {
        let Segment {
            mut reports,
            summary,
        } = seg;
        if let Some(summary) = &summary {
            let mut used = vec![false; summary.sites.len()];
            for occ in reports.iter_mut().filter(|o| o.kind == Kind::Report) {
                let site = occ.site.or_else(|| {
                    occ.stack
                        .iter()
                        .find(|f| !crate::symbolize::is_assafe_module(&f.module))
                        .map(|f| f.addr)
                });
                let mut total = 0;
                let mut found = false;
                for (i, s) in summary.sites.iter().enumerate() {
                    if s.function == occ.function && s.site.is_some() && s.site == site {
                        total += s.count;
                        found = true;
                        used[i] = true;
                    }
                }
                if found {
                    occ.count = total.max(1);
                }
            }
            let first = reports.first().cloned();
            for (i, site) in summary.sites.iter().enumerate() {
                if used[i] {
                    continue;
                }
                let Some(template) = first.as_ref() else {
                    // A summary with no report at all in this image.
                    reports.push(Occurrence {
                        kind: Kind::Report,
                        run,
                        pid,
                        exe: summary.exe.clone().unwrap_or_default(),
                        context: summary.context.clone().unwrap_or_else(|| "unknown".into()),
                        function: site.function.clone(),
                        reason: String::new(),
                        count: site.count,
                        strict: false,
                        signal_name: None,
                        certainty: None,
                        parent_threads: None,
                        errno_before: None,
                        errno_after: None,
                        site: site.site,
                        stack: site.frame.clone().into_iter().collect(),
                        logged_at,
                    });
                    continue;
                };
                let mut occ = template.clone();
                occ.kind = Kind::Report;
                occ.reason = reports
                    .iter()
                    .find(|r| r.function == site.function)
                    .map(|r| r.reason.clone())
                    .unwrap_or_default();
                occ.function = site.function.clone();
                occ.site = site.site;
                occ.count = site.count;
                if let Some(c) = &summary.context {
                    occ.context = c.clone();
                }
                occ.stack = site.frame.clone().into_iter().collect();
                reports.push(occ);
            }
        }
        self.occurrences.extend(reports);
    }

    /// Processes that loaded the library: every pid with any record — a `start` record (every
    /// process image that loads it writes one), a `fork` record (a fork child), or a report.
    pub fn processes_checked(&self) -> usize {
        self.processes.len()
    }

    /// The package of a run, when known.
    pub fn package(&self, run: usize) -> Option<&str> {
        self.runs.get(run).and_then(|r| r.package.as_deref())
    }
}

fn is_log_name(p: &Path) -> bool {
    pid_from_name(p).is_some()
}

/// `assafe.1234` → 1234.
fn pid_from_name(p: &Path) -> Option<i64> {
    let name = p.file_name()?.to_str()?;
    let (_, pid) = name.rsplit_once('.')?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}
