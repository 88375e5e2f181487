//! Byte-range requests (RFC 9110 §14) and `If-Range` (§13.1.5): which part of a whole 200
//! response a viewer's GET or HEAD asks for. Allocation-free except for the two header values
//! a partial response carries.

use std::time::Duration;

use http::header::{DATE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE};
use http::{HeaderMap, HeaderValue};

use super::lex::{http_date, trim};

/// One `bytes` range-spec (RFC 9110 §14.1.1), before it meets a length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `first-last`, inclusive, `first <= last`; `last` may lie past the end.
    FromTo(u64, u64),
    /// `first-`: from `first` to the end.
    From(u64),
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

/// How to answer a GET or HEAD for a whole 200 response, given the request's `Range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// The request has no `Range`: 200 with the whole body.
    Whole,
    /// A `Range` this cache does not honour: several ranges, another unit, a malformed value,
    /// an `If-Range` that does not hold, or a length not known yet. 200 with the whole body
    /// (RFC 9110 §14.2 lets a server ignore `Range`).
    Ignored,
    /// 206 with bytes `start..=end`; always `start <= end < length`.
    Part { start: u64, end: u64 },
    /// 416: the range starts at or past the end (or is the empty suffix `-0`).
    Unsatisfiable,
}

impl ByteRange {
    /// The bytes this range selects from a representation of `length` bytes (RFC 9110
    /// §14.1.2): the last position is clamped to the end, a suffix longer than the whole is
    /// the whole. A suffix of a zero-length representation is satisfiable but has no bytes
    /// to send, which no `Content-Range` can express: it is `Ignored` (answered 200, empty).
    pub fn resolve(self, length: u64) -> Selection {
        match self {
            ByteRange::FromTo(first, _) | ByteRange::From(first) if first >= length => {
                Selection::Unsatisfiable
            }
            ByteRange::FromTo(first, last) => Selection::Part {
                start: first,
                end: last.min(length - 1),
            },
            ByteRange::From(first) => Selection::Part {
                start: first,
                end: length - 1,
            },
            ByteRange::Suffix(0) => Selection::Unsatisfiable,
            ByteRange::Suffix(_) if length == 0 => Selection::Ignored,
            ByteRange::Suffix(n) => Selection::Part {
                start: length.saturating_sub(n),
                end: length - 1,
            },
        }
    }
}

/// A `Range` field value holding exactly one `bytes` range-spec; `None` for anything else
/// (another unit, several ranges, malformed), which the caller ignores.
///
/// The unit is case-insensitive (`Bytes=0-1`). Whitespace is allowed around the whole value
/// and around list members (`bytes= 0-1 ,`), as the list syntax allows, and empty list
/// members are skipped; whitespace inside a range-spec or around `=` makes it malformed.
/// Positions too large for 64 bits saturate: they are just very large (an enormous first
/// position is unsatisfiable, an enormous last position means "to the end").
pub fn parse_range(value: &[u8]) -> Option<ByteRange> {
    let value = trim(value);
    let eq = value.iter().position(|&b| b == b'=')?;
    if !value[..eq].eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    let mut specs = value[eq + 1..]
        .split(|&b| b == b',')
        .map(trim)
        .filter(|s| !s.is_empty());
    let spec = specs.next()?;
    if specs.next().is_some() {
        return None;
    }
    let dash = spec.iter().position(|&b| b == b'-')?;
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    match (first.is_empty(), last.is_empty()) {
        (true, true) => None,
        (true, false) => Some(ByteRange::Suffix(position(last)?)),
        (false, true) => Some(ByteRange::From(position(first)?)),
        (false, false) => {
            let (first, last) = (position(first)?, position(last)?);
            // `last < first` is an invalid range-spec (RFC 9110 §14.1.1).
            (first <= last).then_some(ByteRange::FromTo(first, last))
        }
    }
}

/// 1*DIGIT, saturating at `u64::MAX`.
fn position(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// Whether the request's `If-Range` lets its `Range` apply to a stored response with these
/// headers (RFC 9110 §13.1.5); true when there is no `If-Range`.
///
/// * An entity-tag holds only if it is strong and equal, byte for byte, to the stored strong
///   `ETag` (strong comparison, §8.8.3.2): a weak tag on either side never holds.
/// * An HTTP-date holds only if it equals the stored `Last-Modified` and that is a strong
///   validator: the stored `Date` is at least one second later (§8.8.2.2). Without a `Date`
///   it is weak, and the condition is false.
/// * Anything else, or `If-Range` on several lines, is false: the whole response is sent,
///   which is always a correct answer.
pub fn if_range_holds(req: &HeaderMap, stored: &HeaderMap) -> bool {
    let mut lines = req.get_all(IF_RANGE).iter();
    let Some(value) = lines.next() else {
        return true;
    };
    if lines.next().is_some() {
        return false;
    }
    let tag = trim(value.as_bytes());
    if tag.starts_with(b"\"") || tag.starts_with(b"W/") {
        return tag.len() >= 2
            && tag.starts_with(b"\"")
            && tag.ends_with(b"\"")
            && stored.get(ETAG).is_some_and(|e| trim(e.as_bytes()) == tag);
    }
    let Some(since) = http_date(value) else {
        return false;
    };
    let modified = stored.get(LAST_MODIFIED).and_then(http_date);
    let date = stored.get(DATE).and_then(http_date);
    match (modified, date) {
        (Some(modified), Some(date)) => {
            modified == since
                && date
                    .duration_since(modified)
                    .is_ok_and(|d| d >= Duration::from_secs(1))
        }
        _ => false,
    }
}

/// What to answer a GET or HEAD whose response is a whole 200 with `stored` headers and
/// `length` body bytes (`None` while unknown): one `Range` line with one valid range, and an
/// `If-Range` (if any) that holds, select a part; any other `Range` is ignored.
///
/// Without `Range` this is one header lookup.
pub fn select_range(req: &HeaderMap, stored: &HeaderMap, length: Option<u64>) -> Selection {
    let mut lines = req.get_all(RANGE).iter();
    let Some(value) = lines.next() else {
        return Selection::Whole;
    };
    if lines.next().is_some() {
        return Selection::Ignored;
    }
    let Some(range) = parse_range(value.as_bytes()) else {
        return Selection::Ignored;
    };
    if !if_range_holds(req, stored) {
        return Selection::Ignored;
    }
    match length {
        Some(length) => range.resolve(length),
        None => Selection::Ignored,
    }
}

/// `Content-Range: bytes start-end/length` of a 206 (RFC 9110 §14.4).
pub fn content_range(start: u64, end: u64, length: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("bytes {start}-{end}/{length}")).expect("digits are valid")
}

/// `Content-Range: bytes */length` of a 416 (RFC 9110 §14.4, §15.5.17).
pub fn unsatisfied_range(length: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("bytes */{length}")).expect("digits are valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ByteRange::*;

    fn p(s: &str) -> Option<ByteRange> {
        parse_range(s.as_bytes())
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn part(start: u64, end: u64) -> Selection {
        Selection::Part { start, end }
    }

    #[test]
    fn the_three_forms() {
        assert_eq!(p("bytes=0-99"), Some(FromTo(0, 99)));
        assert_eq!(p("bytes=100-"), Some(From(100)));
        assert_eq!(p("bytes=-50"), Some(Suffix(50)));
        assert_eq!(p("bytes=0-0"), Some(FromTo(0, 0)));
        assert_eq!(p("bytes=-0"), Some(Suffix(0)));
        assert_eq!(p("bytes=007-010"), Some(FromTo(7, 10)));
    }

    #[test]
    fn unit_and_whitespace() {
        assert_eq!(p("Bytes=1-2"), Some(FromTo(1, 2)));
        assert_eq!(p("BYTES=1-2"), Some(FromTo(1, 2)));
        assert_eq!(p(" \tbytes=1-2\t "), Some(FromTo(1, 2)));
        assert_eq!(p("bytes= 1-2 "), Some(FromTo(1, 2)));
        assert_eq!(
            p("bytes=,1-2,,"),
            Some(FromTo(1, 2)),
            "empty members skipped"
        );
        assert_eq!(p("bytes =1-2"), None);
        assert_eq!(p("bytes=1 -2"), None);
        assert_eq!(p("bytes=1- 2"), None);
        assert_eq!(p("bytes=- 2"), None);
        assert_eq!(p("items=1-2"), None);
        assert_eq!(p("bytesx=1-2"), None);
        assert_eq!(p("=1-2"), None);
    }

    #[test]
    fn malformed_and_multiple() {
        for s in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=1",
            "bytes=a-b",
            "bytes=1-b",
            "bytes=--1",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes=1--2",
            "bytes=0x10-",
            "bytes=1.5-2",
            "bytes=5-4",
            "bytes=,",
            "bytes=0-1,5-9",
            "bytes=0-1, -5",
            "bytes=0-1,0-1",
            "bytes=0-1,x",
        ] {
            assert_eq!(p(s), None, "{s:?}");
        }
    }

    #[test]
    fn overflow_saturates() {
        let huge = "99999999999999999999999999";
        assert_eq!(p(&format!("bytes={huge}-")), Some(From(u64::MAX)));
        assert_eq!(p(&format!("bytes=0-{huge}")), Some(FromTo(0, u64::MAX)));
        assert_eq!(p(&format!("bytes=-{huge}")), Some(Suffix(u64::MAX)));
        assert_eq!(
            p("bytes=18446744073709551615-18446744073709551615"),
            Some(FromTo(u64::MAX, u64::MAX))
        );
        assert_eq!(From(u64::MAX).resolve(10), Selection::Unsatisfiable);
        assert_eq!(FromTo(0, u64::MAX).resolve(10), part(0, 9));
        assert_eq!(Suffix(u64::MAX).resolve(10), part(0, 9));
        assert_eq!(
            From(u64::MAX - 1).resolve(u64::MAX),
            part(u64::MAX - 1, u64::MAX - 1)
        );
    }

    #[test]
    fn resolution() {
        assert_eq!(FromTo(0, 99).resolve(1000), part(0, 99));
        assert_eq!(FromTo(0, 0).resolve(1000), part(0, 0));
        assert_eq!(FromTo(990, 2000).resolve(1000), part(990, 999));
        assert_eq!(FromTo(999, 999).resolve(1000), part(999, 999));
        assert_eq!(FromTo(1000, 1000).resolve(1000), Selection::Unsatisfiable);
        assert_eq!(From(100).resolve(1000), part(100, 999));
        assert_eq!(From(1000).resolve(1000), Selection::Unsatisfiable);
        assert_eq!(Suffix(50).resolve(1000), part(950, 999));
        assert_eq!(Suffix(5000).resolve(1000), part(0, 999));
        assert_eq!(Suffix(0).resolve(1000), Selection::Unsatisfiable);
        assert_eq!(FromTo(0, 5).resolve(0), Selection::Unsatisfiable);
        assert_eq!(From(0).resolve(0), Selection::Unsatisfiable);
        assert_eq!(Suffix(0).resolve(0), Selection::Unsatisfiable);
        assert_eq!(Suffix(5).resolve(0), Selection::Ignored);
    }

    #[test]
    fn selection() {
        let none = HeaderMap::new();
        let sel = |req: &[(&str, &str)], len| select_range(&headers(req), &none, len);
        assert_eq!(sel(&[], Some(10)), Selection::Whole);
        assert_eq!(sel(&[("range", "bytes=2-3")], Some(10)), part(2, 3));
        assert_eq!(sel(&[("range", "bytes=2-3")], None), Selection::Ignored);
        assert_eq!(
            sel(&[("range", "bytes=20-")], Some(10)),
            Selection::Unsatisfiable
        );
        assert_eq!(
            sel(&[("range", "bytes=0-1,3-4")], Some(10)),
            Selection::Ignored
        );
        assert_eq!(
            sel(&[("range", "bytes=0-1"), ("range", "bytes=3-4")], Some(10)),
            Selection::Ignored
        );
        assert_eq!(sel(&[("range", "pages=1-2")], Some(10)), Selection::Ignored);
        assert_eq!(
            sel(&[("range", "bytes=0-1"), ("if-range", "\"x\"")], Some(10)),
            Selection::Ignored,
            "no stored ETag"
        );
        // If-Range without Range changes nothing.
        assert_eq!(sel(&[("if-range", "\"x\"")], Some(10)), Selection::Whole);
        // A failed If-Range means the whole response, even for an unsatisfiable range.
        assert_eq!(
            sel(&[("range", "bytes=20-"), ("if-range", "\"x\"")], Some(10)),
            Selection::Ignored
        );
    }

    #[test]
    fn if_range_entity_tags_compare_strongly() {
        let stored = headers(&[("etag", "\"v1\"")]);
        let holds = |v: &str| if_range_holds(&headers(&[("if-range", v)]), &stored);
        assert!(holds("\"v1\""));
        assert!(holds(" \"v1\" "));
        assert!(!holds("\"v2\""));
        assert!(!holds("W/\"v1\""));
        assert!(!holds("\"v1"));
        assert!(!holds("\""));
        assert!(!holds(""));
        assert!(!holds("v1"));
        let weak = headers(&[("etag", "W/\"v1\"")]);
        assert!(!if_range_holds(
            &headers(&[("if-range", "W/\"v1\"")]),
            &weak
        ));
        assert!(!if_range_holds(&headers(&[("if-range", "\"v1\"")]), &weak));
        let two = headers(&[("if-range", "\"v1\""), ("if-range", "\"v1\"")]);
        assert!(!if_range_holds(&two, &stored), "several lines");
        assert!(if_range_holds(&HeaderMap::new(), &stored));
    }

    #[test]
    fn if_range_dates_need_a_strong_last_modified() {
        let lm = "Sun, 06 Nov 1994 08:49:37 GMT";
        let strong = headers(&[
            ("last-modified", lm),
            ("date", "Sun, 06 Nov 1994 08:49:38 GMT"),
        ]);
        let weak = headers(&[("last-modified", lm), ("date", lm)]);
        let undated = headers(&[("last-modified", lm)]);
        let req = |v: &str| headers(&[("if-range", v)]);
        assert!(if_range_holds(&req(lm), &strong));
        assert!(if_range_holds(
            &req("Sunday, 06-Nov-94 08:49:37 GMT"),
            &strong
        ));
        assert!(!if_range_holds(
            &req("Sun, 06 Nov 1994 08:49:36 GMT"),
            &strong
        ));
        assert!(!if_range_holds(
            &req("Sun, 06 Nov 1994 08:49:38 GMT"),
            &strong
        ));
        assert!(!if_range_holds(&req(lm), &weak));
        assert!(!if_range_holds(&req(lm), &undated));
        assert!(!if_range_holds(&req("yesterday"), &strong));
    }

    #[test]
    fn header_values() {
        assert_eq!(content_range(0, 99, 1000), "bytes 0-99/1000");
        assert_eq!(unsatisfied_range(1000), "bytes */1000");
        assert_eq!(
            content_range(u64::MAX - 1, u64::MAX - 1, u64::MAX),
            "bytes 18446744073709551614-18446744073709551614/18446744073709551615"
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_parts_lie_within(
            value in prop_oneof![
                "[ \t,=\\-0-9a-zA-Z]{0,30}",
                "(bytes|BYTES|x)=[ ]?[0-9]{0,22}-[0-9]{0,22}(,[0-9]{0,3}-[0-9]{0,3})?",
                proptest::collection::vec(any::<u8>(), 0..30)
                    .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            ],
            length in prop_oneof![0u64..2000, any::<u64>()],
        ) {
            if let Some(r) = parse_range(value.as_bytes()) {
                if let Selection::Part { start, end } = r.resolve(length) {
                    prop_assert!(start <= end && end < length, "{:?} {}", r, length);
                }
            }
        }

        #[test]
        fn first_last_is_exact(first in 0u64..3000, span in 0u64..3000, length in 0u64..3000) {
            let last = first + span;
            let got = parse_range(format!("bytes={first}-{last}").as_bytes()).unwrap().resolve(length);
            if first >= length {
                prop_assert_eq!(got, Selection::Unsatisfiable);
            } else {
                prop_assert_eq!(got, part(first, last.min(length - 1)));
            }
        }

        #[test]
        fn suffix_is_exact(n in 0u64..3000, length in 1u64..3000) {
            let got = parse_range(format!("bytes=-{n}").as_bytes()).unwrap().resolve(length);
            if n == 0 {
                prop_assert_eq!(got, Selection::Unsatisfiable);
            } else {
                prop_assert_eq!(got, part(length - n.min(length), length - 1));
            }
        }
    }
}
