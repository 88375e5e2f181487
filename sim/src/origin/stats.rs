//! The origin's counters: lock-free while serving, snapshotted as [`OriginStats`] (the JSON of
//! `GET /_origin/stats`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// A snapshot of the counters. Every count is since the origin started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginStats {
    pub uptime_ms: u64,
    /// Connections accepted (including those closed at once by a `down` fault).
    pub connections: u64,
    /// Requests received, `/_origin/stats` excepted.
    pub requests: u64,
    /// Body bytes sent, all requests.
    pub bytes: u64,
    /// Per `[[class]]`, in config order.
    pub classes: Vec<ClassStats>,
    /// `/trace/<id>/<size>` requests.
    pub trace: ClassStats,
    /// 304 responses.
    pub not_modified: u64,
    /// 206 responses.
    pub partial: u64,
    /// 404 responses.
    pub not_found: u64,
    /// 416 responses.
    pub range_not_satisfiable: u64,
    /// Every response by status code (only codes sent at least once).
    pub responses: BTreeMap<String, u64>,
    pub faults: FaultStats,
    /// Requests inside the origin now: queued or holding a concurrency slot.
    pub in_flight: u64,
    /// Requests holding a concurrency slot now (in their service time).
    pub concurrency: u64,
    pub peak_concurrency: u64,
    /// Requests waiting for a slot now.
    pub queued: u64,
    /// Requests that had to wait for a slot.
    pub queued_total: u64,
    /// The most requests waiting at once.
    pub queued_peak: u64,
}

/// Requests and body bytes of one class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassStats {
    pub prefix: String,
    pub requests: u64,
    pub bytes: u64,
}

/// Faults injected, per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultStats {
    /// Connections closed by a `down` fault: refused at accept, or dropped when it started.
    pub down: u64,
    /// Requests answered with a `status` fault's code.
    pub status: u64,
    /// Requests slowed by a `slow` fault.
    pub slow: u64,
    /// Connections reset by a `reset` fault.
    pub reset: u64,
}

/// The live counters.
#[derive(Debug)]
pub struct Counters {
    started: Instant,
    pub connections: AtomicU64,
    pub requests: AtomicU64,
    prefixes: Vec<String>,
    /// Per class, then the trace class last.
    class_requests: Vec<AtomicU64>,
    class_bytes: Vec<AtomicU64>,
    /// Bytes of responses that belong to no class (errors, stats).
    other_bytes: AtomicU64,
    /// Indexed by status code.
    responses: Box<[AtomicU64; 600]>,
    pub fault_down: AtomicU64,
    pub fault_status: AtomicU64,
    pub fault_slow: AtomicU64,
    pub fault_reset: AtomicU64,
    pub in_flight: AtomicU64,
    pub concurrency: AtomicU64,
    pub peak_concurrency: AtomicU64,
    pub queued: AtomicU64,
    pub queued_total: AtomicU64,
    pub queued_peak: AtomicU64,
}

/// Which byte counter a body feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Class(usize),
    Other,
}

impl Counters {
    /// Counters for classes with these prefixes (the trace class is added after them).
    pub fn new(prefixes: Vec<String>) -> Counters {
        let n = prefixes.len() + 1;
        Counters {
            started: Instant::now(),
            connections: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            prefixes,
            class_requests: (0..n).map(|_| AtomicU64::new(0)).collect(),
            class_bytes: (0..n).map(|_| AtomicU64::new(0)).collect(),
            other_bytes: AtomicU64::new(0),
            responses: Box::new(std::array::from_fn(|_| AtomicU64::new(0))),
            fault_down: AtomicU64::new(0),
            fault_status: AtomicU64::new(0),
            fault_slow: AtomicU64::new(0),
            fault_reset: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            concurrency: AtomicU64::new(0),
            peak_concurrency: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            queued_total: AtomicU64::new(0),
            queued_peak: AtomicU64::new(0),
        }
    }

    /// The slot of the trace class.
    pub fn trace_slot(&self) -> Slot {
        Slot::Class(self.prefixes.len())
    }

    pub fn request(&self, slot: Slot) {
        if let Slot::Class(i) = slot {
            self.class_requests[i].fetch_add(1, Relaxed);
        }
    }

    pub fn bytes(&self, slot: Slot, n: u64) {
        match slot {
            Slot::Class(i) => self.class_bytes[i].fetch_add(n, Relaxed),
            Slot::Other => self.other_bytes.fetch_add(n, Relaxed),
        };
    }

    pub fn response(&self, status: u16) {
        if let Some(c) = self.responses.get(usize::from(status)) {
            c.fetch_add(1, Relaxed);
        }
    }

    /// Adds one to `gauge` and raises `peak` to it.
    pub fn enter(gauge: &AtomicU64, peak: &AtomicU64) {
        let now = gauge.fetch_add(1, Relaxed) + 1;
        peak.fetch_max(now, Relaxed);
    }

    pub fn snapshot(&self) -> OriginStats {
        let get = |a: &AtomicU64| a.load(Relaxed);
        let class = |i: usize, prefix: &str| ClassStats {
            prefix: prefix.to_string(),
            requests: get(&self.class_requests[i]),
            bytes: get(&self.class_bytes[i]),
        };
        let classes: Vec<ClassStats> = self
            .prefixes
            .iter()
            .enumerate()
            .map(|(i, p)| class(i, p))
            .collect();
        let trace = class(self.prefixes.len(), "/trace/");
        let responses: BTreeMap<String, u64> = self
            .responses
            .iter()
            .enumerate()
            .filter(|(_, c)| get(c) > 0)
            .map(|(code, c)| (code.to_string(), get(c)))
            .collect();
        let code = |c: usize| get(&self.responses[c]);
        OriginStats {
            uptime_ms: self.started.elapsed().as_millis() as u64,
            connections: get(&self.connections),
            requests: get(&self.requests),
            bytes: self.class_bytes.iter().map(get).sum::<u64>() + get(&self.other_bytes),
            classes,
            trace,
            not_modified: code(304),
            partial: code(206),
            not_found: code(404),
            range_not_satisfiable: code(416),
            responses,
            faults: FaultStats {
                down: get(&self.fault_down),
                status: get(&self.fault_status),
                slow: get(&self.fault_slow),
                reset: get(&self.fault_reset),
            },
            in_flight: get(&self.in_flight),
            concurrency: get(&self.concurrency),
            peak_concurrency: get(&self.peak_concurrency),
            queued: get(&self.queued),
            queued_total: get(&self.queued_total),
            queued_peak: get(&self.queued_peak),
        }
    }
}

/// Subtracts one from a gauge when dropped (so a request cancelled by its client, whose future
/// is dropped mid-wait, still leaves the gauges right).
pub struct Gauge<'a>(&'a AtomicU64);

impl<'a> Gauge<'a> {
    pub fn enter(gauge: &'a AtomicU64, peak: Option<&AtomicU64>) -> Gauge<'a> {
        match peak {
            Some(p) => Counters::enter(gauge, p),
            None => {
                gauge.fetch_add(1, Relaxed);
            }
        }
        Gauge(gauge)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}
