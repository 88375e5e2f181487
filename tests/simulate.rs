//! End-to-end tests of `cdnlab simulate`: the binary on the shared traces.

use std::path::PathBuf;
use std::process::{Command, Output};

fn shared(name: &str) -> String {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/traces")).join(name);
    p.to_str().unwrap().to_string()
}

fn cdnlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .args(args)
        .output()
        .expect("cdnlab runs")
}

fn ok_csv(args: &[&str]) -> Vec<Vec<String>> {
    let out = cdnlab(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut r = csv::Reader::from_reader(out.stdout.as_slice());
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>().join(","),
        "policy,capacity,requests,misses,requested_bytes,missed_bytes,miss_ratio,byte_miss_ratio,seconds,requests_per_second"
    );
    r.records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect()
}

/// (policy, capacity, requests, misses, requested_bytes, missed_bytes) of each row.
fn counts(rows: &[Vec<String>]) -> Vec<(String, u64, u64, u64, u64, u64)> {
    rows.iter()
        .map(|r| {
            (
                r[0].clone(),
                r[1].parse().unwrap(),
                r[2].parse().unwrap(),
                r[3].parse().unwrap(),
                r[4].parse().unwrap(),
                r[5].parse().unwrap(),
            )
        })
        .collect()
}

fn bad_input(args: &[&str], needle: &str) {
    let out = cdnlab(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: `{err}` lacks `{needle}`");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: not one line: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn rows_match_libcachesim_in_bytes() {
    let rows = ok_csv(&[
        "simulate",
        "--trace",
        &shared("cloudPhysicsIO.oracleGeneral.bin"),
        "--policies",
        "lru,fifo",
        "--sizes",
        "128MiB,1GiB",
    ]);
    assert_eq!(
        counts(&rows),
        vec![
            (
                "lru".into(),
                134217728,
                113872,
                93374,
                4368040448,
                4214303232
            ),
            (
                "lru".into(),
                1073741824,
                113872,
                71704,
                4368040448,
                3061662720
            ),
            (
                "fifo".into(),
                134217728,
                113872,
                93403,
                4368040448,
                4213112832
            ),
            (
                "fifo".into(),
                1073741824,
                113872,
                72140,
                4368040448,
                3077547520
            ),
        ]
    );
    let rps: f64 = rows[0][9].parse().unwrap();
    assert!(rps > 0.0);
}

#[test]
fn percentages_resolve_against_the_working_set() {
    let rows = ok_csv(&[
        "simulate",
        "--trace",
        &shared("cloudPhysicsIO.oracleGeneral.bin"),
        "--policies",
        "lru",
        "--sizes",
        "0.1%,1%,10%",
    ]);
    let caps: Vec<u64> = counts(&rows).iter().map(|r| r.1).collect();
    assert_eq!(caps, vec![2_029_769, 20_297_697, 202_976_972]);
    let rows = ok_csv(&[
        "simulate",
        "--trace",
        &shared("cloudPhysicsIO.oracleGeneral.bin"),
        "--policies",
        "lru",
        "--sizes",
        "10%",
        "--objects",
    ]);
    let (_, cap, req, _, req_bytes, _) = counts(&rows)[0].clone();
    assert_eq!((cap, req, req_bytes), (4897, 113872, 113872));
    assert_eq!(
        rows[0][3], rows[0][5],
        "misses equal missed bytes in object mode"
    );
}

#[test]
fn every_format_gives_the_same_object_mode_answer() {
    let args = |trace: String, extra: &[&str]| {
        let mut a = vec![
            "simulate".to_string(),
            "--trace".into(),
            trace,
            "--policies".into(),
            "lru,fifo".into(),
            "--sizes".into(),
            "1%,10%".into(),
            "--objects".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |a: Vec<String>| counts(&ok_csv(&a.iter().map(String::as_str).collect::<Vec<_>>()));
    let oracle = run(args(shared("cloudPhysicsIO.oracleGeneral.bin"), &[]));
    assert_eq!(run(args(shared("cloudPhysicsIO.vscsi"), &[])), oracle);
    assert_eq!(run(args(shared("cloudPhysicsIO.txt"), &[])), oracle);
    assert_eq!(
        run(args(
            shared("cloudPhysicsIO.csv"),
            &[
                "--csv-columns",
                "time=2,id=5,size=4,header=true,delimiter=,"
            ]
        )),
        oracle
    );
}

#[test]
fn warmup_skips_counting_but_not_replaying() {
    let rows = ok_csv(&[
        "simulate",
        "--trace",
        &shared("cloudPhysicsIO.oracleGeneral.bin"),
        "--policies",
        "lru",
        "--sizes",
        "10%",
        "--warmup",
        "10%",
    ]);
    assert_eq!(counts(&rows)[0].2, 113872 - 11387);
    let rows = ok_csv(&[
        "simulate",
        "--trace",
        &shared("cloudPhysicsIO.oracleGeneral.bin"),
        "--policies",
        "lru",
        "--sizes",
        "10%",
        "--warmup",
        "2h",
    ]);
    // Timestamps span exactly 7,200 s: only requests at the last second are counted.
    let counted = counts(&rows)[0].2;
    assert!(counted > 0 && counted < 1000, "{counted}");
}

#[test]
fn synthetic_zipf_trace_writes_and_replays_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("z.oracleGeneral.bin");
    let spec = "zipf:requests=20000,objects=2000,alpha=0.8,seed=3";
    let out = cdnlab(&[
        "simulate",
        "--trace",
        spec,
        "--write-trace",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 20000 * 24);
    let from_file = counts(&ok_csv(&[
        "simulate",
        "--trace",
        file.to_str().unwrap(),
        "--policies",
        "lru,belady",
        "--sizes",
        "5%",
    ]));
    let direct = counts(&ok_csv(&[
        "simulate",
        "--trace",
        spec,
        "--policies",
        "lru,belady",
        "--sizes",
        "5%",
    ]));
    assert_eq!(from_file, direct);
    assert!(direct[1].3 < direct[0].3, "belady beats lru");
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    let trace = shared("cloudPhysicsIO.oracleGeneral.bin");
    bad_input(
        &["simulate", "--trace", &trace, "--policies", "lru,nosuch"],
        "unknown policy `nosuch`",
    );
    bad_input(
        &[
            "simulate",
            "--trace",
            &trace,
            "--policies",
            "s3fifo:smal=0.1",
        ],
        "unknown parameter `smal`",
    );
    bad_input(
        &["simulate", "--trace", &trace, "--sizes", "12 parsecs"],
        "--sizes",
    );
    bad_input(
        &[
            "simulate",
            "--trace",
            &trace,
            "--sizes",
            "64MiB",
            "--objects",
        ],
        "byte unit",
    );
    bad_input(
        &["simulate", "--trace", &trace, "--warmup", "soon"],
        "--warmup",
    );
    bad_input(
        &[
            "simulate",
            "--trace",
            "/nonexistent/trace.oracleGeneral.bin",
        ],
        "/nonexistent/trace.oracleGeneral.bin",
    );
    bad_input(&["simulate", "--trace", &shared("README.md")], "format");
    // A vscsi file read as oracleGeneral is 151,829 records and 8 bytes: truncated.
    bad_input(
        &[
            "simulate",
            "--trace",
            &shared("cloudPhysicsIO.vscsi"),
            "--format",
            "oracleGeneral",
        ],
        "record 151830",
    );
    bad_input(&["simulate", "--trace", "zipf:requests=abc"], "requests");
    bad_input(
        &["simulate", "--trace", &trace, "--format", "parquet"],
        "parquet",
    );
}
