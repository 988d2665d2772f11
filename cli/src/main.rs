//! `assafe`: run a program under libassafe.so and report async-signal-unsafe calls.

use assafe_cli::analyze::{self, CommandInfo, Report};
use assafe_cli::logs::Logs;
use assafe_cli::run::{self, RunConfig};
use assafe_cli::symbolize::Symbolizer;
use assafe_cli::{collect, preflight, render, sarif, suppress};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Status when assafe itself fails (bad options, library not found, CMD cannot be started).
const TOOL_ERROR: u8 = 125;

#[derive(Parser)]
#[command(
    name = "assafe",
    version,
    about = "Find async-signal-unsafe calls in fork children, vfork children and signal handlers"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run CMD (and every process it starts) under libassafe.so and report what it found.
    Run(RunArgs),
    /// Report on stdout from logs kept earlier (--keep-logs dirs, autopkgtest output dirs, or
    /// trees of them from many workers); merges any number of runs and packages.
    Report(ReportArgs),
    /// Like run, for autopkgtest: keeps CMD's exit status, never writes to stderr, writes
    /// assafe.json, assafe.sarif and assafe.txt into $AUTOPKGTEST_ARTIFACTS or --output-dir.
    /// With --packages: runs the autopkgtests of source packages with the library injected.
    Audit(AuditArgs),
    /// Print the LD_PRELOAD entry `run` uses, for plain `LD_PRELOAD="$(assafe lib)"`: one path
    /// with a literal `$LIB` that glibc's loader expands to a link to the glibc build and musl's
    /// loader finds as a directory holding the musl build, so glibc and musl programs of a tree
    /// each load their own (quote it: a shell must not expand `$LIB`). --glibc, --musl: the
    /// path of one build.
    Lib(LibArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (assafe.1, assafe-run.1, …) into DIR.
    #[command(hide = true)]
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Args)]
struct LibArgs {
    /// The library to check and print (default: $ASSAFE_LIB, next to this binary, ../lib, the
    /// copy embedded in this binary, target/*).
    #[arg(long, value_name = "PATH")]
    lib: Option<PathBuf>,
    /// Print the path of the glibc build itself.
    #[arg(long, conflicts_with = "musl")]
    glibc: bool,
    /// Print the path of the musl build itself (fails when there is none).
    #[arg(long)]
    musl: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Sarif,
    /// A single self-contained HTML page (report only; `run` accepts it too).
    Html,
}

#[derive(Args)]
struct CheckArgs {
    /// Also report calls that are unsafe only in theory (passes strict=1).
    #[arg(long)]
    strict: bool,
    /// Suppression file (`context:pattern` lines); repeatable.
    #[arg(long = "suppressions", value_name = "FILE")]
    suppressions: Vec<PathBuf>,
    /// Extra key=value for ASSAFE_OPTIONS; repeatable.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// The library to preload (default: $ASSAFE_LIB, next to this binary, ../lib, target/*).
    #[arg(long, value_name = "PATH")]
    lib: Option<PathBuf>,
    /// Do not re-add the library when a process execs with a cleaned environment (follow_exec=0).
    #[arg(long)]
    no_follow_exec: bool,
    /// Write the logs into DIR and keep them (for `assafe report`).
    #[arg(long, value_name = "DIR")]
    keep_logs: Option<PathBuf>,
}

/// `--fail-on`: the least severe finding that fails the run.
#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Hazard,
    Portable,
}

impl FailOn {
    fn threshold(self) -> assafe_proto::Severity {
        match self {
            FailOn::Hazard => assafe_proto::Severity::Hazard,
            FailOn::Portable => assafe_proto::Severity::Portable,
        }
    }
}

#[derive(Args)]
struct OutputArgs {
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write the report to FILE (default: stderr for run, stdout for report).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit status when there are unsuppressed findings (0: keep the normal status).
    #[arg(long, value_name = "N", default_value_t = 66)]
    error_exitcode: u8,
    /// Which findings make the exit status --error-exitcode: hazard (calls that can deadlock or
    /// corrupt with this C library: hazard and definite), or portable (also calls POSIX leaves
    /// undefined that work here: every finding, the default).
    #[arg(long, value_enum, value_name = "SEVERITY", default_value = "portable")]
    fail_on: FailOn,
    /// Repository root for relative SARIF URIs (default: git toplevel of the working directory).
    #[arg(long, value_name = "DIR")]
    repo_root: Option<PathBuf>,
    /// Text: print at most N frames of a stack (the first ones through the frame in your code,
    /// then the outermost, `… N frames …` between); 0 prints whole stacks.
    #[arg(long, value_name = "N", default_value_t = render::DEFAULT_MAX_FRAMES)]
    max_frames: usize,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    check: CheckArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// The command to run, after `--`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "CMD"
    )]
    cmd: Vec<OsString>,
}

#[derive(Args)]
struct ReportArgs {
    /// Suppression file; repeatable.
    #[arg(long = "suppressions", value_name = "FILE")]
    suppressions: Vec<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
    /// Log directories or files (--keep-logs, log_path), autopkgtest output directories, or
    /// directories holding any number of them (searched recursively).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

#[derive(Args)]
struct AuditArgs {
    #[command(flatten)]
    check: CheckArgs,
    /// Where to write assafe.json/assafe.sarif/assafe.txt (default: $AUTOPKGTEST_ARTIFACTS).
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Repository root for relative SARIF URIs.
    #[arg(long, value_name = "DIR")]
    repo_root: Option<PathBuf>,
    /// CMD is a list of source packages (names, source directories or .dsc files): run each
    /// one's autopkgtests (autopkgtest … -- null) with the library injected, logs into each run's
    /// artifacts, without and with the library, compare the verdicts, and write the merged
    /// report (assafe.json, assafe.html, assafe.txt) into --output-dir.
    #[arg(long)]
    packages: bool,
    /// With --packages: do not run each package without the library first (no verdict check).
    #[arg(long, requires = "packages")]
    no_baseline: bool,
    /// With --packages: an extra argument for autopkgtest (repeatable), e.g. --timeout-test=300.
    #[arg(
        long = "autopkgtest-arg",
        value_name = "ARG",
        allow_hyphen_values = true
    )]
    autopkgtest_args: Vec<String>,
    /// The command to run, after `--` (with --packages: the packages).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "CMD"
    )]
    cmd: Vec<OsString>,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("assafe: {msg}");
    ExitCode::from(TOOL_ERROR)
}

fn render(report: &Report, out: &OutputArgs) -> String {
    let (format, repo_root) = (out.format, out.repo_root.as_deref());
    match format {
        Format::Text => render::text_with(report, out.max_frames),
        Format::Json => render::json(report),
        Format::Sarif => sarif::sarif(report, sarif::repo_root(repo_root).as_deref()),
        Format::Html => render::html_with(report, out.max_frames),
    }
}

/// Where a report goes without `--output`: `run` writes to stderr (the program owns stdout);
/// `report` writes to stdout (it is the command's output).
#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

fn emit(text: &str, output: Option<&Path>, stream: Stream) -> Result<(), String> {
    let write = |w: &mut dyn Write| {
        w.write_all(text.as_bytes())
            .and_then(|()| w.flush())
            .map_err(|e| format!("writing the report: {e}"))
    };
    match (output, stream) {
        (Some(p), _) => fs::write(p, text).map_err(|e| format!("--output {}: {e}", p.display())),
        (None, Stream::Stdout) => write(&mut std::io::stdout().lock()),
        (None, Stream::Stderr) => write(&mut std::io::stderr().lock()),
    }
}

fn run_config(check: &CheckArgs, lib: Option<PathBuf>) -> Result<RunConfig, String> {
    for o in &check.options {
        run::validate_option(o)?;
    }
    Ok(RunConfig {
        lib,
        strict: check.strict,
        follow_exec: !check.no_follow_exec,
        options: check.options.clone(),
        suppressions: check.suppressions.clone(),
        keep_logs: check.keep_logs.clone(),
    })
}

fn argv_strings(cmd: &[OsString]) -> Vec<String> {
    cmd.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

fn cmd_run(a: RunArgs) -> ExitCode {
    let supps = match suppress::load(&a.check.suppressions) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let lib = match run::find_library(a.check.lib.as_deref()) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    preflight::use_library(&lib);
    let cfg = match run_config(&a.check, Some(lib)) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let resolved = preflight::resolve(&a.cmd[0], std::env::var_os("PATH").as_deref());
    if let Some(why) = resolved.as_deref().and_then(preflight::why_unchecked) {
        eprintln!("assafe: cannot check this program: {why}; it runs unchecked");
    }
    let outcome = match run::run(&a.cmd, &cfg) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let mut sym = Symbolizer::new();
    let mut report = analyze::analyze(&outcome.logs, &supps, &mut sym, outcome.unchecked.clone());
    report.command = Some(CommandInfo {
        argv: argv_strings(&a.cmd),
        status: outcome.status,
    });
    if let Err(e) = emit(
        &render(&report, &a.out),
        a.out.output.as_deref(),
        Stream::Stderr,
    ) {
        return fail(e);
    }
    if let Some(sig) = outcome.signal {
        // Ends as the program did, before --error-exitcode (a shell must still see the signal).
        // The report is out; the temporary directory goes with `outcome`.
        drop(outcome);
        run::die_of(sig)
    } else if analyze::fails(&report, a.out.fail_on.threshold()) && a.out.error_exitcode != 0 {
        ExitCode::from(a.out.error_exitcode)
    } else {
        ExitCode::from(outcome.status.clamp(0, 255) as u8)
    }
}

fn cmd_report(a: ReportArgs) -> ExitCode {
    let supps = match suppress::load(&a.suppressions) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let logs = match collect::discover(&a.dirs).and_then(|runs| Logs::read_runs(&runs)) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let mut sym = Symbolizer::new();
    // Kept logs may be older than the modules on disk: say when a build cannot be verified.
    sym.warn_unverified = true;
    let report = analyze::analyze(&logs, &supps, &mut sym, run::exec_unchecked(&logs));
    if let Err(e) = emit(
        &render(&report, &a.out),
        a.out.output.as_deref(),
        Stream::Stdout,
    ) {
        return fail(e);
    }
    if analyze::fails(&report, a.out.fail_on.threshold()) && a.out.error_exitcode != 0 {
        ExitCode::from(a.out.error_exitcode)
    } else {
        ExitCode::SUCCESS
    }
}

fn cmd_audit_packages(a: AuditArgs) -> ExitCode {
    let Some(out_dir) = a.output_dir.clone() else {
        return fail("audit --packages needs --output-dir DIR");
    };
    let lib = match run::find_library(a.check.lib.as_deref()) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    for o in &a.check.options {
        if let Err(e) = run::validate_option(o) {
            return fail(e);
        }
    }
    let mut options = a.check.options.clone();
    if a.check.strict {
        options.push("strict=1".to_owned());
    }
    if let Err(e) = fs::create_dir_all(&out_dir) {
        return fail(format!("--output-dir {}: {e}", out_dir.display()));
    }
    let out_dir = out_dir.canonicalize().unwrap_or(out_dir);
    let cfg = assafe_cli::audit::PackagesConfig {
        lib,
        options,
        output_dir: out_dir.clone(),
        baseline: !a.no_baseline,
        autopkgtest_args: a.autopkgtest_args.clone(),
        runner: Vec::new(),
    };
    let specs = argv_strings(&a.cmd);
    let outcomes = assafe_cli::audit::run_packages(&specs, &cfg);
    // One report over every package's run with the library (baselines are not packages of it).
    let supps = suppress::load(&a.check.suppressions).unwrap_or_default();
    let logs = match collect::discover(std::slice::from_ref(&out_dir))
        .and_then(|runs| Logs::read_runs(&runs))
    {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let mut sym = Symbolizer::new();
    let report = analyze::analyze(&logs, &supps, &mut sym, run::exec_unchecked(&logs));
    let root = sarif::repo_root(a.repo_root.as_deref());
    let _ = fs::write(out_dir.join("assafe.json"), render::json(&report));
    let _ = fs::write(out_dir.join("assafe.html"), render::html(&report));
    let _ = fs::write(out_dir.join("assafe.txt"), render::text(&report));
    let _ = fs::write(
        out_dir.join("assafe.sarif"),
        sarif::sarif(&report, root.as_deref()),
    );
    let _ = fs::write(
        out_dir.join("verdicts.json"),
        serde_json::to_string_pretty(&outcomes).unwrap_or_default() + "\n",
    );
    println!(
        "{:<24} {:>6} {:>9} {:>8} {:>9} {:>8}  verdicts",
        "package", "tests", "baseline", "assafe", "processes", "findings"
    );
    let mut differ = 0;
    for o in &outcomes {
        let p = report.packages.iter().find(|p| p.package == o.package);
        let verdict = match o.same_verdicts {
            Some(true) => "same",
            Some(false) => {
                differ += 1;
                "DIFFERENT"
            }
            None => "-",
        };
        let st = |s: Option<i32>| s.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
        println!(
            "{:<24} {:>6} {:>9} {:>8} {:>9} {:>8}  {verdict}",
            o.package,
            o.verdicts.len(),
            st(o.baseline_status),
            st(o.status),
            p.map_or(0, |p| p.processes_checked),
            p.map_or(0, |p| p.findings),
        );
    }
    println!(
        "{} packages, {} findings in {} processes checked ({} not checked); report: {}",
        outcomes.len(),
        report.findings.len(),
        report.processes_checked,
        report.processes_unchecked.len(),
        out_dir.join("assafe.html").display()
    );
    if differ > 0 {
        eprintln!("assafe: {differ} packages have different test verdicts with the library");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn cmd_audit(a: AuditArgs) -> ExitCode {
    if a.packages {
        return cmd_audit_packages(a);
    }
    // Never write to stderr (autopkgtest fails a test that does); problems go into the files.
    let Some(out_dir) = a.output_dir.clone().or_else(|| {
        std::env::var_os("AUTOPKGTEST_ARTIFACTS")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }) else {
        // A usage error, before anything ran: say so (this is not a test's output).
        return fail("audit needs --output-dir DIR or $AUTOPKGTEST_ARTIFACTS");
    };
    let mut notes = Vec::new();
    let supps = suppress::load(&a.check.suppressions).unwrap_or_else(|e| {
        notes.push(format!("suppressions ignored: {e}"));
        Vec::new()
    });
    let lib = run::find_library(a.check.lib.as_deref())
        .map_err(|e| notes.push(e))
        .ok();
    if let Some(l) = &lib {
        preflight::use_library(l);
    }
    let mut check = a.check;
    check.options.retain(|o| match run::validate_option(o) {
        Ok(()) => true,
        Err(e) => {
            notes.push(format!("ignored: {e}"));
            false
        }
    });
    let cfg = run_config(&check, lib).expect("options were validated");
    let resolved = preflight::resolve(&a.cmd[0], std::env::var_os("PATH").as_deref());
    if let Some(why) = resolved.as_deref().and_then(preflight::why_unchecked) {
        notes.push(format!("cannot check this program: {why}"));
    }
    let (status, mut report) = match run::run(&a.cmd, &cfg) {
        Ok(o) => {
            let mut sym = Symbolizer::new();
            let r = analyze::analyze(&o.logs, &supps, &mut sym, o.unchecked.clone());
            (o.status, r)
        }
        Err(e) => {
            notes.push(e);
            let mut sym = Symbolizer::new();
            (
                127,
                analyze::analyze(&Logs::default(), &supps, &mut sym, Vec::new()),
            )
        }
    };
    report.warnings.splice(0..0, notes);
    report.command = Some(CommandInfo {
        argv: argv_strings(&a.cmd),
        status,
    });
    if fs::create_dir_all(&out_dir).is_ok() {
        let root = sarif::repo_root(a.repo_root.as_deref());
        let _ = fs::write(out_dir.join("assafe.json"), render::json(&report));
        let _ = fs::write(
            out_dir.join("assafe.sarif"),
            sarif::sarif(&report, root.as_deref()),
        );
        let _ = fs::write(out_dir.join("assafe.txt"), render::text(&report));
    }
    ExitCode::from(status.clamp(0, 255) as u8)
}

fn cmd_lib(a: LibArgs) -> ExitCode {
    let lib = match run::find_library(a.lib.as_deref()) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let (glibc, musl) = run::libraries(&lib);
    let path = if a.glibc {
        glibc.ok_or_else(|| format!("no glibc build goes with {}", lib.display()))
    } else if a.musl {
        musl.ok_or_else(|| {
            format!(
                "no musl build of libassafe.so goes with {} (set ASSAFE_MUSL_LIB, or build it: RUSTFLAGS=\"-C target-feature=-crt-static\" cargo build --release -p assafe --target x86_64-unknown-linux-musl)",
                lib.display()
            )
        })
    } else {
        // Without a layout (no usable cache directory): the build found, with a warning.
        let (entry, warning) = run::preload_or_lib(&lib, run::shared_preload_entry(&lib));
        if let Some(w) = warning {
            eprintln!("assafe: warning: {w}");
        }
        Ok(PathBuf::from(entry))
    };
    match path {
        Ok(p) => {
            println!("{}", p.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn cmd_man(dir: &Path) -> ExitCode {
    use clap::CommandFactory;
    let write = || -> std::io::Result<()> {
        fs::create_dir_all(dir)?;
        clap_mangen::generate_to(Cli::command(), dir)
    };
    match write() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("writing man pages into {}: {e}", dir.display())),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Run(a) => cmd_run(a),
        Cmd::Report(a) => cmd_report(a),
        Cmd::Audit(a) => cmd_audit(a),
        Cmd::Lib(a) => cmd_lib(a),
        Cmd::Completions { shell } => {
            use clap::CommandFactory;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "assafe", &mut script);
            match std::io::stdout().lock().write_all(&script) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => fail(format!("writing the completions: {e}")),
            }
        }
        Cmd::Man { dir } => cmd_man(&dir),
    }
}
