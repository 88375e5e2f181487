//! HTTP caching semantics for a shared cache (RFC 9111, RFC 9110, RFC 5861), modelled on
//! Amazon CloudFront: pure functions, no I/O, meant for the per-request path.
//!
//! What lives here:
//!
//! * [`parse_cache_control`]: the response `Cache-Control` directives a shared cache needs.
//! * [`storable`]: whether a response may be stored (RFC 9111 §3).
//! * [`freshness`], [`usability`]: how long a stored response is fresh and may be served
//!   stale (RFC 9111 §4.2, RFC 5861), with a behavior's TTL bounds applied like CloudFront.
//! * [`current_age`], [`age_header`], [`age_value`]: the `Age` of a stored response
//!   (RFC 9111 §4.2.3, §5.1).
//! * [`parse_vary`]: the request headers that select a variant (RFC 9110 §12.5.5).
//! * [`not_modified`], [`revalidation_headers`], [`merge_not_modified`]: conditional requests
//!   from viewers and to the origin (RFC 9110 §13, RFC 9111 §4.3).
//! * [`strip_hop_by_hop`]: connection-specific headers a proxy removes (RFC 9110 §7.6.1).
//! * [`select_range`], [`parse_range`], [`if_range_holds`]: the part of a whole response a
//!   viewer's `Range` asks for (RFC 9110 §14, §13.1.5).
//!
//! # Choices where the RFCs leave room (or where CloudFront departs from them)
//!
//! * **Viewer `Cache-Control` / `Pragma` are ignored for cache lookups.** CloudFront does not
//!   let a viewer's `Cache-Control: no-cache`, `max-age=0`, `no-store` or `Pragma: no-cache`
//!   bypass or refresh the cache (otherwise any client could force origin fetches), so there
//!   is deliberately no "request forbids the stored response" function. Response `Pragma`
//!   is ignored as well (RFC 9111 §5.4 deprecates it).
//! * **A minimum TTL above zero overrides `no-store`, `no-cache`, `private` and
//!   `Set-Cookie`** (CloudFront): the response is stored and fresh for exactly `ttl.min`.
//!   It does *not* override `Vary: *`, a non-cacheable status or method, or the
//!   `Authorization` rule (RFC 9111 §3.5), which protect other users' data.
//! * **Cacheable statuses are a fixed list** (200, 203, 204, 300, 301, 308, 404, 405, 410,
//!   414, 501): other statuses are not stored even with explicit freshness (RFC 9111 §3
//!   would allow e.g. a 302 with `max-age`). 206 is excluded: the cache fetches and stores
//!   whole responses and answers ranges from them.
//! * **No heuristic freshness**: when the origin gives no `s-maxage`, `max-age` or `Expires`,
//!   the behavior's default TTL applies (CloudFront), not a fraction of `Last-Modified` age.
//! * **Every lifetime is clamped into `[ttl.min, ttl.max]`**, the default TTL included; if
//!   the bounds are inverted (`min > max`, which configuration should reject) `max` wins.
//! * **Invalid freshness information means stale** (RFC 9111 §4.2.1 encourages it): an
//!   unparsable `max-age`/`s-maxage` counts as `0`, an invalid `Expires` as already expired.
//!   The same applies to unparsable `stale-while-revalidate` / `stale-if-error` (`0`: no
//!   stale serving, rather than falling back to the behavior's default).
//! * **Repeated directives / fields: the first occurrence wins** (RFC 9111 §4.2.1 allows
//!   "first occurrence or stale"), e.g. `max-age=60, max-age=0` is 60 s, and the first
//!   `Expires`/`Date` line is used.
//! * Values above 2³¹ seconds are treated as 2³¹ seconds (RFC 9111 §1.2.2).
//! * **Qualified `no-cache="f"` and `private="f"` are treated as their bare forms** (the
//!   RFC allows storing the rest of the response; we are conservative).
//! * **`proxy-revalidate` is folded into `must_revalidate`**: for a shared cache they mean
//!   the same (RFC 9111 §5.2.2.8).
//! * **`s-maxage` implies `proxy-revalidate`** (RFC 9111 §5.2.2.10), so with `s-maxage` the
//!   behavior's *default* stale-while-revalidate / stale-if-error windows do not apply;
//!   explicit `stale-while-revalidate` / `stale-if-error` directives next to it are still
//!   honoured (the common `s-maxage=1, stale-while-revalidate=59` idiom). `must-revalidate`,
//!   `proxy-revalidate` and `no-cache` forbid stale serving outright, explicit windows
//!   included (the most restrictive directive wins, RFC 9111 §4.2.1).
//! * **`Authorization`**: a response to a request carrying it is stored only if the response
//!   has `public`, `s-maxage` or `must-revalidate` (the three directives RFC 9111 §3.5 names;
//!   `proxy-revalidate` counts as `must-revalidate`).
//! * **A malformed `Vary` member is treated like `Vary: *`** (the variant cannot be selected
//!   reliably, so the response is not stored).
//! * **An `Age` field that is invalid, or repeated on several lines, counts as 0**
//!   (RFC 9111 §5.1: a list is invalid and a cache should ignore it).
//! * **Entity-tag comparison is byte-wise on the opaque tag after dropping a `W/` prefix**
//!   (weak comparison, RFC 9110 §8.8.3.2); unquoted (invalid) tags compare the same way, so
//!   an origin's malformed `ETag` echoed back by a client still validates.
//! * **`If-Modified-Since` without a stored `Last-Modified` never yields 304** (RFC 9111
//!   §4.3.2 suggests falling back to the stored `Date`; a caller wanting that can pass the
//!   `Date` value as `last_modified`). `If-Modified-Since` on several lines is ignored.
//!   `If-Match` / `If-Unmodified-Since` are not evaluated here.
//! * **Ranges: one `bytes` range is honoured; several ranges, other units and malformed
//!   values are ignored** (200 with the whole body, RFC 9110 §14.2), so no
//!   `multipart/byteranges` is ever generated. `If-Range` uses the strong comparison, and a
//!   date only counts when the stored `Last-Modified` is strong (a `Date` at least a second
//!   later); when it does not hold the whole response is sent.
//! * **After a 304, `Content-Length`, `Content-Encoding`, `Content-Range` and hop-by-hop
//!   fields are not updated** (RFC 9111 §3.2 allows keeping fields the stored content
//!   depends on), and the stored `Age` is replaced by the 304's (or dropped): the old value
//!   no longer describes the revalidated response.
//! * **Only `If-Modified-Since` values that parse as HTTP-dates are sent to the origin**; an
//!   unparsable `Last-Modified` is not echoed.
//! * `strip_hop_by_hop` follows RFC 9110 §7.6.1 literally: every field named in
//!   `Connection` is removed, whatever it is. `Trailer` is removed too (the proxy buffers
//!   bodies, so trailer announcements would be wrong).

mod age;
mod cache_control;
mod conditional;
mod hop_by_hop;
mod lex;
mod lifetime;
mod range;
mod storability;
mod vary;

pub use age::{age_header, age_value, current_age};
pub use cache_control::{parse_cache_control, CacheControl};
pub use conditional::{merge_not_modified, not_modified, revalidation_headers};
pub use hop_by_hop::{is_hop_by_hop, strip_hop_by_hop};
pub use lifetime::{freshness, usability, Freshness, TtlBounds, Usability};
pub use range::{
    content_range, if_range_holds, parse_range, select_range, unsatisfied_range, ByteRange,
    Selection,
};
pub use storability::{storable, Storable};
pub use vary::{parse_vary, Vary};

#[cfg(test)]
mod proptests;
