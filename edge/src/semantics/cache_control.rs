//! Response `Cache-Control` (RFC 9111 §5.2.2, RFC 5861).

use std::time::Duration;

use http::header::CACHE_CONTROL;
use http::HeaderMap;

use super::lex::{delta_seconds, members, trim, unquote};

/// The response `Cache-Control` directives a shared cache acts on (RFC 9111 §5.2.2 and the
/// RFC 5861 extensions). Absent directives are `None` / `false`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CacheControl {
    /// `s-maxage` (§5.2.2.10): the shared-cache lifetime, overriding `max-age`.
    pub s_maxage: Option<Duration>,
    /// `max-age` (§5.2.2.1).
    pub max_age: Option<Duration>,
    /// `no-store` (§5.2.2.5).
    pub no_store: bool,
    /// `no-cache` (§5.2.2.4), bare or qualified with field names (treated as bare).
    pub no_cache: bool,
    /// `private` (§5.2.2.7), bare or qualified with field names (treated as bare).
    pub private: bool,
    /// `public` (§5.2.2.9).
    pub public: bool,
    /// `must-revalidate` (§5.2.2.2) or `proxy-revalidate` (§5.2.2.8), which mean the same
    /// thing to a shared cache.
    pub must_revalidate: bool,
    /// `stale-while-revalidate=N` (RFC 5861 §3).
    pub stale_while_revalidate: Option<Duration>,
    /// `stale-if-error=N` (RFC 5861 §4).
    pub stale_if_error: Option<Duration>,
}

/// Parses every `Cache-Control` line of a response (RFC 9111 §5.2: comma lists over several
/// lines, case-insensitive directive names, token or quoted-string arguments).
///
/// Tolerant: unknown directives and stray garbage are ignored; whitespace around `=` is
/// accepted. For the delta-seconds directives the first occurrence wins, and an invalid
/// argument (`max-age=abc`, `max-age` without value, trailing garbage) counts as `0`, which
/// makes the response stale (RFC 9111 §4.2.1); values above 2³¹ are capped (§1.2.2).
pub fn parse_cache_control(headers: &HeaderMap) -> CacheControl {
    let mut cc = CacheControl::default();
    for member in members(headers.get_all(CACHE_CONTROL)) {
        let (name, arg) = match member.iter().position(|&b| b == b'=') {
            Some(i) => (trim(&member[..i]), Some(trim(&member[i + 1..]))),
            None => (member, None),
        };
        let is = |d: &str| name.eq_ignore_ascii_case(d.as_bytes());
        let slot = if is("s-maxage") {
            &mut cc.s_maxage
        } else if is("max-age") {
            &mut cc.max_age
        } else if is("stale-while-revalidate") {
            &mut cc.stale_while_revalidate
        } else if is("stale-if-error") {
            &mut cc.stale_if_error
        } else {
            if is("no-store") {
                cc.no_store = true;
            } else if is("no-cache") {
                cc.no_cache = true;
            } else if is("private") {
                cc.private = true;
            } else if is("public") {
                cc.public = true;
            } else if is("must-revalidate") || is("proxy-revalidate") {
                cc.must_revalidate = true;
            }
            continue;
        };
        if slot.is_none() {
            let secs = arg.and_then(unquote).and_then(delta_seconds);
            *slot = Some(secs.unwrap_or(Duration::ZERO));
        }
    }
    cc
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn cc(lines: &[&str]) -> CacheControl {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append(CACHE_CONTROL, HeaderValue::from_str(l).unwrap());
        }
        parse_cache_control(&h)
    }

    fn secs(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    #[test]
    fn absent_is_default() {
        assert_eq!(
            parse_cache_control(&HeaderMap::new()),
            CacheControl::default()
        );
        assert_eq!(cc(&[""]), CacheControl::default());
    }

    #[test]
    fn all_directives() {
        let c = cc(&[
            "s-maxage=10, max-age=20, no-store, no-cache, private, public",
            "must-revalidate, stale-while-revalidate=30, stale-if-error=40",
        ]);
        assert_eq!(
            c,
            CacheControl {
                s_maxage: secs(10),
                max_age: secs(20),
                no_store: true,
                no_cache: true,
                private: true,
                public: true,
                must_revalidate: true,
                stale_while_revalidate: secs(30),
                stale_if_error: secs(40),
            }
        );
    }

    #[test]
    fn case_insensitive_names_and_quoted_values() {
        let c = cc(&[r#"MAX-AGE="60", S-MaxAge=5, Public, No-Cache"#]);
        assert_eq!(c.max_age, secs(60));
        assert_eq!(c.s_maxage, secs(5));
        assert!(c.public && c.no_cache);
    }

    #[test]
    fn qualified_no_cache_and_private_are_bare() {
        let c = cc(&[r#"no-cache="Set-Cookie, X-Foo", private="a,b", max-age=5"#]);
        assert!(c.no_cache && c.private);
        assert_eq!(c.max_age, secs(5), "the comma inside quotes does not split");
        assert!(cc(&["no-cache=Set-Cookie"]).no_cache);
    }

    #[test]
    fn proxy_revalidate_is_must_revalidate() {
        assert!(cc(&["proxy-revalidate"]).must_revalidate);
        assert!(!cc(&["public"]).must_revalidate);
    }

    #[test]
    fn unknown_directives_and_garbage_ignored() {
        let c = cc(&["immutable, foo=bar, =, ==, x=\"unterminated", "max-age=9"]);
        assert_eq!(
            c,
            CacheControl {
                max_age: secs(9),
                ..Default::default()
            }
        );
        let c = cc(&[" ,, ; max-age=3 ,"]);
        assert_eq!(c.max_age, None, "`; max-age` is not a directive name");
    }

    #[test]
    fn whitespace_around_equals_tolerated() {
        assert_eq!(cc(&["max-age = 60"]).max_age, secs(60));
        assert_eq!(cc(&["\tmax-age=60\t"]).max_age, secs(60));
    }

    #[test]
    fn invalid_delta_seconds_mean_zero() {
        for v in [
            "max-age=abc",
            "max-age",
            "max-age=",
            "max-age=-1",
            "max-age=1.5",
            "max-age=60 x",
        ] {
            assert_eq!(cc(&[v]).max_age, secs(0), "{v}");
        }
        assert_eq!(cc(&["s-maxage=\"10"]).s_maxage, secs(0));
        assert_eq!(
            cc(&["stale-while-revalidate=x"]).stale_while_revalidate,
            secs(0)
        );
        assert_eq!(cc(&["stale-if-error"]).stale_if_error, secs(0));
    }

    #[test]
    fn first_occurrence_wins() {
        assert_eq!(cc(&["max-age=60, max-age=0"]).max_age, secs(60));
        assert_eq!(cc(&["max-age=60", "max-age=0"]).max_age, secs(60));
        assert_eq!(cc(&["max-age=x, max-age=60"]).max_age, secs(0));
    }

    #[test]
    fn huge_values_capped() {
        assert_eq!(
            cc(&["max-age=99999999999999999999999"]).max_age,
            secs(1 << 31)
        );
    }

    #[test]
    fn non_utf8_bytes_do_not_panic() {
        let mut h = HeaderMap::new();
        h.append(
            CACHE_CONTROL,
            HeaderValue::from_bytes(b"max-age=5, \xff\xfe=\x80").unwrap(),
        );
        assert_eq!(parse_cache_control(&h).max_age, secs(5));
    }
}
