//! `cdnlab compare` through the binary, on hand-written summaries: the table, the limits
//! (relative, absolute, durations, per region and PoP, by each metric's better direction),
//! exit 3 past a limit and exit 2 on bad input.

use serde_json::json;
use std::path::Path;
use std::process::Command;

fn summary(p99: f64, hit_ratio: f64, rps: f64, eu_p50: f64) -> serde_json::Value {
    let lat =
        |p50: f64, p99: f64| json!({"p50": p50, "p90": p99 * 0.8, "p99": p99, "p999": p99 * 1.5});
    json!({
        "scenario": "s", "seed": 1,
        "hit_ratio": hit_ratio, "byte_hit_ratio": hit_ratio, "origin_offload": hit_ratio,
        "latency_ms": lat(20.0, p99), "ttfb_ms": lat(10.0, p99),
        "throughput_rps": rps, "error_rate": 0.0, "integrity_failures": 0,
        "regions": {
            "eu": {"hit_ratio": hit_ratio, "latency_ms": lat(eu_p50, p99), "throughput_rps": rps / 2.0},
            "us": {"hit_ratio": hit_ratio, "latency_ms": lat(30.0, p99), "throughput_rps": rps / 2.0}
        },
        "pops": {
            "fra": {"hit_ratio": hit_ratio, "origin_offload": null, "latency_ms": lat(eu_p50, p99)}
        }
    })
}

/// Writes the two summaries (a run folder and a bare file) and runs `cdnlab compare`.
fn compare(
    base: &serde_json::Value,
    cand: &serde_json::Value,
    args: &[&str],
) -> (i32, String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("base");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("summary.json"), base.to_string()).unwrap();
    let file = tmp.path().join("cand.json");
    std::fs::write(&file, cand.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .arg("compare")
        .arg(&dir)
        .arg(&file)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_table_lists_every_shared_metric_with_its_change() {
    let (code, out, err) = compare(
        &summary(100.0, 0.8, 1000.0, 20.0),
        &summary(110.0, 0.75, 900.0, 20.0),
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let line = |prefix: &str| {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{out}"))
            .to_string()
    };
    assert!(
        line("run                latency_p99").ends_with("+10.00 ms (+10.0 %) worse"),
        "{out}"
    );
    assert!(
        line("run                hit_ratio").ends_with("-0.0500 (-6.3 %) worse"),
        "{out}"
    );
    assert!(
        line("run                throughput_rps").contains("-100.0 (-10.0 %) worse"),
        "{out}"
    );
    assert!(
        line("region eu          latency_p50").ends_with("+0.00 ms (+0.0 %) same"),
        "{out}"
    );
    // A metric one side lacks (a PoP's null offload) is left out, not shown as zero.
    assert!(!out.contains("pop fra            origin_offload"), "{out}");
}

#[test]
fn limits_follow_each_metrics_better_direction() {
    let base = summary(100.0, 0.80, 1000.0, 20.0);
    let worse = summary(115.0, 0.77, 940.0, 27.0);
    let cases: &[(&str, i32)] = &[
        ("latency_p99=20%", 0),
        ("latency_p99=10%", 3),
        ("latency_p99=15ms", 0),
        ("latency_p99=14ms", 3),
        ("hit_ratio=0.05", 0),
        ("hit_ratio=0.02", 3),
        ("throughput_rps=6%", 0),
        ("throughput_rps=5%", 3),
        ("region:eu:latency_p50=7ms", 0),
        ("region:eu:latency_p50=5ms", 3),
        ("region:us:latency_p50=0%", 0),
        ("pop:fra:hit_ratio=2%", 3),
        ("error_rate=0", 0),
    ];
    for (limit, want) in cases {
        let (code, out, err) = compare(&base, &worse, &["--max-regression", limit]);
        assert_eq!(code, *want, "{limit}: {out}{err}");
        if *want == 3 {
            assert!(
                err.contains("regressed") && out.contains("EXCEEDED"),
                "{limit}: {err}"
            );
        }
    }
    // Better is never a regression, even with no slack at all.
    let better = summary(80.0, 0.9, 1200.0, 15.0);
    let (code, _, err) = compare(
        &base,
        &better,
        &[
            "--max-regression",
            "latency_p99=0%",
            "--max-regression",
            "hit_ratio=0",
            "--max-regression",
            "throughput_rps=0%",
        ],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn json_output_carries_the_values_and_the_verdicts() {
    let (code, out, _) = compare(
        &summary(100.0, 0.8, 1000.0, 20.0),
        &summary(130.0, 0.8, 1000.0, 20.0),
        &["--json", "--max-regression", "latency_p99=10%"],
    );
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let l = &v["limits"][0];
    assert_eq!(
        (
            l["baseline"].as_f64(),
            l["candidate"].as_f64(),
            l["ok"].as_bool()
        ),
        (Some(100.0), Some(130.0), Some(false))
    );
    assert!(v["metrics"].as_array().unwrap().len() > 20);
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let s = summary(100.0, 0.8, 1000.0, 20.0);
    for (args, says) in [
        (
            &["--max-regression", "p99=10%"][..],
            "unknown metric \"p99\"",
        ),
        (
            &["--max-regression", "latency_p99"][..],
            "expected METRIC=LIMIT",
        ),
        (
            &["--max-regression", "hit_ratio=5ms"][..],
            "neither a percentage nor a number",
        ),
        (
            &["--max-regression", "region:asia:latency_p99=5%"][..],
            "has no latency_p99 for region asia",
        ),
        (
            &["--max-regression", "pop:fra:origin_offload=1%"][..],
            "has no origin_offload for pop fra",
        ),
    ] {
        let (code, _, err) = compare(&s, &s, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .args(["compare", "/nonexistent/a", "/nonexistent/b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("summary.json");
    std::fs::write(&junk, "{\"not\": \"a summary\"}").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .arg("compare")
        .arg(tmp.path())
        .arg(Path::new(&junk))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a run summary"));
}
