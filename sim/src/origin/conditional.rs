//! Conditional and range requests (RFC 9110 §13, §14), as pure functions of the request
//! headers and the representation's validators.
//!
//! - `If-None-Match` (weak comparison, `*` matches) → 304; when absent, `If-Modified-Since`
//!   → 304 if `Last-Modified` is not later. Both only for GET and HEAD.
//! - `Range` (GET only): one range `bytes=a-b`, `a-` or `-n` → 206; a range starting at or
//!   past the end (or `-0`, or any range of an empty body) → 416. Several ranges, another
//!   unit or a malformed header are ignored (200 with the whole body, which RFC 9110 allows).
//!   `If-Range` with the current strong ETag or exact `Last-Modified` keeps the range; any
//!   other value sends the whole body.
//! - `If-Match` and `If-Unmodified-Since` are not supported (ignored).

use http::header::{IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, RANGE};
use http::HeaderMap;
use std::time::SystemTime;

/// What to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// 200, the whole body.
    Full,
    /// 304.
    NotModified,
    /// 206, bytes `start..end` (end exclusive).
    Partial { start: u64, end: u64 },
    /// 416.
    Unsatisfiable,
}

/// The plan for a request with `headers` on a representation with these validators.
pub fn plan(
    headers: &HeaderMap,
    is_get: bool,
    etag: &str,
    last_modified: SystemTime,
    size: u64,
) -> Plan {
    if let Some(inm) = headers.get(IF_NONE_MATCH) {
        if inm.to_str().is_ok_and(|v| none_match_hits(v, etag)) {
            return Plan::NotModified;
        }
    } else if let Some(ims) = headers.get(IF_MODIFIED_SINCE) {
        let since = ims
            .to_str()
            .ok()
            .and_then(|v| httpdate::parse_http_date(v).ok());
        if since.is_some_and(|s| last_modified <= s) {
            return Plan::NotModified;
        }
    }
    if !is_get {
        return Plan::Full;
    }
    let Some(range) = headers.get(RANGE).and_then(|v| v.to_str().ok()) else {
        return Plan::Full;
    };
    if let Some(ir) = headers.get(IF_RANGE) {
        let keep = ir.to_str().is_ok_and(|v| {
            let v = v.trim();
            if v.starts_with('"') {
                v == etag
            } else if v.starts_with("W/") {
                false
            } else {
                httpdate::parse_http_date(v).is_ok_and(|d| d == last_modified)
            }
        });
        if !keep {
            return Plan::Full;
        }
    }
    parse_range(range, size)
}

/// Whether an `If-None-Match` list names `etag` (weak comparison) or is `*`.
fn none_match_hits(list: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let want = bare(etag);
    list.split(',').any(|t| {
        let t = t.trim();
        t == "*" || bare(t) == want
    })
}

/// One range of `size` bytes from a `Range` header value.
pub fn parse_range(value: &str, size: u64) -> Plan {
    let v = value.trim();
    let Some(spec) = v
        .get(..6)
        .filter(|u| u.eq_ignore_ascii_case("bytes="))
        .map(|_| v[6..].trim())
    else {
        return Plan::Full;
    };
    if spec.contains(',') {
        return Plan::Full;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Plan::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        // Saturate absurdly long numbers: they are past any end.
        Some(s.parse().unwrap_or(u64::MAX))
    };
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Plan::Full,
        // -n: the last n bytes.
        (true, false) => match num(b) {
            None => Plan::Full,
            Some(0) => Plan::Unsatisfiable,
            Some(_) if size == 0 => Plan::Unsatisfiable,
            Some(n) => Plan::Partial {
                start: size - n.min(size),
                end: size,
            },
        },
        (false, _) => {
            let Some(first) = num(a) else {
                return Plan::Full;
            };
            let last = if b.is_empty() {
                None
            } else {
                match num(b) {
                    None => return Plan::Full,
                    Some(l) if l < first => return Plan::Full,
                    Some(l) => Some(l),
                }
            };
            if first >= size {
                return Plan::Unsatisfiable;
            }
            let end = last.map_or(size, |l| l.saturating_add(1).min(size));
            Plan::Partial { start: first, end }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn ranges() {
        let p = |s: u64, e: u64| Plan::Partial { start: s, end: e };
        for (v, size, want) in [
            ("bytes=0-99", 1000, p(0, 100)),
            ("bytes=10-", 1000, p(10, 1000)),
            ("bytes=-100", 1000, p(900, 1000)),
            ("bytes=-5000", 1000, p(0, 1000)),
            ("bytes=990-5000", 1000, p(990, 1000)),
            ("Bytes = 1-1", 1000, Plan::Full),
            ("BYTES=1-1", 1000, p(1, 2)),
            ("bytes=1000-", 1000, Plan::Unsatisfiable),
            ("bytes=1000-2000", 1000, Plan::Unsatisfiable),
            ("bytes=-0", 1000, Plan::Unsatisfiable),
            ("bytes=0-", 0, Plan::Unsatisfiable),
            ("bytes=-1", 0, Plan::Unsatisfiable),
            ("bytes=5-1", 1000, Plan::Full),
            ("bytes=0-1,5-6", 1000, Plan::Full),
            ("items=0-1", 1000, Plan::Full),
            ("bytes=x-1", 1000, Plan::Full),
            ("bytes=-", 1000, Plan::Full),
            ("bytes=99999999999999999999999-", 1000, Plan::Unsatisfiable),
            ("bytes=0-99999999999999999999999", 1000, p(0, 1000)),
        ] {
            assert_eq!(parse_range(v, size), want, "{v} of {size}");
        }
    }

    #[test]
    fn conditionals() {
        let lm = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        let etag = "\"0-abc\"";
        let h = |pairs: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            m
        };
        let date = |t: SystemTime| httpdate::fmt_http_date(t);
        let later = date(lm + Duration::from_secs(1));
        let earlier = date(lm - Duration::from_secs(1));
        for (hs, want) in [
            (h(&[]), Plan::Full),
            (h(&[("if-none-match", "\"0-abc\"")]), Plan::NotModified),
            (h(&[("if-none-match", "W/\"0-abc\"")]), Plan::NotModified),
            (
                h(&[("if-none-match", "\"x\", \"0-abc\"")]),
                Plan::NotModified,
            ),
            (h(&[("if-none-match", "*")]), Plan::NotModified),
            (h(&[("if-none-match", "\"x\"")]), Plan::Full),
            (h(&[("if-modified-since", &date(lm))]), Plan::NotModified),
            (h(&[("if-modified-since", &later)]), Plan::NotModified),
            (h(&[("if-modified-since", &earlier)]), Plan::Full),
            (h(&[("if-modified-since", "yesterday")]), Plan::Full),
            // If-None-Match wins over If-Modified-Since.
            (
                h(&[("if-none-match", "\"x\""), ("if-modified-since", &later)]),
                Plan::Full,
            ),
            (
                h(&[("range", "bytes=0-0"), ("if-range", etag)]),
                Plan::Partial { start: 0, end: 1 },
            ),
            (
                h(&[("range", "bytes=0-0"), ("if-range", "\"old\"")]),
                Plan::Full,
            ),
            (
                h(&[("range", "bytes=0-0"), ("if-range", &date(lm))]),
                Plan::Partial { start: 0, end: 1 },
            ),
            (
                h(&[("range", "bytes=0-0"), ("if-range", &earlier)]),
                Plan::Full,
            ),
        ] {
            assert_eq!(plan(&hs, true, etag, lm, 10), want, "{hs:?}");
        }
        let r = h(&[("range", "bytes=0-0")]);
        assert_eq!(
            plan(&r, false, etag, lm, 10),
            Plan::Full,
            "HEAD ignores Range"
        );
    }
}
