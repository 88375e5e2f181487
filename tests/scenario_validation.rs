//! `cdnlab run --dry-run`: bad scenarios are refused with exit code 2 and one line naming the
//! file, the line and the key; the built-in quickstart validates, and the resolved scenario
//! it prints validates again into the same text.

use std::path::Path;
use std::process::{Command, Output};

const QUICKSTART: &str = include_str!("../src/scenario/quickstart.toml");

fn cdnlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .args(args)
        .output()
        .unwrap()
}

fn dry_run(path: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--dry-run", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    cdnlab(&args)
}

/// The quickstart with each `(from, to)` replaced once (each `from` must occur).
#[track_caller]
fn quickstart_with(edits: &[(&str, &str)]) -> String {
    let mut text = QUICKSTART.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "{from:?} is not in the quickstart");
        text = text.replacen(from, to, 1);
    }
    text
}

/// The 1-based number of the first line of `text` that contains `needle` (so that the tests
/// survive edits of the quickstart).
#[track_caller]
fn line_of(text: &str, needle: &str) -> usize {
    1 + text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} is not in the text"))
}

/// Writes `text`, dry-runs it, and checks exit code 2, nothing on standard output and one
/// line on standard error: `cdnlab: error: <file>:<line>: <key>: <message…>`.
#[track_caller]
fn refused(text: &str, line: usize, key: &str, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let out = dry_run(&path, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    let want = format!("cdnlab: error: {}:{line}: {key}: {message}", path.display());
    assert!(stderr.starts_with(&want), "\n got: {stderr}\nwant: {want}…");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn quickstart_dry_run_resolves_and_reparses() {
    let first = cdnlab(&["run", "--dry-run"]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let resolved = String::from_utf8(first.stdout).unwrap();
    assert!(resolved.contains("name = \"quickstart\""));
    assert!(
        resolved.contains("connections = 512"),
        "defaults written out"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resolved.toml");
    std::fs::write(&path, &resolved).unwrap();
    let again = dry_run(&path, &[]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(String::from_utf8(again.stdout).unwrap(), resolved);
}

#[test]
fn overrides_show_in_the_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.toml");
    std::fs::write(&path, QUICKSTART).unwrap();
    let out = dry_run(
        &path,
        &["--seed", "7", "--duration", "30s", "--rate", "600"],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for want in ["\nseed = 7\n", "\nduration = \"30s\"\n", "\nrate = 600.0\n"] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    let out = dry_run(&path, &["--rate", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("cdnlab: error: --rate 0:"));
}

#[test]
fn missing_required_key() {
    refused(
        &quickstart_with(&[("duration = \"15s\"", "")]),
        1,
        "duration",
        "required key is missing",
    );
}

#[test]
fn unknown_site() {
    let text = quickstart_with(&[("site = \"us-central\"", "site = \"mars\"")]);
    refused(
        &text,
        line_of(&text, "\"mars\""),
        "region[1].site",
        "unknown site \"mars\" (sites: us-east,",
    );
}

#[test]
fn shares_not_adding_up_to_one() {
    let text = quickstart_with(&[(
        "share = 0.5\nlast_mile = { rtt = \"15ms\"",
        "share = 0.6\nlast_mile = { rtt = \"15ms\"",
    )]);
    refused(
        &text,
        line_of(&text, "[[region]]"),
        "region",
        "the shares must add up to 1, but they add up to 1.1 (europe 0.5, americas 0.6)",
    );
}

#[test]
fn parent_cycle() {
    let text = quickstart_with(&[
        ("cache = { capacity = \"32MiB\" }", "parent = \"iad\""),
        ("name = \"iad\"\n", "name = \"iad\"\nparent = \"fra\"\n"),
    ]);
    refused(
        &text,
        line_of(&text, "parent = \"iad\""),
        "pop[0].parent",
        "parents form a cycle: fra → iad → fra",
    );
}

#[test]
fn assertion_on_an_unknown_metric() {
    let text = quickstart_with(&[("metric = \"hit_ratio\"", "metric = \"hit_rate\"")]);
    refused(
        &text,
        line_of(&text, "hit_rate"),
        "assert[0].metric",
        "unknown metric \"hit_rate\" (metrics: hit_ratio,",
    );
}

#[test]
fn assertion_on_an_unknown_region() {
    let text = quickstart_with(&[("min = 0.3", "min = 0.3\nregion = \"asia\"")]);
    refused(
        &text,
        line_of(&text, "\"asia\""),
        "assert[0].region",
        "unknown region \"asia\" (regions: europe, americas)",
    );
}

#[test]
fn unknown_key() {
    let text = quickstart_with(&[("name = \"iad\"", "name = \"iad\"\nsize = 3")]);
    refused(
        &text,
        line_of(&text, "size = 3"),
        "pop[1].size",
        "unknown key",
    );
}

#[test]
fn bad_duration() {
    let text = quickstart_with(&[("warmup = \"5s\"", "warmup = \"5 parsecs\"")]);
    refused(
        &text,
        line_of(&text, "parsecs"),
        "warmup",
        "bad duration \"5 parsecs\"",
    );
}

#[test]
fn unreadable_file() {
    let out = cdnlab(&["run", "--dry-run", "/nonexistent/x.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("cdnlab: error: /nonexistent/x.toml: cannot read"));
}
