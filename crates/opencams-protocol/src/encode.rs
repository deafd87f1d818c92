//! Percent-encoding as the CAMS signatures need it. Canonical forms are always rebuilt from the
//! decoded values, never from the raw text a client sent (Python writes `+` for a space and
//! leaves `~` bare, Java writes `%20`): decode, then re-encode with RFC 3986 rules.

/// RFC 3986 percent-encoding: `A–Z a–z 0–9 - _ . ~` stay, every other UTF-8 byte becomes `%XX`
/// with upper-case hex (space → `%20`, `*` → `%2A`, `+` → `%2B`).
pub fn rfc3986(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    rfc3986_into(&mut out, s);
    out
}

/// [`rfc3986`], appended to `out`.
pub fn rfc3986_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        }
    }
}

/// Form-decodes `a=1&b=x+y` into pairs (`+` is a space, `%XX` a byte, then UTF-8). Empty
/// segments are skipped; a name without `=` has an empty value.
pub fn form_pairs(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Builds `name=value&…` from pairs with RFC 3986 encoding, in the given order.
pub fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&rfc3986(k));
        out.push('=');
        out.push_str(&rfc3986(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_and_unicode() {
        assert_eq!(rfc3986("a b*c~d+e"), "a%20b%2Ac~d%2Be");
        assert_eq!(rfc3986("é"), "%C3%A9");
        assert_eq!(rfc3986("😀"), "%F0%9F%98%80");
        assert_eq!(rfc3986(""), "");
    }

    #[test]
    fn decodes_plus_as_space_and_empty_values() {
        let p = form_pairs(b"a=x+y&b=&c&d=%2B&&e=%E4%BD%A0");
        assert_eq!(
            p,
            vec![
                ("a".into(), "x y".into()),
                ("b".into(), "".into()),
                ("c".into(), "".into()),
                ("d".into(), "+".into()),
                ("e".into(), "你".into()),
            ]
        );
    }
}
