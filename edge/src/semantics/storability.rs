//! Whether a response may be stored (RFC 9111 §3, §3.5; CloudFront's minimum-TTL override).

use http::header::{AUTHORIZATION, SET_COOKIE};
use http::{HeaderMap, Method, StatusCode};

use super::cache_control::parse_cache_control;
use super::lifetime::TtlBounds;
use super::vary::{parse_vary, Vary};

/// Whether a response may be stored, and why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storable {
    /// The response may be stored.
    Yes,
    /// The response must not be stored, for the given reason.
    No(&'static str),
}

/// Whether a response may be stored by a shared cache (RFC 9111 §3), checked in this order:
///
/// 1. Only `GET` and `HEAD` requests are cached (RFC 9111 §3 needs a method whose responses
///    are cacheable, RFC 9110 §9.2.3; CloudFront caches these two).
/// 2. The status must be heuristically cacheable (RFC 9110 §15.1): 200, 203, 204, 300, 301,
///    308, 404, 405, 410, 414 or 501. 206 is excluded (whole responses are stored and ranges
///    are answered from them); other statuses are not stored even with explicit freshness.
/// 3. `Vary: *` (or an unparsable `Vary`) can never be matched (RFC 9111 §4.1): not stored.
/// 4. A request with `Authorization` is stored only if the response says `public`,
///    `s-maxage` or `must-revalidate`/`proxy-revalidate` (RFC 9111 §3.5).
/// 5. `no-store` (§5.2.2.5), `private` (§5.2.2.7) and `Set-Cookie` responses are not stored,
///    unless `ttl.min > 0`: like CloudFront, a minimum TTL above zero overrides them.
///
/// `no-cache` responses are storable: they are revalidated on every use (see
/// [`freshness`](super::freshness)).
pub fn storable(
    method: &Method,
    req_headers: &HeaderMap,
    status: StatusCode,
    resp_headers: &HeaderMap,
    ttl: &TtlBounds,
) -> Storable {
    if method != Method::GET && method != Method::HEAD {
        return Storable::No("request method is not GET or HEAD");
    }
    if !matches!(
        status.as_u16(),
        200 | 203 | 204 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501
    ) {
        return Storable::No("status is not cacheable");
    }
    if parse_vary(resp_headers) == Vary::Star {
        return Storable::No("Vary: * (or an unparsable Vary)");
    }
    let cc = parse_cache_control(resp_headers);
    if req_headers.contains_key(AUTHORIZATION)
        && !(cc.public || cc.s_maxage.is_some() || cc.must_revalidate)
    {
        return Storable::No("request has Authorization and the response is not public");
    }
    if ttl.min.is_zero() {
        if cc.no_store {
            return Storable::No("Cache-Control: no-store");
        }
        if cc.private {
            return Storable::No("Cache-Control: private");
        }
        if resp_headers.contains_key(SET_COOKIE) {
            return Storable::No("response sets a cookie");
        }
    }
    Storable::Yes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ttl(min: u64) -> TtlBounds {
        TtlBounds {
            min: Duration::from_secs(min),
            default: Duration::from_secs(86_400),
            max: Duration::from_secs(31_536_000),
        }
    }

    fn check(
        method: Method,
        req: &[(&str, &str)],
        status: u16,
        resp: &[(&str, &str)],
        min: u64,
    ) -> Storable {
        storable(
            &method,
            &headers(req),
            StatusCode::from_u16(status).unwrap(),
            &headers(resp),
            &ttl(min),
        )
    }

    fn yes(resp: &[(&str, &str)], min: u64) -> bool {
        check(Method::GET, &[], 200, resp, min) == Storable::Yes
    }

    #[test]
    fn methods() {
        assert_eq!(check(Method::GET, &[], 200, &[], 0), Storable::Yes);
        assert_eq!(check(Method::HEAD, &[], 200, &[], 0), Storable::Yes);
        for m in [
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
            Method::PATCH,
        ] {
            assert!(
                matches!(
                    check(m.clone(), &[], 200, &[("cache-control", "max-age=60")], 60),
                    Storable::No(_)
                ),
                "{m}"
            );
        }
    }

    #[test]
    fn statuses() {
        for s in [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501] {
            assert_eq!(check(Method::GET, &[], s, &[], 0), Storable::Yes, "{s}");
        }
        for s in [
            100, 201, 206, 302, 303, 304, 307, 400, 403, 500, 502, 503, 504, 599,
        ] {
            let r = check(
                Method::GET,
                &[],
                s,
                &[("cache-control", "public, max-age=60")],
                60,
            );
            assert_eq!(r, Storable::No("status is not cacheable"), "{s}");
        }
    }

    #[test]
    fn no_store_private_set_cookie_need_min_ttl() {
        for resp in [
            &[("cache-control", "no-store")][..],
            &[("cache-control", "private")],
            &[("cache-control", "private=\"x-foo\", max-age=60")],
            &[
                ("cache-control", "public, max-age=60"),
                ("set-cookie", "a=b"),
            ],
        ] {
            assert!(!yes(resp, 0), "{resp:?}");
            assert!(yes(resp, 1), "{resp:?}");
        }
        assert_eq!(
            check(Method::GET, &[], 200, &[("cache-control", "no-store")], 0),
            Storable::No("Cache-Control: no-store")
        );
        assert_eq!(
            check(Method::GET, &[], 200, &[("cache-control", "private")], 0),
            Storable::No("Cache-Control: private")
        );
        assert_eq!(
            check(Method::GET, &[], 200, &[("set-cookie", "a=b")], 0),
            Storable::No("response sets a cookie")
        );
    }

    #[test]
    fn no_cache_is_storable() {
        assert!(yes(&[("cache-control", "no-cache")], 0));
        assert!(yes(&[("cache-control", "no-cache=\"set-cookie\"")], 0));
    }

    #[test]
    fn vary_star_never_stored() {
        for v in ["*", "accept-encoding, *", "bad header name"] {
            assert!(!yes(&[("vary", v)], 0), "{v}");
            assert!(!yes(&[("vary", v)], 60), "{v}: min TTL does not override");
        }
        assert!(yes(&[("vary", "accept-encoding")], 0));
    }

    #[test]
    fn authorization_needs_public_or_s_maxage() {
        let auth = [("authorization", "Bearer x")];
        let r = |resp: &[(&str, &str)], min| check(Method::GET, &auth, 200, resp, min);
        assert!(matches!(r(&[], 0), Storable::No(_)));
        assert!(matches!(
            r(&[("cache-control", "max-age=60")], 0),
            Storable::No(_)
        ));
        assert!(
            matches!(r(&[], 60), Storable::No(_)),
            "min TTL does not override"
        );
        assert_eq!(r(&[("cache-control", "public")], 0), Storable::Yes);
        assert_eq!(r(&[("cache-control", "s-maxage=60")], 0), Storable::Yes);
        assert_eq!(
            r(&[("cache-control", "max-age=60, must-revalidate")], 0),
            Storable::Yes
        );
        assert_eq!(
            r(&[("cache-control", "proxy-revalidate")], 0),
            Storable::Yes
        );
        // public does not lift private / no-store.
        assert!(matches!(
            r(&[("cache-control", "public, no-store")], 0),
            Storable::No(_)
        ));
    }

    #[test]
    fn viewer_cache_control_is_ignored() {
        let req = [
            ("cache-control", "no-store, no-cache"),
            ("pragma", "no-cache"),
        ];
        assert_eq!(check(Method::GET, &req, 200, &[], 0), Storable::Yes);
    }
}
