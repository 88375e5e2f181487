//! Evaluating a scenario's `[[assert]]`s against the summary: each gets its value, its
//! scope's name and whether it holds; the run exits 3 if any does not.

use crate::scenario::{Assertion, Metric, Scenario, Scope};
use serde_json::{json, Value};

/// The value of `metric` in a summary object (the run's, a region's or a PoP's).
pub fn value_of(obj: &Value, metric: Metric) -> Option<f64> {
    let path: &[&str] = match metric {
        Metric::HitRatio => &["hit_ratio"],
        Metric::ByteHitRatio => &["byte_hit_ratio"],
        Metric::OriginOffload => &["origin_offload"],
        Metric::LatencyP50 => &["latency_ms", "p50"],
        Metric::LatencyP90 => &["latency_ms", "p90"],
        Metric::LatencyP99 => &["latency_ms", "p99"],
        Metric::LatencyP999 => &["latency_ms", "p999"],
        Metric::TtfbP99 => &["ttfb_ms", "p99"],
        Metric::ThroughputRps => &["throughput_rps"],
        Metric::ErrorRate => &["error_rate"],
        Metric::IntegrityFailures => &["integrity_failures"],
    };
    path.iter().try_fold(obj, |v, k| v.get(k))?.as_f64()
}

/// Evaluates every assertion; returns the `assertions` array of the summary and whether all
/// hold. A metric the scope does not have (a region's origin offload) fails.
pub fn evaluate(scn: &Scenario, summary: &Value) -> (Value, bool) {
    let mut all = true;
    let list = scn
        .asserts
        .iter()
        .map(|a: &Assertion| {
            let (scope, obj) = match a.scope {
                Scope::Run => ("run".to_string(), summary),
                Scope::Region(i) => {
                    let n = &scn.regions[i].name;
                    (format!("region {n}"), &summary["regions"][n])
                }
                Scope::Pop(i) => {
                    let n = &scn.pops[i].name;
                    (format!("pop {n}"), &summary["pops"][n])
                }
            };
            let value = value_of(obj, a.metric);
            let ok =
                value.is_some_and(|v| a.min.is_none_or(|m| v >= m) && a.max.is_none_or(|m| v <= m));
            all &= ok;
            json!({
                "metric": a.metric.name(),
                "scope": scope,
                "limit": { "min": a.min, "max": a.max },
                "unit": if a.metric.is_latency() { "ms" } else { "" },
                "value": value,
                "ok": ok,
            })
        })
        .collect();
    (Value::Array(list), all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let s = json!({"hit_ratio": 0.5, "latency_ms": {"p99": 12.5}, "origin_offload": null});
        assert_eq!(value_of(&s, Metric::HitRatio), Some(0.5));
        assert_eq!(value_of(&s, Metric::LatencyP99), Some(12.5));
        assert_eq!(value_of(&s, Metric::OriginOffload), None);
        assert_eq!(value_of(&s, Metric::ErrorRate), None);
    }
}
