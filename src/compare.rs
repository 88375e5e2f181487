//! `cdnlab compare`: two run folders side by side, and a regression gate for CI — exit 3 when
//! the candidate is worse than the baseline by more than a given limit.

use crate::cli::CompareArgs;
use crate::run::value_of;
use crate::scenario::Metric;
use crate::{AssertionsFailed, BadInput};
use anyhow::Result;
use serde_json::{json, Value};
use std::path::Path;

/// Where a metric is read: the whole run, one region or one PoP of `summary.json`.
#[derive(Debug, Clone, PartialEq)]
enum Scope {
    Run,
    Region(String),
    Pop(String),
}

impl Scope {
    fn object<'a>(&self, summary: &'a Value) -> &'a Value {
        match self {
            Scope::Run => summary,
            Scope::Region(n) => &summary["regions"][n],
            Scope::Pop(n) => &summary["pops"][n],
        }
    }

    fn label(&self) -> String {
        match self {
            Scope::Run => "run".into(),
            Scope::Region(n) => format!("region {n}"),
            Scope::Pop(n) => format!("pop {n}"),
        }
    }
}

/// How much worse a metric may get: a share of the baseline's value, or an amount in the
/// metric's unit (milliseconds for latencies).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Allowed {
    Relative(f64),
    Absolute(f64),
}

#[derive(Debug, Clone, PartialEq)]
struct Limit {
    scope: Scope,
    metric: Metric,
    allowed: Allowed,
    text: String,
}

impl Limit {
    /// `[region:NAME:|pop:NAME:]METRIC=LIMIT`, LIMIT a percentage (`10%`), an amount (`0.02`)
    /// or, for latencies, a duration (`5ms`).
    fn parse(text: &str) -> Result<Limit, String> {
        let bad = |why: String| format!("--max-regression {text:?}: {why}");
        let (target, amount) = text
            .split_once('=')
            .ok_or_else(|| bad("expected METRIC=LIMIT, e.g. latency_p99=10%".into()))?;
        let (scope, metric) = match target.split(':').collect::<Vec<_>>()[..] {
            [m] => (Scope::Run, m),
            ["region", n, m] if !n.is_empty() => (Scope::Region(n.into()), m),
            ["pop", n, m] if !n.is_empty() => (Scope::Pop(n.into()), m),
            _ => {
                return Err(bad(
                    "the target is METRIC, region:NAME:METRIC or pop:NAME:METRIC".into(),
                ))
            }
        };
        let metric = Metric::from_name(metric).ok_or_else(|| {
            bad(format!(
                "unknown metric {metric:?} (metrics: {})",
                Metric::names()
            ))
        })?;
        let amount = amount.trim();
        let allowed = if let Some(pct) = amount.strip_suffix('%') {
            let p: f64 = pct
                .trim()
                .parse()
                .map_err(|_| bad(format!("{amount:?} is not a percentage")))?;
            Allowed::Relative(p / 100.0)
        } else if let Ok(v) = amount.parse::<f64>() {
            Allowed::Absolute(v)
        } else if metric.is_latency() {
            let d = cache::units::parse_duration(amount).map_err(|e| bad(e.to_string()))?;
            Allowed::Absolute(d.as_secs_f64() * 1000.0)
        } else {
            return Err(bad(format!(
                "{amount:?} is neither a percentage nor a number"
            )));
        };
        match allowed {
            Allowed::Relative(v) | Allowed::Absolute(v) if !(v.is_finite() && v >= 0.0) => {
                Err(bad(format!("{amount:?} must be a finite amount ≥ 0")))
            }
            _ => Ok(Limit {
                scope,
                metric,
                allowed,
                text: text.into(),
            }),
        }
    }
}

/// How much worse `candidate` is than `baseline` for `metric` (negative: better).
fn worsening(metric: Metric, baseline: f64, candidate: f64) -> f64 {
    if metric.higher_is_better() {
        baseline - candidate
    } else {
        candidate - baseline
    }
}

fn load(path: &Path) -> Result<Value> {
    let file = if path.is_dir() {
        path.join("summary.json")
    } else {
        path.to_path_buf()
    };
    let text =
        std::fs::read_to_string(&file).map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| BadInput(format!("{}: not a run summary: {e}", file.display())))?;
    if !v.is_object() || v.get("regions").is_none() {
        return Err(BadInput(format!(
            "{}: not a run summary (no \"regions\")",
            file.display()
        ))
        .into());
    }
    Ok(v)
}

/// The scopes both summaries have, in the baseline's order: the run, then regions, then PoPs.
fn shared_scopes(base: &Value, cand: &Value) -> Vec<Scope> {
    let mut scopes = vec![Scope::Run];
    for (key, make) in [
        ("regions", Scope::Region as fn(String) -> Scope),
        ("pops", Scope::Pop),
    ] {
        if let Some(names) = base[key].as_object() {
            for n in names.keys() {
                if cand[key].get(n).is_some() {
                    scopes.push(make(n.clone()));
                }
            }
        }
    }
    scopes
}

fn format_value(metric: Metric, v: f64) -> String {
    if metric.is_latency() {
        format!("{v:.2} ms")
    } else if matches!(metric, Metric::ThroughputRps | Metric::IntegrityFailures) {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

fn change_text(metric: Metric, base: f64, cand: f64) -> String {
    let rel = if base != 0.0 {
        format!(" ({:+.1} %)", (cand - base) / base.abs() * 100.0)
    } else {
        String::new()
    };
    let verdict = match worsening(metric, base, cand) {
        w if w > 0.0 => "worse",
        w if w < 0.0 => "better",
        _ => "same",
    };
    let d = cand - base;
    let delta = if metric.is_latency() {
        format!("{d:+.2} ms")
    } else if matches!(metric, Metric::ThroughputRps | Metric::IntegrityFailures) {
        format!("{d:+.1}")
    } else {
        format!("{d:+.4}")
    };
    format!("{delta}{rel} {verdict}")
}

pub fn run(a: CompareArgs) -> Result<()> {
    let limits = a
        .max_regression
        .iter()
        .map(|t| Limit::parse(t).map_err(BadInput))
        .collect::<Result<Vec<_>, _>>()?;
    let base = load(&a.baseline)?;
    let cand = load(&a.candidate)?;
    for key in ["scenario", "seed"] {
        if base[key] != cand[key] {
            eprintln!(
                "cdnlab: note: the runs differ in {key} ({} vs {})",
                base[key], cand[key]
            );
        }
    }
    let mut rows = Vec::new();
    for scope in shared_scopes(&base, &cand) {
        for (metric, name) in Metric::ALL {
            let (Some(b), Some(c)) = (
                value_of(scope.object(&base), metric),
                value_of(scope.object(&cand), metric),
            ) else {
                continue;
            };
            rows.push((scope.clone(), metric, name, b, c));
        }
    }
    let mut failed = Vec::new();
    let mut checks = Vec::new();
    for l in &limits {
        // A name the summaries lack is an error: a typo must not pass as "no regression".
        let value = |which: &str, s: &Value| {
            value_of(l.scope.object(s), l.metric).ok_or_else(|| {
                BadInput(format!(
                    "--max-regression {:?}: the {which} has no {} for {}",
                    l.text,
                    l.metric.name(),
                    l.scope.label()
                ))
            })
        };
        let (b, c) = (value("baseline", &base)?, value("candidate", &cand)?);
        let worse = worsening(l.metric, b, c);
        let ok = match l.allowed {
            Allowed::Absolute(x) => worse <= x,
            // From a baseline of 0 any worsening is an infinite share.
            Allowed::Relative(x) => worse <= 0.0 || (b != 0.0 && worse / b.abs() <= x),
        };
        if !ok {
            failed.push(format!(
                "{} ({}) {} → {}, beyond {}",
                l.metric.name(),
                l.scope.label(),
                format_value(l.metric, b),
                format_value(l.metric, c),
                l.text.rsplit('=').next().unwrap_or_default()
            ));
        }
        checks.push((l, b, c, ok));
    }
    if a.json {
        let out = json!({
            "metrics": rows.iter().map(|(s, _, name, b, c)| json!({
                "scope": s.label(), "metric": name, "baseline": b, "candidate": c,
            })).collect::<Vec<_>>(),
            "limits": checks.iter().map(|(l, b, c, ok)| json!({
                "limit": l.text, "scope": l.scope.label(), "metric": l.metric.name(),
                "baseline": b, "candidate": c, "ok": ok,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{:<18} {:<18} {:>14} {:>14}  change",
            "scope", "metric", "baseline", "candidate"
        );
        for (scope, metric, name, b, c) in &rows {
            println!(
                "{:<18} {:<18} {:>14} {:>14}  {}",
                scope.label(),
                name,
                format_value(*metric, *b),
                format_value(*metric, *c),
                change_text(*metric, *b, *c)
            );
        }
        for (l, _, _, ok) in &checks {
            println!("limit {} → {}", l.text, if *ok { "ok" } else { "EXCEEDED" });
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(AssertionsFailed(format!("regressed: {}", failed.join("; "))).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse() {
        let l = Limit::parse("latency_p99=10%").unwrap();
        assert_eq!(
            (l.scope, l.metric, l.allowed),
            (Scope::Run, Metric::LatencyP99, Allowed::Relative(0.1))
        );
        let l = Limit::parse("region:eu:latency_p50=5ms").unwrap();
        assert_eq!(
            (l.scope, l.allowed),
            (Scope::Region("eu".into()), Allowed::Absolute(5.0))
        );
        let l = Limit::parse("pop:fra:hit_ratio=0.02").unwrap();
        assert_eq!(
            (l.scope, l.allowed),
            (Scope::Pop("fra".into()), Allowed::Absolute(0.02))
        );
        for bad in [
            "latency_p99",
            "p99=10%",
            "hit_ratio=5ms",
            "hit_ratio=-1",
            "x:y:hit_ratio=1",
            "region::hit_ratio=1",
            "latency_p99=ten%",
        ] {
            assert!(Limit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn worse_is_by_direction() {
        assert_eq!(worsening(Metric::LatencyP99, 10.0, 12.0), 2.0);
        assert_eq!(worsening(Metric::HitRatio, 0.75, 0.5), 0.25);
        assert!(worsening(Metric::ThroughputRps, 100.0, 120.0) < 0.0);
    }
}
