//! The range stage of the per-request path: a whole 200 the edge keeps becomes the 206 or 416
//! a viewer's `Range` asks for, and ranges of responses the edge does not keep go to the
//! origin as they are.
//!
//! The edge always fetches and stores whole objects (a miss with a `Range` fetches the whole
//! object, and the viewer gets its slice as the fill streams past). Which part to send is
//! decided by [`semantics::select_range`](crate::semantics::select_range); this module shapes
//! the response and remembers which keys are not kept.

use crate::fill::Head;
use crate::metrics::{Metrics, RangeOutcome};
use crate::semantics::{self, Selection};
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `Accept-Ranges` on responses the edge answers ranges for.
pub const ACCEPT_BYTES: HeaderValue = HeaderValue::from_static("bytes");

/// What part of the body a response sends once the range stage has run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Send {
    Whole,
    /// `len` bytes from offset `start` (at least one).
    Bytes {
        start: u64,
        len: u64,
    },
    /// No body (416).
    Nothing,
}

/// Turns a whole 200 response of `length` body bytes into what `selection` asks for: unchanged
/// (`Whole`, `Ignored`), a 206 with `Content-Range` and its own `Content-Length`, or a bodiless
/// 416 with `Content-Range: bytes */length` and no other header of the stored response (it
/// describes no representation, and must not carry the object's freshness to a downstream
/// cache). Counts every request that had a `Range`.
pub fn apply(
    status: &mut StatusCode,
    headers: &mut HeaderMap,
    selection: Selection,
    length: u64,
    metrics: &Metrics,
) -> Send {
    match selection {
        Selection::Whole => Send::Whole,
        Selection::Ignored => {
            metrics.range(RangeOutcome::Ignored);
            Send::Whole
        }
        Selection::Part { start, end } => {
            metrics.range(RangeOutcome::Partial);
            let len = end - start + 1;
            *status = StatusCode::PARTIAL_CONTENT;
            headers.insert(
                header::CONTENT_RANGE,
                semantics::content_range(start, end, length),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            Send::Bytes { start, len }
        }
        Selection::Unsatisfiable => {
            metrics.range(RangeOutcome::Unsatisfiable);
            *status = StatusCode::RANGE_NOT_SATISFIABLE;
            headers.clear();
            headers.insert(header::CONTENT_RANGE, semantics::unsatisfied_range(length));
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
            headers.insert(header::ACCEPT_RANGES, ACCEPT_BYTES);
            Send::Nothing
        }
    }
}

/// Whether a viewer's request, answered by a fill with head `h`, goes to the origin on its
/// own: it has a `Range` (valid or not: the origin decides) and the response is a 200 the
/// edge does not keep (not storable, or larger than `max_object_size`), so the edge would
/// otherwise have to stream the whole object to cut the range out of it.
pub fn forwards(h: &Head, parts: &Parts) -> bool {
    h.status == StatusCode::OK && !h.kept && parts.headers.contains_key(header::RANGE)
}

/// How long a key whose 200 was not kept sends its range requests straight to the origin.
pub const PASS_MEMO_TTL: Duration = Duration::from_secs(60);
/// Keys remembered at most (expired ones are dropped when it is full; beyond, none is added).
const PASS_MEMO_MAX: usize = 4096;

/// The keys (by hash) whose last 200 from the origin the edge did not keep, for
/// [`PASS_MEMO_TTL`] — a CDN's "hit-for-pass". A range request that misses the store for
/// such a key is forwarded at once, rather than starting a whole-object fetch only to abandon
/// it when its head says the object is not kept. Requests without `Range` still go through
/// the fill, which updates the memo; after the TTL one range request goes through it again.
#[derive(Default)]
pub struct PassMemo {
    map: Mutex<FxHashMap<u64, Instant>>,
    /// Whether anything was ever remembered: until then, nothing is locked.
    any: AtomicBool,
}

impl PassMemo {
    fn lock(&self) -> std::sync::MutexGuard<'_, FxHashMap<u64, Instant>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records whether the 200 just fetched for `hash` is kept.
    pub fn note(&self, hash: u64, kept: bool) {
        if kept {
            if self.any.load(Ordering::Relaxed) {
                self.lock().remove(&hash);
            }
            return;
        }
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= PASS_MEMO_MAX {
            map.retain(|_, until| *until > now);
        }
        if map.len() < PASS_MEMO_MAX || map.contains_key(&hash) {
            map.insert(hash, now + PASS_MEMO_TTL);
            self.any.store(true, Ordering::Relaxed);
        }
    }

    /// Whether range requests for `hash` go straight to the origin now.
    pub fn passes(&self, hash: u64) -> bool {
        if !self.any.load(Ordering::Relaxed) {
            return false;
        }
        let mut map = self.lock();
        match map.get(&hash) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                map.remove(&hash);
                false
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        Metrics::new("t", &[])
    }

    #[test]
    fn a_part_becomes_a_206() {
        let m = metrics();
        let mut status = StatusCode::OK;
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(1000));
        h.insert(header::ETAG, HeaderValue::from_static("\"e\""));
        let send = apply(
            &mut status,
            &mut h,
            Selection::Part { start: 10, end: 19 },
            1000,
            &m,
        );
        assert_eq!(send, Send::Bytes { start: 10, len: 10 });
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(h[header::CONTENT_RANGE], "bytes 10-19/1000");
        assert_eq!(h[header::CONTENT_LENGTH], "10");
        assert_eq!(h[header::ETAG], "\"e\"");
    }

    #[test]
    fn unsatisfiable_is_a_bare_416() {
        let m = metrics();
        let mut status = StatusCode::OK;
        let mut h = HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=60"),
        );
        let send = apply(&mut status, &mut h, Selection::Unsatisfiable, 5, &m);
        assert_eq!(send, Send::Nothing);
        assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(h[header::CONTENT_RANGE], "bytes */5");
        assert_eq!(h[header::CONTENT_LENGTH], "0");
        assert!(h.get(header::CACHE_CONTROL).is_none());
    }

    #[test]
    fn whole_and_ignored_change_nothing() {
        let m = metrics();
        for sel in [Selection::Whole, Selection::Ignored] {
            let mut status = StatusCode::OK;
            let mut h = HeaderMap::new();
            assert_eq!(apply(&mut status, &mut h, sel, 5, &m), Send::Whole);
            assert_eq!((status, h.len()), (StatusCode::OK, 0));
        }
    }

    #[test]
    fn the_memo_remembers_keys_not_kept() {
        let memo = PassMemo::default();
        assert!(!memo.passes(1));
        memo.note(1, true);
        assert!(!memo.passes(1));
        memo.note(1, false);
        assert!(memo.passes(1));
        assert!(!memo.passes(2));
        memo.note(1, true);
        assert!(!memo.passes(1), "kept again");
        for k in 0..PASS_MEMO_MAX as u64 + 10 {
            memo.note(k, false);
        }
        assert_eq!(memo.lock().len(), PASS_MEMO_MAX, "bounded");
        assert!(memo.passes(0));
    }
}
