//! `cdnlab origin`: two processes serve the same bytes; a bad config is refused with exit code 2
//! and one line naming the file, line and key; SIGTERM stops it cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

const CONFIG: &str = r#"listen = "127.0.0.1:0"
seed = 7
[[class]]
prefix = "/static/"
objects = 100
size = { dist = "lognormal", median = "16KiB", sigma = 1.5, min = "100B", max = "16MiB" }
"#;

struct Origin {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Origin {
    fn start(config: &str) -> Origin {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.toml");
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_cdnlab"))
            .args([
                "origin",
                "--config",
                path.to_str().unwrap(),
                "--threads",
                "1",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Origin {
            child,
            port,
            _dir: dir,
        }
    }

    /// GET over HTTP/1.1 with `Connection: close`: the status line, headers and body.
    fn get(&self, path: &str) -> (String, Vec<u8>) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nhost: o\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8(all[..split].to_vec()).unwrap();
        (head, all[split + 4..].to_vec())
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or("")
}

#[test]
fn two_processes_serve_the_same_bytes() {
    let a = Origin::start(CONFIG);
    let b = Origin::start(CONFIG);
    for path in ["/static/5", "/static/77", "/trace/xyz/100000"] {
        let (ha, ba) = a.get(path);
        let (hb, bb) = b.get(path);
        assert!(ha.starts_with("HTTP/1.1 200"), "{ha}");
        assert_eq!(ba, bb, "{path}");
        assert_eq!(header(&ha, "etag"), header(&hb, "etag"));
        assert_eq!(header(&ha, "content-length"), ba.len().to_string());
        // What a checker does: regenerate the expected bytes from (seed, path, version).
        let mut want = vec![0u8; ba.len()];
        sim::origin::content::fill(7, path, 0, 0, &mut want);
        assert!(ba == want, "{path}: the bytes differ from the generator's");
        assert_eq!(header(&ha, "etag"), sim::origin::content::etag(7, path, 0));
    }
    // The value computed once (also in sim/tests/origin.rs).
    let (_, body) = a.get("/static/5");
    assert_eq!(body.len(), 40_260);
    assert_eq!(
        sim::origin::content::digest(7, "/static/5", 0, 40_260),
        0xfeeb_7f23_2e6d_63ac
    );
    let (stats, json) = a.get("/_origin/stats");
    assert!(stats.contains("application/json"));
    let json = String::from_utf8(json).unwrap();
    let compact: String = json.split_whitespace().collect();
    assert!(
        compact.contains("\"prefix\":\"/static/\",\"requests\":3,"),
        "{json}"
    );
    assert!(compact.contains("\"requests\":4,"), "{json}");
}

#[test]
fn sigterm_stops_it() {
    let mut o = Origin::start(CONFIG);
    let status = Command::new("kill")
        .args(["-TERM", &o.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = o.child.wait().unwrap();
    assert!(code.success(), "{code:?}");
}

fn origin_with(config: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .args(["origin", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_errors_name_file_line_and_key_and_exit_2() {
    let base = "listen = \"127.0.0.1:0\"\n";
    let fault = |body: &str| format!("{base}[[fault]]\n{body}");
    let cases = [
        (
            format!("{base}service_time = {{ dist = \"weibull\", shape = 2 }}\n"),
            "o.toml:2: service_time.dist: unknown distribution \"weibull\"",
        ),
        (
            format!("{base}service_time = {{ dist = \"exponential\", mean = \"0ms\" }}\n"),
            "o.toml:2: service_time.mean: must be more than 0",
        ),
        (
            format!("{base}[[class]]\nprefix = \"/s/\"\nobjects = -3\nsize = 10\n"),
            "o.toml:4: class[0].objects: -3 is out of range",
        ),
        (
            format!("{base}[[class]]\nprefix = \"/s/\"\nobjects = 3\nsize = {{ dist = \"pareto\", scale = \"1KiB\", shape = -1 }}\n"),
            "o.toml:5: class[0].size.shape: -1 is out of range",
        ),
        (
            fault("at = \"-5s\"\nduration = \"1s\"\nkind = \"down\"\n"),
            "o.toml:3: fault[0].at: bad duration",
        ),
        (
            fault("at = \"5s\"\nduration = \"0s\"\nkind = \"down\"\n"),
            "o.toml:4: fault[0].duration: must be longer than 0s",
        ),
        (
            fault("at = \"5s\"\nduration = \"1s\"\nkind = \"flood\"\n"),
            "o.toml:5: fault[0].kind: unknown fault kind \"flood\"",
        ),
        (
            format!("{base}max_concurency = 3\n"),
            "o.toml:2: max_concurency: unknown key",
        ),
    ];
    for (cfg, want) in cases {
        let (code, err) = origin_with(&cfg);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(want), "`{err}` lacks `{want}`");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cdnlab"))
        .args(["origin", "--config", "/nonexistent/o.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/o.toml"));
}
