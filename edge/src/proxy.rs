//! The per-request path: match behavior → build key → look up → fetch/collapse → store →
//! range → respond. Each stage is a method so later features (compression, edge functions)
//! slot in between.

use crate::body::Body;
use crate::config::{Behavior, Config, QueryKey};
use crate::fill::{Fill, Head, Inflight, Join, Subscription};
use crate::metrics::{Metrics, RangeOutcome};
use crate::origin::OriginClient;
use crate::partial::{self, PassMemo, Send};
use crate::semantics::{self, Storable, TtlBounds, Vary};
use crate::store::{Entry, Meta, Store};
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime};

/// How a request was answered: the `X-Cache` header and the metrics label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheResult {
    Hit,
    Miss,
    RefreshHit,
    StaleHit,
    Pass,
    Error,
    /// Answered by joining another request's origin fetch (`X-Cache: Hit`).
    Collapsed,
}

impl CacheResult {
    pub const ALL: [CacheResult; 7] = [
        CacheResult::Hit,
        CacheResult::Miss,
        CacheResult::RefreshHit,
        CacheResult::StaleHit,
        CacheResult::Pass,
        CacheResult::Error,
        CacheResult::Collapsed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            CacheResult::Hit => "hit",
            CacheResult::Miss => "miss",
            CacheResult::RefreshHit => "refresh_hit",
            CacheResult::StaleHit => "stale_hit",
            CacheResult::Pass => "pass",
            CacheResult::Error => "error",
            CacheResult::Collapsed => "collapsed",
        }
    }

    fn x_cache(self) -> &'static str {
        match self {
            CacheResult::Hit | CacheResult::Collapsed => "Hit",
            CacheResult::Miss => "Miss",
            CacheResult::RefreshHit => "RefreshHit",
            CacheResult::StaleHit => "StaleHit",
            CacheResult::Pass => "Pass",
            CacheResult::Error => "Error",
        }
    }
}

const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// Request headers that must not reach the origin on a cacheable fetch: the edge wants the
/// whole current object to store, and answers the viewer's conditions and ranges itself.
const VIEWER_CONDITIONALS: [HeaderName; 6] = [
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_MATCH,
    header::IF_UNMODIFIED_SINCE,
    header::RANGE,
    header::IF_RANGE,
];

/// A fetched response about to be stored.
struct StoredResponse<'a> {
    status: StatusCode,
    headers: &'a HeaderMap,
    chunks: &'a [Bytes],
    now: SystemTime,
    ttl: &'a TtlBounds,
}

pub struct Edge {
    pub cfg: Config,
    pub store: Store,
    pub metrics: Metrics,
    origins: Vec<OriginClient>,
    inflight: Inflight,
    via: HeaderValue,
    x_cache: [HeaderValue; 7],
    /// The request headers each base key varies on, learnt from origin responses' `Vary`.
    vary: RwLock<FxHashMap<u64, Arc<[HeaderName]>>>,
    any_vary: AtomicBool,
    /// Keys whose 200 is not kept: their range requests go straight to the origin.
    pass_memo: PassMemo,
}

impl Edge {
    pub fn new(cfg: Config) -> Result<Self, cache::ParamError> {
        let store = Store::new(
            &cfg.cache.policy,
            cfg.cache.capacity,
            cfg.cache.max_object_size,
            cfg.cache.shards,
        )?;
        let names: Vec<String> = cfg.origins.iter().map(|o| o.name.clone()).collect();
        let metrics = Metrics::new(&cfg.name, &names);
        let via = HeaderValue::from_str(&format!("1.1 {} (cdnlab)", cfg.name))
            .expect("validated PoP name");
        let x_cache = CacheResult::ALL.map(|r| {
            HeaderValue::from_str(&format!("{} from {}", r.x_cache(), cfg.name))
                .expect("validated PoP name")
        });
        let origins = cfg.origins.iter().cloned().map(OriginClient::new).collect();
        Ok(Self {
            cfg,
            store,
            metrics,
            origins,
            inflight: Inflight::default(),
            via,
            x_cache,
            vary: RwLock::new(FxHashMap::default()),
            any_vary: AtomicBool::new(false),
            pass_memo: PassMemo::default(),
        })
    }

    /// Answers one viewer request. Never fails: errors become 4xx/5xx responses.
    pub async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        let (bi, behavior) = self.cfg.behavior_for(req.uri().path());
        let cacheable = behavior.cache && matches!(*req.method(), Method::GET | Method::HEAD);
        let origin = behavior.origin;
        if cacheable {
            let (parts, _ignored_body) = req.into_parts();
            self.cached(bi, parts).await
        } else {
            self.pass(origin, req).await
        }
    }

    // ---- stage: build key ----

    /// The cache key: the path, the selected query parameters and the selected headers.
    fn base_key(behavior: &Behavior, parts: &Parts) -> String {
        let mut k = String::with_capacity(64);
        k.push_str(parts.uri.path());
        if let Some(q) = parts.uri.query() {
            match &behavior.cache_key.query {
                QueryKey::None => {}
                QueryKey::All => {
                    k.push('?');
                    k.push_str(q);
                }
                QueryKey::Only(names) => {
                    let mut first = true;
                    for pair in q.split('&') {
                        let name = pair.split('=').next().unwrap_or("");
                        if names.iter().any(|n| n == name) {
                            k.push(if first { '?' } else { '&' });
                            k.push_str(pair);
                            first = false;
                        }
                    }
                }
            }
        }
        for h in &behavior.cache_key.headers {
            push_header(&mut k, h, &parts.headers);
        }
        k
    }

    /// The variant key under which the response for `base` with these request headers lives,
    /// when the origin said it varies; `None` when `base` itself is the key (the common case,
    /// which then costs no allocation).
    fn variant_key(&self, base: &str, headers: &HeaderMap) -> Option<String> {
        if !self.any_vary.load(Ordering::Relaxed) {
            return None;
        }
        let list = self
            .vary
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&Store::hash_key(base))
            .cloned()?;
        Some(with_vary(base.to_string(), &list, headers))
    }

    // ---- stage: look up ----

    async fn cached(self: Arc<Self>, bi: usize, parts: Parts) -> Response<Body> {
        let behavior = &self.cfg.behaviors[bi];
        let base = Self::base_key(behavior, &parts);
        let variant = self.variant_key(&base, &parts.headers);
        let hash = Store::hash_key(variant.as_deref().unwrap_or(&base));
        let now = SystemTime::now();
        let found = self.store.get(hash, variant.as_deref().unwrap_or(&base));
        // Only the paths that go to the origin need the base and the key as separate strings.
        let key = move |base: &String| variant.unwrap_or_else(|| base.clone());
        if let Some(entry) = found {
            let age = semantics::current_age(entry.age_at_receipt(), entry.received_at(), now);
            let revalidate_always = entry.revalidate_always();
            if !revalidate_always && age < entry.fresh_for() {
                return self.respond_entry(&entry, &parts, CacheResult::Hit, now);
            }
            let stale_for = age.saturating_sub(entry.fresh_for());
            if !revalidate_always && stale_for < entry.stale_while_revalidate() {
                let key = key(&base);
                self.revalidate_in_background(bi, &parts, base, key, hash, entry.clone());
                return self.respond_entry(&entry, &parts, CacheResult::StaleHit, now);
            }
            let key = key(&base);
            return self.fetch(bi, parts, base, key, hash, Some(entry)).await;
        }
        if parts.headers.contains_key(header::RANGE) && self.pass_memo.passes(hash) {
            return self.forward(bi, &parts).await;
        }
        let key = key(&base);
        self.fetch(bi, parts, base, key, hash, None).await
    }

    // ---- stage: fetch / collapse ----

    async fn fetch(
        self: Arc<Self>,
        bi: usize,
        parts: Parts,
        base: String,
        key: String,
        hash: u64,
        stale: Option<Entry>,
    ) -> Response<Body> {
        if self.cfg.behaviors[bi].collapse {
            match self
                .inflight
                .join(hash, self.cfg.limits.collapse_max_waiters)
            {
                Join::Lead(fill, sub) => {
                    self.clone()
                        .spawn_fill(bi, &parts, base, key, hash, stale, fill, true);
                    return self.respond_fill(bi, sub, &parts, false).await;
                }
                Join::Follow(Subscription { head, body }) => {
                    // Wait a bounded time for the leader's response head, then go alone.
                    if let Ok(Ok(h)) =
                        tokio::time::timeout(self.cfg.limits.collapse_timeout, head).await
                    {
                        return self.answer(bi, h, body, &parts, true).await;
                    }
                }
                Join::Alone => {}
            }
        }
        let (fill, sub) = Fill::private();
        self.clone()
            .spawn_fill(bi, &parts, base, key, hash, stale, fill, false);
        self.respond_fill(bi, sub, &parts, false).await
    }

    fn revalidate_in_background(
        self: &Arc<Self>,
        bi: usize,
        parts: &Parts,
        base: String,
        key: String,
        hash: u64,
        entry: Entry,
    ) {
        if let Some(fill) = self.inflight.start_unread(hash) {
            self.clone()
                .spawn_fill(bi, parts, base, key, hash, Some(entry), fill, true);
        }
    }

    /// Runs the origin fetch for a key on its own task, so that it completes (and fills the
    /// cache) even if the viewer that started it goes away.
    #[allow(clippy::too_many_arguments)]
    fn spawn_fill(
        self: Arc<Self>,
        bi: usize,
        parts: &Parts,
        base: String,
        key: String,
        hash: u64,
        stale: Option<Entry>,
        fill: Arc<Fill>,
        registered: bool,
    ) {
        let mut headers = parts.headers.clone();
        semantics::strip_hop_by_hop(&mut headers);
        for h in VIEWER_CONDITIONALS {
            headers.remove(h);
        }
        let uri = parts.uri.clone();
        tokio::spawn(async move {
            self.fill(bi, uri, headers, base, key, hash, stale, &fill)
                .await;
            if registered {
                self.inflight.done(hash, &fill);
            }
        });
    }

    #[allow(clippy::too_many_arguments)]
    async fn fill(
        &self,
        bi: usize,
        uri: http::Uri,
        mut headers: HeaderMap,
        base: String,
        key: String,
        hash: u64,
        stale: Option<Entry>,
        fill: &Fill,
    ) {
        let behavior = &self.cfg.behaviors[bi];
        if let Some(s) = &stale {
            // Only the validators are needed: scan for them rather than decode every header.
            let mut validators = HeaderMap::new();
            for name in [header::ETAG, header::LAST_MODIFIED] {
                if let Some(v) = s.header(&name) {
                    validators.insert(name, v);
                }
            }
            headers.extend(semantics::revalidation_headers(&validators));
        }
        headers.append(header::VIA, self.via.clone());
        let mut req = Request::new(Body::Empty);
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        let viewer_headers = req.headers().clone();
        let started = Instant::now();
        let resp = match self.origins[behavior.origin].send(req).await {
            Ok(r) => r,
            Err(e) => {
                self.metrics.origin(behavior.origin, 0, started.elapsed());
                if let Some(s) = stale.filter(|s| self.within_stale_if_error(s)) {
                    return self.serve_stored(fill, &s, CacheResult::StaleHit);
                }
                return self.fail(fill, e.status(), &e.to_string());
            }
        };
        self.metrics
            .origin(behavior.origin, resp.status().as_u16(), started.elapsed());
        let (mut rp, mut body) = resp.into_parts();
        semantics::strip_hop_by_hop(&mut rp.headers);
        let now = SystemTime::now();
        let ttl = TtlBounds {
            min: behavior.ttl.min,
            default: behavior.ttl.default,
            max: behavior.ttl.max,
        };

        if let Some(s) = &stale {
            if rp.status == StatusCode::NOT_MODIFIED {
                let mut headers = semantics::merge_not_modified(&s.headers(), &rp.headers);
                headers.remove(header::SET_COOKIE);
                if s.status() == StatusCode::OK {
                    headers.insert(header::ACCEPT_RANGES, partial::ACCEPT_BYTES);
                }
                // The body is copied into the refreshed entry's own buffer.
                let entry = self.entry(
                    &key,
                    s.path(),
                    s.status(),
                    &headers,
                    &[s.body()],
                    &rp.headers,
                    now,
                    &ttl,
                    behavior,
                );
                let Some(entry) = entry else {
                    // Not storable as one entry (see `Entry::new`): serve what is stored.
                    return self.serve_stored(fill, s, CacheResult::RefreshHit);
                };
                self.store.insert(hash, entry.clone());
                return self.serve_stored(fill, &entry, CacheResult::RefreshHit);
            }
            if rp.status.is_server_error() && self.within_stale_if_error(s) {
                return self.serve_stored(fill, s, CacheResult::StaleHit);
            }
        }

        let max = self.cfg.cache.max_object_size;
        let too_big = content_length(&rp.headers).is_some_and(|l| l > max);
        let mut keep = !too_big
            && semantics::storable(&Method::GET, &viewer_headers, rp.status, &rp.headers, &ttl)
                == Storable::Yes;
        if rp.status == StatusCode::OK {
            self.pass_memo.note(hash, keep);
        }
        fill.set_head(Head {
            status: rp.status,
            headers: rp.headers.clone(),
            result: CacheResult::Miss,
            kept: keep,
        });
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut total = 0u64;
        let declared = content_length(&rp.headers);
        // The entry goes into the store before the viewer can have the last byte: a viewer
        // that sends its next request the moment its body is complete must find it there
        // (and see the same hits a simulator replaying the same sequence counts).
        let mut names = Some((base, key));
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        total += data.len() as u64;
                        if keep && total > max {
                            keep = false;
                            chunks = Vec::new();
                            if rp.status == StatusCode::OK {
                                self.pass_memo.note(hash, false);
                            }
                        }
                        if keep {
                            chunks.push(data.clone());
                            if declared == Some(total) {
                                if let Some((base, key)) = names.take() {
                                    let stored = StoredResponse {
                                        status: rp.status,
                                        headers: &rp.headers,
                                        chunks: &chunks,
                                        now,
                                        ttl: &ttl,
                                    };
                                    self.store_fill(
                                        base,
                                        key,
                                        hash,
                                        &viewer_headers,
                                        stored,
                                        behavior,
                                    );
                                }
                            }
                        }
                        if !fill.push(data, keep) && !keep {
                            // Nobody reads this body and it is not stored (say, every viewer
                            // wanted a range of it and went to the origin for just that):
                            // stop fetching it.
                            return fill.finish(None);
                        }
                    }
                }
                Err(e) => {
                    // The origin broke mid-body: viewers see a truncated (errored) stream,
                    // never a short body passed off as whole; nothing is stored.
                    return fill.finish(Some(std::io::Error::other(format!("origin body: {e}"))));
                }
            }
        }
        if keep {
            if let Some((base, key)) = names.take() {
                let stored = StoredResponse {
                    status: rp.status,
                    headers: &rp.headers,
                    chunks: &chunks,
                    now,
                    ttl: &ttl,
                };
                self.store_fill(base, key, hash, &viewer_headers, stored, behavior);
            }
        }
        fill.finish(None);
    }

    /// Stores a whole fetched response (under the variant key its `Vary` asks for).
    fn store_fill(
        &self,
        base: String,
        key: String,
        hash: u64,
        viewer_headers: &HeaderMap,
        r: StoredResponse<'_>,
        behavior: &Behavior,
    ) {
        let (key, hash) = self.key_for_vary(base, key, hash, r.headers, viewer_headers);
        let mut stored = r.headers.clone();
        stored.remove(header::AGE);
        // Stored only because a minimum TTL overrode it: never hand one viewer's cookie
        // to the others.
        stored.remove(header::SET_COOKIE);
        if r.status == StatusCode::OK {
            // The edge answers ranges of what it stores: said once here rather than added
            // on every hit.
            stored.insert(header::ACCEPT_RANGES, partial::ACCEPT_BYTES);
        }
        // The chunks are copied into the entry's one exactly-sized buffer: a chunk from
        // hyper may be a slice of a larger read buffer, which must not stay alive
        // (uncounted) as long as the entry.
        let entry = self.entry(
            &key,
            path_of(&key),
            r.status,
            &stored,
            r.chunks,
            r.headers,
            r.now,
            r.ttl,
            behavior,
        );
        if let Some(entry) = entry {
            self.store.insert(hash, entry);
        }
    }

    /// Learns the response's `Vary` and returns the key (and hash) it must be stored under.
    fn key_for_vary(
        &self,
        base: String,
        key: String,
        hash: u64,
        resp: &HeaderMap,
        req: &HeaderMap,
    ) -> (String, u64) {
        match semantics::parse_vary(resp) {
            Vary::Headers(list) if !list.is_empty() => {
                let base_hash = Store::hash_key(&base);
                let list: Arc<[HeaderName]> = list.into();
                self.vary
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(base_hash, list.clone());
                self.any_vary.store(true, Ordering::Relaxed);
                let k = with_vary(base, &list, req);
                let h = Store::hash_key(&k);
                (k, h)
            }
            _ => (key, hash),
        }
    }

    /// The entry to store, or `None` if it cannot be one (see [`Entry::new`]: more than 4 GiB
    /// of key and headers, which hyper never lets through).
    #[allow(clippy::too_many_arguments)]
    fn entry<B: AsRef<[u8]>>(
        &self,
        key: &str,
        path: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[B],
        fresh_headers: &HeaderMap,
        now: SystemTime,
        ttl: &TtlBounds,
        behavior: &Behavior,
    ) -> Option<Entry> {
        let f = semantics::freshness(
            headers,
            now,
            ttl,
            behavior.stale_while_revalidate,
            behavior.stale_if_error,
        );
        let meta = Meta {
            status,
            received_at: now,
            age_at_receipt: semantics::age_header(fresh_headers),
            fresh_for: f.lifetime,
            stale_while_revalidate: f.stale_while_revalidate,
            stale_if_error: f.stale_if_error,
            revalidate_always: f.revalidate_always,
        };
        Entry::new(key, path, &meta, headers, body).ok()
    }

    fn within_stale_if_error(&self, e: &Entry) -> bool {
        let age = semantics::current_age(e.age_at_receipt(), e.received_at(), SystemTime::now());
        age.saturating_sub(e.fresh_for()) < e.stale_if_error()
    }

    /// Answers a fill's readers from a stored entry (refreshed or stale).
    fn serve_stored(&self, fill: &Fill, e: &Entry, result: CacheResult) {
        let (mut headers, body) = e.headers_and_body();
        let age = semantics::current_age(e.age_at_receipt(), e.received_at(), SystemTime::now());
        headers.insert(header::AGE, HeaderValue::from(age.as_secs()));
        if e.status() == StatusCode::OK {
            // The whole body follows at once: its length lets the readers' ranges be answered.
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        fill.set_head(Head {
            status: e.status(),
            headers,
            result,
            kept: true,
        });
        fill.push(body, true);
        fill.finish(None);
    }

    fn fail(&self, fill: &Fill, status: StatusCode, why: &str) {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        fill.set_head(Head {
            status,
            headers,
            result: CacheResult::Error,
            kept: false,
        });
        fill.push(Bytes::from(format!("{why}\n")), true);
        fill.finish(None);
    }

    // ---- stage: respond ----

    fn decorate(&self, headers: &mut HeaderMap, result: CacheResult) {
        headers.append(header::VIA, self.via.clone());
        headers.insert(X_CACHE, self.x_cache[result as usize].clone());
    }

    fn respond_entry(
        &self,
        e: &Entry,
        parts: &Parts,
        result: CacheResult,
        now: SystemTime,
    ) -> Response<Body> {
        let mut status = e.status();
        let (mut headers, body) = e.headers_and_body();
        // Decided on the stored headers, before the edge adds its own.
        let not_modified = status == StatusCode::OK
            && semantics::not_modified(
                &parts.headers,
                headers.get(header::ETAG),
                headers.get(header::LAST_MODIFIED),
            );
        let send = if status == StatusCode::OK && !not_modified {
            // ---- stage: range ----
            let length = body.len() as u64;
            let selection = semantics::select_range(&parts.headers, &headers, Some(length));
            // `Accept-Ranges: bytes` is stored with every 200 (see `fill`).
            partial::apply(&mut status, &mut headers, selection, length, &self.metrics)
        } else {
            Send::Whole
        };
        let age = semantics::current_age(e.age_at_receipt(), e.received_at(), now);
        headers.insert(header::AGE, HeaderValue::from(age.as_secs()));
        self.decorate(&mut headers, result);
        self.metrics.request(result);
        let mut resp = Response::new(Body::Empty);
        *resp.status_mut() = status;
        *resp.headers_mut() = headers;
        if not_modified {
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            resp.headers_mut().remove(header::CONTENT_LENGTH);
        } else if parts.method != Method::HEAD {
            let body = match send {
                Send::Whole => body,
                // Within the body: `start + len <= body.len()`, a usize.
                Send::Bytes { start, len } => body.slice(start as usize..(start + len) as usize),
                Send::Nothing => Bytes::new(),
            };
            self.metrics.sent(body.len() as u64);
            *resp.body_mut() = Body::full(body);
        }
        resp
    }

    async fn respond_fill(
        &self,
        bi: usize,
        sub: Subscription,
        parts: &Parts,
        collapsed: bool,
    ) -> Response<Body> {
        match sub.head.await {
            Ok(h) => self.answer(bi, h, sub.body, parts, collapsed).await,
            Err(_) => self.error_response(
                StatusCode::BAD_GATEWAY,
                "origin fetch ended without a response",
            ),
        }
    }

    /// Answers a viewer from a fill's head and body, unless it asks for a range of a response
    /// the edge does not keep: that goes to the origin on its own.
    async fn answer(
        &self,
        bi: usize,
        h: Arc<Head>,
        body: tokio::sync::mpsc::UnboundedReceiver<crate::body::Chunk>,
        parts: &Parts,
        collapsed: bool,
    ) -> Response<Body> {
        if partial::forwards(&h, parts) {
            drop(body);
            return self.forward(bi, parts).await;
        }
        self.respond_head(h, body, parts, collapsed)
    }

    fn respond_head(
        &self,
        h: Arc<Head>,
        body: tokio::sync::mpsc::UnboundedReceiver<crate::body::Chunk>,
        parts: &Parts,
        collapsed: bool,
    ) -> Response<Body> {
        let result = if collapsed && h.result == CacheResult::Miss {
            CacheResult::Collapsed
        } else {
            h.result
        };
        let mut status = h.status;
        let mut headers = h.headers.clone();
        let conditional_ok = h.status == StatusCode::OK
            && semantics::not_modified(
                &parts.headers,
                h.headers.get(header::ETAG),
                h.headers.get(header::LAST_MODIFIED),
            );
        let send = if h.status == StatusCode::OK && h.kept && !conditional_ok {
            // ---- stage: range ----
            // The slice is cut from the whole body as it streams; without a length (a chunked
            // origin response) the range is ignored until the object is stored.
            let length = content_length(&h.headers);
            let selection = semantics::select_range(&parts.headers, &h.headers, length);
            headers.insert(header::ACCEPT_RANGES, partial::ACCEPT_BYTES);
            let length = length.unwrap_or(0);
            partial::apply(&mut status, &mut headers, selection, length, &self.metrics)
        } else {
            Send::Whole
        };
        self.decorate(&mut headers, result);
        self.metrics.request(result);
        let mut resp = Response::new(Body::Empty);
        *resp.status_mut() = status;
        *resp.headers_mut() = headers;
        if conditional_ok {
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            resp.headers_mut().remove(header::CONTENT_LENGTH);
        } else if parts.method != Method::HEAD {
            let counter = Some(self.metrics.sent_counter());
            *resp.body_mut() = match send {
                Send::Whole => Body::Channel(body, counter),
                Send::Bytes { start, len } => Body::window(body, counter, start, len),
                Send::Nothing => Body::Empty,
            };
        }
        resp
    }

    fn error_response(&self, status: StatusCode, why: &str) -> Response<Body> {
        let mut resp = Response::new(Body::full(Bytes::from(format!("{why}\n"))));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        self.decorate(resp.headers_mut(), CacheResult::Error);
        self.metrics.request(CacheResult::Error);
        resp
    }

    // ---- pass-through ----

    async fn pass(self: Arc<Self>, origin: usize, req: Request<Incoming>) -> Response<Body> {
        let req = req.map(|body| Body::Incoming(body, None));
        self.relay(origin, req, CacheResult::Pass).await
    }

    /// Sends a cacheable behavior's request to the origin as the viewer made it, its `Range`
    /// included, and relays the answer (a 206 as it is): for a range of a response the edge
    /// does not keep. Counted as a miss, like that response's other requests.
    async fn forward(&self, bi: usize, parts: &Parts) -> Response<Body> {
        self.metrics.range(RangeOutcome::Forwarded);
        let mut req = Request::new(Body::Empty);
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = parts.uri.clone();
        *req.headers_mut() = parts.headers.clone();
        let origin = self.cfg.behaviors[bi].origin;
        self.relay(origin, req, CacheResult::Miss).await
    }

    /// Sends a request to an origin as it is (hop-by-hop headers aside) and relays the
    /// response, streaming, labelled `result`.
    async fn relay(
        &self,
        origin: usize,
        req: Request<Body>,
        result: CacheResult,
    ) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        semantics::strip_hop_by_hop(&mut parts.headers);
        parts.headers.append(header::VIA, self.via.clone());
        let started = Instant::now();
        match self.origins[origin]
            .send(Request::from_parts(parts, body))
            .await
        {
            Err(e) => {
                self.metrics.origin(origin, 0, started.elapsed());
                self.error_response(e.status(), &e.to_string())
            }
            Ok(resp) => {
                self.metrics
                    .origin(origin, resp.status().as_u16(), started.elapsed());
                let (mut rp, body) = resp.into_parts();
                semantics::strip_hop_by_hop(&mut rp.headers);
                self.decorate(&mut rp.headers, result);
                self.metrics.request(result);
                Response::from_parts(rp, Body::Incoming(body, Some(self.metrics.sent_counter())))
            }
        }
    }
}

fn push_header(k: &mut String, name: &HeaderName, headers: &HeaderMap) {
    k.push('\n');
    k.push_str(name.as_str());
    k.push(':');
    for (i, v) in headers.get_all(name).iter().enumerate() {
        if i > 0 {
            k.push(',');
        }
        k.push_str(&String::from_utf8_lossy(v.as_bytes()));
    }
}

fn with_vary(mut base: String, list: &[HeaderName], headers: &HeaderMap) -> String {
    base.push_str("\nvary");
    for h in list {
        push_header(&mut base, h, headers);
    }
    base
}

/// The path part of a key (up to the query or the first header line): a prefix of it.
fn path_of(key: &str) -> &str {
    key.split(['?', '\n']).next().unwrap_or("")
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
