//! The suppression pattern matcher (`*` and `?` wildcards, whole-string match), shared by the
//! preload (which matches raw bytes: module paths need not be UTF-8) and the CLI.

/// Does `pat` match all of `s`? `*` matches any run (possibly empty), `?` one character (one
/// UTF-8 sequence when one starts there, else one byte); every other byte matches itself.
/// Iterative with one backtrack point: no allocation, no recursion, O(len(pat) × len(s)).
pub fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    // (index of the last `*` in pat, where in s its match currently ends)
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() && pat[p] == b'?' {
            p += 1;
            i += char_len(&s[i..]);
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some((p, i));
            p += 1;
        } else if p < pat.len() && pat[p] == s[i] {
            p += 1;
            i += 1;
        } else if let Some((sp, si)) = star {
            // Let the last `*` swallow one more character and retry after it.
            let si = si + char_len(&s[si..]);
            p = sp + 1;
            i = si;
            star = Some((sp, si));
        } else {
            return false;
        }
    }
    while p < pat.len() && pat[p] == b'*' {
        p += 1;
    }
    p == pat.len()
}

/// Length of the character at the start of `s` (non-empty): its UTF-8 sequence, else 1.
fn char_len(s: &[u8]) -> usize {
    match crate::json::utf8_width(s) {
        0 => 1,
        w => w,
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    fn g(p: &str, s: &str) -> bool {
        glob(p.as_bytes(), s.as_bytes())
    }

    #[test]
    fn literals_and_stars() {
        assert!(g("malloc", "malloc"));
        assert!(!g("malloc", "malloc_usable_size"));
        assert!(!g("malloc", "mallo"));
        assert!(g("*alloc", "calloc"));
        assert!(g("*", ""));
        assert!(g("**", "abc"));
        assert!(!g("", "a"));
        assert!(g("", ""));
        assert!(g("std::*", "std::process::Command::spawn"));
        assert!(g("*/vendor/*", "/src/vendor/x.c"));
        assert!(g("a*b*c", "aXbYbZc"));
        assert!(!g("a*b*c", "aXbYbZ"));
        assert!(g("*.so*", "libfoo.so.1"));
        assert!(g("lib*.so", "libc.so.so"));
    }

    #[test]
    fn question_mark() {
        assert!(g("f?o", "foo"));
        assert!(!g("f?o", "fo"));
        assert!(!g("f?o", "fooo"));
        assert!(g("?*", "x"));
        assert!(!g("?*", ""));
        // One `?` is one character, also when it is several bytes.
        assert!(g("caf?", "café"));
        assert!(!g("caf??", "café"));
        assert!(g("*?", "é"));
        assert!(!g("*??", "é"));
        assert!(g("*?c", "éxc"));
        assert!(g("?*x", "éyx"));
    }

    #[test]
    fn raw_bytes() {
        // Module paths are bytes: invalid UTF-8 matches byte by byte.
        assert!(glob(b"/lib/\xff*", b"/lib/\xff\xfe.so"));
        assert!(glob(b"?", b"\xff"));
        assert!(!glob(b"?", b"\xff\xfe"));
        assert!(glob(b"*\xfe", b"\xff\xfe"));
    }

    #[test]
    fn pathological_backtracking_terminates() {
        let s = [b'a'; 200];
        let mut p = [b'*'; 41];
        for (i, c) in p.iter_mut().enumerate() {
            if i % 2 == 1 {
                *c = b'a';
            }
        }
        assert!(glob(&p, &s));
        assert!(!glob(b"*a*a*a*a*b", &s));
    }
}
