//! `cdnlab edge`: a bad distribution config is refused before anything starts.

use std::process::Command;

fn edge_with(config: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edge.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .args(["edge", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_errors_name_file_line_and_key_and_exit_2() {
    let base = "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n[[origin]]\nname = \"web\"\nurl = \"http://127.0.0.1:9\"\n";
    let cases = [
        (
            format!("{base}[[behavior]]\npath = \"*\"\norigin = \"wbe\"\n"),
            "edge.toml:8: behavior[0].origin",
        ),
        (
            format!("{base}[[behavior]]\npath = \"/x/*\"\norigin = \"web\"\n"),
            "behavior[0].path",
        ),
        (
            format!("{base}[cache]\ncapacity = \"12 parsecs\"\n[[behavior]]\npath = \"*\"\n"),
            "edge.toml:7: cache.capacity",
        ),
        (
            format!("{base}[[behavior]]\npath = \"*\"\nttl = {{ default = \"1 dy\" }}\n"),
            "edge.toml:8: behavior[0].ttl.default",
        ),
        (
            format!("{base}[[behavior]]\npath = \"*\"\ncolapse = true\n"),
            "edge.toml:8: behavior[0].colapse",
        ),
    ];
    for (cfg, want) in cases {
        let (code, err) = edge_with(&cfg);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(want), "`{err}` lacks `{want}`");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .args(["edge", "--config", "/nonexistent/edge.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/edge.toml"));
}
