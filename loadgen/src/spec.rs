//! The `[workload]` section of a scenario: what viewers ask for and when (raw TOML types and
//! their validation into [`WorkloadSpec`]).

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use cache::config_source::{count, duration, span_of, ConfigError, RawDuration, Source};
use cache::units::format_duration;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

pub use crate::trace_spec::{RawTrace, TraceSpec, TRACE_CLASS};

/// How requests arrive in open-loop mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Exponential gaps at the current rate (a non-homogeneous Poisson process when the rate
    /// changes).
    Poisson,
    /// Evenly spaced at the current rate.
    Constant,
}

/// Which object of a class a request names.
#[derive(Debug, Clone, PartialEq)]
pub enum Popularity {
    /// Rank `r` (1-based) is chosen with probability ∝ `r^-alpha`; rank 1 is object 0.
    Zipf { alpha: f64 },
    /// Every object of the class equally likely.
    Uniform,
    /// The objects and instants of a replayed trace ([`WorkloadSpec::trace`]); only the
    /// class [`TRACE_CLASS`] of a trace workload has it.
    Trace,
}

/// One entry of `workload.mix`: a class of the origin catalog and its share of requests.
#[derive(Debug, Clone, PartialEq)]
pub struct MixEntry {
    /// The class's path prefix, as in the origin's `[[origin.class]] prefix`.
    pub class: String,
    /// Share of requests (the mix's shares sum to 1).
    pub share: f64,
    pub popularity: Popularity,
    /// Ask for byte ranges of this many bytes instead of whole objects (video segments): a
    /// request names one chunk of its object, chosen uniformly, with `Range: bytes=a-b`.
    pub range: Option<u64>,
}

/// A change of the total rate: from `at` (counted from the start of the measured period),
/// the rate moves linearly from its value then to `rate` over `ramp` (0 = a step).
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub at: Duration,
    pub rate: f64,
    pub ramp: Duration,
}

/// Open loop (arrivals on a schedule) or closed loop (virtual viewers that wait for each
/// response, then think).
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Open,
    Closed {
        /// Virtual viewers in total, split over regions by share (at least 1 each).
        viewers: usize,
        think_time: Duration,
    },
}

/// The validated `[workload]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadSpec {
    /// Requests per second in total at the start (warm-up included).
    pub rate: f64,
    pub arrival: Arrival,
    pub mix: Vec<MixEntry>,
    /// In order of `at`.
    pub phases: Vec<Phase>,
    pub mode: Mode,
    /// Every region draws the same sequence of objects (at its own rate), so that PoPs that
    /// differ only in configuration see the same traffic (a policy shoot-out). With a trace,
    /// every region replays the whole trace.
    pub same_sequence: bool,
    /// Replay this trace with its own timing instead of arrivals and a mix. Then `mix` is
    /// the one entry `{ class = TRACE_CLASS, share = 1, popularity = Trace }` (so that the
    /// trace has per-class figures like any class), `rate` is 0, `phases` are none and
    /// `mode` is open.
    pub trace: Option<TraceSpec>,
}

/// Defaults, also used by [`RawWorkload::validate`].
pub mod defaults {
    use std::time::Duration;

    pub const ARRIVAL: super::Arrival = super::Arrival::Poisson;
    pub const RAMP: Duration = Duration::ZERO;
    pub const THINK_TIME: Duration = Duration::ZERO;
    /// The highest rate accepted, in requests per second: more than any machine sends, and
    /// low enough that the gaps between requests stay well above a nanosecond.
    pub const MAX_RATE: f64 = 1e8;
    pub const MAX_VIEWERS: usize = 1_000_000;
    /// How far the shares of the mix may add up from 1.
    pub const SHARE_TOLERANCE: f64 = 1e-6;
}

// ---------------------------------------------------------------------------------------------
// Raw layer
// ---------------------------------------------------------------------------------------------

/// The `[workload]` table as written. Every key is optional at this layer;
/// [`RawWorkload::validate`] applies the defaults and requires what must be present.
///
/// ```toml
/// [workload]
/// rate = 500                 # requests per second in total at the start, warm-up included
/// arrival = "poisson"        # or "constant"
/// mode = "open"              # or "closed" (with viewers and think_time)
/// mix = [{ class = "/static/", share = 0.9, popularity = { zipf = 0.8 } },
///        { class = "/api/", share = 0.1, popularity = "uniform" }]
/// [[workload.phase]]         # the rate changes at 30s into the measured period
/// at = "30s"
/// rate = 2000
/// ramp = "5s"
/// ```
///
/// or a trace replayed with its own timing (no `rate`, `mix` or phases):
///
/// ```toml
/// [workload]
/// trace = { file = "../shared/traces/cloudPhysicsIO.oracleGeneral.bin", speed = 10.0 }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    /// `rate`: requests per second in total (all regions together, each sending its share),
    /// from the start of the warm-up until the first phase. A number > 0, at most 10⁸;
    /// required in open mode. With `mode = "closed"` the viewers set the pace: `rate` may be
    /// left out and is not used.
    pub rate: Option<Spanned<f64>>,
    /// `arrival`: how open-loop requests are spaced: `"poisson"` (exponential gaps at the
    /// current rate; the default) or `"constant"` (even gaps). Only with `mode = "open"`.
    pub arrival: Option<Spanned<String>>,
    /// `mix`: what is asked for, an array of `{ class, share, popularity }` (required, at
    /// least one entry): see [`RawMix`]. The shares add up to 1 (within 10⁻⁶).
    pub mix: Option<Spanned<Vec<Spanned<RawMix>>>>,
    /// `[[workload.phase]]`: changes of the rate, in increasing `at`; see [`RawPhase`].
    pub phase: Option<Vec<Spanned<RawPhase>>>,
    /// `mode`: `"open"` (requests leave at scheduled instants whatever the responses do; the
    /// default) or `"closed"` (`viewers` virtual viewers, each sending a request, waiting
    /// for the whole response, then thinking for `think_time`).
    pub mode: Option<Spanned<String>>,
    /// `viewers`: with `mode = "closed"` only, and required there: the number of virtual
    /// viewers in total, 1 to 1,000,000, split over the regions by share.
    pub viewers: Option<Spanned<i64>>,
    /// `think_time`: with `mode = "closed"` only: the pause between a response and the
    /// viewer's next request (default `"0s"`).
    pub think_time: Option<Spanned<RawDuration>>,
    /// `same_sequence`: every region draws the same sequence of objects (region 0's), each
    /// at its own rate, so that PoPs differing only in configuration see the same traffic
    /// (a policy shoot-out). Default false: each region has its own sequence. With `trace`,
    /// true makes every region replay the whole trace (instead of its share of it).
    pub same_sequence: Option<bool>,
    /// `trace`: replay a cache trace with its own timing, scaled, instead of `rate` and
    /// `mix`: see [`RawTrace`] (`file`, `format`, `csv_columns`, `speed`, `skip`, `limit`).
    /// Then `rate`, `arrival`, `mix` and `[[workload.phase]]` must be absent and `mode` open;
    /// each request goes to one region, drawn by the regions' shares.
    pub trace: Option<Spanned<RawTrace>>,
}

/// One entry of `mix`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMix {
    /// `class`: a class of the origins' catalogs, by its path prefix (`"/static/"`) or the
    /// start of it (`"/st"`), which must match exactly one class across all origins.
    /// Required.
    pub class: Option<Spanned<String>>,
    /// `share`: the fraction of requests for this class, > 0. Required when the mix has more
    /// than one entry; a lone entry's share defaults to 1.
    pub share: Option<Spanned<f64>>,
    /// `popularity`: which object of the class each request names: `{ zipf = alpha }`
    /// (rank r, from 1, with probability ∝ r^-alpha; alpha a number ≥ 0, object 0 the most
    /// popular) or `"uniform"`. Required.
    pub popularity: Option<Spanned<RawPopularity>>,
    /// `range`: ask for byte ranges of this size (`"2MiB"`, as a video player asks for
    /// segments) instead of whole objects: each request names one chunk of its object,
    /// chosen uniformly, with `Range: bytes=a-b`. Default: whole objects.
    pub range: Option<Spanned<cache::config_source::RawSize>>,
}

/// A `popularity` as written: a name (`"uniform"`) or a table (`{ zipf = 0.8 }`).
#[derive(Debug, Clone, PartialEq)]
pub enum RawPopularity {
    Name(String),
    Table(RawPopularityTable),
}

/// A `popularity` table: exactly one kind with its parameter.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPopularityTable {
    /// The Zipf exponent alpha (≥ 0; 0 is uniform).
    pub zipf: Option<Spanned<f64>>,
}

impl<'de> Deserialize<'de> for RawPopularity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawPopularity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("{ zipf = 0.8 } or \"uniform\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawPopularity, E> {
                Ok(RawPopularity::Name(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawPopularity, A::Error> {
                RawPopularityTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawPopularity::Table)
            }
        }
        d.deserialize_any(V)
    }
}

/// One `[[workload.phase]]`: from `at`, the total rate moves linearly to `rate` over `ramp`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    /// `at`: when the change starts, counted from the start of the measured period (after
    /// the warm-up), a duration such as `"30s"`. Required; each phase's `at` is later than
    /// the one before.
    pub at: Option<Spanned<RawDuration>>,
    /// `rate`: the total rate reached, requests per second, > 0. Required.
    pub rate: Option<Spanned<f64>>,
    /// `ramp`: how long the move from the rate before takes (default `"0s"`: a step).
    pub ramp: Option<Spanned<RawDuration>>,
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

fn rate_of(src: &Source<'_>, v: &Spanned<f64>, key: &str) -> Result<f64, ConfigError> {
    let r = *v.get_ref();
    if r.is_finite() && r > 0.0 && r <= defaults::MAX_RATE {
        Ok(r)
    } else {
        Err(src.error(
            Some(v.span()),
            key,
            format!(
                "{r} is out of range (requests per second: more than 0, at most {:e})",
                defaults::MAX_RATE
            ),
        ))
    }
}

impl RawWorkload {
    /// The one validation step. `src` carries the key prefix (`"workload"` in a scenario);
    /// `at` is the table's span, for errors about keys missing from it; `classes` are the
    /// path prefixes of every class of every origin, which `mix` entries must match.
    pub fn validate(
        &self,
        src: &Source<'_>,
        at: Option<Range<usize>>,
        classes: &[&str],
    ) -> Result<WorkloadSpec, ConfigError> {
        if let Some(t) = &self.trace {
            return self.validate_trace(src, t);
        }
        let closed = self.mode.as_ref().is_some_and(|m| m.get_ref() == "closed");
        let rate = match &self.rate {
            None if closed => 1.0,
            None => {
                return Err(src.error(
                    at,
                    "rate",
                    "required key is missing (requests per second in total, e.g. rate = 500)",
                ))
            }
            Some(r) => rate_of(src, r, "rate")?,
        };
        let mode = self.validate_mode(src, at.clone())?;
        let arrival = match &self.arrival {
            None => defaults::ARRIVAL,
            Some(a) if mode != Mode::Open => {
                return Err(src.error(
                    Some(a.span()),
                    "arrival",
                    "only with mode = \"open\" (closed-loop viewers send when they are ready)",
                ))
            }
            Some(a) => match a.get_ref().as_str() {
                "poisson" => Arrival::Poisson,
                "constant" => Arrival::Constant,
                other => {
                    return Err(src.error(
                        Some(a.span()),
                        "arrival",
                        format!("unknown arrival {other:?} (known: poisson, constant)"),
                    ))
                }
            },
        };
        let mix = self.validate_mix(src, at, classes)?;
        let phases = self.validate_phases(src)?;
        Ok(WorkloadSpec {
            rate,
            arrival,
            mix,
            phases,
            mode,
            same_sequence: self.same_sequence.unwrap_or(false),
            trace: None,
        })
    }

    /// A trace workload: `trace` validated, the keys of synthetic workloads refused.
    fn validate_trace(
        &self,
        src: &Source<'_>,
        t: &Spanned<RawTrace>,
    ) -> Result<WorkloadSpec, ConfigError> {
        if let Some(m) = self.mode.as_ref().filter(|m| m.get_ref() == "closed") {
            return Err(src.error(
                Some(m.span()),
                "mode",
                "a trace is replayed open loop, with its own timing: mode = \"closed\" is not possible with trace",
            ));
        }
        let others = [
            ("mix", span_of(&self.mix), "the trace names the objects"),
            (
                "rate",
                span_of(&self.rate),
                "the trace's timing sets the rate; scale it with trace.speed",
            ),
            (
                "arrival",
                span_of(&self.arrival),
                "the trace's timing sets the arrivals",
            ),
            (
                "phase",
                self.phase
                    .as_ref()
                    .and_then(|p| p.first())
                    .map(|p| p.span()),
                "the trace's timing sets the rate",
            ),
        ];
        if let Some((key, span, why)) = others.into_iter().find(|(_, s, _)| s.is_some()) {
            return Err(src.error(span, key, format!("not with trace ({why})")));
        }
        let mode = self.validate_mode(src, Some(t.span()))?;
        let trace = t.get_ref().validate(
            &src.with_key_prefix(&if src.key_prefix.is_empty() {
                "trace".to_string()
            } else {
                format!("{}.trace", src.key_prefix)
            }),
            Some(t.span()),
        )?;
        Ok(WorkloadSpec {
            rate: 0.0,
            arrival: defaults::ARRIVAL,
            mix: vec![MixEntry {
                class: TRACE_CLASS.to_string(),
                share: 1.0,
                popularity: Popularity::Trace,
                range: None,
            }],
            phases: Vec::new(),
            mode,
            same_sequence: self.same_sequence.unwrap_or(false),
            trace: Some(trace),
        })
    }

    fn validate_mode(
        &self,
        src: &Source<'_>,
        at: Option<Range<usize>>,
    ) -> Result<Mode, ConfigError> {
        let closed = match &self.mode {
            None => false,
            Some(m) => match m.get_ref().as_str() {
                "open" => false,
                "closed" => true,
                other => {
                    return Err(src.error(
                        Some(m.span()),
                        "mode",
                        format!("unknown mode {other:?} (known: open, closed)"),
                    ))
                }
            },
        };
        if !closed {
            let only_closed = [
                ("viewers", span_of(&self.viewers)),
                ("think_time", span_of(&self.think_time)),
            ];
            if let Some((key, span)) = only_closed.into_iter().find(|(_, s)| s.is_some()) {
                return Err(src.error(span, key, "only with mode = \"closed\""));
            }
            return Ok(Mode::Open);
        }
        if self.viewers.is_none() {
            return Err(src.error(
                span_of(&self.mode).or(at),
                "viewers",
                "required with mode = \"closed\" (the number of virtual viewers, e.g. viewers = 100)",
            ));
        }
        let viewers = count(src, &self.viewers, "viewers", 1, 1..=defaults::MAX_VIEWERS)?;
        let think_time = duration(src, &self.think_time, "think_time", defaults::THINK_TIME)?;
        Ok(Mode::Closed {
            viewers,
            think_time,
        })
    }

    fn validate_mix(
        &self,
        src: &Source<'_>,
        at: Option<Range<usize>>,
        classes: &[&str],
    ) -> Result<Vec<MixEntry>, ConfigError> {
        let example =
            "e.g. mix = [{ class = \"/static/\", share = 1.0, popularity = { zipf = 0.8 } }]";
        let Some(raw) = &self.mix else {
            return Err(src.error(at, "mix", format!("required key is missing ({example})")));
        };
        if raw.get_ref().is_empty() {
            return Err(src.error(
                Some(raw.span()),
                "mix",
                format!("at least one entry is required ({example})"),
            ));
        }
        let lone = raw.get_ref().len() == 1;
        let mut out: Vec<MixEntry> = Vec::with_capacity(raw.get_ref().len());
        for (i, e) in raw.get_ref().iter().enumerate() {
            let key = |k: &str| format!("mix[{i}].{k}");
            let m = e.get_ref();
            let Some(c) = &m.class else {
                return Err(src.error(
                    Some(e.span()),
                    &key("class"),
                    "required key is missing (a class's path prefix, e.g. class = \"/static/\")",
                ));
            };
            let want = c.get_ref();
            let found: Vec<&str> = classes
                .iter()
                .copied()
                .filter(|p| !want.is_empty() && p.starts_with(want.as_str()))
                .collect();
            let class = match found.as_slice() {
                [one] => one.to_string(),
                [] => {
                    return Err(src.error(
                        Some(c.span()),
                        &key("class"),
                        format!(
                            "no origin class starts with {want:?} (classes: {})",
                            if classes.is_empty() {
                                "none".to_string()
                            } else {
                                classes.join(", ")
                            }
                        ),
                    ))
                }
                many => {
                    let m = format!(
                        "{want:?} matches several origin classes ({}): write more of the prefix",
                        many.join(", ")
                    );
                    return Err(src.error(Some(c.span()), &key("class"), m));
                }
            };
            if let Some(j) = out.iter().position(|o| o.class == class) {
                return Err(src.error(
                    Some(c.span()),
                    &key("class"),
                    format!("class {class:?} is also mix[{j}]'s"),
                ));
            }
            let share = match &m.share {
                None if lone => 1.0,
                None => {
                    return Err(src.error(
                        Some(e.span()),
                        &key("share"),
                        "required key is missing when the mix has several entries (the fraction of requests, e.g. share = 0.5)",
                    ))
                }
                Some(s) => {
                    let v = *s.get_ref();
                    if !(v.is_finite() && v > 0.0 && v <= 1.0) {
                        return Err(src.error(
                            Some(s.span()),
                            &key("share"),
                            format!("{v} is out of range (a fraction of requests: more than 0, at most 1)"),
                        ));
                    }
                    v
                }
            };
            let popularity = validate_popularity(src, e.span(), &m.popularity, &key("popularity"))?;
            let range = cache::config_source::size(src, &m.range, &key("range"))?;
            if range == Some(0) {
                return Err(src.error(
                    span_of(&m.range),
                    &key("range"),
                    "must be more than 0 bytes",
                ));
            }
            out.push(MixEntry {
                class,
                share,
                popularity,
                range,
            });
        }
        let total: f64 = out.iter().map(|m| m.share).sum();
        if (total - 1.0).abs() > defaults::SHARE_TOLERANCE {
            let shares: Vec<String> = out
                .iter()
                .map(|m| format!("{} {}", m.class, m.share))
                .collect();
            return Err(src.error(
                Some(raw.span()),
                "mix",
                format!(
                    "the shares must add up to 1, but they add up to {total} ({})",
                    shares.join(", ")
                ),
            ));
        }
        Ok(out)
    }

    fn validate_phases(&self, src: &Source<'_>) -> Result<Vec<Phase>, ConfigError> {
        let raw = self.phase.as_deref().unwrap_or_default();
        let mut out: Vec<Phase> = Vec::with_capacity(raw.len());
        for (i, p) in raw.iter().enumerate() {
            let key = |k: &str| format!("phase[{i}].{k}");
            let r = p.get_ref();
            let missing = |k: &str, eg: &str| {
                src.error(
                    Some(p.span()),
                    &key(k),
                    format!("required key is missing (e.g. {k} = {eg})"),
                )
            };
            if r.at.is_none() {
                return Err(missing("at", "\"30s\""));
            }
            let at = duration(src, &r.at, &key("at"), Duration::ZERO)?;
            if let Some(prev) = out.last() {
                if at <= prev.at {
                    return Err(src.error(
                        span_of(&r.at),
                        &key("at"),
                        format!(
                            "{} is not later than phase[{}]'s at ({}): list phases in the order they happen",
                            format_duration(at),
                            i - 1,
                            format_duration(prev.at)
                        ),
                    ));
                }
            }
            let rate = match &r.rate {
                None => return Err(missing("rate", "2000")),
                Some(v) => rate_of(src, v, &key("rate"))?,
            };
            let ramp = duration(src, &r.ramp, &key("ramp"), defaults::RAMP)?;
            out.push(Phase { at, rate, ramp });
        }
        Ok(out)
    }
}

fn validate_popularity(
    src: &Source<'_>,
    entry: Range<usize>,
    raw: &Option<Spanned<RawPopularity>>,
    key: &str,
) -> Result<Popularity, ConfigError> {
    let example = "popularity = { zipf = 0.8 } or popularity = \"uniform\"";
    let Some(p) = raw else {
        return Err(src.error(
            Some(entry),
            key,
            format!("required key is missing (e.g. {example})"),
        ));
    };
    match p.get_ref() {
        RawPopularity::Name(n) if n == "uniform" => Ok(Popularity::Uniform),
        RawPopularity::Name(n) if n == "zipf" => Err(src.error(
            Some(p.span()),
            key,
            "zipf needs its exponent: write popularity = { zipf = 0.8 }",
        )),
        RawPopularity::Name(n) => Err(src.error(
            Some(p.span()),
            key,
            format!("unknown popularity {n:?} (write {example})"),
        )),
        RawPopularity::Table(t) => {
            let Some(z) = &t.zipf else {
                return Err(src.error(
                    Some(p.span()),
                    key,
                    format!("empty table (write {example})"),
                ));
            };
            let alpha = *z.get_ref();
            if !(alpha.is_finite() && alpha >= 0.0) {
                return Err(src.error(
                    Some(z.span()),
                    &format!("{key}.zipf"),
                    format!("{alpha} is out of range (the Zipf exponent: 0 or more, typically 0.6 to 1.2)"),
                ));
            }
            Ok(Popularity::Zipf { alpha })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing and overrides
// ---------------------------------------------------------------------------------------------

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn toml_f64(x: f64) -> String {
    toml::Value::Float(x).to_string()
}

impl WorkloadSpec {
    /// The table `[{table}]` (a scenario's `[workload]`) with every default written out,
    /// followed by its `[[{table}.phase]]`s: the text that [`RawWorkload::validate`] turns
    /// back into an equal spec (given the same classes).
    pub fn to_toml(&self, table: &str) -> String {
        if let Some(t) = &self.trace {
            let mut out = format!("[{table}]\nmode = \"open\"\n");
            if self.same_sequence {
                out.push_str("same_sequence = true\n");
            }
            out.push_str(&format!("trace = {}\n", t.to_toml()));
            return out;
        }
        let mut out = format!("[{table}]\nrate = {}\n", toml_f64(self.rate));
        match &self.mode {
            Mode::Open => {
                let arrival = match self.arrival {
                    Arrival::Poisson => "poisson",
                    Arrival::Constant => "constant",
                };
                out.push_str(&format!(
                    "mode = \"open\"\narrival = {}\n",
                    toml_str(arrival)
                ));
            }
            Mode::Closed {
                viewers,
                think_time,
            } => out.push_str(&format!(
                "mode = \"closed\"\nviewers = {viewers}\nthink_time = {}\n",
                toml_str(&format_duration(*think_time))
            )),
        }
        if self.same_sequence {
            out.push_str("same_sequence = true\n");
        }
        out.push_str("mix = [\n");
        for m in &self.mix {
            let popularity = match &m.popularity {
                Popularity::Zipf { alpha } => format!("{{ zipf = {} }}", toml_f64(*alpha)),
                Popularity::Uniform | Popularity::Trace => toml_str("uniform"),
            };
            let range = m
                .range
                .map(|r| format!(", range = {}", toml_str(&cache::units::format_size(r))))
                .unwrap_or_default();
            out.push_str(&format!(
                "    {{ class = {}, share = {}, popularity = {popularity}{range} }},\n",
                toml_str(&m.class),
                toml_f64(m.share)
            ));
        }
        out.push_str("]\n");
        for p in &self.phases {
            out.push_str(&format!(
                "\n[[{table}.phase]]\nat = {}\nrate = {}\nramp = {}\n",
                toml_str(&format_duration(p.at)),
                toml_f64(p.rate),
                toml_str(&format_duration(p.ramp))
            ));
        }
        out
    }

    /// Sets the starting rate and scales every phase's rate by the same factor, so that the
    /// shape of the load stays the same (`cdnlab run --rate`). `rate` must be > 0. A trace
    /// workload is left as it is (its timing is the trace's; the scenario refuses `--rate`).
    pub fn set_rate(&mut self, rate: f64) {
        if self.trace.is_some() {
            return;
        }
        let factor = rate / self.rate;
        self.rate = rate;
        for p in &mut self.phases {
            p.rate *= factor;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSES: [&str; 3] = ["/static/", "/api/", "/api2/"];

    fn parse(text: &str) -> Result<WorkloadSpec, ConfigError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            workload: Spanned<RawWorkload>,
        }
        let src = Source::new("w.toml", text);
        let doc: Doc = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
        doc.workload.get_ref().validate(
            &src.with_key_prefix("workload"),
            Some(doc.workload.span()),
            &CLASSES,
        )
    }

    #[track_caller]
    fn refused(text: &str, want: &str) {
        let e = parse(text)
            .map(|w| format!("accepted: {w:?}"))
            .unwrap_or_else(|e| e.to_string());
        assert!(
            e.starts_with(want),
            "\n got: {e}\nwant: {want}…\n---\n{text}"
        );
    }

    const MIN: &str =
        "[workload]\nrate = 500\nmix = [{ class = \"/static/\", popularity = { zipf = 0.8 } }]\n";

    #[test]
    fn defaults() {
        let w = parse(MIN).unwrap();
        assert_eq!(
            w,
            WorkloadSpec {
                rate: 500.0,
                arrival: Arrival::Poisson,
                mix: vec![MixEntry {
                    class: "/static/".into(),
                    share: 1.0,
                    popularity: Popularity::Zipf { alpha: 0.8 },
                    range: None,
                }],
                phases: vec![],
                mode: Mode::Open,
                same_sequence: false,
                trace: None,
            }
        );
    }

    #[test]
    fn every_key_and_round_trip() {
        let texts = [
            MIN.to_string(),
            "[workload]\nrate = 12.5\narrival = \"constant\"\nmix = [\n  { class = \"/st\", share = 0.25, popularity = \"uniform\" },\n  { class = \"/api/\", share = 0.75, popularity = { zipf = 0 } },\n]\n[[workload.phase]]\nat = \"0s\"\nrate = 1\n[[workload.phase]]\nat = \"1m\"\nrate = 1e6\nramp = \"10s\"\n".to_string(),
            "[workload]\nrate = 100\nmode = \"closed\"\nviewers = 7\nthink_time = \"250ms\"\nmix = [{ class = \"/api2\", popularity = \"uniform\" }]\n".to_string(),
            "[workload]\nrate = 10\nsame_sequence = true\nmix = [{ class = \"/static/\", popularity = \"uniform\", range = \"2MiB\" }]\n".to_string(),
        ];
        for text in texts {
            let w = parse(&text).unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
            let written = w.to_toml("workload");
            let back = parse(&written).unwrap_or_else(|e| panic!("{e}\n---\n{written}"));
            assert_eq!(back, w, "\n---\n{written}");
            assert_eq!(back.to_toml("workload"), written);
        }
        let w = parse(&format!(
            "{MIN}[[workload.phase]]\nat = \"1s\"\nrate = 2000\n"
        ))
        .unwrap();
        assert_eq!(w.mix[0].class, "/static/");
        let mut w2 = w.clone();
        w2.set_rate(1000.0);
        assert_eq!((w2.rate, w2.phases[0].rate), (1000.0, 4000.0));
    }

    #[test]
    fn refusals() {
        let mix = "mix = [{ class = \"/static/\", popularity = \"uniform\" }]\n";
        refused(
            &format!("[workload]\n{mix}"),
            "w.toml:1: workload.rate: required key is missing",
        );
        refused(
            &format!("[workload]\nrate = 0\n{mix}"),
            "w.toml:2: workload.rate: 0 is out of range",
        );
        refused(
            &format!("[workload]\nrate = nan\n{mix}"),
            "w.toml:2: workload.rate: NaN is out of range",
        );
        refused(
            &format!("[workload]\nrate = \"5\"\n{mix}"),
            "w.toml:2: workload.rate: invalid type",
        );
        refused(
            "[workload]\nrate = 1\n",
            "w.toml:1: workload.mix: required key is missing",
        );
        refused(
            "[workload]\nrate = 1\nmix = []\n",
            "w.toml:3: workload.mix: at least one entry",
        );
        refused(
            &format!("[workload]\nrate = 1\narrival = \"burst\"\n{mix}"),
            "w.toml:3: workload.arrival: unknown arrival \"burst\"",
        );
        refused(
            &format!("[workload]\nrate = 1\nmode = \"x\"\n{mix}"),
            "w.toml:3: workload.mode: unknown mode \"x\"",
        );
        refused(
            &format!("[workload]\nrate = 1\nviewers = 3\n{mix}"),
            "w.toml:3: workload.viewers: only with mode = \"closed\"",
        );
        refused(
            &format!("[workload]\nrate = 1\nmode = \"closed\"\n{mix}"),
            "w.toml:3: workload.viewers: required with mode = \"closed\"",
        );
        refused(
            &format!("[workload]\nrate = 1\nmode = \"closed\"\nviewers = 0\n{mix}"),
            "w.toml:4: workload.viewers: 0 is out of range",
        );
        refused(&format!("[workload]\nrate = 1\nmode = \"closed\"\nviewers = 1\narrival = \"poisson\"\n{mix}"), "w.toml:5: workload.arrival: only with mode = \"open\"");
        refused("[workload]\nrate = 1\nmix = [{ class = \"/img/\", popularity = \"uniform\" }]\n", "w.toml:3: workload.mix[0].class: no origin class starts with \"/img/\" (classes: /static/, /api/, /api2/)");
        refused("[workload]\nrate = 1\nmix = [{ class = \"/api\", popularity = \"uniform\" }]\n", "w.toml:3: workload.mix[0].class: \"/api\" matches several origin classes (/api/, /api2/)");
        refused(
            "[workload]\nrate = 1\nmix = [{ class = \"\", popularity = \"uniform\" }]\n",
            "w.toml:3: workload.mix[0].class: no origin class starts with \"\"",
        );
        refused(
            "[workload]\nrate = 1\nmix = [{ popularity = \"uniform\" }]\n",
            "w.toml:3: workload.mix[0].class: required key is missing",
        );
        refused(
            "[workload]\nrate = 1\nmix = [{ class = \"/api/\" }]\n",
            "w.toml:3: workload.mix[0].popularity: required key is missing",
        );
        refused(
            "[workload]\nrate = 1\nmix = [{ class = \"/api/\", popularity = \"zipf\" }]\n",
            "w.toml:3: workload.mix[0].popularity: zipf needs its exponent",
        );
        refused(
            "[workload]\nrate = 1\nmix = [{ class = \"/api/\", popularity = {} }]\n",
            "w.toml:3: workload.mix[0].popularity: empty table",
        );
        refused(
            "[workload]\nrate = 1\nmix = [{ class = \"/api/\", popularity = { zipf = -1 } }]\n",
            "w.toml:3: workload.mix[0].popularity.zipf: -1 is out of range",
        );
        refused(
            "[workload]\nrate = 1\nmix = [{ class = \"/api/\", popularity = { zipff = 1 } }]\n",
            "w.toml:3: workload.mix[0].popularity.zipff: unknown key",
        );
        refused("[workload]\nrate = 1\nmix = [{ class = \"/api/\", popularity = \"uniform\", weight = 1 }]\n", "w.toml:3: workload.mix[0].weight: unknown key");
        refused(
            "[workload]\nrate = 1\nmix = [\n{ class = \"/api/\", share = 0.5, popularity = \"uniform\" },\n{ class = \"/static/\", share = 0.6, popularity = \"uniform\" },\n]\n",
            "w.toml:3: workload.mix: the shares must add up to 1, but they add up to 1.1 (/api/ 0.5, /static/ 0.6)",
        );
        refused(
            "[workload]\nrate = 1\nmix = [\n{ class = \"/api/\", share = 0.5, popularity = \"uniform\" },\n{ class = \"/static/\", popularity = \"uniform\" },\n]\n",
            "w.toml:5: workload.mix[1].share: required key is missing when the mix has several entries",
        );
        refused(
            "[workload]\nrate = 1\nmix = [\n{ class = \"/api/\", share = 0.5, popularity = \"uniform\" },\n{ class = \"/api/\", share = 0.5, popularity = \"uniform\" },\n]\n",
            "w.toml:5: workload.mix[1].class: class \"/api/\" is also mix[0]'s",
        );
        refused(
            &format!("[workload]\nrate = 1\n{mix}[[workload.phase]]\nrate = 2\n"),
            "w.toml:4: workload.phase[0].at: required key is missing",
        );
        refused(
            &format!("[workload]\nrate = 1\n{mix}[[workload.phase]]\nat = \"1s\"\n"),
            "w.toml:4: workload.phase[0].rate: required key is missing",
        );
        refused(
            &format!("[workload]\nrate = 1\n{mix}[[workload.phase]]\nat = \"1s\"\nrate = -2\n"),
            "w.toml:6: workload.phase[0].rate: -2 is out of range",
        );
        refused(&format!("[workload]\nrate = 1\n{mix}[[workload.phase]]\nat = \"1s\"\nrate = 2\nramp = \"x\"\n"), "w.toml:7: workload.phase[0].ramp: bad duration \"x\"");
        refused(
            &format!("[workload]\nrate = 1\n{mix}[[workload.phase]]\nat = \"2s\"\nrate = 2\n[[workload.phase]]\nat = \"2s\"\nrate = 3\n"),
            "w.toml:8: workload.phase[1].at: 2s is not later than phase[0]'s at (2s)",
        );
    }
}
