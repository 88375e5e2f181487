//! The scenario file as written: serde types mirroring it key by key, deserialized from the
//! whole text in one pass so that every span points into the file. Unknown keys are refused
//! at every level. Each key's meaning, default and constraints are documented here (README's
//! reference is written from these comments); [`super::validate`] checks them.
//!
//! The sections owned by other crates are their raw types, embedded as they are:
//! `[world]` is [`sim::geo::RawWorld`], each `[[origin]]` a [`sim::origin::RawOriginConfig`],
//! `[edge]` an [`edge::config::RawConfig`], `[workload]` a [`loadgen::spec::RawWorkload`];
//! their own docs describe their keys.

use cache::config_source::RawDuration;
use edge::config::{RawBehavior, RawCache, RawConfig, RawLimits};
use loadgen::spec::RawWorkload;
use serde::Deserialize;
use sim::dist::RawQty;
use sim::geo::RawWorld;
use sim::origin::RawOriginConfig;
use toml::Spanned;

/// The whole scenario file.
///
/// ```toml
/// name = "global-zipf"
/// seed = 42
/// duration = "60s"
/// warmup = "10s"
/// [world]        # sites and the RTT model
/// [[origin]]     # simulated origins
/// [edge]         # the edge config every PoP starts from
/// [[pop]]        # edges
/// [[region]]     # viewers
/// [workload]     # what they ask for, and when
/// [[assert]]     # what must hold at the end
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// `name`: the scenario's name, 1 to 64 letters, digits, `-`, `_` or `.` (it names the
    /// results folder). Required.
    pub name: Option<Spanned<String>>,
    /// `seed`: seeds every random draw (arrivals, object choices, link jitter and loss, and
    /// the origins that have no `seed` of their own), an integer ≥ 0. Default 1. The same
    /// scenario with the same seed sends the same sequence of requests.
    pub seed: Option<Spanned<i64>>,
    /// `duration`: the measured period, a duration > 0 such as `"60s"`. Required.
    pub duration: Option<Spanned<RawDuration>>,
    /// `warmup`: traffic sent before the measured period and not measured (it fills the
    /// caches), a duration ≥ 0. Default `"0s"`.
    pub warmup: Option<Spanned<RawDuration>>,
    /// `[world]`: the sites and the RTT model ([`RawWorld`]: `preset`, `base_rtt`,
    /// `inflation`, `[[world.site]]`, `[[world.rtt]]`). Default: the `earth` preset with the
    /// default model.
    pub world: Option<RawWorld>,
    /// `[[origin]]`: the simulated origins, at least one. Each is an origin config
    /// ([`RawOriginConfig`]: `seed`, `max_concurrency`, `service_time`, `[[origin.class]]`,
    /// `[origin.trace]`, `[[origin.fault]]`) with two differences: `name` (required: 1 to
    /// 64 letters, digits, `-`, `_`, `.`, unique; behaviors of `[edge]` name origins by
    /// it) and `site` (required: a site of the world) instead of `listen` (refused: the runner
    /// assigns addresses). An origin's `seed` defaults to the scenario's `seed`.
    pub origin: Option<Vec<Spanned<RawOriginConfig>>>,
    /// `[edge]`: the edge config every PoP starts from ([`RawConfig`]: `[edge.cache]`,
    /// `[[edge.behavior]]`, `[edge.limits]`), minus what the scenario decides: `listen` and
    /// `admin_listen` (the runner assigns them), `name` (each PoP's edge is named after the
    /// PoP) and `[[edge.origin]]` (each PoP's edge has one origin per `[[origin]]`, named like
    /// it, reached through the links the runner starts) are refused. Optional when every PoP
    /// gives its own behaviors.
    pub edge: Option<RawConfig>,
    /// `[[pop]]`: the edges, at least one; see [`RawPop`].
    pub pop: Option<Vec<Spanned<RawPop>>>,
    /// `[[region]]`: where the viewers are, at least one; see [`RawRegion`].
    pub region: Option<Vec<Spanned<RawRegion>>>,
    /// `[workload]`: what the viewers ask for and at what rate ([`RawWorkload`]: `rate`,
    /// `arrival`, `mode`, `viewers`, `think_time`, `mix`, `[[workload.phase]]`, or `trace`).
    /// Required. A mix class must be routed by every PoP's behaviors to the origin that has
    /// it, and a phase's `at` must fall within `duration`. A `trace` file is resolved
    /// against the scenario file's folder; every PoP must send `/trace/` to the same origin,
    /// and the part of the trace the run sends is read at validation.
    pub workload: Option<Spanned<RawWorkload>>,
    /// `[[assert]]`: conditions checked at the end of the run; see [`RawAssert`].
    #[serde(rename = "assert")]
    pub assertion: Option<Vec<Spanned<RawAssert>>>,
}

/// One `[[pop]]`: an edge at a site.
///
/// ```toml
/// [[pop]]
/// name = "fra"
/// site = "eu-central"
/// parent = "iad"                     # tiered caching through another PoP
/// cache = { capacity = "128MiB" }    # overrides of [edge]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPop {
    /// `name`: 1 to 64 letters, digits, `-`, `_` or `.`, unique among PoPs; also the name
    /// of its edge (in `Via`, `X-Cache` and metrics). Required.
    pub name: Option<Spanned<String>>,
    /// `site`: where the PoP is, a site of the world by name (or city). Required.
    pub site: Option<Spanned<String>>,
    /// `parent`: another PoP's name: this PoP's misses go to that PoP instead of the
    /// origins (tiered caching). Optional; unknown names and cycles are refused.
    pub parent: Option<Spanned<String>>,
    /// `command`: run this command instead of `cdnlab edge` as this PoP's proxy (e.g.
    /// nginx with a templated config; the runner documents the template). Optional,
    /// not empty.
    pub command: Option<Spanned<String>>,
    /// `cache`: overrides `[edge.cache]` key by key (`cache = { capacity = "128MiB" }`).
    pub cache: Option<RawCache>,
    /// `behavior`: replaces the whole `[[edge.behavior]]` list for this PoP.
    pub behavior: Option<Vec<Spanned<RawBehavior>>>,
    /// `limits`: overrides `[edge.limits]` key by key.
    pub limits: Option<RawLimits>,
    /// Refused with an explanation (the runner assigns addresses).
    pub listen: Option<Spanned<toml::Value>>,
    /// Refused with an explanation (the runner assigns addresses).
    pub admin_listen: Option<Spanned<toml::Value>>,
    /// Refused with an explanation (edge origins are the scenario's origins).
    pub origin: Option<Spanned<toml::Value>>,
}

impl RawPop {
    /// The PoP's overrides of `[edge]`, as an edge config to overlay.
    pub fn overrides(&self) -> RawConfig {
        RawConfig {
            cache: self.cache.clone(),
            behavior: self.behavior.clone(),
            limits: self.limits.clone(),
            ..RawConfig::default()
        }
    }
}

/// One `[[region]]`: a population of viewers at a site, sending a share of the requests.
///
/// ```toml
/// [[region]]
/// name = "europe"
/// site = "eu-west"
/// share = 0.5
/// last_mile = { rtt = "15ms", jitter = "2ms", bandwidth = "100Mbit/s", loss = "0.1%" }
/// pop = "fra"
/// connections = 512
/// requests_per_connection = 100
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegion {
    /// `name`: 1 to 64 letters, digits, `-`, `_` or `.`, unique among regions. Required.
    pub name: Option<Spanned<String>>,
    /// `site`: where the viewers are, a site of the world by name (or city). Required.
    pub site: Option<Spanned<String>>,
    /// `share`: the fraction of the total rate (or of the closed-loop viewers) this region
    /// sends, > 0; the regions' shares add up to 1 (within 10⁻⁶). Required when there are
    /// several regions; a lone region's defaults to 1.
    pub share: Option<Spanned<f64>>,
    /// `last_mile`: the region's access network, added to the path from its site to its
    /// PoP's; see [`RawLastMile`]. Default: none (zero RTT, unlimited, lossless).
    pub last_mile: Option<Spanned<RawLastMile>>,
    /// `pop`: the PoP these viewers use, by name. Default: the PoP with the lowest RTT from
    /// the region's site (ties to the PoP listed first), as anycast would choose.
    pub pop: Option<Spanned<String>>,
    /// `connections`: keep-alive connections the region's viewers hold open at most, 1 to
    /// 1,000,000. Default 512.
    pub connections: Option<Spanned<i64>>,
    /// `requests_per_connection`: a connection is closed after this many requests, so that
    /// new connections pay their handshakes as real traffic does; 0 keeps connections open
    /// for good. Default 100.
    pub requests_per_connection: Option<Spanned<i64>>,
    /// `protocol`: `"h1"` (keep-alive HTTP/1.1, default) or `"h2"` (HTTP/2 with prior
    /// knowledge, up to 100 streams per connection).
    pub protocol: Option<Spanned<String>>,
}

/// A region's `last_mile = { rtt, jitter, bandwidth, loss }`; every key optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLastMile {
    /// `rtt`: round-trip time added to every path from the region, up to 1h. Default `"0s"`.
    pub rtt: Option<Spanned<RawDuration>>,
    /// `jitter`: round trips vary by up to ± this, up to 1h. Default `"0s"`.
    pub jitter: Option<Spanned<RawDuration>>,
    /// `bandwidth`: each viewer connection's bandwidth, each direction: `"100Mbit/s"`,
    /// `"8Mbps"`, `"10MB/s"` (see `sim::link::parse_bandwidth`). Default unlimited.
    pub bandwidth: Option<Spanned<String>>,
    /// `loss`: the probability that a TCP segment is lost (it then arrives a
    /// retransmission timeout late): a percentage `"0.1%"` or a fraction such as `0.001`.
    /// Default 0.
    pub loss: Option<Spanned<RawQty>>,
}

/// One `[[assert]]`: a metric of the run, a region or a PoP must lie within limits, or the
/// run exits with code 3.
///
/// ```toml
/// [[assert]]
/// metric = "latency_p99"
/// region = "europe"
/// max = "400ms"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssert {
    /// `metric`: one of `hit_ratio`, `byte_hit_ratio`, `origin_offload`, `latency_p50`,
    /// `latency_p90`, `latency_p99`, `latency_p999`, `ttfb_p99`, `throughput_rps`,
    /// `error_rate`, `integrity_failures` (the names of `summary.json`). Required.
    pub metric: Option<Spanned<String>>,
    /// `region`: check the metric of this region only (by name). Optional; not with `pop`.
    pub region: Option<Spanned<String>>,
    /// `pop`: check the metric of this PoP only (by name). Optional; not with `region`.
    /// Neither: the whole run.
    pub pop: Option<Spanned<String>>,
    /// `min`: the lowest value that passes (inclusive). At least one of `min` and `max`.
    /// Latency metrics take a duration (`"400ms"`) or a number of milliseconds; ratios
    /// (`hit_ratio`, `byte_hit_ratio`, `origin_offload`, `error_rate`) a number from 0 to 1;
    /// `throughput_rps` and `integrity_failures` a number ≥ 0.
    pub min: Option<Spanned<RawQty>>,
    /// `max`: the highest value that passes (inclusive), as `min`; `min` ≤ `max`.
    pub max: Option<Spanned<RawQty>>,
}
