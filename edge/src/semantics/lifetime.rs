//! Freshness lifetime and stale serving (RFC 9111 §4.2, §5.3; RFC 5861).

use std::time::{Duration, SystemTime};

use http::header::{DATE, EXPIRES};
use http::HeaderMap;

use super::cache_control::parse_cache_control;
use super::lex::http_date;

/// The TTL bounds of a cache behavior (CloudFront's minimum, default and maximum TTL).
#[derive(Clone, Copy, Debug)]
pub struct TtlBounds {
    /// Lower bound on any lifetime; above zero it also overrides `no-store`, `no-cache`,
    /// `private` and `Set-Cookie`.
    pub min: Duration,
    /// Lifetime when the origin gives no `s-maxage`, `max-age` or `Expires`.
    pub default: Duration,
    /// Upper bound on any lifetime.
    pub max: Duration,
}

impl TtlBounds {
    /// `d` clamped into `[min, max]`; `max` wins if the bounds are inverted.
    fn clamp(&self, d: Duration) -> Duration {
        d.max(self.min).min(self.max)
    }
}

/// How long a stored response stays fresh and how long it may be served stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Freshness {
    /// The freshness lifetime (RFC 9111 §4.2.1): fresh while `current age < lifetime`.
    pub lifetime: Duration,
    /// How long after becoming stale the response may be served while it is revalidated in
    /// the background (RFC 5861 §3).
    pub stale_while_revalidate: Duration,
    /// How long after becoming stale the response may be served when revalidation fails
    /// (RFC 5861 §4).
    pub stale_if_error: Duration,
    /// `no-cache` (RFC 9111 §5.2.2.4): every use needs a successful revalidation first.
    /// (`must-revalidate` does not set this; it zeroes the stale windows instead.)
    pub revalidate_always: bool,
}

/// The freshness of a response about to be stored, with the behavior's TTL bounds applied
/// the way CloudFront applies them.
///
/// * Lifetime (RFC 9111 §4.2.1): `s-maxage`, else `max-age`, else `Expires − Date`
///   (§5.3; `Date` missing or invalid → `now`; `Expires` in the past → 0; an invalid
///   `Expires` means already expired → 0), clamped into `[ttl.min, ttl.max]`. When the
///   origin gives none of them, `ttl.default` (also clamped): no heuristic freshness.
/// * `no-store`, `no-cache` or `private` with `ttl.min > 0`: lifetime is exactly `ttl.min`
///   (CloudFront's override) and the response is otherwise treated normally.
/// * `no-cache` with `ttl.min == 0`: lifetime 0, `revalidate_always`, no stale serving
///   (§4.2.4). `no-store` / `private` with `ttl.min == 0` (not storable anyway): the same.
/// * Stale windows: the response's `stale-while-revalidate` / `stale-if-error` (RFC 5861),
///   else `default_swr` / `default_sie` — except that with `s-maxage`, which implies
///   `proxy-revalidate` (§5.2.2.10), the defaults do not apply (explicit directives still
///   do). `must-revalidate` / `proxy-revalidate` forbid stale serving (§5.2.2.2, §4.2.4):
///   both windows are 0.
pub fn freshness(
    resp_headers: &HeaderMap,
    now: SystemTime,
    ttl: &TtlBounds,
    default_swr: Duration,
    default_sie: Duration,
) -> Freshness {
    let cc = parse_cache_control(resp_headers);
    let uncacheable = cc.no_store || cc.no_cache || cc.private;
    if uncacheable && ttl.min.is_zero() {
        return Freshness {
            lifetime: Duration::ZERO,
            stale_while_revalidate: Duration::ZERO,
            stale_if_error: Duration::ZERO,
            revalidate_always: true,
        };
    }
    let lifetime = if uncacheable {
        ttl.min
    } else {
        let explicit = cc
            .s_maxage
            .or(cc.max_age)
            .or_else(|| expires_lifetime(resp_headers, now));
        ttl.clamp(explicit.unwrap_or(ttl.default))
    };
    let (swr, sie) = if cc.must_revalidate {
        (Duration::ZERO, Duration::ZERO)
    } else if cc.s_maxage.is_some() {
        (
            cc.stale_while_revalidate.unwrap_or_default(),
            cc.stale_if_error.unwrap_or_default(),
        )
    } else {
        (
            cc.stale_while_revalidate.unwrap_or(default_swr),
            cc.stale_if_error.unwrap_or(default_sie),
        )
    };
    Freshness {
        lifetime,
        stale_while_revalidate: swr,
        stale_if_error: sie,
        revalidate_always: false,
    }
}

/// `Expires − Date` (RFC 9111 §4.2.1, §5.3), `None` without `Expires`. The first line of
/// each field is used; an invalid `Expires` (e.g. `0`) is already expired.
fn expires_lifetime(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let expires = headers.get(EXPIRES)?;
    let Some(expires) = http_date(expires) else {
        return Some(Duration::ZERO);
    };
    let date = headers.get(DATE).and_then(http_date).unwrap_or(now);
    Some(expires.duration_since(date).unwrap_or_default())
}

/// What a cache may do with a stored response of a given current age.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usability {
    /// Fresh (`age < lifetime`, RFC 9111 §4.2): serve it.
    Fresh,
    /// Stale but within `stale-while-revalidate`: serve it and revalidate in the background
    /// (RFC 5861 §3).
    StaleWhileRevalidate,
    /// Must be revalidated before use; if revalidation fails (error or 5xx) it may still be
    /// served when `stale_if_error` is true (RFC 5861 §4).
    Revalidate {
        /// Within the stale-if-error window.
        stale_if_error: bool,
    },
}

/// Classifies a stored response by its current age (see [`current_age`](super::current_age);
/// RFC 9111 §4.2, RFC 5861). Windows are half-open: fresh on `[0, lifetime)`,
/// serve-while-revalidating on `[lifetime, lifetime + swr)`, serve-on-error on
/// `[lifetime, lifetime + sie)`. `revalidate_always` responses are never fresh.
pub fn usability(f: &Freshness, age: Duration) -> Usability {
    if !f.revalidate_always && age < f.lifetime {
        Usability::Fresh
    } else if age < f.lifetime.saturating_add(f.stale_while_revalidate) {
        Usability::StaleWhileRevalidate
    } else {
        Usability::Revalidate {
            stale_if_error: age < f.lifetime.saturating_add(f.stale_if_error),
        }
    }
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

    fn ttl(min: u64, default: u64, max: u64) -> TtlBounds {
        TtlBounds {
            min: S(min),
            default: S(default),
            max: S(max),
        }
    }

    const WIDE: TtlBounds = TtlBounds {
        min: Duration::ZERO,
        default: Duration::from_secs(86_400),
        max: Duration::from_secs(31_536_000),
    };

    fn now() -> SystemTime {
        httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap()
    }

    fn lifetime(pairs: &[(&str, &str)], t: &TtlBounds) -> Duration {
        freshness(&headers(pairs), now(), t, Duration::ZERO, Duration::ZERO).lifetime
    }

    #[test]
    fn s_maxage_over_max_age_over_expires() {
        let exp = ("expires", "Sun, 06 Nov 1994 09:49:37 GMT");
        let date = ("date", "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            lifetime(
                &[("cache-control", "max-age=60, s-maxage=30"), exp, date],
                &WIDE
            ),
            S(30)
        );
        assert_eq!(
            lifetime(&[("cache-control", "max-age=60"), exp, date], &WIDE),
            S(60)
        );
        assert_eq!(lifetime(&[exp, date], &WIDE), S(3600));
        // An explicit (even zero or invalid) max-age hides Expires.
        assert_eq!(
            lifetime(&[("cache-control", "max-age=0"), exp, date], &WIDE),
            S(0)
        );
        assert_eq!(
            lifetime(&[("cache-control", "max-age=x"), exp, date], &WIDE),
            S(0)
        );
    }

    #[test]
    fn clamped_to_min_and_max() {
        let t = ttl(10, 100, 1000);
        assert_eq!(lifetime(&[("cache-control", "max-age=5")], &t), S(10));
        assert_eq!(lifetime(&[("cache-control", "max-age=500")], &t), S(500));
        assert_eq!(lifetime(&[("cache-control", "max-age=5000")], &t), S(1000));
        assert_eq!(lifetime(&[("cache-control", "s-maxage=0")], &t), S(10));
        assert_eq!(
            lifetime(&[("expires", "Sun, 06 Nov 1994 10:49:37 GMT")], &t),
            S(1000)
        );
        assert_eq!(lifetime(&[("expires", "0")], &t), S(10));
    }

    #[test]
    fn default_ttl_when_nothing_said() {
        let t = ttl(0, 100, 1000);
        assert_eq!(lifetime(&[], &t), S(100));
        assert_eq!(
            lifetime(
                &[
                    ("cache-control", "public"),
                    ("last-modified", "Sun, 06 Nov 1994 08:00:00 GMT")
                ],
                &t
            ),
            S(100)
        );
        assert_eq!(
            lifetime(&[("pragma", "no-cache")], &t),
            S(100),
            "Pragma is ignored"
        );
        // The default is clamped too (only matters for inconsistent bounds).
        assert_eq!(lifetime(&[], &ttl(0, 5000, 1000)), S(1000));
        assert_eq!(lifetime(&[], &ttl(10, 0, 1000)), S(10));
        // Inverted bounds: max wins.
        assert_eq!(
            lifetime(&[("cache-control", "max-age=50")], &ttl(100, 100, 10)),
            S(10)
        );
    }

    #[test]
    fn expires_in_the_past_is_stale() {
        let h = [
            ("expires", "Sun, 06 Nov 1994 07:49:37 GMT"),
            ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ];
        assert_eq!(lifetime(&h, &WIDE), S(0));
        assert_eq!(lifetime(&h, &ttl(60, 100, 1000)), S(60));
    }

    #[test]
    fn expires_without_date_uses_now() {
        assert_eq!(
            lifetime(&[("expires", "Sun, 06 Nov 1994 08:59:37 GMT")], &WIDE),
            S(600)
        );
        // An invalid Date is treated as missing.
        assert_eq!(
            lifetime(
                &[
                    ("expires", "Sun, 06 Nov 1994 08:59:37 GMT"),
                    ("date", "yesterday")
                ],
                &WIDE
            ),
            S(600)
        );
    }

    #[test]
    fn expires_is_relative_to_date_not_now() {
        // The origin's clock is an hour behind ours: the lifetime is still Expires − Date.
        let h = [
            ("expires", "Sun, 06 Nov 1994 07:59:37 GMT"),
            ("date", "Sun, 06 Nov 1994 07:49:37 GMT"),
        ];
        assert_eq!(lifetime(&h, &WIDE), S(600));
    }

    #[test]
    fn invalid_expires_is_already_expired() {
        for v in ["0", "-1", "never", "Sun, 06 Nov 1994"] {
            assert_eq!(lifetime(&[("expires", v)], &WIDE), S(0), "{v}");
        }
        // The first Expires line is the one used.
        assert_eq!(
            lifetime(
                &[
                    ("expires", "0"),
                    ("expires", "Sun, 06 Nov 1994 09:49:37 GMT")
                ],
                &WIDE
            ),
            S(0)
        );
    }

    #[test]
    fn no_store_private_no_cache_with_min_zero() {
        for v in [
            "no-store",
            "private",
            "no-cache",
            "no-cache, max-age=60",
            "private, s-maxage=60",
        ] {
            let f = freshness(&headers(&[("cache-control", v)]), now(), &WIDE, S(5), S(5));
            assert_eq!(
                f,
                Freshness {
                    lifetime: S(0),
                    stale_while_revalidate: S(0),
                    stale_if_error: S(0),
                    revalidate_always: true
                },
                "{v}"
            );
        }
    }

    #[test]
    fn min_ttl_overrides_no_store_private_no_cache() {
        let t = ttl(30, 100, 1000);
        for v in [
            "no-store",
            "private",
            "no-cache",
            "private, max-age=600",
            "no-cache, s-maxage=5",
        ] {
            let f = freshness(&headers(&[("cache-control", v)]), now(), &t, S(7), S(9));
            assert_eq!(f.lifetime, S(30), "{v}");
            assert!(!f.revalidate_always, "{v}");
        }
        let f = freshness(
            &headers(&[("cache-control", "no-cache")]),
            now(),
            &t,
            S(7),
            S(9),
        );
        assert_eq!((f.stale_while_revalidate, f.stale_if_error), (S(7), S(9)));
    }

    #[test]
    fn stale_windows() {
        let f = |v: &str| {
            let f = freshness(&headers(&[("cache-control", v)]), now(), &WIDE, S(7), S(9));
            (f.stale_while_revalidate, f.stale_if_error)
        };
        assert_eq!(f("max-age=60"), (S(7), S(9)), "behavior defaults");
        assert_eq!(
            f("max-age=60, stale-while-revalidate=30, stale-if-error=40"),
            (S(30), S(40))
        );
        assert_eq!(f("max-age=60, stale-while-revalidate=30"), (S(30), S(9)));
        assert_eq!(f("max-age=60, stale-if-error=0"), (S(7), S(0)));
        assert_eq!(
            f("max-age=60, must-revalidate, stale-while-revalidate=30"),
            (S(0), S(0))
        );
        assert_eq!(f("max-age=60, proxy-revalidate"), (S(0), S(0)));
        assert_eq!(
            f("s-maxage=60"),
            (S(0), S(0)),
            "s-maxage implies proxy-revalidate"
        );
        assert_eq!(f("s-maxage=1, stale-while-revalidate=59"), (S(59), S(0)));
        assert_eq!(f("max-age=60, stale-while-revalidate=bad"), (S(0), S(9)));
    }

    #[test]
    fn must_revalidate_is_not_revalidate_always() {
        let f = freshness(
            &headers(&[("cache-control", "max-age=60, must-revalidate")]),
            now(),
            &WIDE,
            S(7),
            S(9),
        );
        assert_eq!(f.lifetime, S(60));
        assert!(!f.revalidate_always);
    }

    #[test]
    fn cache_control_over_several_lines() {
        let h = [
            ("cache-control", "public"),
            ("cache-control", "max-age=120"),
        ];
        assert_eq!(lifetime(&h, &WIDE), S(120));
    }

    #[test]
    fn usability_windows() {
        let f = Freshness {
            lifetime: S(60),
            stale_while_revalidate: S(10),
            stale_if_error: S(100),
            revalidate_always: false,
        };
        assert_eq!(usability(&f, S(0)), Usability::Fresh);
        assert_eq!(usability(&f, S(59)), Usability::Fresh);
        assert_eq!(usability(&f, S(60)), Usability::StaleWhileRevalidate);
        assert_eq!(usability(&f, S(69)), Usability::StaleWhileRevalidate);
        assert_eq!(
            usability(&f, S(70)),
            Usability::Revalidate {
                stale_if_error: true
            }
        );
        assert_eq!(
            usability(&f, S(159)),
            Usability::Revalidate {
                stale_if_error: true
            }
        );
        assert_eq!(
            usability(&f, S(160)),
            Usability::Revalidate {
                stale_if_error: false
            }
        );
        let always = Freshness {
            revalidate_always: true,
            lifetime: S(0),
            stale_while_revalidate: S(0),
            stale_if_error: S(0),
        };
        assert_eq!(
            usability(&always, S(0)),
            Usability::Revalidate {
                stale_if_error: false
            }
        );
        let zero = Freshness {
            revalidate_always: false,
            ..always
        };
        assert_eq!(
            usability(&zero, S(0)),
            Usability::Revalidate {
                stale_if_error: false
            }
        );
        let huge = Freshness {
            lifetime: Duration::MAX,
            stale_while_revalidate: Duration::MAX,
            ..zero
        };
        assert_eq!(usability(&huge, S(5)), Usability::Fresh);
    }
}
