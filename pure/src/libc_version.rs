//! A C library's version string (`gnu_get_libc_version()`: `"2.36"`), compared without parsing
//! into anything bigger than two numbers.

/// Is `v` (`"MAJOR.MINOR[.…]"`) at least `major.minor`? A string that does not start with two
/// dot-separated numbers is not.
pub fn at_least(v: &[u8], major: u32, minor: u32) -> bool {
    let mut parts = v.split(|&c| c == b'.');
    let mut num = || -> Option<u32> {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 9 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(p.iter().fold(0, |n, &c| n * 10 + (c - b'0') as u32))
    };
    match (num(), num()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::at_least;

    #[test]
    fn compares_major_then_minor() {
        assert!(at_least(b"2.36", 2, 33));
        assert!(at_least(b"2.33", 2, 33));
        assert!(!at_least(b"2.31", 2, 33));
        assert!(!at_least(b"2.9", 2, 33));
        assert!(at_least(b"3.0", 2, 33));
        assert!(at_least(b"2.40.9000", 2, 33));
        assert!(!at_least(b"", 2, 33));
        assert!(!at_least(b"2", 2, 33));
        assert!(!at_least(b"x.y", 2, 33));
    }
}
