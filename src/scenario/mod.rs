//! A scenario file: parsed whole into raw types, validated in one place into a [`Scenario`];
//! every error names the file, the line and the key. Each section is owned by the crate that
//! consumes it (the edge's config, the origin's, the world's, the workload's); this module
//! composes them and checks the cross-references (sites, origins, PoPs, parents, regions).

#![allow(dead_code)] // until the runner uses every field

use std::time::Duration;

/// An assertion's subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    HitRatio,
    ByteHitRatio,
    OriginOffload,
    LatencyP50,
    LatencyP90,
    LatencyP99,
    LatencyP999,
    TtfbP99,
    ThroughputRps,
    ErrorRate,
    IntegrityFailures,
}

impl Metric {
    /// Every metric with its name in scenario files and in `summary.json`.
    pub const ALL: [(Metric, &'static str); 11] = [
        (Metric::HitRatio, "hit_ratio"),
        (Metric::ByteHitRatio, "byte_hit_ratio"),
        (Metric::OriginOffload, "origin_offload"),
        (Metric::LatencyP50, "latency_p50"),
        (Metric::LatencyP90, "latency_p90"),
        (Metric::LatencyP99, "latency_p99"),
        (Metric::LatencyP999, "latency_p999"),
        (Metric::TtfbP99, "ttfb_p99"),
        (Metric::ThroughputRps, "throughput_rps"),
        (Metric::ErrorRate, "error_rate"),
        (Metric::IntegrityFailures, "integrity_failures"),
    ];

    pub fn name(self) -> &'static str {
        Metric::ALL.iter().find(|(m, _)| *m == self).unwrap().1
    }

    /// Latency metrics take durations (`"400ms"`) and are compared in milliseconds.
    pub fn is_latency(self) -> bool {
        matches!(
            self,
            Metric::LatencyP50
                | Metric::LatencyP90
                | Metric::LatencyP99
                | Metric::LatencyP999
                | Metric::TtfbP99
        )
    }
}

/// What an assertion looks at: the whole run, one region or one PoP (indexes into the
/// scenario's lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Run,
    Region(usize),
    Pop(usize),
}

/// `[[assert]]`: the metric's value must be within `[min, max]` (either may be absent, not
/// both). Latency limits are in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Assertion {
    pub metric: Metric,
    pub scope: Scope,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// A region's own access network, added to the path from its site to its PoP's site.
#[derive(Debug, Clone, PartialEq)]
pub struct LastMile {
    pub rtt: Duration,
    pub jitter: Duration,
    /// None: unlimited.
    pub bandwidth_bps: Option<u64>,
    /// Per-segment loss probability (see `sim::link`).
    pub loss: f64,
}

/// `[[region]]`: where a share of the viewers are.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub name: String,
    /// Index into the world's sites.
    pub site: usize,
    /// Share of the total rate (the shares sum to 1).
    pub share: f64,
    pub last_mile: LastMile,
    /// Index into [`Scenario::pops`]: the PoP given by `pop`, or the nearest by RTT.
    pub pop: usize,
    /// Connections the region's viewers keep open at most (`connections`, default 512).
    pub connections: usize,
    /// A connection is closed after this many requests (`requests_per_connection`, default
    /// 100; 0 = never).
    pub requests_per_connection: u64,
}

/// `[[pop]]`: one edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Pop {
    pub name: String,
    pub site: usize,
    /// Index into [`Scenario::pops`] of the parent tier, if any (no cycles).
    pub parent: Option<usize>,
    /// The PoP's validated edge config: `[edge]` with this PoP's overrides, named after the
    /// PoP, listening on `127.0.0.1:0` (the runner assigns addresses) and with one edge origin
    /// per scenario origin whose URL the runner replaces with the link it starts.
    pub edge: edge::Config,
    /// `command`: run this instead of `cdnlab edge` (an external proxy such as nginx).
    pub command: Option<String>,
}

/// `[[origin]]`: a simulated origin at a site.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioOrigin {
    pub name: String,
    pub site: usize,
    /// Listening on `127.0.0.1:0`; its `seed` defaults to the scenario's.
    pub config: sim::origin::OriginConfig,
}

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it came from (as given), for messages.
    pub file: String,
    pub name: String,
    pub seed: u64,
    /// Measured time.
    pub duration: Duration,
    /// Traffic sent before the measured period, not measured.
    pub warmup: Duration,
    pub world: sim::geo::World,
    pub origins: Vec<ScenarioOrigin>,
    pub pops: Vec<Pop>,
    pub regions: Vec<Region>,
    pub workload: loadgen::WorkloadSpec,
    pub asserts: Vec<Assertion>,
}
