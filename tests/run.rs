//! End-to-end tests of `cdnlab run`: small real scenarios (a few seconds each) through the
//! binary — origins, links, edge processes and viewers — asserting on `summary.json`.
//! They run one at a time: two runs at once would share the cores and blur the timings.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::new(());

struct Run {
    out: Output,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Run {
    fn summary(&self) -> Value {
        let text = std::fs::read_to_string(self.dir.join("summary.json")).unwrap_or_else(|e| {
            panic!(
                "no summary.json ({e}); stderr: {}",
                String::from_utf8_lossy(&self.out.stderr)
            )
        });
        serde_json::from_str(&text).unwrap()
    }

    fn code(&self) -> Option<i32> {
        self.out.status.code()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
}

fn run(scenario: &str, extra: &[&str]) -> Run {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("scenario.toml");
    std::fs::write(&file, scenario).unwrap();
    let dir = tmp.path().join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&dir)
        .arg("--quiet")
        .args(extra)
        .output()
        .expect("cdnlab runs");
    Run {
        out,
        dir,
        _tmp: tmp,
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

/// A one-origin, one-PoP scenario; `{..}` parts filled in by each test.
fn scenario(
    name: &str,
    head: &str,
    origin: &str,
    edge: &str,
    region: &str,
    workload: &str,
) -> String {
    format!(
        r#"name = "{name}"
seed = 1
{head}
[world]
base_rtt = "0ms"

[[origin]]
name = "web"
site = "us-east"
{origin}

[edge]
{edge}
[[edge.behavior]]
path = "*"
origin = "web"

[[pop]]
name = "iad"
site = "us-east"

[[region]]
name = "here"
site = "us-east"
share = 1.0
{region}

[workload]
{workload}
"#
    )
}

fn assert_clean(s: &Value) {
    assert_eq!(s["integrity_failures"], 0, "{s:#}");
    for (name, r) in s["regions"].as_object().unwrap() {
        assert_eq!(r["integrity_failures"], 0, "region {name}");
    }
}

#[test]
fn hit_ratio_rises_after_warmup_and_files_are_written() {
    let r = run(
        &scenario(
            "warm",
            "duration = \"3s\"\nwarmup = \"2s\"",
            "[[origin.class]]\nprefix = \"/s/\"\nobjects = 300\nsize = { dist = \"lognormal\", median = \"4KiB\", sigma = 0.5 }\ncache_control = \"public, max-age=3600\"",
            "cache = { policy = \"s3fifo\", capacity = \"64MiB\" }",
            "last_mile = { rtt = \"5ms\" }",
            "rate = 300\nmix = [{ class = \"/s/\", share = 1.0, popularity = { zipf = 0.8 } }]",
        ),
        &[],
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let s = r.summary();
    assert_clean(&s);
    let warm = f(&s["warmup"]["hit_ratio"]);
    let measured = f(&s["hit_ratio"]);
    assert!(measured > warm + 0.1, "warm-up {warm}, measured {measured}");
    assert!(f(&s["requests"]) > 800.0, "{}", s["requests"]);
    assert_eq!(s["errors"], 0);
    assert!(f(&s["origin_offload"]) > 0.5);
    for key in [
        "scenario",
        "seed",
        "duration_s",
        "requests",
        "errors",
        "hit_ratio",
        "byte_hit_ratio",
        "origin_requests",
        "origin_offload",
        "throughput_rps",
        "throughput_bps",
        "latency_ms",
        "ttfb_ms",
        "integrity_failures",
        "stale_responses",
        "unsent_requests",
        "regions",
        "pops",
        "assertions",
    ] {
        assert!(!s[key].is_null(), "summary lacks {key}");
    }
    for p in ["p50", "p90", "p99", "p999", "max", "mean"] {
        assert!(f(&s["latency_ms"][p]) > 0.0, "latency {p}");
        assert!(f(&s["ttfb_ms"][p]) > 0.0, "ttfb {p}");
    }
    assert!(s["pops"]["iad"]["requests"].as_u64().unwrap() > 0);
    for file in [
        "scenario.toml",
        "regions.csv",
        "pops.csv",
        "timeline.csv",
        "latency.hlog",
    ] {
        let p = r.dir.join(file);
        assert!(p.metadata().map(|m| m.len() > 0).unwrap_or(false), "{file}");
    }
    // The report shows the run's own figures, and a chart per series.
    let report = std::fs::read_to_string(r.dir.join("report.html")).unwrap();
    let hit_ratio = format!("<b>{:.3}</b>hit ratio", f(&s["hit_ratio"]));
    assert!(report.contains(&hit_ratio), "{hit_ratio} not in the report");
    assert_eq!(report.matches("<svg").count(), 4);
    assert!(report.contains("<td>here</td>"));
    // The histogram log reads back: one interval per second, tagged with the region.
    let log = std::fs::read(r.dir.join("latency.hlog")).unwrap();
    let mut intervals = 0;
    for item in hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&log) {
        if let hdrhistogram::serialization::interval_log::LogEntry::Interval(h) = item.unwrap() {
            assert_eq!(h.tag().map(|t| t.as_str()), Some("here"));
            intervals += 1;
        }
    }
    assert_eq!(intervals, 5);
    let timeline = std::fs::read_to_string(r.dir.join("timeline.csv")).unwrap();
    // 5 seconds, one region.
    assert_eq!(timeline.lines().count(), 1 + 5, "{timeline}");
}

#[test]
fn all_hit_latency_is_the_round_trip() {
    // 80 ms from viewer to PoP, 20 objects fetched during the warm-up: every measured
    // request is a hit on an open connection, so latency is one round trip.
    let r = run(
        &scenario(
            "rtt80",
            "duration = \"3s\"\nwarmup = \"2s\"",
            "[[origin.class]]\nprefix = \"/s/\"\nobjects = 20\nsize = \"2KiB\"\ncache_control = \"public, max-age=3600\"",
            "cache = { policy = \"lru\", capacity = \"16MiB\" }",
            "last_mile = { rtt = \"80ms\" }\nrequests_per_connection = 0",
            "rate = 100\narrival = \"constant\"\nmix = [{ class = \"/s/\", share = 1.0, popularity = \"uniform\" }]",
        ),
        &[],
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let s = r.summary();
    assert_clean(&s);
    assert_eq!(f(&s["hit_ratio"]), 1.0, "{s:#}");
    let p50 = f(&s["regions"]["here"]["latency_ms"]["p50"]);
    assert!(
        (80.0..=83.0).contains(&p50),
        "all-hit p50 {p50} ms, expected 80 ms + ≤ 3 ms"
    );
}

fn outage(stale_if_error: &str) -> Value {
    let r = run(
        &scenario(
            "outage",
            "duration = \"5s\"\nwarmup = \"1s\"",
            "[[origin.class]]\nprefix = \"/s/\"\nobjects = 20\nsize = \"4KiB\"\ncache_control = \"public, max-age=1\"\n[[origin.fault]]\nat = \"3s\"\nduration = \"2s\"\nkind = \"down\"",
            "cache = { policy = \"lru\", capacity = \"16MiB\" }",
            "",
            "rate = 100\nmix = [{ class = \"/s/\", share = 1.0, popularity = \"uniform\" }]",
        )
        .replace(
            "origin = \"web\"\n\n[[pop]]",
            &format!("origin = \"web\"\nstale_if_error = \"{stale_if_error}\"\n\n[[pop]]"),
        ),
        &[],
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let s = r.summary();
    assert_clean(&s);
    s
}

#[test]
fn stale_if_error_hides_an_origin_outage() {
    let with = outage("1h");
    assert_eq!(with["errors"], 0, "{with:#}");
    assert!(
        with["regions"]["here"]["counters"]["stale_hits"]
            .as_u64()
            .unwrap()
            > 0
    );
    let without = outage("0s");
    assert!(without["errors"].as_u64().unwrap() > 0, "{without:#}");
}

#[test]
fn a_failing_assertion_exits_3() {
    let mut text = scenario(
        "fails",
        "duration = \"1s\"",
        "[[origin.class]]\nprefix = \"/s/\"\nobjects = 10\nsize = \"1KiB\"",
        "cache = { policy = \"lru\", capacity = \"1MiB\" }",
        "",
        "rate = 50\nmix = [{ class = \"/s/\", share = 1.0, popularity = \"uniform\" }]",
    );
    text.push_str("\n[[assert]]\nmetric = \"throughput_rps\"\nmax = 1\n[[assert]]\nmetric = \"integrity_failures\"\nmax = 0\n");
    let r = run(&text, &[]);
    assert_eq!(r.code(), Some(3), "{}", r.stderr());
    let s = r.summary();
    let a = s["assertions"].as_array().unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0]["ok"], false);
    assert_eq!(a[0]["metric"], "throughput_rps");
    assert_eq!(a[1]["ok"], true);
}

fn simulate_misses(trace: &Path, policy: &str, capacity: &str) -> (u64, u64) {
    let out = Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .args(["simulate", "--trace"])
        .arg(trace)
        .args(["--policies", policy, "--sizes", capacity, "--threads", "1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The policy column may be quoted (its parameters hold commas).
    let mut rows = csv::Reader::from_reader(out.stdout.as_slice());
    let row = rows.records().next().unwrap().unwrap();
    (row[2].parse().unwrap(), row[3].parse().unwrap())
}

#[test]
fn the_edge_and_the_simulator_agree_on_hits() {
    // One viewer, one request at a time, one PoP with one shard: the sequence the edge sees
    // is the exported trace, so `cdnlab simulate` must count exactly the edge's hits.
    for policy in ["lru", "s3fifo"] {
        let r = run(
            &scenario(
                "agree",
                "duration = \"3s\"",
                "[[origin.class]]\nprefix = \"/s/\"\nobjects = 400\nsize = { dist = \"lognormal\", median = \"4KiB\", sigma = 1.0, max = \"64KiB\" }\ncache_control = \"public, max-age=3600\"",
                &format!("cache = {{ policy = \"{policy}\", capacity = \"300KiB\", shards = 1 }}"),
                "",
                "rate = 1\nmode = \"closed\"\nviewers = 1\nmix = [{ class = \"/s/\", share = 1.0, popularity = { zipf = 0.9 } }]",
            ),
            &["--export-trace"],
        );
        assert_eq!(r.code(), Some(0), "{}", r.stderr());
        let s = r.summary();
        assert_clean(&s);
        let c = &s["counters"];
        let requests = c["requests"].as_u64().unwrap();
        let hits = c["hits"].as_u64().unwrap();
        assert!(requests > 500, "{requests} requests");
        assert_eq!(c["errors"], 0);
        let (sim_requests, sim_misses) =
            simulate_misses(&r.dir.join("trace.oracleGeneral.bin"), policy, "307200");
        assert_eq!(sim_requests, requests, "{policy}");
        assert_eq!(
            sim_requests - sim_misses,
            hits,
            "{policy}: simulator hits vs edge hits"
        );
    }
}

#[test]
fn a_pop_command_serves_in_the_edges_place_and_is_stopped() {
    // The PoP's proxy is `cdnlab link` (a plain relay, no cache) started through the
    // placeholders; it records its pid so the test can see it is gone after the run.
    let exe = env!("CARGO_BIN_EXE_cdnlab");
    let command = format!(
        "echo $$ > {{dir}}/{{name}}.pid; exec '{exe}' link --listen {{listen}} --upstream {{origin}} --rtt 0ms"
    );
    let text = scenario(
        "command",
        "duration = \"2s\"",
        "[[origin.class]]\nprefix = \"/s/\"\nobjects = 10\nsize = \"3KiB\"\ncache_control = \"public, max-age=3600\"",
        "cache = { policy = \"lru\", capacity = \"1MiB\" }",
        "",
        "rate = 50\nmix = [{ class = \"/s/\", share = 1.0, popularity = \"uniform\" }]",
    )
    .replace(
        "name = \"iad\"\nsite = \"us-east\"\n",
        &format!("name = \"iad\"\nsite = \"us-east\"\ncommand = {:?}\n", command),
    );
    let r = run(&text, &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let s = r.summary();
    assert_clean(&s);
    assert_eq!(s["errors"], 0, "{s:#}");
    assert!(s["requests"].as_u64().unwrap() >= 80, "{s:#}");
    // A relay caches nothing, and a command PoP has no metrics to read.
    assert_eq!(f(&s["hit_ratio"]), 0.0, "{s:#}");
    assert!(s["pops"]["iad"]["origin_requests"].is_null(), "{s:#}");
    let pid = std::fs::read_to_string(r.dir.join("edges/iad.pid")).unwrap();
    let pid = pid.trim();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the PoP command (pid {pid}) outlived the run"
    );
}

#[test]
fn http2_viewers_get_hits_through_the_edge() {
    let r = run(
        &scenario(
            "h2",
            "duration = \"2s\"\nwarmup = \"1s\"",
            "[[origin.class]]\nprefix = \"/s/\"\nobjects = 20\nsize = \"70KiB\"\ncache_control = \"public, max-age=3600\"",
            "cache = { policy = \"lru\", capacity = \"16MiB\" }",
            "protocol = \"h2\"\nconnections = 2\nrequests_per_connection = 0",
            "rate = 200\nmix = [{ class = \"/s/\", share = 1.0, popularity = \"uniform\" }]",
        ),
        &[],
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let s = r.summary();
    assert_clean(&s);
    assert_eq!(s["errors"], 0, "{s:#}");
    assert_eq!(s["regions"]["here"]["protocol"], "h2");
    // 20 objects fetched in the warm-up: the measured requests are hits, read from X-Cache
    // over HTTP/2 like over HTTP/1.1.
    assert!(f(&s["hit_ratio"]) > 0.9, "{s:#}");
    let c = &s["regions"]["here"]["counters"];
    assert!(c["connections_opened"].as_u64().unwrap() <= 2, "{c}");
}
