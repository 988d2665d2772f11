//! `/proc/PID/stat` and `/proc/PID/status` parsing.

/// The values of the lines `keys` (e.g. `b"SigCgt:"`) of a `/proc/PID/status` text, without the
/// separating whitespace and the newline; `None` for a key no line starts with. One pass from
/// the end (the lines assafe reads are in the second half), stopping once every key is found:
/// this runs at every program's start, so its cost counts.
pub fn status_values<'a, const N: usize>(s: &'a [u8], keys: [&[u8]; N]) -> [Option<&'a [u8]>; N] {
    let mut out = [None; N];
    let mut found = 0;
    let mut end = s.len();
    let mut i = s.len();
    while found < N {
        // Find the start of the line that ends at `end`.
        i = rfind_newline(s, i).map_or(0, |k| k + 1);
        let line = &s[i..end];
        for (k, key) in keys.iter().enumerate() {
            if line.first() == key.first() && out[k].is_none() && line.starts_with(key) {
                let v = &line[key.len()..];
                let skip = v.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
                let v = &v[skip..];
                out[k] = Some(v.strip_suffix(b"\n").unwrap_or(v));
                found += 1;
            }
        }
        if i == 0 {
            break;
        }
        end = i - 1;
        i -= 1;
    }
    out
}

/// The index of the last `\n` in `s[..end]`, eight bytes at a time (a word with a zero byte
/// after XOR with `\n`s; the trick may flag bytes above a real match, so bytes are confirmed).
fn rfind_newline(s: &[u8], end: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut i = end.min(s.len());
    while i >= 8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i - 8..i]);
        let x = u64::from_le_bytes(w) ^ (ONES * b'\n' as u64);
        if x.wrapping_sub(ONES) & !x & HIGHS != 0
            && let Some(k) = s[i - 8..i].iter().rposition(|&c| c == b'\n')
        {
            return Some(i - 8 + k);
        }
        i -= 8;
    }
    s[..i].iter().rposition(|&c| c == b'\n')
}

/// Parses a `/proc/PID/status` signal mask value (16 hex digits, bit n-1 = signal n).
pub fn parse_mask(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 16 {
        return None;
    }
    let mut m: u64 = 0;
    for &c in v {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        m = m << 4 | d as u64;
    }
    Some(m)
}

/// Field 20 (num_threads) of a /proc/PID/stat line; the command name (field 2) may contain spaces
/// and parentheses, so count from the last ')'.
pub fn num_threads(s: &[u8]) -> u32 {
    // The command name ends within the first 128 bytes (pid, " (", at most 64 bytes of name);
    // the numeric fields after it hold no ')'. Scanning only that far back keeps this cheap: it
    // runs at every fork of a multi-threaded process.
    let head = &s[..s.len().min(128)];
    let Some(close) = head.iter().rposition(|&c| c == b')') else {
        return 0;
    };
    // Fields after ") " start at field 3; num_threads is field 20.
    let mut field = 2;
    let mut n: u32 = 0;
    let mut in_num = false;
    for &c in &s[close + 1..] {
        if c == b' ' {
            if in_num && field == 20 {
                return n;
            }
            field += 1;
            in_num = false;
            n = 0;
            continue;
        }
        in_num = true;
        if field == 20 && c.is_ascii_digit() {
            n = n.saturating_mul(10).saturating_add((c - b'0') as u32);
        }
    }
    if field == 20 { n } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::{num_threads, parse_mask, status_values};

    /// One line's value (the library reads several in one pass with `status_values`).
    fn status_value<'a>(s: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
        status_values(s, [key])[0]
    }

    /// One line's signal mask, as the library parses it.
    fn status_mask(s: &[u8], key: &[u8]) -> Option<u64> {
        parse_mask(status_value(s, key)?)
    }

    const STATUS: &[u8] = b"Name:\ttrue\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000001000\n\
SigCgt:\t0000000180010202\nNoNewPrivs:\t0\nSeccomp:\t2\nSeccomp_filters:\t1\n";

    #[test]
    fn status_lines_by_key() {
        assert_eq!(status_value(STATUS, b"Seccomp:"), Some(&b"2"[..]));
        assert_eq!(status_value(STATUS, b"Name:"), Some(&b"true"[..]));
        assert_eq!(status_value(STATUS, b"Missing:"), None);
        // SIGPIPE (13) ignored; SIGINT (2), SIGUSR1 (10), SIGCHLD (17), 32 and 33 caught.
        assert_eq!(status_mask(STATUS, b"SigIgn:"), Some(1 << 12));
        assert_eq!(
            status_mask(STATUS, b"SigCgt:"),
            Some(1 << 1 | 1 << 9 | 1 << 16 | 1 << 31 | 1 << 32)
        );
    }

    #[test]
    fn rfind_newline_agrees_with_a_byte_loop() {
        let text: Vec<u8> = (0..300u32)
            .map(|i| {
                if i % 7 == 3 || i % 29 == 0 {
                    b'\n'
                } else {
                    (i % 250) as u8 + 1
                }
            })
            .collect();
        for end in 0..=text.len() {
            let want = text[..end].iter().rposition(|&c| c == b'\n');
            assert_eq!(super::rfind_newline(&text, end), want, "end {end}");
        }
        assert_eq!(super::rfind_newline(b"abc", 3), None);
        assert_eq!(
            super::rfind_newline(b"\n\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b", 9),
            Some(0)
        );
    }

    #[test]
    fn several_keys_in_one_pass() {
        let [a, b, c, d] = super::status_values(STATUS, [b"Seccomp:", b"SigIgn:", b"Name:", b"X:"]);
        assert_eq!(
            (a, b, c, d),
            (
                Some(&b"2"[..]),
                Some(&b"0000000000001000"[..]),
                Some(&b"true"[..]),
                None
            )
        );
    }

    #[test]
    fn malformed_masks_are_none() {
        assert_eq!(status_mask(b"SigCgt:\t00zz\n", b"SigCgt:"), None);
        assert_eq!(status_mask(b"SigCgt:\t\n", b"SigCgt:"), None);
        assert_eq!(
            status_mask(b"SigCgt:\t00000000000000000\n", b"SigCgt:"),
            None
        );
        // A truncated read: the last line has no newline.
        assert_eq!(
            status_mask(b"SigCgt:\t0000000000000004", b"SigCgt:"),
            Some(4)
        );
    }

    #[test]
    fn field_20_is_the_thread_count() {
        let line = b"1234 (prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 7 0 12345 1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(num_threads(line), 7);
    }

    #[test]
    fn command_names_with_spaces_and_parens() {
        let line = b"42 (a) b (c) d) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 1 1 1";
        assert_eq!(num_threads(line), 3);
    }

    #[test]
    fn short_or_malformed_lines_give_zero() {
        assert_eq!(num_threads(b""), 0);
        assert_eq!(num_threads(b"no parenthesis 1 2 3"), 0);
        assert_eq!(num_threads(b"1 (x) S 1 2 3"), 0);
    }

    #[test]
    fn last_field_without_trailing_space() {
        let line = b"1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 12";
        assert_eq!(num_threads(line), 12);
    }
}
