//! Formatting into a caller-provided byte buffer: no allocation, truncates instead of failing.

pub struct Buf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl<'a> Buf<'a> {
    pub fn new(buf: &'a mut [u8]) -> Buf<'a> {
        Buf { buf, len: 0 }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Room left.
    pub fn room(&self) -> usize {
        self.buf.len() - self.len
    }

    pub fn bytes(&mut self, s: &[u8]) -> &mut Self {
        let n = s.len().min(self.room());
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
        self
    }

    pub fn s(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    pub fn c(&mut self, c: u8) -> &mut Self {
        self.bytes(&[c])
    }

    pub fn u(&mut self, mut v: u64) -> &mut Self {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.bytes(&tmp[i..])
    }

    pub fn i(&mut self, v: i64) -> &mut Self {
        if v < 0 {
            self.c(b'-');
        }
        self.u(v.unsigned_abs())
    }

    /// `0x…` lower-case hex.
    pub fn hex(&mut self, mut v: u64) -> &mut Self {
        let mut tmp = [0u8; 18];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = HEX[(v & 15) as usize];
            v >>= 4;
            if v == 0 {
                break;
            }
        }
        i -= 1;
        tmp[i] = b'x';
        i -= 1;
        tmp[i] = b'0';
        self.bytes(&tmp[i..])
    }

    /// Bytes with non-printable ones shown as `\xNN`.
    pub fn printable(&mut self, s: &[u8]) -> &mut Self {
        for &c in s {
            if (0x20..0x7f).contains(&c) {
                self.c(c);
            } else {
                self.s("\\x")
                    .c(HEX[(c >> 4) as usize])
                    .c(HEX[(c & 15) as usize]);
            }
        }
        self
    }

    /// A JSON string literal (with quotes), escaped by the one escaper of the workspace
    /// ([`assafe_proto::json::json_str`]: control bytes and invalid UTF-8 become `\u00NN`).
    pub fn json_str(&mut self, s: &[u8]) -> &mut Self {
        assafe_proto::json::json_str(self, s);
        self
    }
}

impl assafe_proto::json::Sink for Buf<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.bytes(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::Buf;

    fn with(f: impl FnOnce(&mut Buf)) -> String {
        let mut mem = [0u8; 128];
        let mut b = Buf::new(&mut mem);
        f(&mut b);
        String::from_utf8(b.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn numbers() {
        assert_eq!(
            with(|b| {
                b.u(0);
            }),
            "0"
        );
        assert_eq!(
            with(|b| {
                b.u(u64::MAX);
            }),
            "18446744073709551615"
        );
        assert_eq!(
            with(|b| {
                b.i(-42).c(b' ').i(i64::MIN);
            }),
            "-42 -9223372036854775808"
        );
        assert_eq!(
            with(|b| {
                b.hex(0).c(b' ').hex(0xdead_beef);
            }),
            "0x0 0xdeadbeef"
        );
    }

    #[test]
    fn printable_escapes_control_and_high_bytes() {
        assert_eq!(
            with(|b| {
                b.printable(b"a\nb\xff~");
            }),
            "a\\x0ab\\xff~"
        );
    }

    #[test]
    fn json_strings() {
        assert_eq!(
            with(|b| {
                b.json_str(b"a\"b\\c\nd\te");
            }),
            r#""a\"b\\c\nd\te""#
        );
        assert_eq!(
            with(|b| {
                b.json_str(b"\x01\x7f");
            }),
            r#""\u0001\u007f""#
        );
        assert_eq!(
            with(|b| {
                b.json_str("é€".as_bytes());
            }),
            "\"é€\""
        );
        assert_eq!(
            with(|b| {
                b.json_str(b"\xc3");
            }),
            r#""\u00c3""#
        );
        assert_eq!(
            with(|b| {
                b.json_str(b"\xed\xa0\x80");
            }),
            r#""\u00ed\u00a0\u0080""#
        );
    }

    #[test]
    fn truncates_instead_of_failing() {
        let mut mem = [0u8; 4];
        let mut b = Buf::new(&mut mem);
        b.s("hello").u(12345);
        assert_eq!(b.as_bytes(), b"hell");
        assert_eq!(b.room(), 0);
        b.truncate(2);
        assert_eq!(b.as_bytes(), b"he");
    }
}
