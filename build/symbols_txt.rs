//! The one reader of `symbols.txt`, shared by `build.rs` and the tests (each includes this file
//! with `#[path]`). The columns are documented once, in the header `scripts/gen-symbols.py`
//! writes; this reader takes their names from that header and finds each field by name, and the
//! classes, their handling and the flag bits the build encodes are defined here only.

#![allow(dead_code)]

/// The columns this reader needs; the header may list them in any order, and must list them all.
const NEEDED: [&str; 7] = [
    "name", "version", "class", "reason", "posix", "glibc", "hot",
];

/// How the library handles one class of symbol.
pub struct ClassInfo {
    /// The word in the class column.
    pub word: &'static str,
    /// The `Class` variant the build generates (empty: not interposed, no stub).
    pub variant: &'static str,
    /// The stub always takes the slow path (exec and exit write summaries; the others are sent to
    /// their hand-written wrapper after the call is checked).
    pub always_slow: bool,
}

pub const CLASSES: &[ClassInfo] = &[
    class("safe", "", false),
    class("skip", "", false),
    class("unsafe", "Unsafe", false),
    class("fork", "Fork", true),
    class("_fork", "UFork", true),
    class("vfork", "Vfork", true),
    class("exec", "Exec", true),
    class("exit", "Exit", true),
    class("_exit", "UExit", true),
    class("sigaction", "Sigaction", true),
    class("jmp", "Jmp", true),
    class("cancel", "Cancel", true),
    class("init", "Init", false),
    class("dlopen", "Dlopen", true),
    class("sandbox", "Sandbox", true),
    class("fd", "Fd", true),
    class("atexit", "Atexit", true),
    class("spawn", "Spawn", true),
    class("thread", "Thread", true),
];

const fn class(word: &'static str, variant: &'static str, always_slow: bool) -> ClassInfo {
    ClassInfo {
        word,
        variant,
        always_slow,
    }
}

/// Flag bits of the generated `FLAGS` table (name, value, meaning).
pub const FLAG_BITS: &[(&str, u8, &str)] = &[
    ("F_POSIX_UNSAFE", 1, "unsafe under the posix verdict"),
    ("F_GLIBC_UNSAFE", 2, "unsafe under the glibc verdict"),
    (
        "F_HOT",
        4,
        "hot stub: no fork-sentinel test on the fast path",
    ),
    ("F_ALWAYS_SLOW", 8, "the stub always takes the slow path"),
];

/// One row of symbols.txt.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub version: String,
    pub class: String,
    pub reason: String,
    pub posix_unsafe: bool,
    pub glibc_unsafe: bool,
    pub hot: bool,
    /// musl's own verdict (the `musl` column): `None` when musl does not export the name (or
    /// the table has no such column).
    pub musl_unsafe: Option<bool>,
    /// Which libcs export the name (the `libcs` column; empty without it).
    pub libcs: String,
}

impl Row {
    pub fn class_info(&self) -> &'static ClassInfo {
        CLASSES
            .iter()
            .find(|c| c.word == self.class)
            .expect("checked by parse")
    }

    /// Has a stub (every class but safe and skip).
    pub fn interposed(&self) -> bool {
        !self.class_info().variant.is_empty()
    }

    /// The `FLAGS` byte of this row.
    pub fn flags(&self) -> u8 {
        let bit = |n: &str| FLAG_BITS.iter().find(|f| f.0 == n).unwrap().1;
        let mut f = 0;
        if self.posix_unsafe {
            f |= bit("F_POSIX_UNSAFE");
        }
        if self.glibc_unsafe {
            f |= bit("F_GLIBC_UNSAFE");
        }
        if self.hot {
            f |= bit("F_HOT");
        }
        if self.class_info().always_slow {
            f |= bit("F_ALWAYS_SLOW");
        }
        f
    }
}

/// The column names the header documents, in order.
pub fn header_columns(text: &str) -> Result<Vec<String>, String> {
    let mut lines = text.lines().take_while(|l| l.starts_with('#'));
    lines
        .by_ref()
        .find(|l| l.starts_with("# Columns, tab-separated"))
        .ok_or("symbols.txt: no '# Columns, tab-separated' section in the header")?;
    let mut cols = Vec::new();
    for l in lines {
        if l.trim_end() == "#" {
            break;
        }
        // "#   name     doc"; continuation lines are indented further.
        if let Some(rest) = l.strip_prefix("#   ")
            && !rest.starts_with(' ')
            && let Some(word) = rest.split_whitespace().next()
        {
            cols.push(word.to_string());
        }
    }
    if cols.is_empty() {
        return Err("symbols.txt: the header lists no columns".into());
    }
    Ok(cols)
}

/// Parses symbols.txt (every row, interposed or not), checking every field.
pub fn parse(text: &str) -> Result<Vec<Row>, String> {
    let cols = header_columns(text)?;
    let at = |name: &str| {
        cols.iter()
            .position(|c| c == name)
            .ok_or_else(|| format!("symbols.txt: the header does not list column {name}"))
    };
    let mut ix = [0usize; NEEDED.len()];
    for (i, n) in NEEDED.iter().enumerate() {
        ix[i] = at(n)?;
    }
    let musl_ix = cols.iter().position(|c| c == "musl");
    let libcs_ix = cols.iter().position(|c| c == "libcs");
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let err = |what: String| format!("symbols.txt:{}: {what}: {line}", n + 1);
        if f.len() != cols.len() {
            return Err(err(format!(
                "{} tab-separated columns expected (the header lists {}), found {}",
                cols.len(),
                cols.join(" "),
                f.len()
            )));
        }
        let verdict = |s: &str| match s {
            "safe" => Ok(false),
            "unsafe" => Ok(true),
            other => Err(err(format!("verdict must be safe|unsafe, got {other}"))),
        };
        let class = f[ix[2]];
        if !CLASSES.iter().any(|c| c.word == class) {
            return Err(err(format!("unknown class {class}")));
        }
        let hot = match f[ix[6]] {
            "hot" => true,
            "-" => false,
            other => return Err(err(format!("hot must be hot or -, got {other}"))),
        };
        if !seen.insert(f[ix[0]].to_string()) {
            return Err(err(format!("{} is listed twice", f[ix[0]])));
        }
        rows.push(Row {
            name: f[ix[0]].to_string(),
            version: f[ix[1]].to_string(),
            class: class.to_string(),
            reason: f[ix[3]].to_string(),
            posix_unsafe: verdict(f[ix[4]])?,
            glibc_unsafe: verdict(f[ix[5]])?,
            hot,
            musl_unsafe: match musl_ix.map(|i| f[i]) {
                None | Some("-") => None,
                Some(v) => Some(verdict(v)?),
            },
            libcs: libcs_ix.map(|i| f[i].to_string()).unwrap_or_default(),
        });
    }
    Ok(rows)
}
