//! Hop-by-hop fields (RFC 9110 §7.6.1).

use http::header::CONNECTION;
use http::{HeaderMap, HeaderName};

use super::lex::members;

/// The fixed hop-by-hop fields, lowercase.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// Whether `name` is one of the fixed hop-by-hop fields: `Connection`, `Keep-Alive`,
/// `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`, `Proxy-Authenticate`,
/// `Proxy-Authorization` (RFC 9110 §7.6.1, plus the historical `Keep-Alive` /
/// `Proxy-Connection`). Fields named by a message's `Connection` are hop-by-hop too; see
/// [`strip_hop_by_hop`].
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

/// Removes hop-by-hop fields, as a proxy must when forwarding in either direction
/// (RFC 9110 §7.6.1): every field named in `Connection` (all lines, case-insensitive; names
/// that are not valid field names are skipped), then the fixed list of [`is_hop_by_hop`].
/// Allocates only when a `Connection` field is present.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(CONNECTION) {
        let listed: Vec<HeaderName> = members(headers.get_all(CONNECTION))
            .filter_map(|m| HeaderName::from_bytes(m).ok())
            .collect();
        for name in listed {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        h
    }

    fn names(h: &HeaderMap) -> Vec<&str> {
        let mut v: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn fixed_list_removed() {
        let mut h = headers(&[
            ("connection", b"keep-alive"),
            ("keep-alive", b"timeout=5"),
            ("proxy-connection", b"keep-alive"),
            ("te", b"trailers"),
            ("trailer", b"x-checksum"),
            ("transfer-encoding", b"chunked"),
            ("upgrade", b"h2c"),
            ("proxy-authenticate", b"Basic"),
            ("proxy-authorization", b"Basic eA=="),
            ("content-type", b"text/plain"),
            ("cache-control", b"max-age=5"),
            ("x-checksum", b"abc"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["cache-control", "content-type", "x-checksum"]);
    }

    #[test]
    fn connection_listed_fields_removed() {
        let mut h = headers(&[
            ("connection", b"close, X-Hop , x-other"),
            ("connection", b"Foo-Bar,, bad name, \xff"),
            ("x-hop", b"1"),
            ("x-hop", b"2"),
            ("x-other", b"1"),
            ("foo-bar", b"1"),
            ("x-keep", b"1"),
            ("date", b"Sun, 06 Nov 1994 08:49:37 GMT"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["date", "x-keep"]);
    }

    #[test]
    fn nothing_to_strip() {
        let mut h = headers(&[("etag", b"\"a\"")]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["etag"]);
        let mut empty = HeaderMap::new();
        strip_hop_by_hop(&mut empty);
        assert!(empty.is_empty());
    }

    #[test]
    fn classification() {
        assert!(is_hop_by_hop(&http::header::TRANSFER_ENCODING));
        assert!(is_hop_by_hop(&HeaderName::from_static("keep-alive")));
        assert!(!is_hop_by_hop(&http::header::CONTENT_LENGTH));
    }
}
