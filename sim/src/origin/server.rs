//! The origin server: an accept loop (HTTP/1.1 and h2c on one port), the request handler
//! (catalog lookup, concurrency slot, service time, faults, conditional and range
//! responses), and the fault scheduler.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, DATE, ETAG,
    LAST_MODIFIED,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use super::body::Body;
use super::conditional::{plan, Plan};
use super::config::{FaultKind, OriginConfig};
use super::content;
use super::faults::{self, FaultIo};
use super::stats::{Counters, Gauge, OriginStats, Slot};
use crate::dist::{mix64, Dist, SplitMix64};

/// A running origin; stops when [`RunningOrigin::shutdown`] is called or it is dropped.
pub struct RunningOrigin {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningOrigin {
    /// The address it listens on (the port chosen when the config said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of the counters (what `GET /_origin/stats` returns).
    pub fn stats(&self) -> OriginStats {
        self.state.counters.snapshot()
    }

    /// When the origin started: fault windows and object versions count from here.
    pub fn started(&self) -> Instant {
        self.state.start
    }

    pub fn config(&self) -> &OriginConfig {
        &self.state.cfg
    }

    /// Stops accepting and drops every open connection at once (responses in progress are cut).
    pub fn shutdown(&self) {
        self.state.stopping.store(true, Relaxed);
        let _ = self.shutdown.send(true);
        self.state.kill.send_modify(|g| *g += 1);
        for t in &self.tasks[1..] {
            t.abort();
        }
    }

    /// Waits until the accept loop has stopped (after [`RunningOrigin::shutdown`]).
    pub async fn stopped(mut self) {
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for RunningOrigin {
    fn drop(&mut self) {
        if !self.state.stopping.load(Relaxed) {
            self.shutdown();
        }
    }
}

/// What every connection and request shares.
struct State {
    cfg: OriginConfig,
    start: Instant,
    slots: Semaphore,
    counters: Arc<Counters>,
    /// Per class, then the trace class: the `Cache-Control` value (none if empty) and the
    /// service time.
    cache_control: Vec<Option<HeaderValue>>,
    service: Vec<Dist>,
    /// Seeds each request's generator, with the request's number.
    rng_key: u64,
    next_request: AtomicU64,
    /// Bumped to drop every open connection (a `down` fault starting, or shutdown).
    kill: watch::Sender<u64>,
    stopping: AtomicBool,
}

/// Binds the listen address and starts serving. Must run inside a tokio runtime.
pub async fn start(cfg: OriginConfig) -> io::Result<RunningOrigin> {
    let listener = TcpListener::bind(cfg.listen).await?;
    let addr = listener.local_addr()?;
    let prefixes: Vec<String> = cfg.classes.iter().map(|c| c.prefix.clone()).collect();
    let header = |cc: &str| (!cc.is_empty()).then(|| HeaderValue::from_str(cc).expect("validated"));
    let mut cache_control: Vec<_> = cfg
        .classes
        .iter()
        .map(|c| header(&c.cache_control))
        .collect();
    cache_control.push(header(&cfg.trace.cache_control));
    let mut service: Vec<Dist> = cfg
        .classes
        .iter()
        .map(|c| c.service_time.clone().unwrap_or(cfg.service_time.clone()))
        .collect();
    service.push(
        cfg.trace
            .service_time
            .clone()
            .unwrap_or(cfg.service_time.clone()),
    );
    let state = Arc::new(State {
        start: Instant::now(),
        slots: Semaphore::new(cfg.max_concurrency),
        counters: Arc::new(Counters::new(prefixes)),
        cache_control,
        service,
        rng_key: mix64(cfg.seed ^ 0x452_821E_638D_0137),
        next_request: AtomicU64::new(0),
        kill: watch::channel(0).0,
        stopping: AtomicBool::new(false),
        cfg,
    });
    let (tx, rx) = watch::channel(false);
    let accept = tokio::spawn(accept_loop(listener, state.clone(), rx));
    let schedule = tokio::spawn(down_schedule(state.clone()));
    Ok(RunningOrigin {
        addr,
        state,
        shutdown: tx,
        tasks: vec![accept, schedule],
    })
}

/// Drops every open connection when each `down` window starts.
async fn down_schedule(st: Arc<State>) {
    let mut starts: Vec<Duration> = st
        .cfg
        .faults
        .iter()
        .filter(|f| matches!(f.kind, FaultKind::Down))
        .map(|f| f.at)
        .collect();
    starts.sort();
    for at in starts {
        tokio::time::sleep_until((st.start + at).into()).await;
        st.kill.send_modify(|g| *g += 1);
    }
}

async fn accept_loop(listener: TcpListener, st: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _peer)) = accepted else {
            // Out of file descriptors and the like: back off briefly instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        st.counters.connections.fetch_add(1, Relaxed);
        if faults::down_at(&st.cfg.faults, st.start.elapsed()) {
            st.counters.fault_down.fetch_add(1, Relaxed);
            faults::reset_close(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        let st = st.clone();
        tokio::spawn(async move {
            let mut kill = st.kill.subscribe();
            let reset = Arc::new(AtomicBool::new(false));
            let io = TokioIo::new(FaultIo::new(stream, reset.clone()));
            let s = st.clone();
            let svc = service_fn(move |req| {
                let st = s.clone();
                let reset = reset.clone();
                async move { handle(&st, req, &reset).await }
            });
            tokio::select! {
                // A broken or hostile connection ends here and affects no other.
                _ = builder.serve_connection(io, svc) => {}
                _ = kill.changed() => {
                    if !st.stopping.load(Relaxed) {
                        st.counters.fault_down.fetch_add(1, Relaxed);
                    }
                }
            }
        });
    }
}

/// The object a request path names.
struct Target {
    slot: Slot,
    /// Index into the per-class tables (the trace class last).
    class: usize,
    version: u64,
    size: u64,
    last_modified: SystemTime,
}

enum Lookup {
    Found(Target),
    NotFound,
    TooLarge,
}

/// A canonical decimal: digits, no leading zero (so each object has exactly one path).
fn canonical(s: &str) -> Option<u64> {
    let ok = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

fn lookup(st: &State, path: &str, t: Duration) -> Lookup {
    let seed = st.cfg.seed;
    for (i, c) in st.cfg.classes.iter().enumerate() {
        let Some(index) = path.strip_prefix(c.prefix.as_str()).and_then(canonical) else {
            continue;
        };
        if index >= c.objects {
            return Lookup::NotFound;
        }
        let version = content::version_at(c, seed, index, t);
        return Lookup::Found(Target {
            slot: Slot::Class(i),
            class: i,
            version,
            size: content::object_size(c, seed, index),
            last_modified: content::last_modified(c, seed, index, version),
        });
    }
    if let Some(rest) = path.strip_prefix("/trace/") {
        if let Some((id, size)) = rest.split_once('/') {
            if let (false, Some(size)) = (id.is_empty(), canonical(size)) {
                if size > st.cfg.trace.max_size {
                    return Lookup::TooLarge;
                }
                return Lookup::Found(Target {
                    slot: st.counters.trace_slot(),
                    class: st.cfg.classes.len(),
                    version: 0,
                    size,
                    last_modified: content::epoch(),
                });
            }
        }
    }
    Lookup::NotFound
}

/// The `Date` header, formatted once a second per thread.
fn date() -> HeaderValue {
    thread_local! {
        static CACHE: RefCell<(u64, Option<HeaderValue>)> = const { RefCell::new((u64::MAX, None)) };
    }
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs || c.1.is_none() {
            let v = HeaderValue::from_str(&httpdate::fmt_http_date(now)).expect("a valid date");
            *c = (secs, Some(v));
        }
        c.1.clone().expect("just set")
    })
}

fn simple(st: &State, status: StatusCode, slot: Slot, text: &'static str) -> Response<Body> {
    st.counters.response(status.as_u16());
    let mut r = Response::new(Body::full(
        Bytes::from_static(text.as_bytes()),
        st.counters.clone(),
        slot,
    ));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(DATE, date());
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    h.insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
    r
}

fn stats_response(st: &State) -> Response<Body> {
    let json = serde_json::to_vec_pretty(&st.counters.snapshot()).expect("stats serialise");
    let len = json.len();
    let mut r = Response::new(Body::uncounted(Bytes::from(json)));
    let h = r.headers_mut();
    h.insert(DATE, date());
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    r
}

async fn handle(
    st: &State,
    req: Request<Incoming>,
    reset: &Arc<AtomicBool>,
) -> Result<Response<Body>, io::Error> {
    let t = st.start.elapsed();
    let path = req.uri().path();
    if path == "/_origin/stats" {
        return Ok(stats_response(st));
    }
    let c = &*st.counters;
    c.requests.fetch_add(1, Relaxed);
    let _in_flight = Gauge::enter(&c.in_flight, None);
    let is_get = req.method() == Method::GET;
    if !is_get && req.method() != Method::HEAD {
        let mut r = simple(
            st,
            StatusCode::METHOD_NOT_ALLOWED,
            Slot::Other,
            "method not allowed\n",
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(r);
    }
    let target = match lookup(st, path, t) {
        Lookup::Found(target) => target,
        Lookup::NotFound => {
            return Ok(simple(
                st,
                StatusCode::NOT_FOUND,
                Slot::Other,
                "not found\n",
            ))
        }
        Lookup::TooLarge => {
            return Ok(simple(
                st,
                StatusCode::BAD_REQUEST,
                Slot::Other,
                "trace object larger than trace.max_size\n",
            ))
        }
    };
    c.request(target.slot);

    // Draws: the service time, then one per active fault with a rate.
    let n = st.next_request.fetch_add(1, Relaxed);
    let mut rng = SplitMix64::new(st.rng_key ^ mix64(n));
    let mut wait = st.service[target.class].sample_duration(&mut rng);
    let effects = faults::effects(&st.cfg.faults, t, &mut rng, c);
    wait += effects.extra;

    // A concurrency slot, held through the service time; queue if none is free.
    let _permit = match st.slots.try_acquire() {
        Ok(p) => p,
        Err(_) => {
            c.queued_total.fetch_add(1, Relaxed);
            let _queued = Gauge::enter(&c.queued, Some(&c.queued_peak));
            st.slots
                .acquire()
                .await
                .expect("the semaphore is never closed")
        }
    };
    let _busy = Gauge::enter(&c.concurrency, Some(&c.peak_concurrency));
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }

    if let Some(code) = effects.status.filter(|_| !effects.reset) {
        c.fault_status.fetch_add(1, Relaxed);
        let status = StatusCode::from_u16(code).expect("validated");
        return Ok(simple(st, status, target.slot, "injected fault\n"));
    }

    let seed = st.cfg.seed;
    let etag = content::etag(seed, path, target.version);
    let size = target.size;
    let plan = plan(req.headers(), is_get, &etag, target.last_modified, size);
    let (status, range) = match plan {
        Plan::Full => (StatusCode::OK, Some((0, size))),
        Plan::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, Some((start, end))),
        Plan::NotModified => (StatusCode::NOT_MODIFIED, None),
        Plan::Unsatisfiable => (StatusCode::RANGE_NOT_SATISFIABLE, None),
    };
    let body_range = range.filter(|(s, e)| is_get && e > s);
    if effects.reset {
        c.fault_reset.fetch_add(1, Relaxed);
        if body_range.is_none_or(|(s, e)| e - s < 2) {
            // Nothing to cut in the middle of: reset before the response head.
            reset.store(true, Relaxed);
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "reset by an injected fault",
            ));
        }
    }
    c.response(status.as_u16());
    let body = match body_range {
        Some((s, e)) => Body::content(
            content::content_key(seed, path, target.version),
            s,
            e,
            effects.reset.then(|| reset.clone()),
            st.counters.clone(),
            target.slot,
        ),
        None => Body::empty(),
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.reserve(8);
    h.insert(DATE, date());
    h.insert(ETAG, HeaderValue::from_str(&etag).expect("hex"));
    h.insert(
        LAST_MODIFIED,
        HeaderValue::from_str(&httpdate::fmt_http_date(target.last_modified)).expect("a date"),
    );
    if let Some(cc) = &st.cache_control[target.class] {
        h.insert(CACHE_CONTROL, cc.clone());
    }
    if status != StatusCode::NOT_MODIFIED {
        h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    match plan {
        Plan::Full => {
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(CONTENT_LENGTH, HeaderValue::from(size));
        }
        Plan::Partial { start, end } => {
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(CONTENT_LENGTH, HeaderValue::from(end - start));
            let cr = format!("bytes {start}-{}/{size}", end - 1);
            h.insert(CONTENT_RANGE, HeaderValue::from_str(&cr).expect("ascii"));
        }
        Plan::Unsatisfiable => {
            h.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
            let cr = format!("bytes */{size}");
            h.insert(CONTENT_RANGE, HeaderValue::from_str(&cr).expect("ascii"));
        }
        Plan::NotModified => {}
    }
    Ok(r)
}
