//! End-to-end tests of a trace replay through `cdnlab run`: the first 2,000 requests of the
//! shared CloudPhysics trace (`../shared/traces`) replayed 200 times faster than recorded
//! through a real edge process (2.6 s of traffic in a 5 s run: the slack lets a debug build
//! on a busy machine catch up with the bursts), then the refusals and the resolved file of a
//! trace scenario (no run).

use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TRACE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/traces/cloudPhysicsIO.oracleGeneral.bin"
);

fn cdnlab(args: &[&str], file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .arg("run")
        .arg(file)
        .args(args)
        .output()
        .expect("cdnlab runs")
}

/// One origin, one PoP, one region next to it; `trace` is the inline table's body.
fn scenario(trace: &str) -> String {
    format!(
        r#"name = "trace"
seed = 1
duration = "5s"

[world]
base_rtt = "0ms"

[[origin]]
name = "web"
site = "us-east"

[edge]
cache = {{ policy = "lru", capacity = "256MiB" }}
[[edge.behavior]]
path = "*"
origin = "web"

[[pop]]
name = "iad"
site = "us-east"

[[region]]
name = "here"
site = "us-east"

[workload]
trace = {{ {trace} }}
"#
    )
}

fn write(dir: &Path, text: &str) -> PathBuf {
    let file = dir.join("scenario.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// `(time, id, size)` of the trace's first `n` records (oracleGeneral: 24 bytes each).
fn first_records(n: usize) -> Vec<(u32, u64, u32)> {
    let data = std::fs::read(TRACE).unwrap();
    data.chunks_exact(24)
        .take(n)
        .map(|r| {
            (
                u32::from_le_bytes(r[0..4].try_into().unwrap()),
                u64::from_le_bytes(r[4..12].try_into().unwrap()),
                u32::from_le_bytes(r[12..16].try_into().unwrap()),
            )
        })
        .collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

#[test]
fn the_first_requests_of_a_real_trace_replay_through_the_edge() {
    const N: usize = 2000;
    let records = first_records(N);
    // 2,000 requests span 517 s of trace time: 2.6 s at speed 200, within the 5 s run.
    let span = records[N - 1].0 - records[0].0;
    assert!(f64::from(span) / 200.0 < 3.0, "{span} s");
    let objects: HashSet<(u64, u32)> = records.iter().map(|r| (r.1, r.2)).collect();

    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        &scenario(&format!("file = {TRACE:?}, speed = 200.0, limit = {N}")),
    );
    let dir = tmp.path().join("out");
    let out = cdnlab(
        &["--out", dir.to_str().unwrap(), "--quiet", "--export-trace"],
        &file,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();

    // Every record was sent and answered, each body right.
    assert_eq!(s["requests"], N, "{s:#}");
    assert_eq!(s["unsent_requests"], 0);
    assert_eq!(s["errors"], 0, "{s:#}");
    assert_eq!(s["integrity_failures"], 0);
    assert_eq!(s["classes"]["/trace/"]["requests"], N, "{:#}", s["classes"]);
    // A cache that holds everything misses each object once (joining a fetch in flight
    // counts as a hit): the hit ratio is that of the trace's own reuse.
    let want = 1.0 - objects.len() as f64 / N as f64;
    let hit_ratio = f(&s["hit_ratio"]);
    assert!(hit_ratio > 0.0);
    assert!((hit_ratio - want).abs() < 0.01, "{hit_ratio} vs {want}");
    let origin = f(&s["origin_requests"]);
    assert!(
        (origin - objects.len() as f64).abs() <= 0.01 * N as f64,
        "{origin} origin requests for {} objects",
        objects.len()
    );

    // --export-trace wrote what was sent: the same requests (ids are hashes of the paths).
    let exported = std::fs::read(dir.join("trace.oracleGeneral.bin")).unwrap();
    assert_eq!(exported.len(), 24 * N);
    let mut sent: Vec<(u64, u32)> = exported
        .chunks_exact(24)
        .map(|r| {
            (
                u64::from_le_bytes(r[4..12].try_into().unwrap()),
                u32::from_le_bytes(r[12..16].try_into().unwrap()),
            )
        })
        .collect();
    let mut asked: Vec<(u64, u32)> = records
        .iter()
        .map(|&(_, id, size)| {
            let path = format!("/trace/{id}/{size}");
            (sim::trace::hash_id(path.as_bytes()), size)
        })
        .collect();
    sent.sort_unstable();
    asked.sort_unstable();
    assert!(
        sent == asked,
        "the exported requests differ from the trace's"
    );
}

#[test]
fn a_trace_scenario_is_refused_or_resolved_without_running() {
    let tmp = tempfile::tempdir().unwrap();
    // --rate has no meaning for a trace's own timing.
    let file = write(tmp.path(), &scenario(&format!("file = {TRACE:?}")));
    let out = cdnlab(&["--dry-run", "--rate", "100"], &file);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--rate 100: the workload replays a trace"),
        "{err}"
    );
    // A missing trace names the file, line and key.
    let file = write(tmp.path(), &scenario("file = \"traces/none.bin\""));
    let out = cdnlab(&["--dry-run"], &file);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("scenario.toml:27: workload.trace.file: cannot open ")
            && err.contains("traces/none.bin"),
        "{err}"
    );
    // The library's trace scenario resolves, and its resolved file resolves to itself.
    let library = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/trace-replay.toml");
    let out = cdnlab(&["--dry-run"], Path::new(library));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resolved = String::from_utf8(out.stdout).unwrap();
    assert!(resolved.contains("trace = { file = "), "{resolved}");
    let file = write(tmp.path(), &resolved);
    let again = cdnlab(&["--dry-run"], &file);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), resolved);
}
