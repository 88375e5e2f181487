//! The one validation step of a scenario: each section by its owner's validation, then the
//! cross-references (sites, names, PoPs, regions, mix classes, assertions). The first error
//! stops it; every error names the file, line and key.

use std::ops::Range;
use std::time::Duration;

use cache::config_source::{count, duration, positive_duration, span_of, ConfigError, Source};
use cache::units::format_duration;
use loadgen::WorkloadSpec;
use sim::dist::RawQty;
use sim::geo::World;
use sim::origin::Listen;
use toml::Spanned;

use super::pops::validate_pops;
use super::raw::{RawAssert, RawLastMile, RawRegion, RawScenario};
use super::{
    Assertion, LastMile, Metric, Pop, Region, Scenario, ScenarioOrigin, Scope, UNASSIGNED,
};

/// Defaults of the scenario's own keys.
pub mod defaults {
    use std::time::Duration;

    pub const SEED: u64 = 1;
    pub const WARMUP: Duration = Duration::ZERO;
    pub const CONNECTIONS: usize = 512;
    pub const MAX_CONNECTIONS: usize = 1_000_000;
    pub const REQUESTS_PER_CONNECTION: usize = 100;
    /// How far the regions' shares may add up from 1.
    pub const SHARE_TOLERANCE: f64 = 1e-6;
}

/// Where a missing top-level key is reported: the start of the file.
const TOP: Option<Range<usize>> = Some(0..0);

/// A name: 1 to 64 letters, digits, `-`, `_` or `.` (it ends up in paths, headers, metrics).
pub(super) fn token(
    src: &Source<'_>,
    v: &Spanned<String>,
    key: &str,
    what: &str,
) -> Result<String, ConfigError> {
    let s = v.get_ref();
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(s.clone())
    } else {
        Err(src.error(
            Some(v.span()),
            key,
            format!(
                "{s:?} is not a valid {what} name: use 1 to 64 letters, digits, '-', '_' or '.'"
            ),
        ))
    }
}

/// A required name: present (else an error at `at`, the table) and a token.
pub(super) fn required_name(
    src: &Source<'_>,
    v: &Option<Spanned<String>>,
    at: Range<usize>,
    key: &str,
    what: &str,
) -> Result<String, ConfigError> {
    match v {
        None => Err(src.error(
            Some(at),
            key,
            format!("required key is missing (the {what}'s name)"),
        )),
        Some(v) => token(src, v, key, what),
    }
}

/// A required site, by name or city.
pub(super) fn required_site(
    src: &Source<'_>,
    world: &World,
    v: &Option<Spanned<String>>,
    at: Range<usize>,
    key: &str,
) -> Result<usize, ConfigError> {
    let Some(v) = v else {
        return Err(src.error(
            Some(at),
            key,
            format!(
                "required key is missing (a site of the world: {})",
                world.names()
            ),
        ));
    };
    world.site(v.get_ref()).ok_or_else(|| {
        src.error(
            Some(v.span()),
            key,
            format!("unknown site {:?} (sites: {})", v.get_ref(), world.names()),
        )
    })
}

/// The index of a name among `names`, or an error listing them.
pub(super) fn lookup(
    src: &Source<'_>,
    v: &Spanned<String>,
    names: &[&str],
    key: &str,
    what: &str,
) -> Result<usize, ConfigError> {
    names.iter().position(|n| n == v.get_ref()).ok_or_else(|| {
        src.error(
            Some(v.span()),
            key,
            format!(
                "unknown {what} {:?} ({what}s: {})",
                v.get_ref(),
                names.join(", ")
            ),
        )
    })
}

/// A share of the total: a number in (0, 1]; a lone item's defaults to 1.
fn share(
    src: &Source<'_>,
    v: &Option<Spanned<f64>>,
    lone: bool,
    at: Range<usize>,
    key: &str,
) -> Result<f64, ConfigError> {
    match v {
        None if lone => Ok(1.0),
        None => Err(src.error(
            Some(at),
            key,
            "required key is missing when there are several (the fraction of the total, e.g. share = 0.5)",
        )),
        Some(s) => {
            let x = *s.get_ref();
            if x.is_finite() && x > 0.0 && x <= 1.0 {
                Ok(x)
            } else {
                Err(src.error(
                    Some(s.span()),
                    key,
                    format!("{x} is out of range (a fraction of the total: more than 0, at most 1)"),
                ))
            }
        }
    }
}

impl RawScenario {
    /// Validates the whole scenario; `src` is the whole file (every span points into it).
    pub fn validate(&self, src: &Source<'_>) -> Result<Scenario, ConfigError> {
        let name =
            match &self.name {
                None => return Err(src.error(
                    TOP,
                    "name",
                    "required key is missing (the scenario's name, e.g. name = \"global-zipf\")",
                )),
                Some(n) => token(src, n, "name", "scenario")?,
            };
        let seed = match &self.seed {
            None => defaults::SEED,
            Some(s) => u64::try_from(*s.get_ref())
                .map_err(|_| src.error(Some(s.span()), "seed", "must be 0 or more"))?,
        };
        if self.duration.is_none() {
            return Err(src.error(
                TOP,
                "duration",
                "required key is missing (the measured period, e.g. duration = \"60s\")",
            ));
        }
        let duration = positive_duration(src, &self.duration, "duration", Duration::ZERO)?;
        let warmup = duration_at_least_zero(src, &self.warmup, "warmup", defaults::WARMUP)?;
        let world = self
            .world
            .clone()
            .unwrap_or_default()
            .validate(&src.with_key_prefix("world"))?;
        let origins = self.validate_origins(src, &world, seed)?;
        let pops = validate_pops(self, src, &world, &origins)?;
        let regions = self.validate_regions(src, &world, &pops)?;
        let workload = self.validate_workload(src, duration, &origins, &pops)?;
        super::trace::check(self, src, &workload, warmup + duration, &origins, &pops)?;
        let asserts = self.validate_asserts(src, &regions, &pops)?;
        Ok(Scenario {
            file: src.file.to_string(),
            name,
            seed,
            duration,
            warmup,
            world,
            origins,
            pops,
            regions,
            workload,
            asserts,
        })
    }

    fn validate_origins(
        &self,
        src: &Source<'_>,
        world: &World,
        seed: u64,
    ) -> Result<Vec<ScenarioOrigin>, ConfigError> {
        let raw = self.origin.as_deref().unwrap_or_default();
        if raw.is_empty() {
            return Err(src.error(
                TOP,
                "origin",
                "at least one [[origin]] is required (name, site and its classes of objects)",
            ));
        }
        let mut out: Vec<ScenarioOrigin> = Vec::with_capacity(raw.len());
        for (i, so) in raw.iter().enumerate() {
            let o = so.get_ref();
            let prefix = format!("origin[{i}]");
            let key = |k: &str| format!("{prefix}.{k}");
            let name = required_name(src, &o.name, so.span(), &key("name"), "origin")?;
            if let Some(j) = out.iter().position(|p| p.name == name) {
                return Err(src.error(
                    span_of(&o.name),
                    &key("name"),
                    format!("duplicate origin name {name:?} (also origin[{j}])"),
                ));
            }
            let site = required_site(src, world, &o.site, so.span(), &key("site"))?;
            // The origin's own validation sees the site's name, also when the file gave a
            // city (which need not be a token).
            let mut o = o.clone();
            o.site = o
                .site
                .map(|s| Spanned::new(s.span(), world.name(site).to_string()));
            let mut config =
                o.validate(&src.with_key_prefix(&prefix), Listen::Assigned(UNASSIGNED))?;
            let seed_inherited = o.seed.is_none();
            if seed_inherited {
                config.seed = seed;
            }
            out.push(ScenarioOrigin {
                name,
                site,
                config,
                seed_inherited,
            });
        }
        Ok(out)
    }

    fn validate_regions(
        &self,
        src: &Source<'_>,
        world: &World,
        pops: &[Pop],
    ) -> Result<Vec<Region>, ConfigError> {
        let raw = self.region.as_deref().unwrap_or_default();
        if raw.is_empty() {
            return Err(src.error(
                TOP,
                "region",
                "at least one [[region]] is required (name, site and share of the viewers)",
            ));
        }
        let pop_names: Vec<&str> = pops.iter().map(|p| p.name.as_str()).collect();
        let pop_sites: Vec<usize> = pops.iter().map(|p| p.site).collect();
        let lone = raw.len() == 1;
        let mut out: Vec<Region> = Vec::with_capacity(raw.len());
        for (i, sr) in raw.iter().enumerate() {
            let r: &RawRegion = sr.get_ref();
            let key = |k: &str| format!("region[{i}].{k}");
            let name = required_name(src, &r.name, sr.span(), &key("name"), "region")?;
            if let Some(j) = out.iter().position(|p| p.name == name) {
                return Err(src.error(
                    span_of(&r.name),
                    &key("name"),
                    format!("duplicate region name {name:?} (also region[{j}])"),
                ));
            }
            let site = required_site(src, world, &r.site, sr.span(), &key("site"))?;
            let share = share(src, &r.share, lone, sr.span(), &key("share"))?;
            let last_mile = match &r.last_mile {
                None => LastMile::default(),
                Some(lm) => last_mile(src, lm.get_ref(), &key("last_mile"))?,
            };
            let pop = match &r.pop {
                Some(p) => lookup(src, p, &pop_names, &key("pop"), "PoP")?,
                None => world.nearest_pop(site, &pop_sites, &[]).ok_or_else(|| {
                    src.error(Some(sr.span()), &key("pop"), "no PoP to serve this region")
                })?,
            };
            let connections = count(
                src,
                &r.connections,
                &key("connections"),
                defaults::CONNECTIONS,
                1..=defaults::MAX_CONNECTIONS,
            )?;
            let requests_per_connection = count(
                src,
                &r.requests_per_connection,
                &key("requests_per_connection"),
                defaults::REQUESTS_PER_CONNECTION,
                0..=u32::MAX as usize,
            )? as u64;
            let protocol = match r
                .protocol
                .as_ref()
                .map(|p| (p.get_ref().as_str(), p.span()))
            {
                None | Some(("h1", _)) => loadgen::Protocol::Http1,
                Some(("h2", _)) => loadgen::Protocol::Http2,
                Some((other, span)) => {
                    return Err(src.error(
                        Some(span),
                        &key("protocol"),
                        format!("{other:?} is not a protocol (h1, h2)"),
                    ))
                }
            };
            out.push(Region {
                name,
                site,
                share,
                last_mile,
                pop,
                connections,
                requests_per_connection,
                protocol,
            });
        }
        let total: f64 = out.iter().map(|r| r.share).sum();
        if (total - 1.0).abs() > defaults::SHARE_TOLERANCE {
            let shares: Vec<String> = out
                .iter()
                .map(|r| format!("{} {}", r.name, r.share))
                .collect();
            return Err(src.error(
                Some(raw[0].span()),
                "region",
                format!(
                    "the shares must add up to 1, but they add up to {total} ({})",
                    shares.join(", ")
                ),
            ));
        }
        Ok(out)
    }

    fn validate_workload(
        &self,
        src: &Source<'_>,
        duration: Duration,
        origins: &[ScenarioOrigin],
        pops: &[Pop],
    ) -> Result<WorkloadSpec, ConfigError> {
        let Some(raw) = &self.workload else {
            return Err(src.error(
                TOP,
                "workload",
                "required table is missing: [workload] with rate and mix",
            ));
        };
        let classes: Vec<&str> = origins
            .iter()
            .flat_map(|o| o.config.classes.iter().map(|c| c.prefix.as_str()))
            .collect();
        let w =
            raw.get_ref()
                .validate(&src.with_key_prefix("workload"), Some(raw.span()), &classes)?;
        let raw_phases = raw.get_ref().phase.as_deref().unwrap_or_default();
        for (i, (p, rp)) in w.phases.iter().zip(raw_phases).enumerate() {
            if p.at >= duration {
                return Err(src.error(
                    span_of(&rp.get_ref().at),
                    &format!("workload.phase[{i}].at"),
                    format!(
                        "{} is not within the measured period (duration = {})",
                        format_duration(p.at),
                        format_duration(duration)
                    ),
                ));
            }
        }
        // Every PoP must send each class to the origin that has it, or every request of the
        // class would be a 404 (routing is by behavior; a parent PoP routes the same way).
        let raw_mix = raw.get_ref().mix.as_ref().map(|m| m.get_ref().as_slice());
        for (i, m) in w.mix.iter().enumerate() {
            let Some(owner) = origins
                .iter()
                .position(|o| o.config.classes.iter().any(|c| c.prefix == m.class))
            else {
                continue;
            };
            let path = format!("{}0", m.class);
            for p in pops {
                let (bi, b) = p.edge.behavior_for(&path);
                if b.origin != owner {
                    let span = raw_mix
                        .and_then(|r| r.get(i))
                        .and_then(|e| span_of(&e.get_ref().class));
                    return Err(src.error(
                        span,
                        &format!("workload.mix[{i}].class"),
                        format!(
                            "class {:?} is origin {:?}'s, but PoP {:?} sends {path:?} to origin {:?} (its behavior[{bi}], path {:?}): add a behavior for the class",
                            m.class,
                            origins[owner].name,
                            p.name,
                            origins.get(b.origin).map_or("?", |o| o.name.as_str()),
                            b.path
                        ),
                    ));
                }
            }
        }
        Ok(w)
    }

    fn validate_asserts(
        &self,
        src: &Source<'_>,
        regions: &[Region],
        pops: &[Pop],
    ) -> Result<Vec<Assertion>, ConfigError> {
        let region_names: Vec<&str> = regions.iter().map(|r| r.name.as_str()).collect();
        let pop_names: Vec<&str> = pops.iter().map(|p| p.name.as_str()).collect();
        let raw = self.assertion.as_deref().unwrap_or_default();
        let mut out = Vec::with_capacity(raw.len());
        for (i, sa) in raw.iter().enumerate() {
            let a: &RawAssert = sa.get_ref();
            let key = |k: &str| format!("assert[{i}].{k}");
            let metric = match &a.metric {
                None => {
                    return Err(src.error(
                        Some(sa.span()),
                        &key("metric"),
                        format!("required key is missing (one of {})", Metric::names()),
                    ))
                }
                Some(m) => Metric::from_name(m.get_ref()).ok_or_else(|| {
                    src.error(
                        Some(m.span()),
                        &key("metric"),
                        format!(
                            "unknown metric {:?} (metrics: {})",
                            m.get_ref(),
                            Metric::names()
                        ),
                    )
                })?,
            };
            let scope = match (&a.region, &a.pop) {
                (Some(_), Some(p)) => {
                    return Err(src.error(
                        Some(p.span()),
                        &key("pop"),
                        "give region or pop, not both (neither: the whole run)",
                    ))
                }
                (Some(r), None) => {
                    Scope::Region(lookup(src, r, &region_names, &key("region"), "region")?)
                }
                (None, Some(p)) => Scope::Pop(lookup(src, p, &pop_names, &key("pop"), "PoP")?),
                (None, None) => Scope::Run,
            };
            if a.min.is_none() && a.max.is_none() {
                return Err(src.error(
                    Some(sa.span()),
                    &key("max"),
                    "an assertion needs min, max or both",
                ));
            }
            let min = a
                .min
                .as_ref()
                .map(|v| limit(src, v, metric, &key("min")))
                .transpose()?;
            let max = a
                .max
                .as_ref()
                .map(|v| limit(src, v, metric, &key("max")))
                .transpose()?;
            if let (Some(lo), Some(hi)) = (min, max) {
                if lo > hi {
                    return Err(src.error(
                        span_of(&a.max),
                        &key("max"),
                        format!("max ({hi}) is less than min ({lo}): nothing could pass"),
                    ));
                }
            }
            out.push(Assertion {
                metric,
                scope,
                min,
                max,
            });
        }
        Ok(out)
    }
}

/// A duration that may be zero but not negative.
fn duration_at_least_zero(
    src: &Source<'_>,
    v: &Option<Spanned<cache::config_source::RawDuration>>,
    key: &str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    if let Some(s) = v {
        if s.get_ref().0.trim_start().starts_with('-') {
            return Err(src.error(
                Some(s.span()),
                key,
                format!("{:?} is negative", s.get_ref().0),
            ));
        }
    }
    duration(src, v, key, default)
}

fn last_mile(src: &Source<'_>, lm: &RawLastMile, key: &str) -> Result<LastMile, ConfigError> {
    let k = |f: &str| format!("{key}.{f}");
    let short = |v: &Option<Spanned<cache::config_source::RawDuration>>, f: &str| {
        let d = duration_at_least_zero(src, v, &k(f), Duration::ZERO)?;
        if d > sim::link::MAX_RTT {
            return Err(src.error(
                span_of(v),
                &k(f),
                format!("{} is longer than an hour", format_duration(d)),
            ));
        }
        Ok(d)
    };
    let rtt = short(&lm.rtt, "rtt")?;
    let jitter = short(&lm.jitter, "jitter")?;
    let bandwidth_bps = lm
        .bandwidth
        .as_ref()
        .map(|b| {
            sim::link::parse_bandwidth(b.get_ref())
                .map_err(|m| src.error(Some(b.span()), &k("bandwidth"), m))
        })
        .transpose()?;
    let loss = match &lm.loss {
        None => 0.0,
        Some(l) => {
            let err = |m: String| src.error(Some(l.span()), &k("loss"), m);
            let x = match l.get_ref() {
                RawQty::Text(t) => sim::link::parse_percent(t).map_err(err)?,
                RawQty::Int(n) => *n as f64,
                RawQty::Float(f) => *f,
            };
            // Also refuses NaN.
            if !(0.0..=1.0).contains(&x) {
                return Err(err(format!(
                    "{x} is out of range (a probability from 0 to 1, or a percentage such as \"0.1%\")"
                )));
            }
            x
        }
    };
    Ok(LastMile {
        rtt,
        jitter,
        bandwidth_bps,
        loss,
    })
}

/// An assertion's limit: milliseconds for latency metrics (a duration, or a number of ms),
/// else a number within the metric's range.
fn limit(
    src: &Source<'_>,
    v: &Spanned<RawQty>,
    metric: Metric,
    key: &str,
) -> Result<f64, ConfigError> {
    let err = |m: String| src.error(Some(v.span()), key, m);
    let x = match v.get_ref() {
        RawQty::Text(t) if metric.is_latency() => {
            let d = cache::units::parse_duration(t).map_err(err)?;
            return Ok(d.as_nanos() as f64 / 1e6);
        }
        RawQty::Text(t) => return Err(err(format!("{t:?}: {} takes a number", metric.name()))),
        RawQty::Int(n) => *n as f64,
        RawQty::Float(f) => *f,
    };
    let ratio = matches!(
        metric,
        Metric::HitRatio | Metric::ByteHitRatio | Metric::OriginOffload | Metric::ErrorRate
    );
    if !x.is_finite() || x < 0.0 || (ratio && x > 1.0) {
        let range = if ratio {
            "a ratio from 0 to 1"
        } else if metric.is_latency() {
            "milliseconds, 0 or more, or a duration such as \"400ms\""
        } else {
            "0 or more"
        };
        return Err(err(format!("{x} is out of range ({range})")));
    }
    Ok(x)
}
