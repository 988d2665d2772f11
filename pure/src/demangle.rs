//! Rust legacy symbol names, shortened for text-mode frames (`_ZN3foo3bar17h…E` → `foo::bar`).

use crate::fmt::Buf;

/// Shortens a Rust legacy-mangled name (`_ZN` (len ident)+ `17h<hash>E`, maybe followed by
/// `.llvm.N`) to `a::b::{{closure}}`; copies other names unchanged. Returns the length written.
pub fn demangle(name: &[u8], out: &mut [u8]) -> usize {
    let mut b = Buf::new(out);
    if let Some(mut rest) = name.strip_prefix(b"_ZN") {
        // Drop a compiler suffix such as ".llvm.1234" after the closing 'E'.
        if let Some(dot) = rest.iter().position(|&c| c == b'.')
            && dot > 0
            && rest[dot - 1] == b'E'
        {
            rest = &rest[..dot];
        }
        let mut first = true;
        loop {
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 || digits > 4 {
                break;
            }
            let n = rest[..digits]
                .iter()
                .fold(0usize, |n, &c| n * 10 + (c - b'0') as usize);
            let Some(ident) = rest.get(digits..digits + n) else {
                break;
            };
            rest = &rest[digits + n..];
            let is_hash = ident.len() == 17
                && ident[0] == b'h'
                && ident[1..].iter().all(|c| c.is_ascii_hexdigit());
            if is_hash && rest == b"E" {
                return b.len();
            }
            if !first {
                b.s("::");
            }
            first = false;
            unescape(ident, &mut b);
        }
        if rest == b"E" && !first {
            return b.len();
        }
        b.truncate(0);
    }
    b.bytes(name);
    b.len()
}

/// Rust legacy symbol escapes: `$u7b$` → `{`, `$LT$` → `<`, `..` → `::`, …
fn unescape(mut s: &[u8], b: &mut Buf) {
    // An identifier that starts with an escape is written with a leading '_'.
    if s.starts_with(b"_$") {
        s = &s[1..];
    }
    const ESC: &[(&[u8], &str)] = &[
        (b"$SP$", "@"),
        (b"$BP$", "*"),
        (b"$RF$", "&"),
        (b"$LT$", "<"),
        (b"$GT$", ">"),
        (b"$LP$", "("),
        (b"$RP$", ")"),
        (b"$C$", ","),
        (b"$u7b$", "{"),
        (b"$u7d$", "}"),
        (b"$u20$", " "),
        (b"$u27$", "'"),
        (b"$u5b$", "["),
        (b"$u5d$", "]"),
        (b"$u7e$", "~"),
        (b"..", "::"),
    ];
    'outer: while let Some(&c) = s.first() {
        for (from, to) in ESC {
            if s.starts_with(from) {
                b.s(to);
                s = &s[from.len()..];
                continue 'outer;
            }
        }
        b.c(c);
        s = &s[1..];
    }
}

#[cfg(test)]
mod tests {
    use super::demangle;

    fn d(s: &str) -> String {
        let mut out = [0u8; 256];
        let n = demangle(s.as_bytes(), &mut out);
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    #[test]
    fn legacy_names_lose_hash_and_escapes() {
        assert_eq!(d("_ZN3foo3bar17h0123456789abcdefE"), "foo::bar");
        assert_eq!(
            d("_ZN4core3ptr13drop_in_place17h0123456789abcdefE.llvm.42"),
            "core::ptr::drop_in_place"
        );
        assert_eq!(
            d("_ZN3app4main28_$u7b$$u7b$closure$u7d$$u7d$17h0123456789abcdefE"),
            "app::main::{{closure}}"
        );
        assert_eq!(
            d("_ZN5alloc3vec12Vec$LT$T$GT$4push17h0123456789abcdefE"),
            "alloc::vec::Vec<T>::push"
        );
        assert_eq!(d("_ZN1a2b3E"), "a::b3");
    }

    #[test]
    fn other_names_are_copied() {
        assert_eq!(d("malloc"), "malloc");
        assert_eq!(d("_ZN"), "_ZN");
        assert_eq!(d("_ZN3fooE"), "foo");
        assert_eq!(d("_ZNK3Foo3barEv"), "_ZNK3Foo3barEv");
        assert_eq!(d("_ZN99999abcE"), "_ZN99999abcE");
    }

    #[test]
    fn output_is_bounded() {
        let mut out = [0u8; 4];
        assert_eq!(demangle(b"_ZN3foo3bar17h0123456789abcdefE", &mut out), 4);
    }
}
