//! `report.html`: one self-contained page (no scripts, no external files) that shows a run
//! folder to a person — the headline figures, the assertions, regions and PoPs, and charts per
//! second drawn as inline SVG from `timeline.csv`.

use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Colours for the regions' lines, in order (a colour-blind-safe palette).
const COLOURS: [&str; 8] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000",
];

/// A chart's series: its title, how to read it from a row, whether it is a ratio in [0, 1].
type Series = (&'static str, fn(&Second) -> f64, bool);

/// One row of `timeline.csv`.
struct Second {
    second: f64,
    region: String,
    measured: bool,
    requests: f64,
    hit_ratio: f64,
    p50: f64,
    p99: f64,
}

/// Writes `dir/report.html` from `summary` and `dir/timeline.csv` (already written).
pub fn write(dir: &Path, summary: &Value) -> Result<()> {
    let timeline = read_timeline(&dir.join("timeline.csv"))?;
    let html = render(summary, &timeline);
    let path = dir.join("report.html");
    std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))
}

fn read_timeline(path: &Path) -> Result<Vec<Second>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = r.headers()?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let idx = [
        "second",
        "region",
        "measured",
        "requests",
        "hit_ratio",
        "latency_p50_ms",
        "latency_p99_ms",
    ]
    .map(col);
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec?;
        let field = |i: usize| idx[i].and_then(|c| rec.get(c)).unwrap_or("");
        let num = |i: usize| field(i).parse::<f64>().unwrap_or(f64::NAN);
        out.push(Second {
            second: num(0),
            region: field(1).to_string(),
            measured: field(2) == "true",
            requests: num(3),
            hit_ratio: num(4),
            p50: num(5),
            p99: num(6),
        });
    }
    Ok(out)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A JSON number as text with `digits` decimals; "–" when absent.
fn num(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map_or_else(|| "–".to_string(), |x| format!("{x:.digits$}"))
}

fn render(s: &Value, timeline: &[Second]) -> String {
    let mut h = String::new();
    let name = esc(s["scenario"].as_str().unwrap_or("run"));
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cdnlab: {name}</title>\n<style>\n\
         body{{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}}\n\
         table{{border-collapse:collapse;margin:0.5em 0 1.5em}}td,th{{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}}\n\
         th:first-child,td:first-child{{text-align:left}}.bad{{color:#b00;font-weight:bold}}.ok{{color:#070}}\n\
         .figs{{display:flex;flex-wrap:wrap;gap:1.5em}}.fig b{{display:block;font-size:22px}}\n\
         .charts{{display:grid;grid-template-columns:1fr 1fr;gap:1em}}svg{{background:#fafafa}}\n\
         </style></head><body>\n<h1>{name}</h1>\n"
    );
    let _ = writeln!(
        h,
        "<p>seed {} · started {} · measured {} s after {} s of warm-up{}</p>",
        esc(&s["seed"].to_string()),
        esc(s["started_at"].as_str().unwrap_or("?")),
        num(&s["duration_s"], 1),
        num(&s["warmup_s"], 1),
        if s["interrupted"] == true {
            " · <span class=\"bad\">interrupted</span>"
        } else {
            ""
        }
    );
    headline(&mut h, s);
    assertions(&mut h, s);
    scopes(&mut h, "Regions", &s["regions"], &[]);
    scopes(
        &mut h,
        "PoPs",
        &s["pops"],
        &[("origin offload", "origin_offload")],
    );
    charts(&mut h, timeline);
    h.push_str(
        "<p>The same figures, and more, are in this folder: <code>summary.json</code>, \
         <code>regions.csv</code>, <code>pops.csv</code>, <code>timeline.csv</code>, \
         <code>latency.hlog</code>.</p>\n</body></html>\n",
    );
    h
}

fn headline(h: &mut String, s: &Value) {
    let bad = |v: &Value| v.as_f64().is_some_and(|x| x > 0.0);
    let figs = [
        ("requests", num(&s["requests"], 0), false),
        ("requests/s", num(&s["throughput_rps"], 1), false),
        ("hit ratio", num(&s["hit_ratio"], 3), false),
        ("origin offload", num(&s["origin_offload"], 3), false),
        ("p50 ms", num(&s["latency_ms"]["p50"], 2), false),
        ("p99 ms", num(&s["latency_ms"]["p99"], 2), false),
        ("errors", num(&s["errors"], 0), bad(&s["errors"])),
        (
            "integrity failures",
            num(&s["integrity_failures"], 0),
            bad(&s["integrity_failures"]),
        ),
    ];
    h.push_str("<div class=\"figs\">\n");
    for (label, value, is_bad) in figs {
        let class = if is_bad { " class=\"bad\"" } else { "" };
        let _ = writeln!(h, "<div class=\"fig\"><b{class}>{value}</b>{label}</div>");
    }
    h.push_str("</div>\n");
}

fn assertions(h: &mut String, s: &Value) {
    let Some(list) = s["assertions"].as_array().filter(|a| !a.is_empty()) else {
        return;
    };
    h.push_str("<h2>Assertions</h2>\n<table><tr><th>metric</th><th>scope</th><th>min</th><th>max</th><th>value</th><th></th></tr>\n");
    for a in list {
        let ok = a["ok"] == true;
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(a["metric"].as_str().unwrap_or("")),
            esc(a["scope"].as_str().unwrap_or("")),
            num(&a["limit"]["min"], 3),
            num(&a["limit"]["max"], 3),
            num(&a["value"], 3),
            if ok { "ok" } else { "bad" },
            if ok { "holds" } else { "FAILS" }
        );
    }
    h.push_str("</table>\n");
}

/// A table of the regions or PoPs of the summary, one row each.
fn scopes(h: &mut String, title: &str, map: &Value, extra: &[(&str, &str)]) {
    let Some(map) = map.as_object().filter(|m| !m.is_empty()) else {
        return;
    };
    let _ = write!(
        h,
        "<h2>{title}</h2>\n<table><tr><th>name</th><th>requests</th><th>req/s</th><th>hit ratio</th><th>byte hit ratio</th>"
    );
    for (label, _) in extra {
        let _ = write!(h, "<th>{label}</th>");
    }
    h.push_str("<th>p50 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>errors</th><th>integrity failures</th></tr>\n");
    for (name, v) in map {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            esc(name),
            num(&v["requests"], 0),
            num(&v["throughput_rps"], 1),
            num(&v["hit_ratio"], 3),
            num(&v["byte_hit_ratio"], 3)
        );
        for (_, key) in extra {
            let _ = write!(h, "<td>{}</td>", num(&v[*key], 3));
        }
        let _ = writeln!(
            h,
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            num(&v["latency_ms"]["p50"], 2),
            num(&v["latency_ms"]["p99"], 2),
            num(&v["latency_ms"]["p999"], 2),
            num(&v["errors"], 0),
            num(&v["integrity_failures"], 0)
        );
    }
    h.push_str("</table>\n");
}

fn charts(h: &mut String, timeline: &[Second]) {
    if timeline.is_empty() {
        return;
    }
    let mut regions: BTreeMap<&str, Vec<&Second>> = BTreeMap::new();
    for row in timeline {
        regions.entry(&row.region).or_default().push(row);
    }
    h.push_str("<h2>Per second</h2>\n<p>");
    for (i, name) in regions.keys().enumerate() {
        let _ = write!(
            h,
            "<span style=\"color:{}\">■</span> {} &nbsp; ",
            COLOURS[i % COLOURS.len()],
            esc(name)
        );
    }
    h.push_str("(shaded: warm-up)</p>\n<div class=\"charts\">\n");
    let series: [Series; 4] = [
        ("requests / s", |r| r.requests, false),
        ("hit ratio", |r| r.hit_ratio, true),
        ("latency p50, ms", |r| r.p50, false),
        ("latency p99, ms", |r| r.p99, false),
    ];
    for (title, get, unit_scale) in series {
        chart(h, title, &regions, get, unit_scale, timeline);
    }
    h.push_str("</div>\n");
}

/// One line chart: x the second, y `get`, a line per region; `unit` fixes y to [0, 1].
fn chart(
    h: &mut String,
    title: &str,
    regions: &BTreeMap<&str, Vec<&Second>>,
    get: fn(&Second) -> f64,
    unit: bool,
    all: &[Second],
) {
    const W: f64 = 520.0;
    const H: f64 = 220.0;
    const L: f64 = 48.0; // room for the y labels
    const B: f64 = 24.0; // room for the x labels
    let finite = || all.iter().map(get).filter(|v| v.is_finite());
    let x_max = all.iter().map(|r| r.second).fold(0.0, f64::max).max(1.0);
    let y_max = if unit {
        1.0
    } else {
        finite().fold(0.0, f64::max).max(1e-9) * 1.05
    };
    let x = |s: f64| L + s / x_max * (W - L - 8.0);
    let y = |v: f64| H - B - v / y_max * (H - B - 18.0);
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{title}\">\
         <text x=\"{L}\" y=\"13\" font-size=\"13\">{title}</text>"
    );
    // Warm-up seconds shaded.
    if let Some(end) = all
        .iter()
        .filter(|r| !r.measured)
        .map(|r| r.second)
        .reduce(f64::max)
    {
        let _ = write!(
            h,
            "<rect x=\"{L}\" y=\"18\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#eee\"/>",
            x(end + 1.0).min(W - 8.0) - L,
            H - B - 18.0
        );
    }
    // Axes, with the bounds as labels.
    let _ = write!(
        h,
        "<line x1=\"{L}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#888\"/><line x1=\"{L}\" y1=\"18\" x2=\"{L}\" y2=\"{0}\" stroke=\"#888\"/>\
         <text x=\"{2}\" y=\"{3}\" font-size=\"11\" text-anchor=\"end\">{4}</text><text x=\"{2}\" y=\"{5}\" font-size=\"11\" text-anchor=\"end\">0</text>\
         <text x=\"{L}\" y=\"{6}\" font-size=\"11\">0 s</text><text x=\"{1}\" y=\"{6}\" font-size=\"11\" text-anchor=\"end\">{7} s</text>",
        H - B,
        W - 8.0,
        L - 4.0,
        26.0,
        tick(y_max),
        H - B,
        H - 6.0,
        x_max
    );
    for (i, rows) in regions.values().enumerate() {
        let mut points = String::new();
        for r in rows {
            let v = get(r);
            if v.is_finite() {
                let _ = write!(points, "{:.1},{:.1} ", x(r.second), y(v));
            }
        }
        let _ = write!(
            h,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>",
            COLOURS[i % COLOURS.len()],
            points.trim_end()
        );
    }
    h.push_str("</svg>\n");
}

/// The y axis's top label: few digits.
fn tick(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_page_has_the_figures_and_escapes_names() {
        let s = json!({
            "scenario": "a<b>", "seed": 7, "started_at": "2026-11-22T00:00:00Z",
            "duration_s": 10.0, "warmup_s": 2.0, "interrupted": false,
            "requests": 1234, "throughput_rps": 123.4, "hit_ratio": 0.75, "origin_offload": 0.7,
            "latency_ms": {"p50": 12.5, "p99": 80.25}, "errors": 3, "integrity_failures": 0,
            "assertions": [{"metric": "hit_ratio", "scope": "run", "limit": {"min": 0.8, "max": null}, "value": 0.75, "ok": false}],
            "regions": {"eu&x": {"requests": 1234, "hit_ratio": 0.75, "latency_ms": {"p50": 12.5}}},
            "pops": {}
        });
        let t = vec![
            Second {
                second: 0.0,
                region: "eu&x".into(),
                measured: false,
                requests: 100.0,
                hit_ratio: 0.1,
                p50: 10.0,
                p99: 50.0,
            },
            Second {
                second: 1.0,
                region: "eu&x".into(),
                measured: true,
                requests: 120.0,
                hit_ratio: 0.7,
                p50: 12.0,
                p99: f64::NAN,
            },
        ];
        let html = render(&s, &t);
        assert!(html.contains("<title>cdnlab: a&lt;b&gt;</title>"));
        assert!(html.contains("<b>0.750</b>hit ratio"));
        assert!(html.contains("<b class=\"bad\">3</b>errors"));
        assert!(html.contains("FAILS"));
        assert!(html.contains("<td>eu&amp;x</td>"));
        assert_eq!(html.matches("<svg").count(), 4);
        // A missing value leaves a gap rather than a point at NaN.
        assert!(!html.contains("NaN"));
        assert!(!html.contains("PoPs"), "an empty table is left out");
    }
}
