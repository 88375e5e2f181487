//! A scenario that replays a trace: the resolved file's round trip, the part of the trace read,
//! overrides, and every refusal with its `file:line: key` (the trace file, its origin, keys
//! that do not go with it). Reads the shared traces in `../shared/traces`.

use super::*;

const BIN: &str = "../shared/traces/cloudPhysicsIO.oracleGeneral.bin";

/// The smallest trace scenario; line numbers below count from here (`[workload]` is line 15).
fn scenario(trace: &str, extra: &str) -> String {
    format!(
        r#"name = "t"
duration = "10s"
[[origin]]
name = "web"
site = "us-east"
[edge]
[[edge.behavior]]
path = "*"
[[pop]]
name = "p"
site = "us-east"
[[region]]
name = "r"
site = "eu-west"
[workload]
trace = {{ {trace} }}
{extra}"#
    )
}

fn plain() -> String {
    scenario(&format!("file = {BIN:?}, speed = 100.0, limit = 500"), "")
}

/// Asserts the error's display starts with `want` and holds `also`.
#[track_caller]
fn refused_with(text: &str, want: &str, also: &str) {
    let got = match parse(text, "s.toml") {
        Ok(_) => "accepted".to_string(),
        Err(e) => e.to_string(),
    };
    assert!(
        got.starts_with(want) && got.contains(also),
        "\n got: {got}\nwant: {want}…{also}…\n---\n{text}"
    );
}

#[track_caller]
fn refused(text: &str, want: &str) {
    refused_with(text, want, "");
}

#[test]
fn a_trace_scenario_round_trips_and_reads_its_part_of_the_trace() {
    let s = parse(&plain(), "s.toml").unwrap();
    let t = s.workload.trace.as_ref().unwrap();
    assert_eq!(t.file, std::fs::canonicalize(BIN).unwrap());
    assert_eq!((t.speed, t.limit), (100.0, Some(500)));
    assert_eq!(s.workload.mix[0].class, "/trace/");
    assert_eq!(s.trace_origin(), Some(0));
    let written = s.to_toml();
    assert!(written.contains("\ntrace = { file = "), "{written}");
    let back = parse(&written, "elsewhere/s.toml").unwrap();
    assert_eq!(
        back.workload, s.workload,
        "an absolute path reads the same anywhere"
    );
    assert_eq!(back.to_toml(), written);
    // 500 requests (the limit) within 10 s at speed 100.
    let r = s.load_replay().unwrap().unwrap();
    assert_eq!(r.len(), 500);
    assert!(r.requests().windows(2).all(|w| w[0].at_ns <= w[1].at_ns));
}

#[test]
fn the_run_length_bounds_what_is_read_and_rate_is_refused() {
    let mut s = parse(
        &scenario(&format!("file = {BIN:?}, speed = 10.0"), ""),
        "s.toml",
    )
    .unwrap();
    // 10 s at speed 10: the trace's first 100 seconds.
    let short = s.load_replay().unwrap().unwrap().len();
    s.apply_overrides(None, Some(Duration::from_secs(20)), None);
    let long = s.load_replay().unwrap().unwrap().len();
    assert!(short > 100 && long > short, "{short} then {long}");
    let rate = Overrides {
        rate: Some(50.0),
        ..Overrides::default()
    };
    let e = s.check_overrides(&rate).unwrap_err();
    assert!(
        e.starts_with("--rate 50: the workload replays a trace"),
        "{e}"
    );
    assert_eq!(s.check_overrides(&Overrides::default()), Ok(()));
}

#[test]
fn refusals_of_a_trace_workload() {
    let file = format!("file = {BIN:?}");
    refused(
        &scenario("file = \"../shared/traces/none.bin\"", ""),
        "s.toml:16: workload.trace.file: cannot open ../shared/traces/none.bin: No such file",
    );
    refused(
        &scenario(
            &file,
            "mix = [{ class = \"/s/\", popularity = \"uniform\" }]\n",
        ),
        "s.toml:17: workload.mix: not with trace",
    );
    refused(
        &scenario(&file, "mode = \"closed\"\nviewers = 4\n"),
        "s.toml:17: workload.mode: a trace is replayed open loop",
    );
    refused(
        &scenario(&file, "rate = 100\n"),
        "s.toml:17: workload.rate: not with trace",
    );
    refused_with(
        &scenario(&format!("{file}, skip = \"3h\""), ""),
        "s.toml:16: workload.trace.file: /",
        "cloudPhysicsIO.oracleGeneral.bin: no request of the trace falls within the run (113872 records read; skip 3h",
    );
    // The trace's largest object (69632 B) is more than the origin serves.
    refused_with(
        &scenario(&format!("{file}, speed = 1000.0"), "").replacen(
            "site = \"us-east\"\n[edge]",
            "site = \"us-east\"\ntrace = { max_size = \"64KiB\" }\n[edge]",
            1,
        ),
        "s.toml:17: workload.trace.file: /",
        "cloudPhysicsIO.oracleGeneral.bin: record 12906: size 69632 is more than the origin's trace.max_size (64KiB)",
    );
    // Two PoPs that fetch /trace/ from two origins: whose bytes would the viewers expect?
    let two = scenario(&file, "")
        .replacen(
            "[edge]",
            "[[origin]]\nname = \"api\"\nsite = \"us-east\"\n[edge]",
            1,
        )
        .replacen("path = \"*\"", "path = \"*\"\norigin = \"web\"", 1)
        .replacen(
            "[[region]]",
            "[[pop]]\nname = \"q\"\nsite = \"us-west\"\n[[pop.behavior]]\npath = \"*\"\norigin = \"api\"\n[[region]]",
            1,
        );
    refused(
        &two,
        "s.toml:26: workload.trace: PoP \"p\" sends \"/trace/0/1\" to origin \"web\" (its behavior[0], path \"*\") but PoP \"q\" to origin \"api\"",
    );
    refused(
        &scenario(&format!("{file}, speed = 0"), ""),
        "s.toml:16: workload.trace.speed: 0 is out of range",
    );
}

#[test]
fn a_truncated_or_foreign_trace_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(BIN).unwrap();
    // Cut inside record 1001.
    let cut = dir.path().join("cut.oracleGeneral.bin");
    std::fs::write(&cut, &data[..1000 * 24 + 7]).unwrap();
    let e = parse(
        &scenario(
            &format!("file = {:?}, speed = 1000.0", cut.display().to_string()),
            "",
        ),
        "s.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("s.toml:16: workload.trace.file: "), "{e}");
    assert!(
        e.ends_with("record 1001: truncated (got 7 of 24 bytes)"),
        "{e}"
    );
    // A vscsi file is not a trace of another format: its header is refused.
    let foreign = dir.path().join("x.vscsi");
    std::fs::write(&foreign, b"not a vscsi trace at all, just text\n").unwrap();
    let e = parse(
        &scenario(&format!("file = {:?}", foreign.display().to_string()), ""),
        "s.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("s.toml:16: workload.trace.file: "), "{e}");
}
