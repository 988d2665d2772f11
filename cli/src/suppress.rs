//! Suppression files: one `context:pattern` per line, `#` comments, `*` wildcards.
//!
//! Contexts: `fork:`, `vfork:`, `signal:`, `cancel:`, `errno:` and `*:` (any). A pattern matches a
//! finding when it matches, as a whole (`*` matches any run of characters, `?` one character),
//! the interposed function's name or any frame's function, source file (full path or base name)
//! or module (full path or base name).

use crate::symbolize::SymFrame;
use assafe_proto::{Context, ERRNO_RULE};
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Suppression {
    /// Report context this applies to (`fork-child` …), or `None` for `*`.
    pub context: Option<String>,
    pub pattern: String,
    /// The line as written (`fork:malloc`).
    pub text: String,
    pub file: PathBuf,
    pub line: usize,
}

/// Maps a suppression-file context word to the finding context it selects (`Some(None)` for
/// `*`, any context), or `None` for an unknown word.
pub fn context_of(word: &str) -> Option<Option<&'static str>> {
    if word == "*" {
        return Some(None);
    }
    if word == ERRNO_RULE {
        return Some(Some(ERRNO_RULE));
    }
    if let Some(h) = assafe_proto::Hygiene::from_name(word) {
        // Process hygiene: the kind's name is its word and its findings' context.
        return Some(Some(h.name()));
    }
    Context::from_suppression_word(word).map(|c| Some(c.name()))
}

/// Parses one suppression file's text.
pub fn parse(text: &str, file: &Path) -> Result<Vec<Suppression>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((ctx, pattern)) = line.split_once(':') else {
            return Err(format!(
                "{}:{}: expected CONTEXT:PATTERN (fork, vfork, signal, cancel, errno, a hygiene kind such as zombie, or *), got {line:?}",
                file.display(),
                i + 1
            ));
        };
        let Some(context) = context_of(ctx.trim()) else {
            return Err(format!(
                "{}:{}: unknown context {:?} (use fork, vfork, signal, cancel, errno, a hygiene kind such as zombie, or *)",
                file.display(),
                i + 1,
                ctx.trim()
            ));
        };
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Err(format!("{}:{}: empty pattern", file.display(), i + 1));
        }
        out.push(Suppression {
            context: context.map(str::to_owned),
            pattern: pattern.to_owned(),
            text: line.to_owned(),
            file: file.to_path_buf(),
            line: i + 1,
        });
    }
    Ok(out)
}

/// Reads and parses suppression files.
pub fn load(files: &[PathBuf]) -> Result<Vec<Suppression>, String> {
    let mut out = Vec::new();
    for f in files {
        let text = fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        out.extend(parse(&text, f)?);
    }
    Ok(out)
}

/// `*` and `?` wildcard match of the whole text (the matcher the preload uses too).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    assafe_proto::glob(pattern.as_bytes(), text.as_bytes())
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

impl Suppression {
    /// Whether this suppression matches a finding.
    pub fn matches(&self, context: &str, function: &str, stack: &[SymFrame]) -> bool {
        if self.context.as_deref().is_some_and(|c| c != context) {
            return false;
        }
        let m = |s: &str| glob_match(&self.pattern, s);
        if m(function) {
            return true;
        }
        stack.iter().any(|f| {
            f.function.as_deref().is_some_and(m)
                || f.file.as_deref().is_some_and(|x| m(x) || m(basename(x)))
                || f.module.as_deref().is_some_and(|x| m(x) || m(basename(x)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matcher is proto's (tested there); this only checks the CLI goes through it.
    #[test]
    fn globs() {
        assert!(glob_match("std::*", "std::process::Command::spawn"));
        assert!(!glob_match("malloc", "malloc_usable_size"));
        assert!(glob_match("caf?", "café"));
    }

    #[test]
    fn parsing() {
        let s = parse("# c\n\nfork:malloc\n*: libfoo.so \n", Path::new("x")).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].context.as_deref(), Some("fork-child"));
        assert_eq!(s[1].context, None);
        assert_eq!(s[1].pattern, "libfoo.so");
        assert!(parse("bogus:x", Path::new("x")).is_err());
        assert!(parse("nocolon", Path::new("x")).is_err());
    }
}
