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

    /// A JSON string literal (with quotes); invalid UTF-8 and control bytes become `\u00NN`.
    pub fn json_str(&mut self, s: &[u8]) -> &mut Self {
        self.c(b'"');
        let mut i = 0;
        while i < s.len() {
            let c = s[i];
            match c {
                b'"' => {
                    self.s("\\\"");
                }
                b'\\' => {
                    self.s("\\\\");
                }
                b'\n' => {
                    self.s("\\n");
                }
                b'\t' => {
                    self.s("\\t");
                }
                0x20..=0x7e => {
                    self.c(c);
                }
                0x80..=0xff => {
                    let w = utf8_width(&s[i..]);
                    if w > 0 {
                        self.bytes(&s[i..i + w]);
                        i += w;
                        continue;
                    }
                    self.s("\\u00")
                        .c(HEX[(c >> 4) as usize])
                        .c(HEX[(c & 15) as usize]);
                }
                _ => {
                    self.s("\\u00")
                        .c(HEX[(c >> 4) as usize])
                        .c(HEX[(c & 15) as usize]);
                }
            }
            i += 1;
        }
        self.c(b'"')
    }
}

/// Length of the valid UTF-8 sequence at the start of `s`, or 0.
fn utf8_width(s: &[u8]) -> usize {
    let w = match s[0] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
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
