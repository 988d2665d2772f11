//! Writing JSON string literals without allocating, into any byte [`Sink`].
//!
//! The one JSON string escaper of the workspace: the preload writes every string through it (its
//! record buffer, `assafe_pure::fmt::Buf`, is a [`Sink`]). `"` and `\` are escaped, `\n` and `\t`
//! use their short forms, other control bytes and DEL become `\u00NN`, valid UTF-8
//! sequences are copied, and every byte of an invalid sequence becomes `\u00NN` (so a non-UTF-8
//! path survives as its Latin-1 reading and the line stays valid JSON).

/// Somewhere bytes go. A sink may truncate; the escaper never needs to know.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `s` as a JSON string literal, quotes included.
pub fn json_str<S: Sink + ?Sized>(out: &mut S, s: &[u8]) {
    out.put(b"\"");
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        match c {
            b'"' => out.put(b"\\\""),
            b'\\' => out.put(b"\\\\"),
            b'\n' => out.put(b"\\n"),
            b'\t' => out.put(b"\\t"),
            0x20..=0x7e => out.put(&[c]),
            0x80..=0xff if utf8_width(&s[i..]) > 0 => {
                let w = utf8_width(&s[i..]);
                out.put(&s[i..i + w]);
                i += w;
                continue;
            }
            _ => out.put(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(c >> 4) as usize],
                HEX[(c & 15) as usize],
            ]),
        }
        i += 1;
    }
    out.put(b"\"");
}

/// Length of the valid UTF-8 sequence at the start of `s`, or 0 (also for ASCII and empty `s`).
pub fn utf8_width(s: &[u8]) -> usize {
    let w = match s.first() {
        Some(0xc2..=0xdf) => 2,
        Some(0xe0..=0xef) => 3,
        Some(0xf0..=0xf4) => 4,
        _ => return 0,
    };
    if s.len() < w {
        return 0;
    }
    match core::str::from_utf8(&s[..w]) {
        Ok(_) => w,
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    impl Sink for Vec<u8> {
        fn put(&mut self, bytes: &[u8]) {
            self.extend_from_slice(bytes);
        }
    }

    fn esc(s: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        json_str(&mut v, s);
        v
    }

    #[test]
    fn escapes_like_the_preload() {
        assert_eq!(esc(b"plain /x.so"), b"\"plain /x.so\"");
        assert_eq!(esc(b""), b"\"\"");
        assert_eq!(esc(b"a\"b\\c"), b"\"a\\\"b\\\\c\"");
        assert_eq!(esc(b"l1\nl2\tx"), b"\"l1\\nl2\\tx\"");
        assert_eq!(
            esc(b"\x00\x01\r\x1f\x7f"),
            b"\"\\u0000\\u0001\\u000d\\u001f\\u007f\""
        );
        // Valid UTF-8 is kept as is (2, 3 and 4 byte sequences).
        assert_eq!(esc("é€😀".as_bytes()), "\"é€😀\"".as_bytes());
        // Invalid sequences: each byte escaped.
        assert_eq!(esc(b"\xff\xc3"), b"\"\\u00ff\\u00c3\"");
        assert_eq!(esc(b"\xc3("), b"\"\\u00c3(\"");
        assert_eq!(esc(b"\xed\xa0\x80"), b"\"\\u00ed\\u00a0\\u0080\""); // surrogate
        assert_eq!(esc(b"\xc0\xaf"), b"\"\\u00c0\\u00af\""); // overlong
    }

    #[test]
    fn widths() {
        assert_eq!(utf8_width(b""), 0);
        assert_eq!(utf8_width(b"a"), 0);
        assert_eq!(utf8_width("é".as_bytes()), 2);
        assert_eq!(utf8_width("€x".as_bytes()), 3);
        assert_eq!(utf8_width("😀".as_bytes()), 4);
        assert_eq!(utf8_width(b"\xe2\x82"), 0);
        assert_eq!(utf8_width(b"\xf5\x80\x80\x80"), 0);
    }

    /// The escaper's output is JSON that decodes to the input (checked by hand for the
    /// characters JSON requires escaped: every byte below 0x20, `"` and `\`).
    #[test]
    fn every_control_byte_is_escaped() {
        for c in 0u8..0x20 {
            let out = esc(&[c]);
            assert_eq!(out[0], b'"');
            assert_eq!(out[1], b'\\', "byte {c:#x} not escaped");
            assert!(
                out[2..out.len() - 1]
                    .iter()
                    .all(|x| (0x20..0x7f).contains(x))
            );
        }
    }
}
