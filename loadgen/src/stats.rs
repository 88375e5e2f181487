//! What viewers measure: per-request outcomes folded into counters and HDR histograms
//! (microseconds), mergeable across regions, classes, phases and seconds, and the figures a
//! summary reports from them.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency a histogram holds exactly (longer ones are clamped to it): 10 minutes.
pub const MAX_MICROS: u64 = 600_000_000;

/// How the edge says it answered (`X-Cache: <kind> from <pop>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    Hit,
    RefreshHit,
    StaleHit,
    Miss,
    Pass,
    Error,
    /// No `X-Cache`, or one this tool does not know (another proxy under test).
    Unknown,
}

impl CacheKind {
    /// Parses the value of `X-Cache` (`Hit from fra`); case-insensitive on the kind, as
    /// CloudFront's own values vary in case. nginx's `$upstream_cache_status` values are
    /// understood too (`HIT`, `MISS`, `EXPIRED`, `STALE`, `UPDATING`, `REVALIDATED`,
    /// `BYPASS`), so another proxy can be measured alike.
    pub fn parse(v: &[u8]) -> CacheKind {
        let kind = v.split(|&b| b == b' ').next().unwrap_or(b"");
        match kind.to_ascii_lowercase().as_slice() {
            b"hit" => CacheKind::Hit,
            b"refreshhit" | b"revalidated" => CacheKind::RefreshHit,
            b"stalehit" | b"stale" | b"updating" => CacheKind::StaleHit,
            b"miss" | b"expired" => CacheKind::Miss,
            b"pass" | b"bypass" => CacheKind::Pass,
            b"error" => CacheKind::Error,
            _ => CacheKind::Unknown,
        }
    }

    /// Served from the edge's cache (a revalidated or stale entry counts: its body came from
    /// the cache, as CloudFront counts them).
    pub fn is_hit(self) -> bool {
        matches!(
            self,
            CacheKind::Hit | CacheKind::RefreshHit | CacheKind::StaleHit
        )
    }
}

/// One finished request, as the viewer saw it (times in microseconds from the scheduled
/// instant; `ttfb` and `latency` are `None` when no response came).
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// When it was sent, after its scheduled instant (queueing behind busy connections).
    pub send_lag: u64,
    pub ttfb: Option<u64>,
    pub latency: Option<u64>,
    /// From the actual send to the last byte.
    pub service: Option<u64>,
    pub status: u16,
    pub kind: CacheKind,
    pub body_bytes: u64,
    pub failure: Option<Failure>,
    /// The body was an older version of the object than the one current (not an error).
    pub stale: bool,
    /// A new connection was opened for it.
    pub new_connection: bool,
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Connecting, sending or reading failed (the connection broke).
    Transport,
    /// No complete response within the request timeout.
    Timeout,
    /// A status other than 200 or 304.
    Status,
    /// A 200 whose body is not the object's bytes (any version) or of the wrong length.
    Integrity,
}

/// Counters of one bucket (a region, a class, a phase, a second, …).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Requests finished (any outcome).
    pub requests: u64,
    /// Requests that failed: transport errors, timeouts, error statuses, integrity failures.
    pub errors: u64,
    pub transport_errors: u64,
    pub timeouts: u64,
    pub status_errors: u64,
    pub integrity_failures: u64,
    pub stale_responses: u64,
    /// By `X-Cache`: hits (Hit, RefreshHit, StaleHit), and each kind.
    pub hits: u64,
    pub refresh_hits: u64,
    pub stale_hits: u64,
    pub misses: u64,
    pub passes: u64,
    pub edge_errors: u64,
    /// Body bytes received, and those of hits.
    pub bytes: u64,
    pub hit_bytes: u64,
    /// Scheduled but never sent (the run ended with them queued for a connection).
    pub unsent: u64,
    pub connections_opened: u64,
}

impl Counters {
    /// Counts one outcome.
    pub fn add(&mut self, o: &Outcome) {
        self.requests += 1;
        self.connections_opened += o.new_connection as u64;
        if let Some(f) = o.failure {
            self.errors += 1;
            match f {
                Failure::Transport => self.transport_errors += 1,
                Failure::Timeout => self.timeouts += 1,
                Failure::Status => self.status_errors += 1,
                Failure::Integrity => self.integrity_failures += 1,
            }
        }
        self.stale_responses += o.stale as u64;
        self.bytes += o.body_bytes;
        match o.kind {
            CacheKind::Hit | CacheKind::Unknown => {}
            CacheKind::RefreshHit => self.refresh_hits += 1,
            CacheKind::StaleHit => self.stale_hits += 1,
            CacheKind::Miss => self.misses += 1,
            CacheKind::Pass => self.passes += 1,
            CacheKind::Error => self.edge_errors += 1,
        }
        if o.kind.is_hit() {
            self.hits += 1;
            self.hit_bytes += o.body_bytes;
        }
    }

    pub fn merge(&mut self, o: &Counters) {
        macro_rules! sum {
            ($($f:ident),*) => { $( self.$f += o.$f; )* };
        }
        sum!(
            requests,
            errors,
            transport_errors,
            timeouts,
            status_errors,
            integrity_failures,
            stale_responses,
            hits,
            refresh_hits,
            stale_hits,
            misses,
            passes,
            edge_errors,
            bytes,
            hit_bytes,
            unsent,
            connections_opened
        );
    }
}

/// A latency histogram in microseconds, 1 µs … [`MAX_MICROS`], `sigfig` significant digits.
pub fn histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, sigfig).expect("valid bounds")
}

fn record(h: &mut Histogram<u64>, micros: u64) {
    h.saturating_record(micros.clamp(1, MAX_MICROS));
}

/// Counters and histograms of one bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub counters: Counters,
    /// Scheduled instant → last byte.
    pub latency: Histogram<u64>,
    /// Scheduled instant → response headers.
    pub ttfb: Histogram<u64>,
    /// Actual send → last byte.
    pub service: Histogram<u64>,
    /// Scheduled instant → actual send.
    pub send_lag: Histogram<u64>,
}

impl Bucket {
    pub fn new(sigfig: u8) -> Bucket {
        Bucket {
            counters: Counters::default(),
            latency: histogram(sigfig),
            ttfb: histogram(sigfig),
            service: histogram(sigfig),
            send_lag: histogram(sigfig),
        }
    }

    pub fn add(&mut self, o: &Outcome) {
        self.counters.add(o);
        record(&mut self.send_lag, o.send_lag);
        // Latency of failed requests is not a service time: they count as errors only.
        if o.failure.is_none() {
            if let Some(v) = o.latency {
                record(&mut self.latency, v);
            }
            if let Some(v) = o.ttfb {
                record(&mut self.ttfb, v);
            }
            if let Some(v) = o.service {
                record(&mut self.service, v);
            }
        }
    }

    pub fn merge(&mut self, o: &Bucket) {
        self.counters.merge(&o.counters);
        // Same bounds everywhere: adding cannot fail.
        self.latency.add(&o.latency).expect("same bounds");
        self.ttfb.add(&o.ttfb).expect("same bounds");
        self.service.add(&o.service).expect("same bounds");
        self.send_lag.add(&o.send_lag).expect("same bounds");
    }

    /// The figures of this bucket over `seconds` of measured time.
    pub fn figures(&self, seconds: f64) -> Figures {
        let c = &self.counters;
        let answered = c.requests - c.transport_errors - c.timeouts;
        Figures {
            requests: c.requests,
            errors: c.errors,
            error_rate: ratio(c.errors, c.requests),
            hit_ratio: ratio(c.hits, answered),
            byte_hit_ratio: ratio(c.hit_bytes, c.bytes),
            throughput_rps: if seconds > 0.0 {
                c.requests as f64 / seconds
            } else {
                0.0
            },
            throughput_bps: if seconds > 0.0 {
                c.bytes as f64 * 8.0 / seconds
            } else {
                0.0
            },
            latency_ms: Percentiles::of(&self.latency),
            ttfb_ms: Percentiles::of(&self.ttfb),
            service_ms: Percentiles::of(&self.service),
            send_lag_ms: Percentiles::of(&self.send_lag),
            integrity_failures: c.integrity_failures,
            stale_responses: c.stale_responses,
            unsent_requests: c.unsent,
            counters: *c,
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Percentiles of a histogram, in milliseconds (0 when it is empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Percentiles {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// What a summary reports for one scope (the run, a region, a PoP, a class, a phase).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub requests: u64,
    pub errors: u64,
    pub error_rate: f64,
    /// Hits over answered requests (transport failures and timeouts have no `X-Cache`).
    pub hit_ratio: f64,
    pub byte_hit_ratio: f64,
    pub throughput_rps: f64,
    pub throughput_bps: f64,
    pub latency_ms: Percentiles,
    pub ttfb_ms: Percentiles,
    pub service_ms: Percentiles,
    pub send_lag_ms: Percentiles,
    pub integrity_failures: u64,
    pub stale_responses: u64,
    pub unsent_requests: u64,
    pub counters: Counters,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(kind: CacheKind, bytes: u64, latency: u64) -> Outcome {
        Outcome {
            send_lag: 5,
            ttfb: Some(latency / 2),
            latency: Some(latency),
            service: Some(latency - 5),
            status: 200,
            kind,
            body_bytes: bytes,
            failure: None,
            stale: false,
            new_connection: false,
        }
    }

    #[test]
    fn x_cache_values() {
        assert_eq!(CacheKind::parse(b"Hit from fra"), CacheKind::Hit);
        assert_eq!(
            CacheKind::parse(b"RefreshHit from x"),
            CacheKind::RefreshHit
        );
        assert_eq!(CacheKind::parse(b"Miss from cloudfront"), CacheKind::Miss);
        assert_eq!(CacheKind::parse(b"HIT"), CacheKind::Hit);
        assert_eq!(CacheKind::parse(b"STALE"), CacheKind::StaleHit);
        assert_eq!(CacheKind::parse(b"EXPIRED"), CacheKind::Miss);
        assert_eq!(CacheKind::parse(b""), CacheKind::Unknown);
    }

    #[test]
    fn figures_count_hits_bytes_and_errors() {
        let mut b = Bucket::new(3);
        b.add(&ok(CacheKind::Hit, 100, 1000));
        b.add(&ok(CacheKind::StaleHit, 100, 2000));
        b.add(&ok(CacheKind::Miss, 300, 30_000));
        let mut t = ok(CacheKind::Unknown, 0, 10);
        t.failure = Some(Failure::Transport);
        t.latency = None;
        b.add(&t);
        let f = b.figures(2.0);
        assert_eq!(f.requests, 4);
        assert_eq!(f.errors, 1);
        assert_eq!(f.counters.hits, 2);
        assert_eq!(f.counters.stale_hits, 1);
        assert!((f.hit_ratio - 2.0 / 3.0).abs() < 1e-12);
        assert!((f.byte_hit_ratio - 0.4).abs() < 1e-12);
        assert_eq!(f.throughput_rps, 2.0);
        assert_eq!(f.latency_ms.max, 30.015); // 3 significant digits
        let mut m = Bucket::new(3);
        m.merge(&b);
        m.merge(&b);
        assert_eq!(m.counters.requests, 8);
        assert_eq!(m.latency.len(), 6);
    }
}
