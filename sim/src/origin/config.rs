//! The origin's configuration, in two layers like the edge's (`edge::config`):
//!
//! - **Raw** ([`RawOriginConfig`]): serde structs mirroring the file, refusing unknown keys,
//!   keeping the span of every value a check may complain about. `listen` is optional here so
//!   a scenario can embed the table and assign the address ([`Listen`]).
//! - **Typed** ([`OriginConfig`]): produced by one step, [`RawOriginConfig::validate`], which
//!   applies defaults and checks everything; errors name the file, line and key
//!   (`class[1].size.median`, indices from 0).
//!
//! [`EXAMPLE`] is a complete file with every key.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use cache::config_source::{count, duration, positive_duration, size, span_of};
pub use cache::config_source::{ConfigError, RawDuration, RawSize, Source};
use cache::units::{format_duration, format_size};
use serde::Deserialize;
use toml::Spanned;

use crate::dist::{self, Dist, RawDist, Unit};

/// A complete, commented origin config using every key (defaults noted).
pub const EXAMPLE: &str = r#"listen = "127.0.0.1:9001"          # HTTP/1.1 and h2c
seed = 7                           # every object's size and bytes, every random draw (default 1)
max_concurrency = 512              # requests served at once; more queue (default 512)
service_time = { dist = "lognormal", median = "20ms", sigma = 0.5 }   # default "0s"

[[class]]
prefix = "/static/"                # objects are /static/<n>, n in 0..objects
objects = 100000
size = { dist = "lognormal", median = "16KiB", sigma = 1.5, min = "100B", max = "16MiB" }
cache_control = "public, max-age=86400"   # the default; "" sends none
update_interval = "0s"             # > 0: each object gets a new version this often

[[class]]
prefix = "/api/"
objects = 1000
size = { dist = "fixed", value = "2KiB" }
cache_control = "no-store"
service_time = { dist = "exponential", mean = "40ms" }   # overrides the top-level one

[trace]                            # /trace/<id>/<size>: any id, any size up to max_size
cache_control = "public, max-age=86400"
max_size = "1GiB"
# service_time = "5ms"             # default: the top-level service_time

[[fault]]                          # windows count from the origin's start
at = "30s"
duration = "10s"
kind = "down"                      # refuse connections, drop open ones when it starts
[[fault]]
at = "60s"
duration = "10s"
kind = "status"
code = 503                         # default 503
rate = 0.5                         # share of requests affected (default 1)
[[fault]]
at = "90s"
duration = "10s"
kind = "slow"
extra = { dist = "uniform", min = "100ms", max = "1s" }   # added to the service time
[[fault]]
at = "120s"
duration = "10s"
kind = "reset"
rate = 0.1
"#;

// ---------------------------------------------------------------------------------------------
// Raw layer
// ---------------------------------------------------------------------------------------------

/// The whole file as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOriginConfig {
    /// The origin's name; only in a scenario ([`Listen::Assigned`]), which reads it itself
    /// (an [`OriginConfig`] has no name).
    pub name: Option<Spanned<String>>,
    pub listen: Option<Spanned<String>>,
    /// The site this origin sits at; only in a scenario ([`Listen::Assigned`]).
    pub site: Option<Spanned<String>>,
    pub seed: Option<Spanned<i64>>,
    pub max_concurrency: Option<Spanned<i64>>,
    pub service_time: Option<Spanned<RawDist>>,
    pub class: Option<Vec<Spanned<RawClass>>>,
    pub trace: Option<Spanned<RawTrace>>,
    pub fault: Option<Vec<Spanned<RawFault>>>,
}

/// One `[[class]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClass {
    pub prefix: Spanned<String>,
    pub objects: Spanned<i64>,
    pub size: Spanned<RawDist>,
    pub cache_control: Option<Spanned<String>>,
    pub update_interval: Option<Spanned<RawDuration>>,
    pub service_time: Option<Spanned<RawDist>>,
}

/// `[trace]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrace {
    pub cache_control: Option<Spanned<String>>,
    pub max_size: Option<Spanned<RawSize>>,
    pub service_time: Option<Spanned<RawDist>>,
}

/// One `[[fault]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub at: Spanned<RawDuration>,
    pub duration: Spanned<RawDuration>,
    pub kind: Spanned<String>,
    pub code: Option<Spanned<i64>>,
    pub rate: Option<Spanned<f64>>,
    pub extra: Option<Spanned<RawDist>>,
}

impl RawOriginConfig {
    /// Parses a TOML text; errors name `file`, the line and the key.
    pub fn parse(text: &str, file: &str) -> Result<RawOriginConfig, ConfigError> {
        cache::config_source::parse_toml(text, file)
    }

    /// Reads a parsed table (no spans survive a [`toml::Table`], so errors carry no line).
    pub fn from_table(table: &toml::Table, file: &str) -> Result<RawOriginConfig, ConfigError> {
        cache::config_source::from_toml_table(table, file)
    }
}

// ---------------------------------------------------------------------------------------------
// Typed layer
// ---------------------------------------------------------------------------------------------

/// A validated origin.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginConfig {
    pub listen: SocketAddr,
    /// Set only inside a scenario.
    pub site: Option<String>,
    pub seed: u64,
    /// Requests served at once (holding a slot during their service time); more queue.
    pub max_concurrency: usize,
    /// Service time of requests whose class has none of its own (seconds).
    pub service_time: Dist,
    pub classes: Vec<Class>,
    pub trace: TraceClass,
    /// In file order.
    pub faults: Vec<Fault>,
}

/// One `[[class]]` of objects: `{prefix}{n}` for `n` in `0..objects`.
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    /// Starts and ends with `/`.
    pub prefix: String,
    /// ≥ 1.
    pub objects: u64,
    /// In bytes.
    pub size: Dist,
    /// Empty: no `Cache-Control` header.
    pub cache_control: String,
    /// Zero: objects never change.
    pub update_interval: Duration,
    /// In seconds; `None`: the origin's.
    pub service_time: Option<Dist>,
}

impl Class {
    /// A class with the default cache control, no updates and the origin's service time.
    pub fn new(prefix: &str, objects: u64, size: Dist) -> Class {
        Class {
            prefix: prefix.to_string(),
            objects,
            size,
            cache_control: defaults::CACHE_CONTROL.to_string(),
            update_interval: Duration::ZERO,
            service_time: None,
        }
    }
}

/// `[trace]`: objects `/trace/<id>/<size>` of any id and the size in the path.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceClass {
    pub cache_control: String,
    /// Larger sizes are answered 400.
    pub max_size: u64,
    pub service_time: Option<Dist>,
}

impl Default for TraceClass {
    fn default() -> Self {
        TraceClass {
            cache_control: defaults::CACHE_CONTROL.to_string(),
            max_size: defaults::TRACE_MAX_SIZE,
            service_time: None,
        }
    }
}

/// One scheduled fault, active for `at <= t < at + duration` after the origin's start.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub at: Duration,
    pub duration: Duration,
    pub kind: FaultKind,
}

impl Fault {
    pub fn active(&self, t: Duration) -> bool {
        self.at <= t && t < self.at + self.duration
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Accepted connections are closed at once (RST); open ones are dropped when it starts.
    Down,
    /// A share `rate` of requests is answered `code` (after their service time).
    Status { code: u16, rate: f64 },
    /// A share `rate` of requests waits `extra` (seconds) more.
    Slow { extra: Dist, rate: f64 },
    /// A share `rate` of requests has its connection reset: mid-body when there is a body.
    Reset { rate: f64 },
}

impl FaultKind {
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Down => "down",
            FaultKind::Status { .. } => "status",
            FaultKind::Slow { .. } => "slow",
            FaultKind::Reset { .. } => "reset",
        }
    }
}

/// Defaults, also used by [`RawOriginConfig::validate`].
pub mod defaults {
    pub const SEED: u64 = 1;
    pub const MAX_CONCURRENCY: usize = 512;
    pub const CACHE_CONTROL: &str = "public, max-age=86400";
    pub const TRACE_MAX_SIZE: u64 = 1 << 30;
    pub const STATUS_CODE: u16 = 503;
}

/// Where the listen address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// `listen` must be in the config (a standalone origin file); `site` is refused.
    Required,
    /// The config may set it; this is used where it does not. `site` is refused.
    Default(SocketAddr),
    /// The config must not set it (a scenario assigns it); `site` is accepted.
    Assigned(SocketAddr),
}

impl OriginConfig {
    /// Reads and validates an origin config file; errors name the path as given.
    pub fn from_file(path: &Path) -> Result<OriginConfig, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        OriginConfig::from_str(&text, &file)
    }

    /// Parses and validates a standalone config text; `file` is the name errors report.
    pub fn from_str(text: &str, file: &str) -> Result<OriginConfig, ConfigError> {
        RawOriginConfig::parse(text, file)?.validate(&Source::new(file, text), Listen::Required)
    }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

impl OriginConfig {
    /// The whole config as a TOML file, every default written out: the text that validation
    /// turns back into an equal `OriginConfig` — with `listen` for a standalone origin
    /// ([`OriginConfig::from_str`]), with `site` instead when the config has one (a
    /// scenario's origin, validated with [`Listen::Assigned`] at the same address).
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for (k, v) in self.toml_keys() {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out.push_str(&self.toml_tables(""));
        out
    }

    /// The top-level keys as `(key, TOML value)`, in file order: `site` (or `listen`),
    /// `seed`, `max_concurrency`, `service_time`. Apart from [`OriginConfig::toml_tables`] so
    /// that a file embedding the config (a scenario's `[[origin]]`) can add keys of its own
    /// before the sub-tables, or leave some out.
    pub fn toml_keys(&self) -> Vec<(&'static str, String)> {
        let place = match &self.site {
            Some(site) => ("site", toml_str(site)),
            None => ("listen", toml_str(&self.listen.to_string())),
        };
        vec![
            place,
            ("seed", self.seed.to_string()),
            ("max_concurrency", self.max_concurrency.to_string()),
            (
                "service_time",
                dist_toml(&self.service_time, Unit::Duration),
            ),
        ]
    }

    /// The sub-tables, `[[class]]`, `[trace]` and `[[fault]]`, each with its header; under
    /// `parent` when it is not empty (`"origin"` gives `[[origin.class]]`).
    pub fn toml_tables(&self, parent: &str) -> String {
        let h = |name: &str| {
            if parent.is_empty() {
                name.to_string()
            } else {
                format!("{parent}.{name}")
            }
        };
        let mut out = String::new();
        for c in &self.classes {
            out.push_str(&format!(
                "\n[[{}]]\nprefix = {}\nobjects = {}\nsize = {}\ncache_control = {}\nupdate_interval = {}\n",
                h("class"),
                toml_str(&c.prefix),
                c.objects,
                dist_toml(&c.size, Unit::Size),
                toml_str(&c.cache_control),
                toml_str(&format_duration(c.update_interval)),
            ));
            if let Some(st) = &c.service_time {
                out.push_str(&format!(
                    "service_time = {}\n",
                    dist_toml(st, Unit::Duration)
                ));
            }
        }
        out.push_str(&format!(
            "\n[{}]\ncache_control = {}\nmax_size = {}\n",
            h("trace"),
            toml_str(&self.trace.cache_control),
            toml_str(&format_size(self.trace.max_size)),
        ));
        if let Some(st) = &self.trace.service_time {
            out.push_str(&format!(
                "service_time = {}\n",
                dist_toml(st, Unit::Duration)
            ));
        }
        for f in &self.faults {
            out.push_str(&format!(
                "\n[[{}]]\nat = {}\nduration = {}\nkind = {}\n",
                h("fault"),
                toml_str(&format_duration(f.at)),
                toml_str(&format_duration(f.duration)),
                toml_str(f.kind.name()),
            ));
            match &f.kind {
                FaultKind::Down => {}
                FaultKind::Status { code, rate } => {
                    out.push_str(&format!("code = {code}\nrate = {}\n", toml_f64(*rate)));
                }
                FaultKind::Slow { extra, rate } => out.push_str(&format!(
                    "extra = {}\nrate = {}\n",
                    dist_toml(extra, Unit::Duration),
                    toml_f64(*rate)
                )),
                FaultKind::Reset { rate } => {
                    out.push_str(&format!("rate = {}\n", toml_f64(*rate)));
                }
            }
        }
        out
    }
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn toml_f64(x: f64) -> String {
    toml::Value::Float(x).to_string()
}

/// A quantity as written: a duration string (the value is seconds) or a size string (bytes),
/// exact whenever the value came from such a string, as every validated one did.
fn qty_toml(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Duration => {
            // The whole nanoseconds whose duration reads back as exactly `v` seconds.
            let n = (v * 1e9).round().max(0.0) as u64;
            let exact = (n.saturating_sub(2)..=n.saturating_add(2))
                .find(|&m| Duration::from_nanos(m).as_secs_f64() == v)
                .unwrap_or(n);
            toml_str(&format_duration(Duration::from_nanos(exact)))
        }
        Unit::Size => toml_str(&format_size(v.round().max(0.0) as u64)),
    }
}

/// A distribution as a TOML value: a lone quantity for `fixed`, else an inline table (see
/// [`crate::dist`] for the syntax).
fn dist_toml(d: &Dist, unit: Unit) -> String {
    let (inner, min, max) = match d {
        Dist::Fixed(v) => return qty_toml(*v, unit),
        Dist::Clamped { inner, min, max } => (&**inner, Some(*min), Some(*max)),
        other => (other, None, None),
    };
    let q = |v: f64| qty_toml(v, unit);
    let mut parts: Vec<(&str, String)> = match inner {
        Dist::Fixed(v) => vec![("dist", toml_str("fixed")), ("value", q(*v))],
        Dist::Uniform { min, max } => vec![
            ("dist", toml_str("uniform")),
            ("min", q(*min)),
            ("max", q(*max)),
        ],
        Dist::Exponential { mean } => vec![("dist", toml_str("exponential")), ("mean", q(*mean))],
        Dist::LogNormal { median, sigma } => vec![
            ("dist", toml_str("lognormal")),
            ("median", q(*median)),
            ("sigma", toml_f64(*sigma)),
        ],
        Dist::Pareto { scale, shape } => vec![
            ("dist", toml_str("pareto")),
            ("scale", q(*scale)),
            ("shape", toml_f64(*shape)),
        ],
        Dist::Empirical { values, cumulative } => {
            let rows: Vec<String> = empirical_rows(cumulative)
                .into_iter()
                .map(|(i, w)| format!("[{}, {}]", q(values[i]), toml_f64(w)))
                .collect();
            vec![
                ("dist", toml_str("empirical")),
                ("table", format!("[{}]", rows.join(", "))),
            ]
        }
        // A clamp of a clamp is not something validation builds.
        Dist::Clamped { .. } => vec![("dist", toml_str("fixed")), ("value", q(0.0))],
    };
    if let Some(lo) = min {
        parts.push(("min", q(lo)));
    }
    if let Some(hi) = max.filter(|m| m.is_finite()) {
        parts.push(("max", q(hi)));
    }
    let body: Vec<String> = parts.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    format!("{{ {} }}", body.join(", "))
}

/// Rows `(index of the value, weight)` whose weights, added up in `f64` in this order the way
/// validation adds them, give running sums of exactly `cumulative` at each value's last row,
/// so that the table reads back into the same distribution. Usually one row per value, its
/// step's difference nudged by an ulp where the subtraction rounded; where no single weight
/// reaches a sum (a rounding tie skips it), two rows of the same value, which validation
/// merges: one landing just below, then the exact rest.
fn empirical_rows(cumulative: &[f64]) -> Vec<(usize, f64)> {
    // Positive finite floats near `x`, nearest first.
    fn around(x: f64, k: u64) -> impl Iterator<Item = f64> {
        let b = x.to_bits();
        (0..=k).flat_map(move |i| [b.saturating_add(i), b.saturating_sub(i)].map(f64::from_bits))
    }
    let mut rows = Vec::with_capacity(cumulative.len());
    let mut acc = 0.0f64;
    for (i, &c) in cumulative.iter().enumerate() {
        let d = c - acc;
        if let Some(w) = around(d, 4).find(|&w| w > 0.0 && acc + w == c) {
            rows.push((i, w));
        } else if let Some((w, r)) = around(d, 16).find_map(|w| {
            let s = acc + w;
            // Within a factor 2 of `c`, so `c - s` is exact (Sterbenz) and so is `s + (c - s)`.
            (w > 0.0 && s < c && s >= c / 2.0 && s + (c - s) == c).then_some((w, c - s))
        }) {
            rows.push((i, w));
            rows.push((i, r));
        } else {
            rows.push((i, d.max(f64::MIN_POSITIVE)));
        }
        acc = c;
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn dist_of(
    src: &Source<'_>,
    v: &Option<Spanned<RawDist>>,
    key: &str,
    unit: Unit,
) -> Result<Option<Dist>, ConfigError> {
    v.as_ref()
        .map(|v| dist::validate(src, v.get_ref(), v.span(), key, unit))
        .transpose()
}

fn cache_control(
    src: &Source<'_>,
    v: &Option<Spanned<String>>,
    key: &str,
) -> Result<String, ConfigError> {
    let Some(s) = v else {
        return Ok(defaults::CACHE_CONTROL.to_string());
    };
    let t = s.get_ref().trim();
    if http::HeaderValue::from_str(t).is_err() {
        return Err(src.error(
            Some(s.span()),
            key,
            format!("{t:?} is not a valid header value"),
        ));
    }
    Ok(t.to_string())
}

fn rate(src: &Source<'_>, v: &Option<Spanned<f64>>, key: &str) -> Result<f64, ConfigError> {
    let Some(s) = v else { return Ok(1.0) };
    let r = *s.get_ref();
    if r > 0.0 && r <= 1.0 {
        Ok(r)
    } else {
        Err(src.error(
            Some(s.span()),
            key,
            format!("{r} is out of range (a share of requests: more than 0, at most 1)"),
        ))
    }
}

impl RawOriginConfig {
    /// The one validation step: applies defaults and checks every key.
    pub fn validate(&self, src: &Source<'_>, listen: Listen) -> Result<OriginConfig, ConfigError> {
        let listen = self.validate_listen(src, listen)?;
        if let (Some(n), false) = (&self.name, listen.1) {
            return Err(src.error(
                Some(n.span()),
                "name",
                "only allowed in a scenario's origin table",
            ));
        }
        let site = match (&self.site, listen.1) {
            (None, _) => None,
            (Some(s), false) => {
                return Err(src.error(
                    Some(s.span()),
                    "site",
                    "only allowed in a scenario's origin table",
                ))
            }
            (Some(s), true) => {
                if !is_token(s.get_ref()) {
                    return Err(src.error(
                        Some(s.span()),
                        "site",
                        format!(
                            "{:?} is not a site name: use 1 to 64 letters, digits, '-', '_' or '.'",
                            s.get_ref()
                        ),
                    ));
                }
                Some(s.get_ref().clone())
            }
        };
        let seed = match &self.seed {
            None => defaults::SEED,
            Some(s) => u64::try_from(*s.get_ref())
                .map_err(|_| src.error(Some(s.span()), "seed", "must be 0 or more"))?,
        };
        let max_concurrency = count(
            src,
            &self.max_concurrency,
            "max_concurrency",
            defaults::MAX_CONCURRENCY,
            1..=1_000_000,
        )?;
        let service_time =
            dist_of(src, &self.service_time, "service_time", Unit::Duration)?.unwrap_or(Dist::ZERO);
        let classes = self.validate_classes(src)?;
        let trace = match &self.trace {
            None => TraceClass::default(),
            Some(t) => {
                let t = t.get_ref();
                let max_size =
                    size(src, &t.max_size, "trace.max_size")?.unwrap_or(defaults::TRACE_MAX_SIZE);
                if max_size == 0 {
                    return Err(src.error(
                        span_of(&t.max_size),
                        "trace.max_size",
                        "must be more than 0 bytes",
                    ));
                }
                TraceClass {
                    cache_control: cache_control(src, &t.cache_control, "trace.cache_control")?,
                    max_size,
                    service_time: dist_of(
                        src,
                        &t.service_time,
                        "trace.service_time",
                        Unit::Duration,
                    )?,
                }
            }
        };
        let faults = self.validate_faults(src)?;
        Ok(OriginConfig {
            listen: listen.0,
            site,
            seed,
            max_concurrency,
            service_time,
            classes,
            trace,
            faults,
        })
    }

    /// The address, and whether it was assigned (a scenario).
    fn validate_listen(
        &self,
        src: &Source<'_>,
        mode: Listen,
    ) -> Result<(SocketAddr, bool), ConfigError> {
        let given = match &self.listen {
            None => None,
            Some(s) => Some(s.get_ref().trim().parse::<SocketAddr>().map_err(|_| {
                src.error(
                    Some(s.span()),
                    "listen",
                    format!(
                        "{:?} is not a socket address: write an IP address and a port, e.g. \"127.0.0.1:9001\"",
                        s.get_ref()
                    ),
                )
            })?),
        };
        match (mode, given) {
            (Listen::Required, Some(a)) => Ok((a, false)),
            (Listen::Required, None) => Err(src.error(
                None,
                "listen",
                "required key is missing (e.g. listen = \"127.0.0.1:9001\")",
            )),
            (Listen::Default(d), a) => Ok((a.unwrap_or(d), false)),
            (Listen::Assigned(a), None) => Ok((a, true)),
            (Listen::Assigned(_), Some(_)) => Err(src.error(
                span_of(&self.listen),
                "listen",
                "not allowed here: the scenario assigns each origin's address",
            )),
        }
    }

    fn validate_classes(&self, src: &Source<'_>) -> Result<Vec<Class>, ConfigError> {
        let raw = self.class.as_deref().unwrap_or_default();
        let mut out: Vec<Class> = Vec::with_capacity(raw.len());
        for (i, sc) in raw.iter().enumerate() {
            let c = sc.get_ref();
            let key = |k: &str| format!("class[{i}].{k}");
            let prefix = c.prefix.get_ref();
            let perr = |m: String| src.error(Some(c.prefix.span()), &key("prefix"), m);
            if !prefix.starts_with('/') || !prefix.ends_with('/') {
                return Err(perr(format!(
                    "{prefix:?} must start and end with '/', e.g. \"/static/\""
                )));
            }
            if let Some(ch) = prefix.chars().find(|c| !c.is_ascii_graphic()) {
                return Err(perr(format!(
                    "{prefix:?} contains {ch:?}: prefixes are printable ASCII without spaces"
                )));
            }
            if prefix.starts_with("/_origin/") || prefix.starts_with("/trace/") {
                return Err(perr(format!(
                    "{prefix:?} is reserved (/_origin/ serves stats, /trace/ trace objects)"
                )));
            }
            if let Some(j) = out.iter().position(|p| p.prefix == *prefix) {
                return Err(perr(format!("{prefix:?} is also class[{j}]'s prefix")));
            }
            let objects = count(
                src,
                &Some(c.objects.clone()),
                &key("objects"),
                1,
                1..=1 << 48,
            )? as u64;
            let size = dist::validate(
                src,
                c.size.get_ref(),
                c.size.span(),
                &key("size"),
                Unit::Size,
            )?;
            out.push(Class {
                prefix: prefix.clone(),
                objects,
                size,
                cache_control: cache_control(src, &c.cache_control, &key("cache_control"))?,
                update_interval: duration(
                    src,
                    &c.update_interval,
                    &key("update_interval"),
                    Duration::ZERO,
                )?,
                service_time: dist_of(src, &c.service_time, &key("service_time"), Unit::Duration)?,
            });
        }
        Ok(out)
    }

    fn validate_faults(&self, src: &Source<'_>) -> Result<Vec<Fault>, ConfigError> {
        let raw = self.fault.as_deref().unwrap_or_default();
        let mut out = Vec::with_capacity(raw.len());
        for (i, sf) in raw.iter().enumerate() {
            let f = sf.get_ref();
            let key = |k: &str| format!("fault[{i}].{k}");
            let at = duration(src, &Some(f.at.clone()), &key("at"), Duration::ZERO)?;
            let length = positive_duration(
                src,
                &Some(f.duration.clone()),
                &key("duration"),
                Duration::ZERO,
            )?;
            let name = f.kind.get_ref().as_str();
            let allowed: &[&str] = match name {
                "down" => &[],
                "status" => &["code", "rate"],
                "slow" => &["extra", "rate"],
                "reset" => &["rate"],
                other => {
                    return Err(src.error(
                        Some(f.kind.span()),
                        &key("kind"),
                        format!("unknown fault kind {other:?} (known: down, status, slow, reset)"),
                    ))
                }
            };
            for (p, s) in [
                ("code", f.code.as_ref().map(|v| v.span())),
                ("rate", f.rate.as_ref().map(|v| v.span())),
                ("extra", f.extra.as_ref().map(|v| v.span())),
            ] {
                if let Some(s) = s {
                    if !allowed.contains(&p) {
                        let takes = if allowed.is_empty() {
                            "no parameters".to_string()
                        } else {
                            allowed.join(" and ")
                        };
                        return Err(src.error(
                            Some(s),
                            &key(p),
                            format!("not a parameter of kind = {name:?} (it takes {takes})"),
                        ));
                    }
                }
            }
            let kind = match name {
                "down" => FaultKind::Down,
                "status" => {
                    let code = match &f.code {
                        None => defaults::STATUS_CODE,
                        Some(c) => match u16::try_from(*c.get_ref()) {
                            Ok(n) if (400..=599).contains(&n) => n,
                            _ => {
                                return Err(src.error(
                                    Some(c.span()),
                                    &key("code"),
                                    format!(
                                        "{} is out of range (an error status: 400 to 599)",
                                        c.get_ref()
                                    ),
                                ))
                            }
                        },
                    };
                    FaultKind::Status {
                        code,
                        rate: rate(src, &f.rate, &key("rate"))?,
                    }
                }
                "slow" => {
                    let extra = dist_of(src, &f.extra, &key("extra"), Unit::Duration)?.ok_or_else(
                        || {
                            src.error(
                                Some(sf.span()),
                                &key("extra"),
                                "required for kind = \"slow\" (e.g. extra = \"500ms\")",
                            )
                        },
                    )?;
                    if extra.constant() == Some(0.0) {
                        return Err(src.error(
                            span_of(&f.extra),
                            &key("extra"),
                            "must be longer than 0s",
                        ));
                    }
                    FaultKind::Slow {
                        extra,
                        rate: rate(src, &f.rate, &key("rate"))?,
                    }
                }
                _ => FaultKind::Reset {
                    rate: rate(src, &f.rate, &key("rate"))?,
                },
            };
            out.push(Fault {
                at,
                duration: length,
                kind,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(text: &str, listen: Listen) {
        let src = Source::new("a.toml", text);
        let c = RawOriginConfig::parse(text, "a.toml")
            .and_then(|r| r.validate(&src, listen))
            .unwrap_or_else(|e| panic!("{e}"));
        let written = c.to_toml();
        let back = RawOriginConfig::parse(&written, "b.toml")
            .and_then(|r| r.validate(&Source::new("b.toml", &written), listen))
            .unwrap_or_else(|e| panic!("{e}\n---\n{written}"));
        assert_eq!(back, c, "\n---\n{written}");
        assert_eq!(back.to_toml(), written);
    }

    #[test]
    fn to_toml_round_trips() {
        round_trip(EXAMPLE, Listen::Required);
        let every_dist = r#"listen = "[::1]:0"
service_time = { dist = "pareto", scale = "1ms", shape = 1.3, min = "2ms" }
[[class]]
prefix = "/a/"
objects = 1
size = { dist = "empirical", table = [["1KiB", 60], ["16KiB", 30], [100, 10], ["1KiB", 5], [7, 0]] }
cache_control = ""
[[class]]
prefix = "/b/"
objects = 281474976710656
size = { dist = "uniform", min = 1, max = "1GiB" }
service_time = { dist = "fixed", value = "1h 2m 3s 4ms 5us 6ns", max = "2h" }
[[class]]
prefix = "/c/"
objects = 3
size = { dist = "exponential", mean = "1000B", max = "1MB" }
update_interval = "1m"
[trace]
max_size = "1TB"
service_time = { dist = "empirical", table = [["1ms", 0.1], ["3ms", 0.2], ["2ms", 1e-9]] }
[[fault]]
at = "0s"
duration = "1ms"
kind = "down"
[[fault]]
at = "1s"
duration = "1s"
kind = "reset"
rate = 0.3
"#;
        round_trip(every_dist, Listen::Required);
        let scenario = "name = \"web\"\nsite = \"us-east\"\nseed = 9\n[[class]]\nprefix = \"/s/\"\nobjects = 5\nsize = 100\n";
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        round_trip(scenario, Listen::Assigned(addr));
        let c = RawOriginConfig::parse(scenario, "s")
            .unwrap()
            .validate(&Source::new("s", scenario), Listen::Assigned(addr))
            .unwrap();
        assert!(c.to_toml().starts_with("site = \"us-east\"\nseed = 9\n"));
        assert!(c.toml_tables("origin").contains("\n[[origin.class]]\n"));
    }

    #[test]
    fn name_only_in_a_scenario() {
        let text = "listen = \"127.0.0.1:1\"\nname = \"web\"\n";
        let e = RawOriginConfig::parse(text, "o.toml")
            .unwrap()
            .validate(&Source::new("o.toml", text), Listen::Required)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "o.toml:2: name: only allowed in a scenario's origin table"
        );
    }

    proptest! {
        /// Any weights give a table that reads back into the same cumulative probabilities.
        #[test]
        fn empirical_tables_round_trip(weights in prop::collection::vec(1e-6f64..1e6, 1..12)) {
            let rows: Vec<String> = weights
                .iter()
                .enumerate()
                .map(|(i, w)| format!("[\"{}ms\", {w:?}]", i + 1))
                .collect();
            let text = format!(
                "listen = \"127.0.0.1:1\"\nservice_time = {{ dist = \"empirical\", table = [{}] }}\n",
                rows.join(", ")
            );
            round_trip(&text, Listen::Required);
        }
    }
}
