//! Conditional requests: viewers' against stored responses (RFC 9110 §13.1.2, §13.1.3,
//! §13.2.2) and the cache's own revalidation with the origin (RFC 9111 §4.3).

use http::header::{
    AGE, CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_MODIFIED_SINCE,
    IF_NONE_MATCH, LAST_MODIFIED,
};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::hop_by_hop::{is_hop_by_hop, strip_hop_by_hop};
use super::lex::{entity_tags, http_date, members, trim};

/// Whether a viewer's conditional `GET`/`HEAD` is answered with 304 Not Modified from a
/// stored response with the given validators (RFC 9110 §13.2.2 steps 3–4, for a cache
/// answering for the origin, RFC 9111 §4.3.2). The caller checks the method.
///
/// * `If-None-Match` present (any number of lines): 304 when one of its members is `*`
///   (a stored representation exists) or weakly matches `etag` (RFC 9110 §13.1.2, §8.8.3.2:
///   opaque tags equal after dropping `W/`). `If-Modified-Since` is then ignored.
/// * Else `If-Modified-Since` (RFC 9110 §13.1.3), if it is a single valid HTTP-date and
///   `last_modified` is a valid HTTP-date: 304 when `last_modified <= since`.
/// * Otherwise (no conditional, no validator to compare with): false.
///
/// Does not allocate.
pub fn not_modified(
    req_headers: &HeaderMap,
    etag: Option<&HeaderValue>,
    last_modified: Option<&HeaderValue>,
) -> bool {
    if req_headers.contains_key(IF_NONE_MATCH) {
        let stored = etag
            .map(|e| opaque_tag(trim(e.as_bytes())))
            .filter(|t| !t.is_empty());
        return entity_tags(req_headers.get_all(IF_NONE_MATCH))
            .any(|m| m == b"*" || stored.is_some_and(|s| opaque_tag(m) == s));
    }
    let mut since = req_headers.get_all(IF_MODIFIED_SINCE).iter();
    let (Some(since), None) = (since.next(), since.next()) else {
        return false;
    };
    match (http_date(since), last_modified.and_then(http_date)) {
        (Some(since), Some(modified)) => modified <= since,
        _ => false,
    }
}

/// An entity-tag without its weakness indicator (`W/`, case-sensitive, RFC 9110 §8.8.3).
fn opaque_tag(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

/// The conditional headers for revalidating a stored response with the origin (RFC 9111
/// §4.3.1): `If-None-Match` with its `ETag`, and `If-Modified-Since` with its
/// `Last-Modified` (both when both exist). An empty `ETag` or a `Last-Modified` that is not
/// an HTTP-date is not sent.
pub fn revalidation_headers(stored: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    if let Some(etag) = stored.get(ETAG).filter(|e| !trim(e.as_bytes()).is_empty()) {
        out.insert(IF_NONE_MATCH, etag.clone());
    }
    if let Some(modified) = stored.get(LAST_MODIFIED).filter(|m| http_date(m).is_some()) {
        out.insert(IF_MODIFIED_SINCE, modified.clone());
    }
    out
}

/// The stored response's headers updated from the origin's 304 (RFC 9111 §4.3.4, §3.2):
/// each field present in the 304 replaces all stored lines of that field; the rest are kept.
///
/// Not updated: hop-by-hop fields (the fixed list and those named by the 304's
/// `Connection`), `Content-Length`, and, to keep the stored content consistent with its
/// metadata (§3.2 allows this), `Content-Encoding` and `Content-Range`. `Age` is taken from
/// the 304 or removed, since the stored value described the response at its earlier
/// receipt. Hop-by-hop fields are stripped from the result.
pub fn merge_not_modified(stored: &HeaderMap, not_modified: &HeaderMap) -> HeaderMap {
    let listed: Vec<&[u8]> = members(not_modified.get_all(CONNECTION)).collect();
    let keep = |name: &HeaderName| {
        is_hop_by_hop(name)
            || [CONTENT_LENGTH, CONTENT_ENCODING, CONTENT_RANGE].contains(name)
            || listed
                .iter()
                .any(|l| l.eq_ignore_ascii_case(name.as_str().as_bytes()))
    };
    let mut merged = stored.clone();
    merged.remove(AGE);
    for name in not_modified.keys() {
        if keep(name) {
            continue;
        }
        merged.remove(name);
        for value in not_modified.get_all(name) {
            merged.append(name.clone(), value.clone());
        }
    }
    strip_hop_by_hop(&mut merged);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    fn inm(values: &[&str], etag: &str) -> bool {
        let req: Vec<(&str, &str)> = values.iter().map(|v| ("if-none-match", *v)).collect();
        not_modified(&headers(&req), Some(&hv(etag)), None)
    }

    const LM: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const BEFORE: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
    const AFTER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

    fn ims(since: &str, last_modified: Option<&str>) -> bool {
        let lm = last_modified.map(hv);
        not_modified(&headers(&[("if-modified-since", since)]), None, lm.as_ref())
    }

    #[test]
    fn if_none_match_strong_and_weak() {
        assert!(inm(&["\"abc\""], "\"abc\""));
        assert!(!inm(&["\"abc\""], "\"abd\""));
        assert!(inm(&["W/\"abc\""], "\"abc\""), "weak comparison");
        assert!(inm(&["\"abc\""], "W/\"abc\""));
        assert!(inm(&["W/\"abc\""], "W/\"abc\""));
        assert!(!inm(&["w/\"abc\""], "\"abc\""), "W/ is case-sensitive");
        assert!(
            !inm(&["\"ABC\""], "\"abc\""),
            "opaque tags are case-sensitive"
        );
        assert!(!inm(&["abc"], "\"abc\""), "quotes are part of the tag");
        assert!(
            inm(&["abc"], "abc"),
            "a malformed tag echoed back still matches"
        );
    }

    #[test]
    fn if_none_match_lists() {
        assert!(inm(&["\"x\", \"y\", W/\"abc\""], "\"abc\""));
        assert!(inm(&["\"x\"", "\"abc\""], "\"abc\""), "several lines");
        assert!(!inm(&["\"x\", \"y\""], "\"abc\""));
        assert!(inm(&["\"a,b\""], "\"a,b\""), "comma inside a tag");
        assert!(!inm(&["\"a,b\""], "\"a\""));
        assert!(!inm(&["\"x\",,  ,"], "\"abc\""));
        assert!(
            inm(&["\"a\\\", \"b\""], "\"b\""),
            "a backslash is not an escape in a tag"
        );
        assert!(inm(&["\"a\\\", \"b\""], "\"a\\\""));
    }

    #[test]
    fn if_none_match_star() {
        assert!(inm(&["*"], "\"abc\""));
        assert!(inm(&["\"x\", *"], "\"abc\""));
        assert!(
            not_modified(&headers(&[("if-none-match", "*")]), None, None),
            "no ETag needed"
        );
    }

    #[test]
    fn if_none_match_without_stored_etag() {
        let req = headers(&[("if-none-match", "\"abc\"")]);
        assert!(!not_modified(&req, None, Some(&hv(LM))));
        assert!(!not_modified(&req, Some(&hv("")), None));
        assert!(!inm(&["\"\""], ""), "empty stored ETag never matches");
    }

    #[test]
    fn if_modified_since() {
        assert!(ims(LM, Some(LM)), "equal: not modified");
        assert!(ims(AFTER, Some(LM)), "modified before the date");
        assert!(!ims(BEFORE, Some(LM)), "modified after the date");
        assert!(
            ims("Sunday, 06-Nov-94 08:49:37 GMT", Some(LM)),
            "RFC 850 date"
        );
        assert!(!ims(LM, None), "no Last-Modified");
        assert!(!ims("garbage", Some(LM)));
        assert!(!ims(LM, Some("garbage")));
        let two = headers(&[("if-modified-since", LM), ("if-modified-since", LM)]);
        assert!(
            !not_modified(&two, None, Some(&hv(LM))),
            "several lines are ignored"
        );
    }

    #[test]
    fn if_none_match_takes_precedence() {
        let req = headers(&[("if-none-match", "\"old\""), ("if-modified-since", AFTER)]);
        assert!(!not_modified(&req, Some(&hv("\"new\"")), Some(&hv(LM))));
        let req = headers(&[("if-none-match", "\"new\""), ("if-modified-since", BEFORE)]);
        assert!(not_modified(&req, Some(&hv("\"new\"")), Some(&hv(LM))));
        // Even without a stored ETag, If-None-Match decides.
        let req = headers(&[("if-none-match", "\"x\""), ("if-modified-since", AFTER)]);
        assert!(!not_modified(&req, None, Some(&hv(LM))));
    }

    #[test]
    fn unconditional_request() {
        assert!(!not_modified(
            &HeaderMap::new(),
            Some(&hv("\"a\"")),
            Some(&hv(LM))
        ));
    }

    #[test]
    fn revalidation() {
        let both = headers(&[
            ("etag", "W/\"v1\""),
            ("last-modified", LM),
            ("content-type", "text/html"),
        ]);
        let r = revalidation_headers(&both);
        assert_eq!(r.len(), 2);
        assert_eq!(r[IF_NONE_MATCH], "W/\"v1\"");
        assert_eq!(r[IF_MODIFIED_SINCE], LM);
        let r = revalidation_headers(&headers(&[("etag", "\"v1\"")]));
        assert_eq!((r.len(), &r[IF_NONE_MATCH]), (1, &hv("\"v1\"")));
        let r = revalidation_headers(&headers(&[("last-modified", LM)]));
        assert_eq!((r.len(), &r[IF_MODIFIED_SINCE]), (1, &hv(LM)));
        assert!(revalidation_headers(&HeaderMap::new()).is_empty());
        assert!(
            revalidation_headers(&headers(&[("etag", " "), ("last-modified", "yesterday")]))
                .is_empty()
        );
    }

    #[test]
    fn merge_after_304() {
        let stored = headers(&[
            ("content-type", "text/html"),
            ("content-length", "1234"),
            ("content-encoding", "gzip"),
            ("cache-control", "max-age=60"),
            ("etag", "\"v1\""),
            ("date", BEFORE),
            ("age", "30"),
            ("x-multi", "a"),
            ("x-multi", "b"),
            ("x-kept", "yes"),
        ]);
        let resp = headers(&[
            ("cache-control", "max-age=600"),
            ("date", AFTER),
            ("x-multi", "c"),
            ("x-new", "1"),
            ("x-new", "2"),
            ("content-length", "0"),
            ("content-encoding", "br"),
            ("connection", "x-hop"),
            ("x-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("keep-alive", "timeout=5"),
        ]);
        let m = merge_not_modified(&stored, &resp);
        let all = |n: &str| {
            m.get_all(n)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(all("cache-control"), ["max-age=600"]);
        assert_eq!(all("date"), [AFTER]);
        assert_eq!(all("x-multi"), ["c"], "all stored lines replaced");
        assert_eq!(all("x-new"), ["1", "2"]);
        assert_eq!(all("content-length"), ["1234"]);
        assert_eq!(all("content-encoding"), ["gzip"]);
        assert_eq!(all("content-type"), ["text/html"]);
        assert_eq!(all("etag"), ["\"v1\""]);
        assert_eq!(all("x-kept"), ["yes"]);
        assert!(all("age").is_empty(), "the stale Age is dropped");
        for hop in ["connection", "x-hop", "transfer-encoding", "keep-alive"] {
            assert!(!m.contains_key(hop), "{hop}");
        }
        assert_eq!((m.keys_len(), m.len()), (9, 10));
    }

    #[test]
    fn merge_takes_the_304_age_and_etag() {
        let stored = headers(&[("etag", "\"v1\""), ("age", "30")]);
        let m = merge_not_modified(&stored, &headers(&[("etag", "W/\"v2\""), ("age", "3")]));
        assert_eq!(m[ETAG], "W/\"v2\"");
        assert_eq!(m[AGE], "3");
    }
}
