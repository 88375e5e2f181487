//! The viewers at work: per region, a dispatcher that hands each request to a connection at
//! its scheduled instant (open loop) or virtual viewers that wait and think (closed loop),
//! connection slots that send over keep-alive HTTP/1.1 or HTTP/2 (see `conn`), and the
//! recording of every outcome.
//!
//! Open loop, without coordinated omission (as wrk2 and oha do): request `i` of a region is
//! due at an instant fixed in advance by the arrival process; it goes to the most recently
//! idle connection, or to a new one while the region is below its connection limit, or else
//! waits in the region's queue. Latency is measured from the due instant, so queueing behind
//! a slow edge counts; the service time from the actual send is kept apart, and so is the lag
//! between the two. Requests still queued when the run ends are counted as unsent.
//!
//! A region's requests come from its `Source`: arrivals and a picker (a synthetic
//! workload), or its share of a replayed trace (the instants and objects of the trace).

use crate::check::{CatalogClass, Checker, Verdict};
use crate::conn::{micros, read_response, BoxError, H2Pool, Protocol};
use crate::picker::Picker;
use crate::replay::{RegionCursor, Replay};
use crate::schedule::{Arrivals, RateCurve};
use crate::spec::{Mode, WorkloadSpec};
use crate::stats::{histogram, Bucket, CacheKind, Counters, Failure, Outcome, MAX_MICROS};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::{HOST, RANGE};
use http::{HeaderValue, Request};
use http_body_util::Empty;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rand::Rng;
use sim::dist::{mix64, SplitMix64};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::Context;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The dispatcher of a region sleeps at least this long between wake-ups.
const MIN_WAKE_GAP: Duration = Duration::from_micros(250);

/// One region's viewers.
#[derive(Debug, Clone)]
pub struct RegionPlan {
    pub name: String,
    /// Share of the total rate (or of the closed-loop viewers).
    pub share: f64,
    /// Index of the PoP it sends to (for per-PoP figures).
    pub pop: usize,
    /// Where its connections go: the region's link to its PoP, or the PoP itself.
    pub target: SocketAddr,
    /// The source address its connections bind (the edge sees it when there is no link).
    pub source: Option<IpAddr>,
    pub connections: usize,
    /// Close a connection after this many requests (0: never).
    pub requests_per_connection: u64,
    /// HTTP/1.1 (`connections` at a time, one request each) or HTTP/2 (`connections`, each
    /// carrying up to `H2_STREAMS` requests at a time).
    pub protocol: Protocol,
}

/// Everything a run of the generator needs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub seed: u64,
    pub warmup: Duration,
    pub duration: Duration,
    pub workload: WorkloadSpec,
    /// The catalog class of each mix entry, in the mix's order (with a trace, the one class
    /// holds the replay: [`CatalogClass::trace`]).
    pub catalog: Vec<CatalogClass>,
    pub regions: Vec<RegionPlan>,
    /// `Host` of every request.
    pub host: String,
    /// A request with no complete response by then fails as a timeout.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Keep the sequence of requests in the order they were sent (for exporting a trace).
    pub record_sequence: bool,
}

/// One request of the recorded sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Order of sending across the whole run.
    pub ticket: u64,
    pub region: u32,
    pub entry: u32,
    pub index: u64,
    /// Scheduled instant, microseconds since traffic began.
    pub scheduled_us: u64,
}

/// What one region measured.
#[derive(Debug, Clone)]
pub struct RegionReport {
    /// The measured period.
    pub total: Bucket,
    /// Requests due during the warm-up.
    pub warmup: Counters,
    /// Per mix entry, measured period.
    pub classes: Vec<Bucket>,
    /// Per phase (0: before the first phase), measured period.
    pub phases: Vec<Bucket>,
    /// Per second since traffic began (warm-up included), by scheduled instant.
    pub seconds: Vec<Second>,
}

/// One second of one region.
#[derive(Debug, Clone)]
pub struct Second {
    pub counters: Counters,
    /// Latency (scheduled → last byte), 2 significant digits.
    pub latency: Histogram<u64>,
}

/// Everything the generator measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub regions: Vec<RegionReport>,
    /// In sending order; empty unless the plan asked for it.
    pub sequence: Vec<Sent>,
    /// When traffic began.
    pub start: Instant,
}

/// A live view for progress displays.
#[derive(Debug, Clone, Copy, Default)]
pub struct Live {
    pub elapsed: Duration,
    /// Requests finished so far (warm-up included).
    pub finished: u64,
    pub hits: u64,
    pub answered: u64,
    pub errors: u64,
    /// Latency p99 of the last whole second, in milliseconds.
    pub p99_ms: f64,
    /// Requests finished during the last whole second.
    pub last_second: u64,
}

#[derive(Debug)]
struct Job {
    scheduled: Instant,
    entry: u32,
    index: u64,
    /// `(offset, length)` of the byte range asked for, if any.
    range: Option<(u64, u64)>,
}

impl Job {
    /// The next request of a region: an object, and a chunk of it for a mix entry that asks
    /// for ranges.
    fn pick(shared: &Shared, picker: &Picker, rng: &mut SplitMix64, scheduled: Instant) -> Job {
        let (entry, index) = picker.pick(rng);
        let range = shared.plan.workload.mix[entry].range.map(|chunk| {
            let size = shared.checker.class(entry).size(index);
            let chunks = size.div_ceil(chunk).max(1);
            let offset = rng.random_range(0..chunks) * chunk;
            (offset, chunk.min(size - offset.min(size)))
        });
        Job {
            scheduled,
            entry: entry as u32,
            index,
            range,
        }
    }
}

struct Recorder {
    report: RegionReport,
}

struct Pool {
    /// Slots waiting for a job, most recently idle last.
    idle: Vec<usize>,
    slots: Vec<mpsc::UnboundedSender<Job>>,
    queue: VecDeque<Job>,
    closed: bool,
}

struct Region {
    index: u32,
    plan: RegionPlan,
    stats: Mutex<Recorder>,
    pool: Mutex<Pool>,
    /// The region's shared connections when it speaks HTTP/2.
    h2: H2Pool,
}

struct Shared {
    plan: Plan,
    start: Instant,
    checker: Checker,
    host: HeaderValue,
    /// The same host as an HTTP/2 request's `:authority`, parsed once.
    authority: http::uri::Authority,
    /// Phase boundaries, seconds since traffic began.
    phase_starts: Vec<f64>,
    regions: Vec<Arc<Region>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    tickets: AtomicU64,
    sequence: Mutex<Vec<Sent>>,
    /// Set by [`Loadgen::stop`]: no more requests are scheduled.
    stopping: AtomicBool,
}

/// A running generator.
pub struct Loadgen {
    shared: Arc<Shared>,
    drivers: Vec<JoinHandle<()>>,
}

impl Loadgen {
    /// Starts every region's viewers on the current tokio runtime; traffic begins at `start`
    /// (which may be a little in the future, so that every region starts together).
    pub fn start(plan: Plan, start: Instant) -> io::Result<Loadgen> {
        let host = HeaderValue::from_str(&plan.host)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let authority = plan
            .host
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let warmup = plan.warmup.as_secs_f64();
        let phase_starts = plan
            .workload
            .phases
            .iter()
            .map(|p| warmup + p.at.as_secs_f64())
            .collect();
        let total = plan.warmup + plan.duration;
        let seconds = total.as_secs() as usize + (total.subsec_nanos() > 0) as usize;
        let regions = plan
            .regions
            .iter()
            .enumerate()
            .map(|(i, r)| {
                Arc::new(Region {
                    index: i as u32,
                    plan: r.clone(),
                    h2: H2Pool::new(r.connections),
                    stats: Mutex::new(Recorder {
                        report: RegionReport {
                            total: Bucket::new(3),
                            warmup: Counters::default(),
                            classes: plan.workload.mix.iter().map(|_| Bucket::new(3)).collect(),
                            phases: (0..=plan.workload.phases.len())
                                .map(|_| Bucket::new(3))
                                .collect(),
                            seconds: (0..seconds)
                                .map(|_| Second {
                                    counters: Counters::default(),
                                    latency: histogram(2),
                                })
                                .collect(),
                        },
                    }),
                    pool: Mutex::new(Pool {
                        idle: Vec::new(),
                        slots: Vec::new(),
                        queue: VecDeque::new(),
                        closed: false,
                    }),
                })
            })
            .collect();
        let shared = Arc::new(Shared {
            checker: Checker::new(plan.catalog.clone()),
            plan,
            start,
            host,
            authority,
            phase_starts,
            regions,
            tasks: Mutex::new(Vec::new()),
            tickets: AtomicU64::new(0),
            sequence: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
        });
        let counts: Vec<u64> = shared.plan.catalog.iter().map(|c| c.count()).collect();
        let replay = trace_replay(&shared.plan)?;
        let shares: Vec<f64> = shared.plan.regions.iter().map(|r| r.share).collect();
        let drivers = shared
            .regions
            .iter()
            .map(|r| {
                let picker = || Picker::new(&shared.plan.workload.mix, &counts);
                match shared.plan.workload.mode {
                    Mode::Open => {
                        let source = match &replay {
                            Some(replay) => Source::Trace(RegionCursor::new(
                                replay.clone(),
                                shared.plan.seed,
                                &shares,
                                r.index as usize,
                                shared.plan.workload.same_sequence,
                            )),
                            None => Source::synthetic(&shared, r, picker()),
                        };
                        tokio::spawn(dispatch(shared.clone(), r.clone(), source))
                    }
                    Mode::Closed {
                        viewers,
                        think_time,
                    } => tokio::spawn(closed_loop(
                        shared.clone(),
                        r.clone(),
                        picker(),
                        viewers,
                        think_time,
                    )),
                }
            })
            .collect();
        Ok(Loadgen { shared, drivers })
    }

    /// Stops scheduling requests (an interrupted run); [`Loadgen::finish`] then returns soon,
    /// once the requests in flight are done.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Relaxed);
    }

    /// A snapshot for a progress display.
    pub fn live(&self) -> Live {
        let elapsed = self.shared.start.elapsed();
        let mut live = Live {
            elapsed,
            ..Live::default()
        };
        let last = (elapsed.as_secs() as usize).checked_sub(1);
        let mut p99 = histogram(2);
        for r in &self.shared.regions {
            let s = r.stats.lock().unwrap();
            let mut c = s.report.total.counters;
            c.merge(&s.report.warmup);
            live.finished += c.requests;
            live.hits += c.hits;
            live.answered += c.requests - c.transport_errors - c.timeouts;
            live.errors += c.errors;
            if let Some(sec) = last.and_then(|i| s.report.seconds.get(i)) {
                live.last_second += sec.counters.requests;
                let _ = p99.add(&sec.latency);
            }
        }
        if !p99.is_empty() {
            live.p99_ms = p99.value_at_quantile(0.99) as f64 / 1000.0;
        }
        live
    }

    /// Waits until every request due has been sent and answered (or has failed), then returns
    /// what was measured.
    pub async fn finish(self) -> Report {
        for d in self.drivers {
            let _ = d.await;
        }
        // The schedule is over: what is still queued was never sent.
        for r in &self.shared.regions {
            let queued: Vec<Job> = {
                let mut p = r.pool.lock().unwrap();
                p.closed = true;
                p.slots.clear();
                p.queue.drain(..).collect()
            };
            for job in queued {
                self.shared.record_unsent(r, &job);
            }
        }
        let tasks = std::mem::take(&mut *self.shared.tasks.lock().unwrap());
        for t in tasks {
            let _ = t.await;
        }
        for r in &self.shared.regions {
            r.h2.close();
        }
        let regions = self
            .shared
            .regions
            .iter()
            .map(|r| r.stats.lock().unwrap().report.clone())
            .collect();
        let mut sequence = std::mem::take(&mut *self.shared.sequence.lock().unwrap());
        sequence.sort_unstable_by_key(|s| s.ticket);
        Report {
            regions,
            sequence,
            start: self.shared.start,
        }
    }
}

impl Shared {
    fn end(&self) -> f64 {
        (self.plan.warmup + self.plan.duration).as_secs_f64()
    }

    /// Whose sequence of objects a region draws: its own, or region 0's for all.
    fn object_stream(&self, region: &Region) -> u32 {
        if self.plan.workload.same_sequence {
            0
        } else {
            region.index
        }
    }

    fn rng(&self, region: u32, stream: u64) -> SplitMix64 {
        SplitMix64::new(mix64(
            self.plan.seed ^ mix64(u64::from(region) + 1) ^ mix64(stream.wrapping_mul(0x9E37)),
        ))
    }

    fn record(&self, region: &Region, job: &Job, o: &Outcome) {
        let t = job
            .scheduled
            .saturating_duration_since(self.start)
            .as_secs_f64();
        let warmup = self.plan.warmup.as_secs_f64();
        let mut s = region.stats.lock().unwrap();
        let rep = &mut s.report;
        if let Some(sec) = rep.seconds.get_mut(t as usize) {
            sec.counters.add(o);
            if let (None, Some(l)) = (o.failure, o.latency) {
                sec.latency.saturating_record(l.clamp(1, MAX_MICROS));
            }
        }
        if t < warmup {
            rep.warmup.add(o);
            return;
        }
        rep.total.add(o);
        rep.classes[job.entry as usize].add(o);
        let phase = self.phase_starts.partition_point(|&p| p <= t);
        rep.phases[phase].add(o);
    }

    fn record_unsent(&self, region: &Region, job: &Job) {
        let t = job
            .scheduled
            .saturating_duration_since(self.start)
            .as_secs_f64();
        let mut s = region.stats.lock().unwrap();
        let rep = &mut s.report;
        if let Some(sec) = rep.seconds.get_mut(t as usize) {
            sec.counters.unsent += 1;
        }
        if t < self.plan.warmup.as_secs_f64() {
            rep.warmup.unsent += 1;
        } else {
            rep.total.counters.unsent += 1;
            rep.classes[job.entry as usize].counters.unsent += 1;
            let phase = self.phase_starts.partition_point(|&p| p <= t);
            rep.phases[phase].counters.unsent += 1;
        }
    }
}

/// A trace workload's replay (held by its one catalog class); None for a synthetic workload.
fn trace_replay(plan: &Plan) -> io::Result<Option<Arc<Replay>>> {
    if plan.workload.trace.is_none() {
        return Ok(None);
    }
    match plan.catalog.first().and_then(|c| c.replay()) {
        Some(r) if plan.workload.mode == Mode::Open => Ok(Some(r.clone())),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a trace workload needs open mode and its replay as the catalog's one class",
        )),
    }
}

/// Where a region's open-loop requests come from.
enum Source {
    /// Arrivals on the rate curve, objects from the picker.
    Synthetic {
        arrivals: Arrivals,
        times: SplitMix64,
        objects: SplitMix64,
        picker: Picker,
    },
    /// The region's share of a replayed trace (catalog class 0).
    Trace(RegionCursor),
}

impl Source {
    fn synthetic(shared: &Shared, region: &Region, picker: Picker) -> Source {
        let mut times = shared.rng(region.index, 1);
        let objects = shared.rng(shared.object_stream(region), 2);
        let w = &shared.plan.workload;
        let curve = RateCurve::new(w.rate, &w.phases, shared.plan.warmup.as_secs_f64());
        let phase = times.random::<f64>();
        Source::Synthetic {
            arrivals: Arrivals::new(curve, region.plan.share, w.arrival, phase),
            times,
            objects,
            picker,
        }
    }

    /// The next request: seconds since traffic began, and what is asked for then. The object
    /// is drawn only for a request due before `end`.
    fn next(&mut self, shared: &Shared, end: f64) -> Option<(f64, Job)> {
        match self {
            Source::Synthetic {
                arrivals,
                times,
                objects,
                picker,
            } => {
                let t = arrivals.next(times)?;
                if t >= end {
                    return None;
                }
                let at = shared.start + Duration::from_secs_f64(t);
                Some((t, Job::pick(shared, picker, objects, at)))
            }
            Source::Trace(cursor) => {
                let (after, index) = cursor.next_request()?;
                let job = Job {
                    scheduled: shared.start + after,
                    entry: 0,
                    index,
                    range: None,
                };
                Some((after.as_secs_f64(), job))
            }
        }
    }
}

/// Open loop: hands each request of the region to a connection at its scheduled instant.
async fn dispatch(shared: Arc<Shared>, region: Arc<Region>, mut source: Source) {
    let end = shared.end();
    let mut last_wake = Instant::now();
    while let Some((t, job)) = source.next(&shared, end) {
        if t >= end || shared.stopping.load(Relaxed) {
            break;
        }
        if job.scheduled > Instant::now() {
            // At high rates, wake at most every MIN_WAKE_GAP and hand over every request due
            // by then: a wake-up per request would cost more than the request. The lateness
            // this adds is measured (send lag) and counted in latency, never hidden.
            let wake = job.scheduled.max(last_wake + MIN_WAKE_GAP);
            sim::link::timer::sleep_until(wake.into()).await;
            last_wake = Instant::now();
        }
        hand_over(&shared, &region, job);
    }
}

/// Gives a job to an idle connection slot, a new slot, or the queue.
fn hand_over(shared: &Arc<Shared>, region: &Arc<Region>, job: Job) {
    let mut p = region.pool.lock().unwrap();
    if p.closed {
        drop(p);
        shared.record_unsent(region, &job);
        return;
    }
    if let Some(i) = p.idle.pop() {
        // An idle slot is parked on its receiver, which lives as long as the slot.
        let _ = p.slots[i].send(job);
        return;
    }
    if p.slots.len() < region.plan.connections.max(1) * region.plan.protocol.streams() {
        let (tx, rx) = mpsc::unbounded_channel();
        let i = p.slots.len();
        p.slots.push(tx);
        drop(p);
        let task = tokio::spawn(slot(shared.clone(), region.clone(), i, rx, job));
        shared.tasks.lock().unwrap().push(task);
        return;
    }
    p.queue.push_back(job);
}

/// One connection slot: runs jobs one after another on its (re)opened connection.
async fn slot(
    shared: Arc<Shared>,
    region: Arc<Region>,
    i: usize,
    mut rx: mpsc::UnboundedReceiver<Job>,
    first: Job,
) {
    let mut conn = Connection::new(i);
    let mut job = first;
    loop {
        let o = conn.execute(&shared, &region, &job).await;
        shared.record(&region, &job, &o);
        let next = {
            let mut p = region.pool.lock().unwrap();
            match p.queue.pop_front() {
                Some(j) => Some(j),
                None => {
                    p.idle.push(i);
                    None
                }
            }
        };
        job = match next {
            Some(j) => j,
            None => match rx.recv().await {
                Some(j) => j,
                None => return,
            },
        };
    }
}

/// Closed loop: `viewers` (split by share) each send, wait for the answer, think, repeat.
async fn closed_loop(
    shared: Arc<Shared>,
    region: Arc<Region>,
    picker: Picker,
    viewers: usize,
    think: Duration,
) {
    let n = ((viewers as f64 * region.plan.share).round() as usize).max(1);
    let picker = Arc::new(picker);
    let end = shared.start + Duration::from_secs_f64(shared.end());
    let mut handles = Vec::with_capacity(n);
    for v in 0..n {
        let (shared, region, picker) = (shared.clone(), region.clone(), picker.clone());
        handles.push(tokio::spawn(async move {
            let mut objects = shared.rng(shared.object_stream(&region), 16 + v as u64);
            let mut conn = Connection::new(v);
            sim::link::timer::sleep_until(shared.start.into()).await;
            loop {
                let now = Instant::now();
                if now >= end || shared.stopping.load(Relaxed) {
                    return;
                }
                let job = Job::pick(&shared, &picker, &mut objects, now);
                let o = conn.execute(&shared, &region, &job).await;
                shared.record(&region, &job, &o);
                if !think.is_zero() {
                    sim::link::timer::sleep_until((Instant::now() + think).into()).await;
                }
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
}

type Driver = http1::Connection<TokioIo<TcpStream>, Empty<Bytes>>;

/// A slot's connection: opened on demand, closed after its quota of requests or an error.
/// Its driver (hyper's connection future, which does the reading and writing) is polled by
/// the slot's own task while a request is in flight, not by a task of its own, so a request
/// costs no wake-ups across tasks.
struct Connection {
    /// The slot (or closed-loop viewer) it belongs to: with HTTP/2, which of the region's
    /// shared connections it sends on.
    slot: usize,
    sender: Option<http1::SendRequest<Empty<Bytes>>>,
    driver: Option<Pin<Box<Driver>>>,
    used: u64,
}

impl Connection {
    fn new(slot: usize) -> Connection {
        Connection {
            slot,
            sender: None,
            driver: None,
            used: 0,
        }
    }

    fn close(&mut self) {
        self.sender = None;
        self.driver = None;
    }

    async fn open(&mut self, shared: &Shared, region: &Region) -> io::Result<()> {
        let plan = &region.plan;
        let stream =
            crate::conn::connect(plan.target, plan.source, shared.plan.connect_timeout).await?;
        let (sender, driver) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        self.sender = Some(sender);
        self.driver = Some(Box::pin(driver));
        self.used = 0;
        Ok(())
    }

    /// Whether the open connection is still usable: its driver has not ended (the peer
    /// closing an idle keep-alive connection ends it), polled once without waiting.
    fn still_open(&mut self) -> bool {
        let Some(driver) = self.driver.as_mut() else {
            return false;
        };
        let mut cx = Context::from_waker(std::task::Waker::noop());
        driver.as_mut().poll(&mut cx).is_pending()
            && self.sender.as_ref().is_some_and(|s| !s.is_closed())
    }

    async fn execute(&mut self, shared: &Shared, region: &Region, job: &Job) -> Outcome {
        let sent = Instant::now();
        let mut o = Outcome {
            send_lag: micros(sent.saturating_duration_since(job.scheduled)),
            ttfb: None,
            latency: None,
            service: None,
            status: 0,
            kind: CacheKind::Unknown,
            body_bytes: 0,
            failure: None,
            stale: false,
            new_connection: false,
        };
        let timeout = shared.plan.request_timeout;
        let result =
            tokio::time::timeout(timeout, self.exchange(shared, region, job, &mut o)).await;
        let done = Instant::now();
        match result {
            Err(_) => {
                o.failure = Some(Failure::Timeout);
                self.close();
            }
            Ok(Err(_)) => {
                o.failure = Some(Failure::Transport);
                self.close();
            }
            Ok(Ok((digest, content_range))) => {
                o.latency = Some(micros(done.saturating_duration_since(job.scheduled)));
                o.service = Some(micros(done.saturating_duration_since(sent)));
                // A 206 must be the range asked for; a 200 (a server may ignore Range) the
                // whole object.
                let range = match (o.status, job.range, content_range) {
                    (206, Some(asked), Some((first, _))) if first == asked.0 => Some(asked),
                    (206, _, _) => Some((u64::MAX, u64::MAX)),
                    _ => None,
                };
                if o.status == 200 || o.status == 206 {
                    match shared.checker.judge(
                        job.entry as usize,
                        job.index,
                        range,
                        o.body_bytes,
                        digest,
                        sent,
                        done,
                    ) {
                        Verdict::Current => {}
                        Verdict::Stale => o.stale = true,
                        Verdict::Corrupt => o.failure = Some(Failure::Integrity),
                    }
                } else if o.status != 304 {
                    o.failure = Some(Failure::Status);
                }
            }
        }
        let quota = region.plan.requests_per_connection;
        if quota > 0 && self.used >= quota {
            // (HTTP/2 connections count their requests in the region's pool.)
            self.close();
        }
        o
    }

    /// Sends the request and reads the whole response; returns the body's xxh3-64 and the
    /// first and last byte positions of a `Content-Range`.
    async fn exchange(
        &mut self,
        shared: &Shared,
        region: &Region,
        job: &Job,
        o: &mut Outcome,
    ) -> Result<(u64, Option<(u64, u64)>), BoxError> {
        let mut h2 = None;
        if region.plan.protocol == Protocol::Http2 {
            let p = &region.plan;
            let timeout = shared.plan.connect_timeout;
            let quota = p.requests_per_connection;
            let (sender, opened) = region
                .h2
                .sender(self.slot, p.target, p.source, timeout, quota)
                .await?;
            o.new_connection = opened;
            h2 = Some(sender);
        } else if !self.still_open() {
            self.close();
            self.open(shared, region).await?;
            o.new_connection = true;
        }
        let class = shared.checker.class(job.entry as usize);
        let path = class.path(job.index);
        if shared.plan.record_sequence {
            let ticket = shared.tickets.fetch_add(1, Relaxed);
            shared.sequence.lock().unwrap().push(Sent {
                ticket,
                region: region.index,
                entry: job.entry,
                index: job.index,
                scheduled_us: micros(job.scheduled.saturating_duration_since(shared.start)),
            });
        }
        // HTTP/2 names the host in the request's `:authority`, from an absolute URI made
        // of parts (no second formatting of the path).
        let mut req = match h2 {
            Some(_) => {
                let mut parts = http::uri::Parts::default();
                parts.scheme = Some(http::uri::Scheme::HTTP);
                parts.authority = Some(shared.authority.clone());
                parts.path_and_query = Some(path.try_into()?);
                Request::get(http::Uri::from_parts(parts)?).body(Empty::<Bytes>::new())?
            }
            None => {
                let mut req = Request::get(path).body(Empty::<Bytes>::new())?;
                req.headers_mut().insert(HOST, shared.host.clone());
                req
            }
        };
        if let Some((offset, len)) = job.range {
            let v = format!("bytes={}-{}", offset, offset + len.max(1) - 1);
            req.headers_mut()
                .insert(RANGE, HeaderValue::from_str(&v).expect("digits and a dash"));
        }
        if let Some(mut sender) = h2 {
            // The connection's own task drives it.
            sender.ready().await?;
            return read_response(sender.send_request(req), job.scheduled, o).await;
        }
        self.used += 1;
        let sender = self.sender.as_mut().expect("opened above");
        let driver = self.driver.as_mut().expect("opened above");
        let talk = async {
            sender.ready().await?;
            read_response(sender.send_request(req), job.scheduled, o).await
        };
        tokio::pin!(talk);
        tokio::select! {
            biased;
            r = &mut talk => r,
            end = driver.as_mut() => Err(match end {
                Err(e) => e.into(),
                Ok(()) => "the connection closed before the response was complete".into(),
            }),
        }
    }
}
