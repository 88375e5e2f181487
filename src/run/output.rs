//! The run folder: `summary.json` (everything a run measured, per run, region, PoP, class and
//! phase), `regions.csv`, `pops.csv`, `timeline.csv`, `latency.hlog` and, on request, the
//! request sequence as an oracleGeneral trace.

use super::edges::Metrics;
use crate::scenario::Scenario;
use anyhow::{Context, Result};
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use loadgen::{Bucket, Figures, Report};
use serde_json::{json, Map, Value};
use sim::origin::OriginStats;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What the runner gathered besides the viewers' report.
pub struct Gathered<'a> {
    pub scenario: &'a Scenario,
    pub report: &'a Report,
    /// Origin counters at the start and at the end of the measured period.
    pub origins: Vec<(OriginStats, OriginStats)>,
    /// Each PoP's metrics at the start and at the end of the measured period.
    pub pops: Vec<(Option<Metrics>, Option<Metrics>)>,
    /// Round-trip time of each region to its PoP, and of each PoP to its upstream.
    pub region_rtts: Vec<Duration>,
    pub pop_rtts: Vec<Duration>,
    /// CPU seconds: the viewers' threads, the world's threads (origins and links), each edge.
    pub cpu_viewers: Option<f64>,
    pub cpu_world: Option<f64>,
    pub cpu_edges: Vec<Option<f64>>,
    pub started_at: SystemTime,
    pub interrupted: bool,
    /// Seconds actually measured: the duration, or less for an interrupted run.
    pub measured_s: f64,
}

fn figures_value(f: &Figures) -> Map<String, Value> {
    match serde_json::to_value(f).expect("figures serialize") {
        Value::Object(m) => m,
        _ => unreachable!("a struct serializes to an object"),
    }
}

fn merged<'a>(buckets: impl Iterator<Item = &'a Bucket>) -> Bucket {
    let mut b = Bucket::new(3);
    for x in buckets {
        b.merge(x);
    }
    b
}

fn offload(origin_requests: f64, requests: u64) -> Value {
    if requests == 0 {
        Value::Null
    } else {
        json!(1.0 - origin_requests / requests as f64)
    }
}

/// Builds `summary.json`.
pub fn summary(g: &Gathered<'_>) -> Value {
    let scn = g.scenario;
    let secs = g.measured_s;
    let regions = &g.report.regions;
    let total = merged(regions.iter().map(|r| &r.total));
    let mut top = Map::new();
    top.insert("scenario".into(), json!(scn.name));
    top.insert("seed".into(), json!(scn.seed));
    top.insert("duration_s".into(), json!(secs));
    top.insert(
        "scheduled_duration_s".into(),
        json!(scn.duration.as_secs_f64()),
    );
    top.insert("warmup_s".into(), json!(scn.warmup.as_secs_f64()));
    top.insert(
        "started_at".into(),
        json!(humantime::format_rfc3339_seconds(g.started_at).to_string()),
    );
    top.insert("interrupted".into(), json!(g.interrupted));
    let origin_requests: u64 = g
        .origins
        .iter()
        .map(|(a, b)| b.requests.saturating_sub(a.requests))
        .sum();
    let mut run = figures_value(&total.figures(secs));
    run.insert("origin_requests".into(), json!(origin_requests));
    run.insert(
        "origin_offload".into(),
        offload(origin_requests as f64, total.counters.requests),
    );
    top.extend(run);

    let mut warm = loadgen::Counters::default();
    for r in regions {
        warm.merge(&r.warmup);
    }
    top.insert(
        "warmup".into(),
        json!({
            "requests": warm.requests,
            "errors": warm.errors,
            "hit_ratio": ratio(warm.hits, warm.requests - warm.transport_errors - warm.timeouts),
            "unsent_requests": warm.unsent,
        }),
    );

    let mut rmap = Map::new();
    for (i, (r, rep)) in scn.regions.iter().zip(regions).enumerate() {
        let mut m = figures_value(&rep.total.figures(secs));
        m.insert("pop".into(), json!(scn.pops[r.pop].name));
        m.insert("site".into(), json!(scn.world.name(r.site)));
        m.insert("rtt_ms".into(), json!(ms(g.region_rtts[i])));
        m.insert("protocol".into(), json!(r.protocol.name()));
        rmap.insert(r.name.clone(), Value::Object(m));
    }
    top.insert("regions".into(), Value::Object(rmap));

    let mut pmap = Map::new();
    for (p, pop) in scn.pops.iter().enumerate() {
        let b = merged(
            scn.regions
                .iter()
                .zip(regions)
                .filter(|(r, _)| r.pop == p)
                .map(|(_, rep)| &rep.total),
        );
        let mut m = figures_value(&b.figures(secs));
        m.insert("site".into(), json!(scn.world.name(pop.site)));
        m.insert(
            "parent".into(),
            json!(pop.parent.map(|q| scn.pops[q].name.clone())),
        );
        m.insert("upstream_rtt_ms".into(), json!(ms(g.pop_rtts[p])));
        m.insert("cpu_seconds".into(), json!(g.cpu_edges[p]));
        if let (Some(a), Some(z)) = &g.pops[p] {
            let d = z.since(a);
            let edge_requests: f64 = d.requests.values().sum();
            m.insert("origin_requests".into(), json!(d.origin_requests));
            m.insert(
                "origin_offload".into(),
                if edge_requests > 0.0 {
                    json!(1.0 - d.origin_requests / edge_requests)
                } else {
                    Value::Null
                },
            );
            m.insert(
                "edge".into(),
                json!({
                    "requests": edge_requests,
                    "by_result": d.requests,
                    "upstream_requests": d.origin_requests,
                    "sent_bytes": d.sent_bytes,
                    "cache_bytes": d.cache_bytes,
                    "cache_metadata_bytes": d.cache_metadata_bytes,
                    "cache_objects": d.cache_objects,
                    "evictions": d.evictions,
                }),
            );
        } else {
            m.insert("origin_requests".into(), Value::Null);
            m.insert("origin_offload".into(), Value::Null);
        }
        pmap.insert(pop.name.clone(), Value::Object(m));
    }
    top.insert("pops".into(), Value::Object(pmap));

    let mut cmap = Map::new();
    for (c, entry) in scn.workload.mix.iter().enumerate() {
        let b = merged(regions.iter().map(|r| &r.classes[c]));
        cmap.insert(
            entry.class.clone(),
            Value::Object(figures_value(&b.figures(secs))),
        );
    }
    top.insert("classes".into(), Value::Object(cmap));

    let mut phases = Vec::new();
    for ph in 0..=scn.workload.phases.len() {
        let (from, to) = phase_bounds(scn, ph);
        let b = merged(regions.iter().map(|r| &r.phases[ph]));
        let mut m = figures_value(&b.figures((to - from).max(0.0)));
        m.insert("from_s".into(), json!(from));
        m.insert("to_s".into(), json!(to));
        phases.push(Value::Object(m));
    }
    top.insert("phases".into(), Value::Array(phases));

    let mut omap = Map::new();
    for (o, (a, b)) in scn.origins.iter().zip(&g.origins) {
        omap.insert(
            o.name.clone(),
            json!({
                "site": scn.world.name(o.site),
                "requests": b.requests.saturating_sub(a.requests),
                "bytes": b.bytes.saturating_sub(a.bytes),
                "not_modified": b.not_modified.saturating_sub(a.not_modified),
            }),
        );
    }
    top.insert("origins".into(), Value::Object(omap));

    let finished: u64 = regions
        .iter()
        .map(|r| r.total.counters.requests + r.warmup.requests)
        .sum();
    top.insert(
        "generator".into(),
        json!({
            "requests": finished,
            "cpu_seconds": g.cpu_viewers,
            "cpu_us_per_request": g.cpu_viewers.filter(|_| finished > 0).map(|c| c * 1e6 / finished as f64),
            "world_cpu_seconds": g.cpu_world,
        }),
    );
    Value::Object(top)
}

/// The measured-period seconds a phase covers (0: before the first phase).
fn phase_bounds(scn: &Scenario, ph: usize) -> (f64, f64) {
    let d = scn.duration.as_secs_f64();
    let at = |i: usize| scn.workload.phases[i].at.as_secs_f64().min(d);
    let from = if ph == 0 { 0.0 } else { at(ph - 1) };
    let to = if ph < scn.workload.phases.len() {
        at(ph)
    } else {
        d
    };
    (from, to)
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

const FIGURE_COLUMNS: [&str; 20] = [
    "requests",
    "errors",
    "error_rate",
    "hit_ratio",
    "byte_hit_ratio",
    "throughput_rps",
    "throughput_bps",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_p999_ms",
    "latency_max_ms",
    "latency_mean_ms",
    "ttfb_p50_ms",
    "ttfb_p99_ms",
    "service_p50_ms",
    "send_lag_p99_ms",
    "integrity_failures",
    "stale_responses",
    "unsent_requests",
];

fn figure_cells(m: &Map<String, Value>) -> Vec<String> {
    let get = |k: &str| m.get(k).cloned().unwrap_or(Value::Null);
    let sub = |k: &str, p: &str| {
        m.get(k)
            .and_then(|v| v.get(p))
            .cloned()
            .unwrap_or(Value::Null)
    };
    [
        get("requests"),
        get("errors"),
        get("error_rate"),
        get("hit_ratio"),
        get("byte_hit_ratio"),
        get("throughput_rps"),
        get("throughput_bps"),
        sub("latency_ms", "p50"),
        sub("latency_ms", "p90"),
        sub("latency_ms", "p99"),
        sub("latency_ms", "p999"),
        sub("latency_ms", "max"),
        sub("latency_ms", "mean"),
        sub("ttfb_ms", "p50"),
        sub("ttfb_ms", "p99"),
        sub("service_ms", "p50"),
        sub("send_lag_ms", "p99"),
        get("integrity_failures"),
        get("stale_responses"),
        get("unsent_requests"),
    ]
    .iter()
    .map(cell)
    .collect()
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.6}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string(),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn write_table(
    path: &Path,
    lead: &[&str],
    extra: &[&str],
    rows: impl Iterator<Item = (Vec<String>, Map<String, Value>)>,
) -> Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    let header: Vec<&str> = lead
        .iter()
        .copied()
        .chain(FIGURE_COLUMNS)
        .chain(extra.iter().copied())
        .collect();
    w.write_record(&header)?;
    for (lead_cells, m) in rows {
        let mut rec = lead_cells;
        rec.extend(figure_cells(&m));
        rec.extend(
            extra
                .iter()
                .map(|k| cell(m.get(*k).unwrap_or(&Value::Null))),
        );
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}

/// Writes the run folder's tables and histogram log.
pub fn write_files(dir: &Path, g: &Gathered<'_>, summary: &Value) -> Result<()> {
    let scn = g.scenario;
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(summary)? + "\n",
    )?;
    let obj = |k: &str, name: &str| -> Map<String, Value> {
        summary[k][name].as_object().cloned().unwrap_or_default()
    };
    write_table(
        &dir.join("regions.csv"),
        &["region", "pop"],
        &["rtt_ms"],
        scn.regions.iter().map(|r| {
            (
                vec![r.name.clone(), scn.pops[r.pop].name.clone()],
                obj("regions", &r.name),
            )
        }),
    )?;
    write_table(
        &dir.join("pops.csv"),
        &["pop", "site"],
        &[
            "origin_requests",
            "origin_offload",
            "upstream_rtt_ms",
            "cpu_seconds",
        ],
        scn.pops.iter().map(|p| {
            (
                vec![p.name.clone(), scn.world.name(p.site).to_string()],
                obj("pops", &p.name),
            )
        }),
    )?;
    write_timeline(&dir.join("timeline.csv"), g)?;
    write_hlog(&dir.join("latency.hlog"), g)?;
    Ok(())
}

fn write_timeline(path: &Path, g: &Gathered<'_>) -> Result<()> {
    let scn = g.scenario;
    let warmup = scn.warmup.as_secs_f64();
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record([
        "second",
        "region",
        "measured",
        "requests",
        "hits",
        "hit_ratio",
        "errors",
        "bytes",
        "latency_p50_ms",
        "latency_p99_ms",
        "latency_max_ms",
        "unsent_requests",
    ])?;
    let n = g
        .report
        .regions
        .iter()
        .map(|r| r.seconds.len())
        .max()
        .unwrap_or(0);
    for s in 0..n {
        for (r, rep) in scn.regions.iter().zip(&g.report.regions) {
            let Some(sec) = rep.seconds.get(s) else {
                continue;
            };
            let c = &sec.counters;
            let h = &sec.latency;
            let q = |p: f64| {
                if h.is_empty() {
                    String::new()
                } else {
                    cell(&json!(h.value_at_quantile(p) as f64 / 1000.0))
                }
            };
            w.write_record([
                s.to_string(),
                r.name.clone(),
                (s as f64 >= warmup).to_string(),
                c.requests.to_string(),
                c.hits.to_string(),
                cell(&json!(ratio(
                    c.hits,
                    c.requests - c.transport_errors - c.timeouts
                ))),
                c.errors.to_string(),
                c.bytes.to_string(),
                q(0.5),
                q(0.99),
                if h.is_empty() {
                    String::new()
                } else {
                    cell(&json!(h.max() as f64 / 1000.0))
                },
                c.unsent.to_string(),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

/// One interval per second per region (tag = region name), latency in microseconds with a
/// max-value divisor of 1000 so that the log's max column reads in milliseconds.
fn write_hlog(path: &Path, g: &Gathered<'_>) -> Result<()> {
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?,
    );
    let mut ser = V2DeflateSerializer::new();
    let start = g.started_at;
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment(&format!(
            "cdnlab run of scenario {}: latency from the scheduled instant, microseconds; one interval per second per region (tag)",
            g.scenario.name
        ))
        .with_start_time(start)
        .with_base_time(start)
        .with_max_value_divisor(1000.0)
        .begin_log_with(&mut file, &mut ser)?;
    let n = g
        .report
        .regions
        .iter()
        .map(|r| r.seconds.len())
        .max()
        .unwrap_or(0);
    for s in 0..n {
        for (r, rep) in g.scenario.regions.iter().zip(&g.report.regions) {
            let Some(sec) = rep.seconds.get(s) else {
                continue;
            };
            let tag = Tag::new(&r.name);
            log.write_histogram(
                &sec.latency,
                Duration::from_secs(s as u64),
                Duration::from_secs(1),
                tag,
            )
            .map_err(|e| anyhow::anyhow!("writing {}: {e:?}", path.display()))?;
        }
    }
    drop(log);
    use std::io::Write;
    file.flush()?;
    Ok(())
}

/// Writes the requests in the order they were sent as an oracleGeneral trace: time in
/// seconds since traffic began, id = xxh3-64 of the path, size = the object's size.
pub fn write_trace(
    path: &Path,
    g: &Gathered<'_>,
    catalog: &[loadgen::CatalogClass],
) -> Result<u64> {
    let records: Vec<sim::trace::Record> = g
        .report
        .sequence
        .iter()
        .map(|s| {
            let c = &catalog[s.entry as usize];
            sim::trace::Record {
                time: s.scheduled_us / 1_000_000,
                id: sim::trace::hash_id(c.path(s.index).as_bytes()),
                size: c.size(s.index),
                next_access: cache::NEVER,
            }
        })
        .collect();
    let mut reader = VecReader { records, at: 0 };
    sim::synth::write_oracle_general(&mut reader, path)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}

struct VecReader {
    records: Vec<sim::trace::Record>,
    at: usize,
}

impl sim::trace::TraceReader for VecReader {
    fn read_batch(
        &mut self,
        out: &mut Vec<sim::trace::Record>,
        max: usize,
    ) -> Result<usize, sim::trace::TraceError> {
        out.clear();
        let n = max.min(self.records.len() - self.at);
        out.extend_from_slice(&self.records[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
