//! Allocation-free lexing shared by the header parsers (RFC 9110 §5.6).

use std::time::{Duration, SystemTime};

use http::header::GetAll;
use http::HeaderValue;

/// The largest delta-seconds value a cache is required to represent (RFC 9111 §1.2.2):
/// bigger values, and overflows, are treated as this.
pub(super) const MAX_DELTA_SECONDS: u64 = 1 << 31;

/// Trims optional whitespace (SP / HTAB, RFC 9110 §5.6.3) from both ends.
pub(super) fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The non-empty, trimmed members of a comma-separated list spread over all lines of a field
/// (RFC 9110 §5.6.1, §5.3). Commas inside quoted strings do not split.
pub(super) fn members<'a>(lines: GetAll<'a, HeaderValue>) -> impl Iterator<Item = &'a [u8]> {
    lines.into_iter().flat_map(|v| Members {
        rest: v.as_bytes(),
        escapes: true,
    })
}

/// Like [`members`] for lists of entity-tags (RFC 9110 §8.8.3): an opaque-tag is not a
/// quoted-string, so a backslash inside it is an ordinary character, not an escape.
pub(super) fn entity_tags<'a>(lines: GetAll<'a, HeaderValue>) -> impl Iterator<Item = &'a [u8]> {
    lines.into_iter().flat_map(|v| Members {
        rest: v.as_bytes(),
        escapes: false,
    })
}

struct Members<'a> {
    rest: &'a [u8],
    /// Whether `\` escapes the next byte inside quotes (quoted-string, RFC 9110 §5.6.4).
    escapes: bool,
}

impl<'a> Iterator for Members<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() {
            let mut i = 0;
            let mut quoted = false;
            while i < self.rest.len() {
                match (quoted, self.rest[i]) {
                    (true, b'\\') if self.escapes => i += 1,
                    (true, b'"') => quoted = false,
                    (false, b'"') => quoted = true,
                    (false, b',') => break,
                    _ => {}
                }
                i += 1;
            }
            let end = i.min(self.rest.len());
            let member = trim(&self.rest[..end]);
            self.rest = self.rest.get(end + 1..).unwrap_or(&[]);
            if !member.is_empty() {
                return Some(member);
            }
        }
        None
    }
}

/// The content of a quoted string (escapes left as they are), or the input itself if it is
/// not quoted. `None` for an unterminated quote or anything after the closing quote.
pub(super) fn unquote(s: &[u8]) -> Option<&[u8]> {
    let Some(inner) = s.strip_prefix(b"\"") else {
        return Some(s);
    };
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            b'\\' => i += 2,
            b'"' => return (i + 1 == inner.len()).then_some(&inner[..i]),
            _ => i += 1,
        }
    }
    None
}

/// delta-seconds (RFC 9111 §1.2.2): one or more digits, capped at 2³¹.
pub(super) fn delta_seconds(s: &[u8]) -> Option<Duration> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let secs = s.iter().try_fold(0u64, |acc, &d| {
        let v = acc * 10 + u64::from(d - b'0');
        (v <= MAX_DELTA_SECONDS).then_some(v)
    });
    Some(Duration::from_secs(secs.unwrap_or(MAX_DELTA_SECONDS)))
}

/// An HTTP-date (RFC 9110 §5.6.7; all three historical formats), surrounding whitespace
/// allowed.
pub(super) fn http_date(v: &HeaderValue) -> Option<SystemTime> {
    let s = std::str::from_utf8(trim(v.as_bytes())).ok()?;
    httpdate::parse_http_date(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::CACHE_CONTROL;
    use http::HeaderMap;

    fn list(lines: &[&str]) -> Vec<String> {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append(CACHE_CONTROL, HeaderValue::from_str(l).unwrap());
        }
        members(h.get_all(CACHE_CONTROL))
            .map(|m| String::from_utf8(m.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn list_members_across_lines_and_quotes() {
        assert_eq!(list(&["a, b", " ,c ,, "]), ["a", "b", "c"]);
        assert_eq!(
            list(&[r#"x="1, 2", y"#, r#"z="a\"," , w"#]),
            [r#"x="1, 2""#, "y", r#"z="a\",""#, "w"]
        );
        assert_eq!(list(&[r#"x="unterminated, y"#]), [r#"x="unterminated, y"#]);
        assert_eq!(list(&["trailing\\"]), ["trailing\\"]);
        assert_eq!(list(&[r#""\"#]), [r#""\"#]);
        assert!(list(&["", " , "]).is_empty());
    }

    #[test]
    fn entity_tag_lists_have_no_escapes() {
        let mut h = HeaderMap::new();
        h.append(
            CACHE_CONTROL,
            HeaderValue::from_static(r#""a\", W/"b,c", "d""#),
        );
        let tags: Vec<&[u8]> = entity_tags(h.get_all(CACHE_CONTROL)).collect();
        assert_eq!(tags, [&br#""a\""#[..], br#"W/"b,c""#, br#""d""#]);
    }

    #[test]
    fn unquote_and_delta_seconds() {
        assert_eq!(unquote(b"60"), Some(&b"60"[..]));
        assert_eq!(unquote(b"\"60\""), Some(&b"60"[..]));
        assert_eq!(unquote(b"\"6\\\"0\""), Some(&b"6\\\"0"[..]));
        assert_eq!(unquote(b"\"60"), None);
        assert_eq!(unquote(b"\"60\"x"), None);
        assert_eq!(unquote(b"\"\\"), None);
        assert_eq!(delta_seconds(b"0"), Some(Duration::ZERO));
        assert_eq!(delta_seconds(b"007"), Some(Duration::from_secs(7)));
        assert_eq!(delta_seconds(b""), None);
        assert_eq!(delta_seconds(b"-1"), None);
        assert_eq!(delta_seconds(b"1.5"), None);
        assert_eq!(delta_seconds(b"+5"), None);
        assert_eq!(
            delta_seconds(b"2147483648"),
            Some(Duration::from_secs(1 << 31))
        );
        assert_eq!(
            delta_seconds(b"2147483649"),
            Some(Duration::from_secs(1 << 31))
        );
        assert_eq!(
            delta_seconds(b"99999999999999999999999999999"),
            Some(Duration::from_secs(1 << 31))
        );
    }

    #[test]
    fn dates() {
        let d = |s: &str| http_date(&HeaderValue::from_str(s).unwrap());
        let t = d("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(d(" Sun, 06 Nov 1994 08:49:37 GMT\t"), Some(t));
        assert_eq!(d("Sunday, 06-Nov-94 08:49:37 GMT"), Some(t));
        assert_eq!(d("Sun Nov  6 08:49:37 1994"), Some(t));
        assert_eq!(d("0"), None);
        assert_eq!(d("-1"), None);
        assert_eq!(
            http_date(&HeaderValue::from_bytes(b"\xff\xfe").unwrap()),
            None
        );
    }
}
