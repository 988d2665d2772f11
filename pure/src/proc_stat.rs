//! `/proc/PID/stat` parsing.

/// Field 20 (num_threads) of a /proc/PID/stat line; the command name (field 2) may contain spaces
/// and parentheses, so count from the last ')'.
pub fn num_threads(s: &[u8]) -> u32 {
    let Some(close) = s.iter().rposition(|&c| c == b')') else {
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
    use super::num_threads;

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
