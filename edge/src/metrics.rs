//! The edge's metrics: one Prometheus recorder per edge (not the process-global one, so that
//! several edges can live in one process, as tests and scenario runners do), rendered on the
//! admin port's `/metrics`.

use crate::proxy::CacheResult;
use crate::store::StoreStats;
use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use rustc_hash::FxHashMap;
use std::sync::Mutex;
use std::time::Duration;

const META: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// What became of a request's `Range` on a cacheable behavior: the
/// `cdnlab_edge_range_requests_total{outcome}` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Answered 206 by the edge.
    Partial,
    /// Answered 416 by the edge.
    Unsatisfiable,
    /// Answered 200 with the whole body (several ranges, malformed, `If-Range` failed, …).
    Ignored,
    /// Sent to the origin with the request, the response not being stored.
    Forwarded,
}

impl RangeOutcome {
    pub const ALL: [RangeOutcome; 4] = [
        RangeOutcome::Partial,
        RangeOutcome::Unsatisfiable,
        RangeOutcome::Ignored,
        RangeOutcome::Forwarded,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RangeOutcome::Partial => "partial",
            RangeOutcome::Unsatisfiable => "unsatisfiable",
            RangeOutcome::Ignored => "ignored",
            RangeOutcome::Forwarded => "forwarded",
        }
    }
}

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    requests: [Counter; CacheResult::ALL.len()],
    ranges: [Counter; RangeOutcome::ALL.len()],
    bytes_sent: Counter,
    sent_by_reference: Counter,
    origin_latency: Vec<Histogram>,
    origin_names: Vec<String>,
    /// (origin index, status) → counter, registered on first use.
    origin_requests: Mutex<FxHashMap<(usize, u16), Counter>>,
}

impl Metrics {
    pub fn new(pop: &str, origins: &[String]) -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("seconds".into()),
                &[
                    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
                ],
            )
            .expect("static buckets are valid")
            .add_global_label("pop", pop)
            .build_recorder();
        let handle = recorder.handle();
        let requests = CacheResult::ALL.map(|r| {
            recorder.register_counter(
                &Key::from_parts(
                    "cdnlab_edge_requests_total",
                    vec![Label::new("result", r.label())],
                ),
                &META,
            )
        });
        let ranges = RangeOutcome::ALL.map(|o| {
            recorder.register_counter(
                &Key::from_parts(
                    "cdnlab_edge_range_requests_total",
                    vec![Label::new("outcome", o.label())],
                ),
                &META,
            )
        });
        let bytes_sent =
            recorder.register_counter(&Key::from_name("cdnlab_edge_sent_bytes_total"), &META);
        let sent_by_reference = recorder.register_counter(
            &Key::from_name("cdnlab_edge_sent_by_reference_bytes_total"),
            &META,
        );
        let origin_latency = origins
            .iter()
            .map(|o| {
                recorder.register_histogram(
                    &Key::from_parts(
                        "cdnlab_edge_origin_response_seconds",
                        vec![Label::new("origin", o.clone())],
                    ),
                    &META,
                )
            })
            .collect();
        Self {
            recorder,
            handle,
            requests,
            ranges,
            bytes_sent,
            sent_by_reference,
            origin_latency,
            origin_names: origins.to_vec(),
            origin_requests: Mutex::new(FxHashMap::default()),
        }
    }

    pub fn request(&self, result: CacheResult) {
        self.requests[result as usize].increment(1);
    }

    /// A request with a `Range` on a cacheable behavior, by what became of it.
    pub fn range(&self, outcome: RangeOutcome) {
        self.ranges[outcome as usize].increment(1);
    }

    pub fn sent(&self, bytes: u64) {
        self.bytes_sent.increment(bytes);
    }

    /// The bytes-sent counter, for bodies that count as they stream.
    pub fn sent_counter(&self) -> metrics::Counter {
        self.bytes_sent.clone()
    }

    /// The counter of body bytes a viewer connection sent by page reference instead of
    /// copying them (a part of the bytes sent; see `viewer_io`).
    pub fn sent_by_reference_counter(&self) -> metrics::Counter {
        self.sent_by_reference.clone()
    }

    /// One origin response (or failure, status 0) after `latency` to its head.
    pub fn origin(&self, origin: usize, status: u16, latency: Duration) {
        self.origin_latency[origin].record(latency.as_secs_f64());
        let mut map = self
            .origin_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.entry((origin, status))
            .or_insert_with(|| {
                let labels = vec![
                    Label::new("origin", self.origin_names[origin].clone()),
                    Label::new(
                        "status",
                        if status == 0 {
                            "error".to_string()
                        } else {
                            status.to_string()
                        },
                    ),
                ];
                self.recorder.register_counter(
                    &Key::from_parts("cdnlab_edge_origin_requests_total", labels),
                    &META,
                )
            })
            .increment(1);
    }

    /// The Prometheus text exposition, with the store's gauges as of now.
    pub fn render(&self, store: &StoreStats) -> String {
        let gauge = |name: &'static str, v: u64| {
            self.recorder
                .register_gauge(&Key::from_name(name), &META)
                .set(v as f64)
        };
        let counter = |name: &'static str, v: u64| {
            self.recorder
                .register_counter(&Key::from_name(name), &META)
                .absolute(v)
        };
        gauge("cdnlab_edge_cache_bytes", store.payload_bytes);
        gauge("cdnlab_edge_cache_metadata_bytes", store.metadata_bytes);
        gauge("cdnlab_edge_cache_objects", store.objects);
        gauge("cdnlab_edge_cache_capacity_bytes", store.capacity);
        counter("cdnlab_edge_evictions_total", store.evictions);
        counter("cdnlab_edge_evicted_bytes_total", store.evicted_bytes);
        counter("cdnlab_edge_invalidated_objects_total", store.invalidations);
        self.handle.render()
    }
}
