//! The age of a stored response (RFC 9111 §4.2.3, §5.1).

use std::time::{Duration, SystemTime};

use http::header::AGE;
use http::{HeaderMap, HeaderValue};

use super::lex::{delta_seconds, trim, MAX_DELTA_SECONDS};

/// The age of a response served from cache (RFC 9111 §4.2.3, simplified for a cache that
/// received it at `received_at` carrying the origin's `Age` value `age_at_receipt`, see
/// [`age_header`]): `age_at_receipt + (now − received_at)`, truncated to whole seconds. A
/// clock that went backwards counts as no time elapsed.
pub fn current_age(age_at_receipt: Duration, received_at: SystemTime, now: SystemTime) -> Duration {
    let resident = now.duration_since(received_at).unwrap_or_default();
    Duration::from_secs(age_at_receipt.saturating_add(resident).as_secs())
}

/// The `Age` field of a response (RFC 9111 §5.1): delta-seconds, capped at 2³¹; 0 when
/// absent or invalid, including a list or several lines (which a cache should ignore).
pub fn age_header(headers: &HeaderMap) -> Duration {
    let mut lines = headers.get_all(AGE).iter();
    match (lines.next(), lines.next()) {
        (Some(v), None) => delta_seconds(trim(v.as_bytes())).unwrap_or_default(),
        _ => Duration::ZERO,
    }
}

/// The `Age` value to send for a given age (RFC 9111 §5.1): whole seconds, capped at 2³¹.
pub fn age_value(age: Duration) -> HeaderValue {
    HeaderValue::from(age.as_secs().min(MAX_DELTA_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

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

    fn now() -> SystemTime {
        httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap()
    }

    #[test]
    fn age_computation() {
        let t0 = now();
        assert_eq!(current_age(S(0), t0, t0), S(0));
        assert_eq!(current_age(S(10), t0, t0 + S(5)), S(15));
        assert_eq!(
            current_age(S(10), t0, t0 + Duration::from_millis(5999)),
            S(15)
        );
        assert_eq!(
            current_age(
                Duration::from_millis(500),
                t0,
                t0 + Duration::from_millis(600)
            ),
            S(1)
        );
        assert_eq!(
            current_age(S(10), t0 + S(5), t0),
            S(10),
            "clock went backwards"
        );
        assert_eq!(current_age(Duration::MAX, t0, t0 + S(5)), S(u64::MAX));
    }

    #[test]
    fn age_header_parsing() {
        assert_eq!(age_header(&HeaderMap::new()), S(0));
        assert_eq!(age_header(&headers(&[("age", "42")])), S(42));
        assert_eq!(age_header(&headers(&[("age", " 42 ")])), S(42));
        for bad in ["-1", "4.2", "abc", "1, 2", "", "\"5\""] {
            assert_eq!(age_header(&headers(&[("age", bad)])), S(0), "{bad:?}");
        }
        assert_eq!(age_header(&headers(&[("age", "1"), ("age", "2")])), S(0));
        assert_eq!(
            age_header(&headers(&[("age", "99999999999999999999")])),
            S(1 << 31)
        );
        let mut h = HeaderMap::new();
        h.insert(AGE, HeaderValue::from_bytes(b"\xff").unwrap());
        assert_eq!(age_header(&h), S(0));
    }

    #[test]
    fn age_values() {
        assert_eq!(age_value(S(0)), "0");
        assert_eq!(age_value(Duration::from_millis(1999)), "1");
        assert_eq!(age_value(Duration::MAX), "2147483648");
    }
}
