//! The simulated origin: deterministic content, size distributions, config errors, and the
//! server on a real loopback socket (conditional and range requests, HEAD, h2c, the
//! concurrency queue, every fault kind at its scheduled time, the stats counters).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::SeedableRng;
use rand_distr::Distribution;
use sim::dist::{self, Dist, RawDist, SplitMix64, Unit};
use sim::origin::config::Source;
use sim::origin::content::{self, digest, etag, fill, object_size, version_at};
use sim::origin::{start, Class, OriginConfig, RunningOrigin};
use tokio::net::TcpStream;

// ---------------------------------------------------------------------------------------------
// Content
// ---------------------------------------------------------------------------------------------

fn lognormal_class() -> Class {
    let cfg = OriginConfig::from_str(
        "listen = \"127.0.0.1:0\"\n[[class]]\nprefix = \"/static/\"\nobjects = 100000\nsize = { dist = \"lognormal\", median = \"16KiB\", sigma = 1.5, min = \"100B\", max = \"16MiB\" }\n",
        "t.toml",
    )
    .unwrap();
    cfg.classes[0].clone()
}

#[test]
fn content_is_a_fixed_function_of_seed_path_and_version() {
    let class = lognormal_class();
    // Computed once by this implementation; they must never change (a checker in another
    // process, or a later version, recomputes them).
    assert_eq!(object_size(&class, 7, 5), 40_260);
    assert_eq!(object_size(&class, 7, 6), 80_070);
    assert_eq!(digest(7, "/static/5", 0, 40_260), 0xfeeb_7f23_2e6d_63ac);
    assert_eq!(etag(7, "/static/5", 0), "\"0-19fd3749df45e383\"");
    let mut first = [0u8; 8];
    fill(7, "/static/5", 0, 0, &mut first);
    assert_eq!(first, [0x0a, 0x59, 0xbf, 0x70, 0xed, 0x4b, 0x1d, 0x3f]);
    // As documented: word i is mix64(key + (i + 1) · γ), little-endian.
    let key = content::content_key(7, "/static/5", 0);
    let word = |i: u64| dist::mix64(key.wrapping_add((i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    assert_eq!(first, word(0).to_le_bytes());
    let mut at_1000 = [0u8; 8];
    fill(7, "/static/5", 0, 1000, &mut at_1000);
    assert_eq!(at_1000, word(125).to_le_bytes());

    // The digest is xxh3 of the generated body.
    let mut body = vec![0u8; 40_260];
    fill(7, "/static/5", 0, 0, &mut body);
    assert_eq!(
        xxhash_rust::xxh3::xxh3_64(&body),
        digest(7, "/static/5", 0, 40_260)
    );

    // Another version, path or seed: other bytes and another ETag.
    let mut other = vec![0u8; 40_260];
    for (seed, path, version) in [
        (7, "/static/5", 1),
        (7, "/static/6", 0),
        (8, "/static/5", 0),
    ] {
        fill(seed, path, version, 0, &mut other);
        assert_ne!(other, body, "{seed} {path} {version}");
        assert_ne!(etag(seed, path, version), etag(7, "/static/5", 0));
    }
    assert_ne!(
        digest(7, "/static/5", 1, 40_260),
        digest(7, "/static/5", 0, 40_260)
    );
}

#[test]
fn versions_change_at_staggered_times() {
    let mut class = Class::new("/u/", 1000, Dist::Fixed(10.0));
    assert_eq!(version_at(&class, 1, 3, Duration::from_secs(1_000_000)), 0);
    class.update_interval = Duration::from_secs(10);
    let at = |t: u64, i: u64| version_at(&class, 1, i, Duration::from_secs(t));
    let changed = (0..1000).filter(|&i| at(5, i) != at(0, i)).count();
    assert!(
        (400..600).contains(&changed),
        "{changed} of 1000 changed in half an interval"
    );
    for i in 0..1000 {
        assert_eq!(at(10, i), at(0, i) + 1, "one new version per interval");
        assert_eq!(at(100, i), at(0, i) + 10);
        // A version's Last-Modified is when it began: at or before now, within an interval.
        let now = content::epoch() + Duration::from_secs(5);
        let lm = content::last_modified(&class, 1, i, at(5, i));
        assert!(lm <= now && now < lm + Duration::from_secs(11), "{i}");
    }
}

// ---------------------------------------------------------------------------------------------
// Distributions
// ---------------------------------------------------------------------------------------------

/// Two-sample Kolmogorov–Smirnov statistic.
fn ks2(mut a: Vec<f64>, mut b: Vec<f64>) -> f64 {
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0, 0, 0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (
        m,
        (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt(),
    )
}

fn sizes(class: &Class, n: u64) -> Vec<f64> {
    (0..n).map(|i| object_size(class, 42, i) as f64).collect()
}

#[test]
fn object_sizes_follow_a_lognormal() {
    let class = lognormal_class();
    let got = sizes(&class, 10_000);
    // Against rand_distr's independent lognormal (clamped and rounded the same way).
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let reference: Vec<f64> = rand_distr::LogNormal::new((16384f64).ln(), 1.5)
        .unwrap()
        .sample_iter(&mut rng)
        .take(10_000)
        .map(|x: f64| x.clamp(100.0, 16.0 * 1048576.0).round())
        .collect();
    let d = ks2(got.clone(), reference);
    // The 0.1% critical value for two samples of 10,000 is 1.95 · sqrt(2 / 10000) = 0.0276.
    assert!(d < 0.0276, "KS D = {d}");
    // log(size) is normal with mean ln(median) and sd sigma (the clamps are > 3.4 sd away).
    let logs: Vec<f64> = got.iter().map(|x| x.ln()).collect();
    let (m, sd) = mean_sd(&logs);
    assert!((m - 16384f64.ln()).abs() < 0.05, "mean log {m}");
    assert!((sd - 1.5).abs() < 0.05, "sd log {sd}");
    // Quantiles.
    let mut sorted = got.clone();
    sorted.sort_by(f64::total_cmp);
    for p in [0.1, 0.25, 0.5, 0.75, 0.9, 0.99] {
        let want = class.size.quantile(p).unwrap();
        let have = sorted[(p * 10_000.0) as usize];
        assert!((have / want).ln().abs() < 0.1, "p{p}: {have} vs {want}");
    }
    assert!(got.iter().all(|&x| (100.0..=16.0 * 1048576.0).contains(&x)));
}

fn parse_dist(text: &str, unit: Unit) -> Result<Dist, String> {
    #[derive(serde::Deserialize)]
    struct T {
        d: toml::Spanned<RawDist>,
    }
    let full = format!("d = {text}\n");
    let t: T = toml::from_str(&full).map_err(|e| e.to_string())?;
    dist::validate(
        &Source::new("d.toml", &full),
        t.d.get_ref(),
        t.d.span(),
        "d",
        unit,
    )
    .map_err(|e| e.to_string())
}

#[test]
fn object_sizes_follow_a_pareto_and_an_empirical_table() {
    let pareto = parse_dist(
        "{ dist = \"pareto\", scale = \"1KiB\", shape = 1.5 }",
        Unit::Size,
    )
    .unwrap();
    let class = Class::new("/p/", 10_000, pareto);
    let got = sizes(&class, 10_000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let reference: Vec<f64> = rand_distr::Pareto::new(1024.0, 1.5)
        .unwrap()
        .sample_iter(&mut rng)
        .take(10_000)
        .map(|x: f64| x.round())
        .collect();
    let d = ks2(got.clone(), reference);
    assert!(d < 0.0276, "KS D = {d}");
    // ln(x / scale) is exponential with mean 1 / shape.
    let (m, _) = mean_sd(&got.iter().map(|x| (x / 1024.0).ln()).collect::<Vec<_>>());
    assert!((m - 1.0 / 1.5).abs() < 0.03, "{m}");
    assert!(got.iter().all(|&x| x >= 1024.0));

    let table = parse_dist(
        "{ dist = \"empirical\", table = [[\"1KiB\", 6], [\"16KiB\", 3], [1048576, 1]] }",
        Unit::Size,
    )
    .unwrap();
    let class = Class::new("/e/", 10_000, table);
    let got = sizes(&class, 10_000);
    for (v, p) in [(1024.0, 0.6), (16384.0, 0.3), (1048576.0, 0.1)] {
        let share = got.iter().filter(|&&x| x == v).count() as f64 / 10_000.0;
        // Four standard deviations of a share of 10,000 draws.
        let tol = 4.0 * (p * (1.0 - p) / 10_000f64).sqrt();
        assert!((share - p).abs() < tol, "{v}: {share} vs {p}");
    }
}

#[test]
fn service_times_follow_an_exponential() {
    let d = parse_dist(
        "{ dist = \"exponential\", mean = \"40ms\" }",
        Unit::Duration,
    )
    .unwrap();
    assert_eq!(d, Dist::Exponential { mean: 0.04 });
    let mut rng = SplitMix64::new(9);
    let got: Vec<f64> = (0..10_000).map(|_| d.sample(&mut rng)).collect();
    let mut r2 = rand::rngs::StdRng::seed_from_u64(3);
    let reference: Vec<f64> = rand_distr::Exp::new(25.0)
        .unwrap()
        .sample_iter(&mut r2)
        .take(10_000)
        .collect();
    assert!(ks2(got.clone(), reference) < 0.0276);
    let (m, _) = mean_sd(&got);
    assert!((m - 0.04).abs() < 0.002, "{m}");
}

#[test]
fn distributions_are_written_with_units() {
    let ok = |t: &str, u: Unit| parse_dist(t, u).unwrap();
    assert_eq!(ok("\"20ms\"", Unit::Duration), Dist::Fixed(0.02));
    assert_eq!(ok("2048", Unit::Size), Dist::Fixed(2048.0));
    assert_eq!(
        ok("{ dist = \"fixed\", value = \"2KiB\" }", Unit::Size),
        Dist::Fixed(2048.0)
    );
    assert_eq!(
        ok(
            "{ dist = \"uniform\", min = \"1s\", max = \"2s\" }",
            Unit::Duration
        ),
        Dist::Uniform { min: 1.0, max: 2.0 }
    );
    assert_eq!(
        ok(
            "{ dist = \"lognormal\", median = \"1KiB\", sigma = 0, max = 2000 }",
            Unit::Size
        ),
        Dist::Clamped {
            inner: Box::new(Dist::LogNormal {
                median: 1024.0,
                sigma: 0.0
            }),
            min: 0.0,
            max: 2000.0
        }
    );
    for (text, unit, want) in [
        (
            "{ dist = \"normal\", mean = \"1s\" }",
            Unit::Duration,
            "d.toml:1: d.dist: unknown distribution \"normal\"",
        ),
        (
            "{ dist = \"exponential\" }",
            Unit::Duration,
            "d.toml:1: d.mean: required by exponential",
        ),
        (
            "{ dist = \"exponential\", mean = \"0s\" }",
            Unit::Duration,
            "d.mean: must be more than 0",
        ),
        (
            "{ dist = \"exponential\", mean = \"-1s\" }",
            Unit::Duration,
            "d.mean: bad duration",
        ),
        (
            "{ dist = \"exponential\", mean = \"1s\", sigma = 1 }",
            Unit::Duration,
            "d.sigma: not a parameter of exponential",
        ),
        (
            "{ dist = \"exponential\", mean = 5 }",
            Unit::Duration,
            "d.mean: a duration needs a unit",
        ),
        (
            "{ dist = \"lognormal\", median = \"1KiB\", sigma = -1 }",
            Unit::Size,
            "d.sigma: -1 is out of range",
        ),
        (
            "{ dist = \"pareto\", scale = \"1KiB\", shape = 0 }",
            Unit::Size,
            "d.shape: 0 is out of range",
        ),
        (
            "{ dist = \"pareto\", scale = 0, shape = 1 }",
            Unit::Size,
            "d.scale: must be more than 0",
        ),
        (
            "{ dist = \"fixed\", value = -5 }",
            Unit::Size,
            "d.value: size -5 is negative",
        ),
        (
            "{ dist = \"fixed\", value = 1.5 }",
            Unit::Size,
            "d.value: 1.5 is not a whole number",
        ),
        (
            "{ dist = \"uniform\", min = \"2s\", max = \"1s\" }",
            Unit::Duration,
            "d.max: max (1s) is less than min (2s)",
        ),
        (
            "{ dist = \"uniform\", min = \"2s\" }",
            Unit::Duration,
            "d.max: required by uniform",
        ),
        (
            "{ dist = \"empirical\", table = [] }",
            Unit::Size,
            "d.table: empty table",
        ),
        (
            "{ dist = \"empirical\", table = [[1, 0]] }",
            Unit::Size,
            "d.table: the weights must add up",
        ),
        (
            "{ dist = \"empirical\", table = [[1, 1], [\"2 KB\", -1]] }",
            Unit::Size,
            "d.table[1][1]: weight -1 is out of range",
        ),
        (
            "{ dist = \"empirical\", table = [[\"1 parsec\", 1]] }",
            Unit::Size,
            "d.table[0][0]: bad size",
        ),
        (
            "{ dist = \"fixed\", value = 1, colour = 2 }",
            Unit::Size,
            "colour",
        ),
    ] {
        let e = parse_dist(text, unit).unwrap_err();
        assert!(e.contains(want), "{text}: `{e}` lacks `{want}`");
    }
}

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

#[test]
fn the_example_is_valid() {
    let c = OriginConfig::from_str(sim::origin::config::EXAMPLE, "o.toml").unwrap();
    assert_eq!(c.seed, 7);
    assert_eq!(c.max_concurrency, 512);
    assert_eq!(c.classes.len(), 2);
    assert_eq!(c.classes[1].cache_control, "no-store");
    assert_eq!(
        c.classes[1].service_time,
        Some(Dist::Exponential { mean: 0.04 })
    );
    assert_eq!(c.faults.len(), 4);
    assert_eq!(c.trace.max_size, 1 << 30);
}

#[test]
fn config_errors_name_file_line_and_key() {
    let base = "listen = \"127.0.0.1:0\"\n";
    let class = "[[class]]\nprefix = \"/s/\"\nobjects = 10\nsize = \"1KiB\"\n";
    for (text, want) in [
        (
            format!("{base}service_time = {{ dist = \"gamma\" }}\n"),
            "o.toml:2: service_time.dist: unknown distribution",
        ),
        (
            format!("{base}max_concurrency = 0\n"),
            "o.toml:2: max_concurrency: 0 is out of range",
        ),
        (
            format!("{base}seed = -1\n"),
            "o.toml:2: seed: must be 0 or more",
        ),
        (
            format!("{base}{class}objects2 = 1\n"),
            "o.toml:6: class[0].objects2: unknown key",
        ),
        (
            format!("{base}[[class]]\nprefix = \"/s/\"\nobjects = 0\nsize = \"1KiB\"\n"),
            "o.toml:4: class[0].objects: 0 is out of range",
        ),
        (
            format!("{base}[[class]]\nprefix = \"s\"\nobjects = 1\nsize = \"1KiB\"\n"),
            "o.toml:3: class[0].prefix: \"s\" must start and end with '/'",
        ),
        (
            format!("{base}{class}{class}"),
            "o.toml:7: class[1].prefix: \"/s/\" is also class[0]'s prefix",
        ),
        (
            format!("{base}{class}update_interval = \"-1s\"\n"),
            "o.toml:6: class[0].update_interval",
        ),
        (
            format!("{base}[[fault]]\nat = \"-1s\"\nduration = \"1s\"\nkind = \"down\"\n"),
            "o.toml:3: fault[0].at: bad duration",
        ),
        (
            format!("{base}[[fault]]\nat = \"1s\"\nduration = \"0s\"\nkind = \"down\"\n"),
            "o.toml:4: fault[0].duration: must be longer than 0s",
        ),
        (
            format!("{base}[[fault]]\nat = \"1s\"\nduration = \"1s\"\nkind = \"meteor\"\n"),
            "o.toml:5: fault[0].kind: unknown fault kind \"meteor\"",
        ),
        (
            format!(
                "{base}[[fault]]\nat = \"1s\"\nduration = \"1s\"\nkind = \"down\"\nrate = 0.5\n"
            ),
            "o.toml:6: fault[0].rate: not a parameter of kind = \"down\"",
        ),
        (
            format!(
                "{base}[[fault]]\nat = \"1s\"\nduration = \"1s\"\nkind = \"status\"\nrate = 1.5\n"
            ),
            "o.toml:6: fault[0].rate: 1.5 is out of range",
        ),
        (
            format!(
                "{base}[[fault]]\nat = \"1s\"\nduration = \"1s\"\nkind = \"status\"\ncode = 200\n"
            ),
            "o.toml:6: fault[0].code: 200 is out of range",
        ),
        (
            format!("{base}[[fault]]\nat = \"1s\"\nduration = \"1s\"\nkind = \"slow\"\n"),
            "fault[0].extra: required for kind = \"slow\"",
        ),
        (
            format!("{base}[[fault]]\nat = \"1s\"\nkind = \"slow\"\n"),
            "fault[0].duration: required key is missing",
        ),
        (
            format!("{base}[trace]\nmax_size = 0\n"),
            "o.toml:3: trace.max_size: must be more than 0 bytes",
        ),
        (
            "seed = 1\n".to_string(),
            "o.toml: listen: required key is missing",
        ),
        (
            format!("{base}site = \"fra\"\n"),
            "o.toml:2: site: only allowed in a scenario",
        ),
    ] {
        let e = OriginConfig::from_str(&text, "o.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "`{e}` lacks `{want}`\n{text}");
    }
}

#[test]
fn an_embedded_table_gets_its_address_from_the_scenario() {
    use sim::origin::{Listen, RawOriginConfig};
    let text =
        "site = \"fra\"\nseed = 3\n[[class]]\nprefix = \"/s/\"\nobjects = 10\nsize = \"1KiB\"\n";
    let raw = RawOriginConfig::parse(text, "s.toml").unwrap();
    let addr: SocketAddr = "127.0.0.1:9100".parse().unwrap();
    let src = Source::new("s.toml", text).with_key_prefix("origin[0]");
    let c = raw.validate(&src, Listen::Assigned(addr)).unwrap();
    assert_eq!(
        (c.listen, c.site.as_deref(), c.seed),
        (addr, Some("fra"), 3)
    );
    let e = raw.validate(&src, Listen::Default(addr)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "s.toml:1: origin[0].site: only allowed in a scenario's origin table"
    );
    let with_listen = RawOriginConfig::parse("listen = \"127.0.0.1:1\"\n", "s.toml").unwrap();
    let e = with_listen
        .validate(
            &Source::new("s.toml", "listen = \"127.0.0.1:1\"\n"),
            Listen::Assigned(addr),
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("s.toml:1: listen: not allowed here"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

/// A keep-alive HTTP/1.1 connection.
struct Conn(hyper::client::conn::http1::SendRequest<Empty<Bytes>>);

impl Conn {
    async fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr).await?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(conn);
        Ok(Conn(send))
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Resp, String> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "origin");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let r = self
            .0
            .send_request(b.body(Empty::new()).unwrap())
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = r.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes()
            .to_vec();
        Ok(Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// One request on a new connection.
async fn req(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Resp, String> {
    let mut c = Conn::open(addr).await.map_err(|e| e.to_string())?;
    c.send(method, path, headers).await
}

async fn get(addr: SocketAddr, path: &str) -> Resp {
    req(addr, "GET", path, &[]).await.unwrap()
}

async fn origin(extra: &str) -> RunningOrigin {
    let text = format!(
        "listen = \"127.0.0.1:0\"\nseed = 7\n{extra}\n[[class]]\nprefix = \"/static/\"\nobjects = 100\nsize = {{ dist = \"lognormal\", median = \"16KiB\", sigma = 1.5, min = \"100B\", max = \"16MiB\" }}\n[[class]]\nprefix = \"/api/\"\nobjects = 10\nsize = \"2KiB\"\ncache_control = \"no-store\"\n"
    );
    start(OriginConfig::from_str(&text, "o.toml").unwrap())
        .await
        .unwrap()
}

fn bytes_of(path: &str, version: u64, start: u64, end: u64) -> Vec<u8> {
    let mut b = vec![0u8; (end - start) as usize];
    fill(7, path, version, start, &mut b);
    b
}

#[tokio::test]
async fn get_head_conditional_and_range() {
    let o = origin("").await;
    let a = o.local_addr();
    let size = 40_260u64;

    let r = get(a, "/static/5").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, bytes_of("/static/5", 0, 0, size));
    assert_eq!(r.header("content-length"), size.to_string());
    assert_eq!(r.header("etag"), etag(7, "/static/5", 0));
    assert_eq!(r.header("last-modified"), "Wed, 01 Jan 2020 00:00:00 GMT");
    assert_eq!(r.header("cache-control"), "public, max-age=86400");
    assert!(!r.header("date").is_empty());
    assert_eq!(get(a, "/api/3").await.header("cache-control"), "no-store");
    assert_eq!(get(a, "/api/3").await.body.len(), 2048);

    let h = req(a, "HEAD", "/static/5", &[]).await.unwrap();
    assert_eq!((h.status, h.body.len()), (StatusCode::OK, 0));
    assert_eq!(h.header("content-length"), size.to_string());
    assert_eq!(h.header("etag"), r.header("etag"));

    let tag = r.header("etag").to_string();
    for hs in [
        vec![("if-none-match", tag.as_str())],
        vec![("if-none-match", "\"nope\", W/\"0-19fd3749df45e383\"")],
        vec![("if-modified-since", "Wed, 01 Jan 2020 00:00:00 GMT")],
        vec![("if-modified-since", "Thu, 02 Jan 2020 00:00:00 GMT")],
    ] {
        let r = req(a, "GET", "/static/5", &hs).await.unwrap();
        assert_eq!(r.status, 304, "{hs:?}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), tag);
    }
    let r = req(a, "GET", "/static/5", &[("if-none-match", "\"1-other\"")])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = req(
        a,
        "GET",
        "/static/5",
        &[("if-modified-since", "Tue, 31 Dec 2019 23:59:59 GMT")],
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let r = req(a, "HEAD", "/static/5", &[("if-none-match", &tag)])
        .await
        .unwrap();
    assert_eq!(r.status, 304);

    for (range, start, end) in [
        ("bytes=0-99", 0, 100),
        ("bytes=40000-", 40_000, size),
        ("bytes=-10", size - 10, size),
        ("bytes=12345-12345", 12_345, 12_346),
        ("bytes=100-999999", 100, size),
    ] {
        let r = req(a, "GET", "/static/5", &[("range", range)])
            .await
            .unwrap();
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.header("content-range"),
            format!("bytes {start}-{}/{size}", end - 1)
        );
        assert_eq!(r.body, bytes_of("/static/5", 0, start, end), "{range}");
    }
    let r = req(a, "GET", "/static/5", &[("range", "bytes=40260-")])
        .await
        .unwrap();
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), "bytes */40260");
    // Several ranges: the whole body (documented).
    let r = req(a, "GET", "/static/5", &[("range", "bytes=0-1,5-6")])
        .await
        .unwrap();
    assert_eq!((r.status, r.body.len() as u64), (StatusCode::OK, size));
    // If-Range with a stale validator: the whole body.
    let r = req(
        a,
        "GET",
        "/static/5",
        &[("range", "bytes=0-1"), ("if-range", "\"old\"")],
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let r = req(
        a,
        "GET",
        "/static/5",
        &[("range", "bytes=0-1"), ("if-range", &tag)],
    )
    .await
    .unwrap();
    assert_eq!(r.status, 206);

    for p in [
        "/static/100",
        "/static/05",
        "/static/",
        "/static/x",
        "/nope/1",
        "/",
        "/trace/x",
    ] {
        assert_eq!(get(a, p).await.status, 404, "{p}");
    }
    assert_eq!(req(a, "POST", "/static/5", &[]).await.unwrap().status, 405);

    // Trace objects: any id, the size in the path, up to trace.max_size.
    let r = get(a, "/trace/abc/100000").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, bytes_of("/trace/abc/100000", 0, 0, 100_000));
    assert_eq!(r.header("cache-control"), "public, max-age=86400");
    assert_eq!(get(a, "/trace/abc/0").await.body.len(), 0);
    assert_eq!(get(a, "/trace/abc/1073741825").await.status, 400);
}

#[tokio::test]
async fn a_big_object_streams_and_h2c_works() {
    let o = origin("[trace]\nmax_size = \"64MiB\"\n").await;
    let s = TcpStream::connect(o.local_addr()).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(s))
            .await
            .unwrap();
    tokio::spawn(conn);
    let path = "/trace/big/20000000";
    let r = send
        .send_request(Request::get(path).body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), http::Version::HTTP_2);
    let body = r.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), 20_000_000);
    assert_eq!(
        xxhash_rust::xxh3::xxh3_64(&body),
        digest(7, path, 0, 20_000_000)
    );
    assert_eq!(o.stats().trace.bytes, 20_000_000);
}

#[tokio::test]
async fn objects_get_new_versions() {
    let o = origin(
        "[[class]]\nprefix = \"/u/\"\nobjects = 5\nsize = 1000\nupdate_interval = \"200ms\"\n",
    )
    .await;
    let a = o.local_addr();
    let first = get(a, "/u/1").await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let second = get(a, "/u/1").await;
    assert_ne!(first.header("etag"), second.header("etag"));
    assert_ne!(first.header("last-modified"), "");
    for r in [&first, &second] {
        // The ETag names the version; the bytes are that version's.
        let v = u64::from_str_radix(
            r.header("etag")
                .trim_matches('"')
                .split('-')
                .next()
                .unwrap(),
            16,
        )
        .unwrap();
        assert_eq!(r.header("etag"), etag(7, "/u/1", v));
        assert_eq!(r.body, bytes_of("/u/1", v, 0, 1000));
    }
}

#[tokio::test]
async fn stats_count_what_was_sent() {
    let o = origin("").await;
    let a = o.local_addr();
    let mut c = Conn::open(a).await.unwrap();
    let mut bytes = 0;
    for _ in 0..3 {
        bytes += c.send("GET", "/static/1", &[]).await.unwrap().body.len();
    }
    let tag = etag(7, "/static/1", 0);
    assert_eq!(
        c.send("GET", "/static/1", &[("if-none-match", &tag)])
            .await
            .unwrap()
            .status,
        304
    );
    assert_eq!(c.send("HEAD", "/static/1", &[]).await.unwrap().status, 200);
    assert_eq!(
        c.send("GET", "/static/1", &[("range", "bytes=0-9")])
            .await
            .unwrap()
            .status,
        206
    );
    assert_eq!(
        c.send("GET", "/static/1", &[("range", "bytes=99999999-")])
            .await
            .unwrap()
            .status,
        416
    );
    let api = c.send("GET", "/api/0", &[]).await.unwrap().body.len();
    let trace = c.send("GET", "/trace/t/777", &[]).await.unwrap().body.len();
    for p in ["/static/999", "/other"] {
        assert_eq!(c.send("GET", p, &[]).await.unwrap().status, 404);
    }
    let s = o.stats();
    assert_eq!(s.requests, 11);
    assert_eq!(s.connections, 1);
    assert_eq!(
        (s.classes[0].prefix.as_str(), s.classes[0].requests),
        ("/static/", 7)
    );
    assert_eq!(s.classes[0].bytes, bytes as u64 + 10);
    assert_eq!((s.classes[1].requests, s.classes[1].bytes), (1, api as u64));
    assert_eq!((s.trace.requests, s.trace.bytes), (1, trace as u64));
    assert_eq!(
        (
            s.not_modified,
            s.partial,
            s.not_found,
            s.range_not_satisfiable
        ),
        (1, 1, 2, 1)
    );
    assert_eq!(s.responses["200"], 6);
    assert_eq!(
        (s.in_flight, s.concurrency, s.queued, s.queued_total),
        (0, 0, 0, 0)
    );
    assert_eq!(s.peak_concurrency, 1);
    // The same counters over HTTP, and asking for them counts nothing.
    let r = c.send("GET", "/_origin/stats", &[]).await.unwrap();
    assert_eq!(r.header("content-type"), "application/json");
    let mut j: sim::origin::OriginStats = serde_json::from_slice(&r.body).unwrap();
    j.uptime_ms = s.uptime_ms;
    assert_eq!(j, s);
    assert_eq!(o.stats().requests, 11);
}

#[tokio::test]
async fn beyond_max_concurrency_requests_queue() {
    let o = origin("max_concurrency = 2\nservice_time = \"200ms\"").await;
    let a = o.local_addr();
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..6)
        .map(|i| tokio::spawn(async move { get(a, &format!("/api/{i}")).await.status }))
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let took = t0.elapsed();
    // Three rounds of two.
    assert!(took >= Duration::from_millis(590), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let s = o.stats();
    assert_eq!(
        (s.peak_concurrency, s.queued_total, s.queued_peak),
        (2, 4, 4)
    );
    assert_eq!((s.queued, s.in_flight), (0, 0));
}

#[tokio::test]
async fn service_time_is_per_class() {
    let o = origin("service_time = \"150ms\"\n[[class]]\nprefix = \"/fast/\"\nobjects = 1\nsize = 10\nservice_time = \"0s\"").await;
    let a = o.local_addr();
    let t = Instant::now();
    get(a, "/fast/0").await;
    assert!(t.elapsed() < Duration::from_millis(100));
    let t = Instant::now();
    get(a, "/api/0").await;
    assert!(t.elapsed() >= Duration::from_millis(150));
}

// Faults: each in a window 300ms..600ms after the start.

fn fault(kind: &str, params: &str) -> String {
    format!("[[fault]]\nat = \"300ms\"\nduration = \"300ms\"\nkind = \"{kind}\"\n{params}\n")
}

async fn at(o: &RunningOrigin, ms: u64) {
    tokio::time::sleep_until((o.started() + Duration::from_millis(ms)).into()).await;
}

#[tokio::test]
async fn status_fault() {
    let o = origin(&fault("status", "code = 503")).await;
    let a = o.local_addr();
    assert_eq!(get(a, "/static/1").await.status, 200);
    at(&o, 350).await;
    let r = get(a, "/static/1").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("cache-control"), "no-store");
    at(&o, 650).await;
    assert_eq!(get(a, "/static/1").await.status, 200);
    assert_eq!(o.stats().faults.status, 1);
    assert_eq!(o.stats().responses["503"], 1);
}

#[tokio::test]
async fn status_fault_rate_is_a_share() {
    let text = "listen = \"127.0.0.1:0\"\n[[class]]\nprefix = \"/s/\"\nobjects = 1\nsize = 1\n[[fault]]\nat = \"0s\"\nduration = \"1h\"\nkind = \"status\"\ncode = 500\nrate = 0.3\n";
    let o = start(OriginConfig::from_str(text, "o.toml").unwrap())
        .await
        .unwrap();
    let mut c = Conn::open(o.local_addr()).await.unwrap();
    let mut failed = 0;
    for _ in 0..400 {
        if c.send("GET", "/s/0", &[]).await.unwrap().status == 500 {
            failed += 1;
        }
    }
    // 120 expected; sd 9.2.
    assert!((80..160).contains(&failed), "{failed}");
    assert_eq!(o.stats().faults.status, failed);
}

#[tokio::test]
async fn slow_fault() {
    let o = origin(&fault("slow", "extra = \"300ms\"")).await;
    let a = o.local_addr();
    let t = Instant::now();
    get(a, "/static/1").await;
    assert!(t.elapsed() < Duration::from_millis(200));
    at(&o, 350).await;
    let t = Instant::now();
    assert_eq!(get(a, "/static/1").await.status, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    at(&o, 700).await;
    let t = Instant::now();
    get(a, "/static/1").await;
    assert!(t.elapsed() < Duration::from_millis(200));
    assert_eq!(o.stats().faults.slow, 1);
}

#[tokio::test]
async fn reset_fault() {
    let o = origin(&fault("reset", "")).await;
    let a = o.local_addr();
    assert_eq!(get(a, "/static/5").await.status, 200);
    at(&o, 350).await;
    // A body is cut in the middle; a HEAD is reset before its head.
    assert!(req(a, "GET", "/static/5", &[]).await.is_err());
    assert!(req(a, "HEAD", "/static/5", &[]).await.is_err());
    // With a raw socket: the response stops short and the connection ends with a RST.
    let mut s = TcpStream::connect(a).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET /static/5 HTTP/1.1\r\nhost: o\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    let end = loop {
        match s.read(&mut buf).await {
            Ok(0) => break None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break Some(e.kind()),
        }
    };
    assert_eq!(end, Some(std::io::ErrorKind::ConnectionReset));
    assert!(got.starts_with(b"HTTP/1.1 200"));
    assert!(got.len() < 40_260, "{}", got.len());
    at(&o, 650).await;
    assert_eq!(get(a, "/static/5").await.body.len(), 40_260);
    assert_eq!(o.stats().faults.reset, 3);
}

#[tokio::test]
async fn down_fault() {
    let o = origin(&fault("down", "")).await;
    let a = o.local_addr();
    let mut kept = Conn::open(a).await.unwrap();
    assert_eq!(
        kept.send("GET", "/static/1", &[]).await.unwrap().status,
        200
    );
    at(&o, 350).await;
    // The open keep-alive connection was dropped when the window started…
    assert!(kept.send("GET", "/static/1", &[]).await.is_err());
    // …and new ones are closed at once.
    assert!(req(a, "GET", "/static/1", &[]).await.is_err());
    at(&o, 650).await;
    assert_eq!(get(a, "/static/1").await.status, 200);
    let s = o.stats();
    assert_eq!(s.faults.down, 2, "{s:?}");
    assert_eq!(s.requests, 2);
}

/// Not a check, a measurement: `cargo test --release -p sim --test origin -- --ignored --nocapture`.
#[test]
#[ignore]
fn fill_speed() {
    let mut buf = vec![0u8; 1 << 20];
    let t = Instant::now();
    for i in 0..1024u64 {
        fill(7, "/static/5", 0, i << 20, &mut buf);
    }
    let s = t.elapsed().as_secs_f64();
    eprintln!("fill: {:.2} GB/s", 1024.0 * 1048576.0 / s / 1e9);
    let t = Instant::now();
    let d = digest(7, "/static/5", 0, 1 << 30);
    eprintln!(
        "digest (fill + xxh3): {:.2} GB/s ({d:x})",
        (1u64 << 30) as f64 / t.elapsed().as_secs_f64() / 1e9
    );
}
