//! A scenario file: parsed whole into raw types ([`raw`]), validated in one place into a
//! [`Scenario`] ([`validate`]); every error names the file, the line and the key
//! (`quick.toml:23: region[1].site: unknown site "mars" (sites: …)`). Each section is owned by
//! the crate that consumes it (the edge's config, the origin's, the world's, the workload's);
//! this module composes them and checks the cross-references (sites, origins, PoPs, parents,
//! regions, mix classes, assertions; a replayed trace's origin and file: [`trace`]).
//! [`Scenario::to_toml`] ([`write`]) gives the resolved file back, every default written out.

mod pops;
mod raw;
mod trace;
mod validate;
mod write;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod trace_tests;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub use cache::config_source::ConfigError;
use cache::config_source::Source;

/// The built-in scenario `cdnlab run` runs without a file (its name in errors: `quickstart`).
pub const QUICKSTART: &str = include_str!("quickstart.toml");

/// The URL of every edge origin until the runner starts the links: each PoP's edge config has
/// one origin per scenario origin, named like it, with this URL (port 9, "discard", so that
/// a config used by mistake as it is fails fast).
pub const ORIGIN_URL_PLACEHOLDER: &str = "http://127.0.0.1:9";

/// The address every origin and edge config says it listens on until the runner assigns one.
pub const UNASSIGNED: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    0,
));

/// Reads and validates a scenario file; errors name the path as given.
pub fn load(path: &Path) -> Result<Scenario, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        line: None,
        key: String::new(),
        message: format!("cannot read: {e}"),
    })?;
    parse(&text, &file)
}

/// Parses and validates a scenario text; `file` is the name errors report.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ConfigError> {
    let src = Source::new(file, text);
    let raw: raw::RawScenario = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    raw.validate(&src)
}

/// The command line's overrides of a scenario, checked, for [`Scenario::apply_overrides`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Overrides {
    pub seed: Option<u64>,
    pub duration: Option<Duration>,
    pub rate: Option<f64>,
}

/// Checks the command line's overrides (`--seed`, `--duration`, `--rate`) and converts them;
/// the message names the flag.
pub fn parse_overrides(
    seed: Option<u64>,
    duration: Option<&str>,
    rate: Option<f64>,
) -> Result<Overrides, String> {
    if let Some(s) = seed {
        // The resolved scenario is TOML, whose integers are signed 64-bit.
        if i64::try_from(s).is_err() {
            return Err(format!("--seed {s}: at most {}", i64::MAX));
        }
    }
    let duration = match duration {
        None => None,
        Some(d) => match cache::units::parse_duration(d) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => return Err(format!("--duration {d}: must be longer than 0s")),
            Err(m) => return Err(format!("--duration: {m}")),
        },
    };
    if let Some(r) = rate {
        if !(r.is_finite() && r > 0.0 && r <= loadgen::spec::defaults::MAX_RATE) {
            return Err(format!(
                "--rate {r}: requests per second, more than 0 and at most {:e}",
                loadgen::spec::defaults::MAX_RATE
            ));
        }
    }
    Ok(Overrides {
        seed,
        duration,
        rate,
    })
}

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

    /// The metric named `name` (as in scenario files).
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(m, _)| *m)
    }

    /// Every metric's name, comma-separated, for error messages.
    pub fn names() -> String {
        Metric::ALL.map(|(_, n)| n).join(", ")
    }

    pub fn name(self) -> &'static str {
        Metric::ALL.iter().find(|(m, _)| *m == self).unwrap().1
    }

    /// Whether a larger value is better (a hit ratio) rather than worse (a latency).
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            Metric::HitRatio | Metric::ByteHitRatio | Metric::OriginOffload | Metric::ThroughputRps
        )
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

/// A region's own access network, added to the path from its site to its PoP's site. The
/// default is none: zero RTT and jitter, unlimited, lossless.
#[derive(Debug, Clone, Default, PartialEq)]
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
    /// How the viewers speak to their PoP (`protocol`, default h1).
    pub protocol: loadgen::Protocol,
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
    /// Listening on `127.0.0.1:0`, with `site` set to the site's name; its `seed` defaults to
    /// the scenario's.
    pub config: sim::origin::OriginConfig,
    /// The file gave no `seed` for this origin: it follows the scenario's (also through
    /// `--seed`).
    pub seed_inherited: bool,
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
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

impl Scenario {
    /// Applies the command line's overrides, checked by [`parse_overrides`]: the seed (also
    /// of the origins without a seed of their own), the measured duration (phases that would
    /// start after it are dropped), and the starting rate, every phase's rate scaled by the
    /// same factor.
    pub fn apply_overrides(
        &mut self,
        seed: Option<u64>,
        duration: Option<Duration>,
        rate: Option<f64>,
    ) {
        if let Some(seed) = seed {
            self.seed = seed;
            for o in self.origins.iter_mut().filter(|o| o.seed_inherited) {
                o.config.seed = seed;
            }
        }
        if let Some(d) = duration {
            self.duration = d;
            // Phases past the end would never start; the resolved file has no room for them.
            self.workload.phases.retain(|p| p.at < d);
        }
        if let Some(r) = rate {
            self.workload.set_rate(r);
        }
    }
}
