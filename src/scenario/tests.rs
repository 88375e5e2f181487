//! Scenario parsing and validation: the quickstart and the issue's example, defaults, the
//! resolved file's round trip, overrides, every refusal with its `file:line: key`, and
//! hostile inputs (no panic, whatever the text).

use super::*;
use proptest::prelude::*;

/// The example of the scenario contract (issue 5), as written there.
const CONTRACT: &str = r#"name = "global-zipf"
seed = 42
duration = "60s"           # measured
warmup = "10s"             # traffic sent first, not measured
[world]
preset = "earth"
[[origin]]
name = "web"
site = "us-east"
service_time = { dist = "exponential", mean = "20ms" }
[[origin.class]]
prefix = "/static/"
objects = 50000
size = { dist = "lognormal", median = "16KiB", sigma = 1.5 }
cache_control = "public, max-age=3600"
[edge]
cache = { policy = "s3fifo", capacity = "256MiB" }
[[edge.behavior]]
path = "*"
origin = "web"
[[pop]]
name = "fra"
site = "eu-central"
cache = { capacity = "128MiB" }    # per-PoP override of any [edge] key
parent = "iad"                     # optional: tiered caching through another PoP
[[pop]]
name = "iad"
site = "us-east"
[[region]]
name = "europe"
site = "eu-west"
share = 0.5                        # of the total rate
last_mile = { rtt = "15ms", bandwidth = "100Mbit/s" }
[[region]]
name = "americas"
site = "us-central"
share = 0.5
[workload]
rate = 500                         # requests per second in total
arrival = "poisson"
mix = [{ class = "/static/", share = 1.0, popularity = { zipf = 0.8 } }]
[[workload.phase]]
at = "30s"
rate = 2000
ramp = "5s"
[[assert]]
metric = "hit_ratio"
min = 0.6
[[assert]]
metric = "latency_p99"
region = "europe"                  # or pop = "fra"; neither = the whole run
max = "400ms"
"#;

/// The smallest accepted scenario. Line numbers in the refusals below count from here.
const MIN: &str = r#"name = "min"
duration = "10s"
[[origin]]
name = "web"
site = "us-east"
[[origin.class]]
prefix = "/s/"
objects = 10
size = "1KiB"
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
rate = 10
mix = [{ class = "/s/", popularity = "uniform" }]
"#;

/// Every key set, most of them away from their defaults.
const EVERY_KEY: &str = r#"name = "every.key_1"
seed = 9223372036854775807
duration = "1h 30m"
warmup = "250ms"
[world]
preset = "none"
base_rtt = "1ms"
inflation = 2.0
[[world.site]]
name = "a"
city = "Alpha City"
lat = 10.5
lon = -20.25
[[world.site]]
name = "b"
lat = -33.3
lon = 151.2
[[world.site]]
name = "c"
lat = 0
lon = 0
[[world.rtt]]
a = "a"
b = "b"
rtt = "123ms"
[[world.rtt]]
a = "c"
b = "c"
rtt = "0s"

[[origin]]
name = "web"
site = "Alpha City"
seed = 5
max_concurrency = 3
service_time = "1ms"
[[origin.class]]
prefix = "/static/"
objects = 100
size = { dist = "empirical", table = [["1KiB", 3], ["1MiB", 1]] }
update_interval = "10s"
[[origin.class]]
prefix = "/static2/"
objects = 1
size = 17
cache_control = "no-store"
[origin.trace]
max_size = "10MiB"
[[origin.fault]]
at = "1s"
duration = "2s"
kind = "status"
code = 502
rate = 0.25

[[origin]]
name = "api"
site = "b"
[[origin.class]]
prefix = "/api/"
objects = 7
size = { dist = "pareto", scale = "100B", shape = 1.1, max = "1MiB" }

[edge.cache]
policy = "lru"
capacity = "10MiB"
[[edge.behavior]]
path = "/api/*"
origin = "api"
cache = false
[[edge.behavior]]
path = "*"
origin = "web"
ttl = { default = "1h" }
cache_key = { query = ["v"], headers = ["accept-encoding"] }
stale_if_error = "1m"
[edge.limits]
max_connections = 100

[[pop]]
name = "shield"
site = "a"
command = "nginx -c {config}"
[[pop]]
name = "p1"
site = "b"
parent = "shield"
cache = { policy = "s3fifo:small=0.2", shards = 2 }
limits = { collapse_timeout = "1s" }
[[pop]]
name = "p2"
site = "c"
parent = "p1"
[[pop.behavior]]
path = "/api/*"
origin = "api"
[[pop.behavior]]
path = "*"
origin = "web"
collapse = false

[[region]]
name = "r1"
site = "b"
share = 0.25
last_mile = { rtt = "15ms", jitter = "3ms", bandwidth = "8Mbps", loss = "0.1%" }
connections = 1
requests_per_connection = 0
[[region]]
name = "r2"
site = "a"
share = 0.75
pop = "p2"
last_mile = { loss = 0.5 }

[workload]
rate = 1e4
arrival = "constant"
mix = [{ class = "/static/", share = 0.5, popularity = { zipf = 1.1 } },
       { class = "/api", share = 0.5, popularity = "uniform" }]
[[workload.phase]]
at = "0s"
rate = 5
[[workload.phase]]
at = "1h"
rate = 7.5
ramp = "1m"

[[assert]]
metric = "ttfb_p99"
pop = "p1"
min = 0.5
max = "1s 1ns"
[[assert]]
metric = "throughput_rps"
region = "r2"
min = 100
[[assert]]
metric = "error_rate"
max = 0.01
"#;

fn ok(text: &str) -> Scenario {
    parse(text, "s.toml").unwrap_or_else(|e| panic!("{e}\n---\n{text}"))
}

/// Asserts the error's display starts with `want` (the rest is explanation).
#[track_caller]
fn refused(text: &str, want: &str) {
    let got = match parse(text, "s.toml") {
        Ok(_) => "accepted".to_string(),
        Err(e) => e.to_string(),
    };
    assert!(
        got.starts_with(want),
        "\n got: {got}\nwant: {want}…\n---\n{text}"
    );
}

/// MIN with `from` replaced by `to` (which must occur).
#[track_caller]
fn min_with(from: &str, to: &str) -> String {
    assert!(MIN.contains(from), "{from:?} is not in MIN");
    MIN.replacen(from, to, 1)
}

#[track_caller]
fn round_trips(s: &Scenario) {
    let written = s.to_toml();
    let back = parse(&written, &s.file).unwrap_or_else(|e| panic!("{e}\n---\n{written}"));
    assert_eq!(&back, s, "\n---\n{written}");
    assert_eq!(back.to_toml(), written);
}

#[test]
fn quickstart() {
    let s = ok(QUICKSTART);
    assert_eq!(s.name, "quickstart");
    assert_eq!(
        (s.duration, s.warmup),
        (Duration::from_secs(15), Duration::from_secs(5))
    );
    let pops: Vec<&str> = s.pops.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(pops, ["fra", "iad"]);
    // Each region goes to the PoP on its continent.
    let served: Vec<&str> = s
        .regions
        .iter()
        .map(|r| s.pops[r.pop].name.as_str())
        .collect();
    assert_eq!(served, ["fra", "iad"]);
    assert_eq!(s.pops[0].edge.cache.capacity, 32 << 20);
    assert_eq!(s.pops[1].edge.cache.capacity, 64 << 20);
    assert_eq!(s.asserts.len(), 2);
    round_trips(&s);
    let e = parse("", "quickstart").unwrap_err();
    assert!(e
        .to_string()
        .starts_with("quickstart:1: name: required key is missing"));
}

#[test]
fn the_contract_example() {
    let s = ok(CONTRACT);
    assert_eq!((s.name.as_str(), s.seed), ("global-zipf", 42));
    assert_eq!(s.pops[0].parent, Some(1));
    assert_eq!(s.pops[1].parent, None);
    assert_eq!(s.pops[0].edge.cache.capacity, 128 << 20);
    assert_eq!(s.pops[0].edge.cache.policy.name, "s3fifo");
    assert_eq!(s.pops[1].edge.cache.capacity, 256 << 20);
    assert_eq!(s.pops[0].edge.name, "fra");
    assert_eq!(s.pops[0].edge.listen, UNASSIGNED);
    let o = &s.pops[0].edge.origins;
    assert_eq!((o.len(), o[0].name.as_str()), (1, "web"));
    assert_eq!(o[0].url, ORIGIN_URL_PLACEHOLDER);
    assert_eq!(s.origins[0].config.seed, 42, "the scenario's seed");
    assert!(s.origins[0].seed_inherited);
    assert_eq!(s.origins[0].config.site.as_deref(), Some("us-east"));
    let europe = &s.regions[0];
    assert_eq!(europe.last_mile.rtt, Duration::from_millis(15));
    assert_eq!(europe.last_mile.bandwidth_bps, Some(100_000_000));
    assert_eq!(s.pops[europe.pop].name, "fra");
    assert_eq!(s.pops[s.regions[1].pop].name, "iad");
    assert_eq!(s.workload.phases.len(), 1);
    assert_eq!(
        s.asserts[1],
        Assertion {
            metric: Metric::LatencyP99,
            scope: Scope::Region(0),
            min: None,
            max: Some(400.0)
        }
    );
    round_trips(&s);
}

#[test]
fn defaults() {
    let s = ok(MIN);
    assert_eq!(s.seed, 1);
    assert_eq!(s.warmup, Duration::ZERO);
    assert_eq!(s.world, sim::geo::World::earth());
    let r = &s.regions[0];
    assert_eq!(r.share, 1.0);
    assert_eq!(r.last_mile, LastMile::default());
    assert_eq!((r.connections, r.requests_per_connection), (512, 100));
    assert_eq!(r.pop, 0);
    assert_eq!(s.origins[0].config.seed, 1);
    assert!(s.asserts.is_empty());
    assert_eq!(s.pops[0].command, None);
    assert_eq!(s.pops[0].edge.limits, edge::config::Limits::default());
    round_trips(&s);
}

#[test]
fn every_key_round_trips() {
    let s = ok(EVERY_KEY);
    assert_eq!(s.seed, i64::MAX as u64);
    assert_eq!(s.origins[0].site, s.world.site("a").unwrap(), "by city");
    assert_eq!(s.origins[0].config.seed, 5);
    assert!(!s.origins[0].seed_inherited);
    assert_eq!(s.workload.mix[1].class, "/api/", "completed from /api");
    assert_eq!(s.pops[1].parent, Some(0));
    assert_eq!(s.pops[2].parent, Some(1));
    assert_eq!(s.pops[1].edge.cache.shards, 2);
    assert_eq!(s.pops[1].edge.cache.capacity, 10 << 20, "merged key by key");
    assert_eq!(s.pops[2].edge.behaviors.len(), 2);
    assert!(!s.pops[2].edge.behaviors[1].collapse);
    assert_eq!(s.pops[1].edge.limits.max_connections, 100);
    assert_eq!(s.pops[0].command.as_deref(), Some("nginx -c {config}"));
    let r1 = &s.regions[0];
    assert_eq!(r1.last_mile.loss, 0.001);
    assert_eq!(r1.requests_per_connection, 0);
    assert_eq!(s.pops[r1.pop].name, "p1", "nearest by RTT: the same site");
    assert_eq!(s.asserts[0].max, Some(1000.000001));
    assert_eq!(s.asserts[0].scope, Scope::Pop(1));
    round_trips(&s);
    let text = s.to_toml();
    assert!(text.contains("\n[[world.rtt]]\na = \"a\"\nb = \"b\"\nrtt = \"123ms\"\n"));
    assert!(text.contains("\nseed = 5\n"));
}

#[test]
fn overrides() {
    let mut s = ok(EVERY_KEY.replacen("seed = 5\n", "", 1).as_str());
    assert!(s.origins.iter().all(|o| o.seed_inherited));
    let text = s.to_toml();
    assert!(!text.contains("\nseed = 9223372036854775807\nmax_concurrency"));
    s.apply_overrides(Some(3), Some(Duration::from_secs(2)), Some(2e4));
    assert_eq!(s.seed, 3);
    assert!(s.origins.iter().all(|o| o.config.seed == 3));
    assert_eq!(s.duration, Duration::from_secs(2));
    assert_eq!(s.workload.rate, 2e4);
    // The phase at 1h is past the new end, and gone.
    let rates: Vec<f64> = s.workload.phases.iter().map(|p| p.rate).collect();
    assert_eq!(rates, [10.0]);
    round_trips(&s);

    let mut s = ok(EVERY_KEY);
    s.apply_overrides(Some(3), None, None);
    assert_eq!(s.origins[0].config.seed, 5, "its own seed");
    assert_eq!(s.origins[1].config.seed, 3);

    assert_eq!(
        parse_overrides(Some(7), Some("1m"), Some(1.5)),
        Ok(Overrides {
            seed: Some(7),
            duration: Some(Duration::from_secs(60)),
            rate: Some(1.5)
        })
    );
    assert_eq!(parse_overrides(None, None, None), Ok(Overrides::default()));
    for (seed, duration, rate, want) in [
        (
            Some(u64::MAX),
            None,
            None,
            "--seed 18446744073709551615: at most",
        ),
        (
            None,
            Some("0s"),
            None,
            "--duration 0s: must be longer than 0s",
        ),
        (
            None,
            Some("soon"),
            None,
            "--duration: bad duration \"soon\"",
        ),
        (None, None, Some(0.0), "--rate 0: requests per second"),
        (None, None, Some(f64::NAN), "--rate NaN"),
    ] {
        let e = parse_overrides(seed, duration, rate).unwrap_err();
        assert!(e.starts_with(want), "{e}");
    }
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.toml");
    let e = load(&path).unwrap_err();
    assert!(e
        .to_string()
        .starts_with(&format!("{}: cannot read", path.display())));
    std::fs::write(
        &path,
        MIN.replace("duration = \"10s\"", "duration = \"0s\""),
    )
    .unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:2: duration: must be longer than 0s", path.display())
    );
    std::fs::write(&path, MIN).unwrap();
    assert_eq!(load(&path).unwrap().file, path.display().to_string());
}

#[test]
fn refusals_of_top_level_keys() {
    refused(
        &min_with("name = \"min\"\n", ""),
        "s.toml:1: name: required key is missing",
    );
    refused(
        &min_with("\"min\"", "\"a b\""),
        "s.toml:1: name: \"a b\" is not a valid scenario name",
    );
    refused(
        &min_with("duration = \"10s\"\n", ""),
        "s.toml:1: duration: required key is missing",
    );
    refused(
        &min_with("\"10s\"", "\"10 parsecs\""),
        "s.toml:2: duration: bad duration \"10 parsecs\"",
    );
    refused(
        &min_with("\"10s\"", "10"),
        "s.toml:2: duration: invalid type: integer `10`",
    );
    refused(
        &min_with("\"10s\"", "\"0s\""),
        "s.toml:2: duration: must be longer than 0s",
    );
    refused(
        &min_with("duration", "warmup = \"-1s\"\nduration"),
        "s.toml:2: warmup: \"-1s\" is negative",
    );
    refused(
        &min_with("duration", "seed = -1\nduration"),
        "s.toml:2: seed: must be 0 or more",
    );
    refused(
        &min_with("duration", "sede = 1\nduration"),
        "s.toml:2: sede: unknown key",
    );
    refused(
        &format!("{MIN}[world]\npreset = \"mars\"\n"),
        "s.toml:23: world.preset: unknown preset \"mars\"",
    );
    refused(
        &format!("{MIN}[world]\nrtt = [{{ a = \"x\", b = \"us-east\", rtt = \"1ms\" }}]\n"),
        "s.toml:23: world.rtt[0].a: no site named \"x\"",
    );
    refused(
        &format!("{MIN}[[assert]]\nmetric = \"hit_ratio\"\nmin = 1\n[[asert]]\n"),
        "s.toml:25: asert: unknown key",
    );
    refused(
        "name = \"x\"\nduration = ",
        "s.toml:2: string values must be quoted",
    );
}

#[test]
fn refusals_of_origins() {
    let no_origin = "name = \"x\"\nduration = \"1s\"\n";
    refused(
        no_origin,
        "s.toml:1: origin: at least one [[origin]] is required",
    );
    refused(
        &min_with("name = \"web\"\n", ""),
        "s.toml:3: origin[0].name: required key is missing",
    );
    refused(
        &min_with("\"web\"", "\"w/b\""),
        "s.toml:4: origin[0].name: \"w/b\" is not a valid origin name",
    );
    refused(
        &min_with("site = \"us-east\"\n", ""),
        "s.toml:3: origin[0].site: required key is missing",
    );
    refused(
        &min_with("site = \"us-east\"", "site = \"mars\""),
        "s.toml:5: origin[0].site: unknown site \"mars\" (sites: us-east, us-east-2,",
    );
    refused(
        &min_with(
            "site = \"us-east\"",
            "site = \"us-east\"\nlisten = \"127.0.0.1:1\"",
        ),
        "s.toml:6: origin[0].listen: not allowed here",
    );
    refused(
        &min_with("objects = 10", "objects = 0"),
        "s.toml:8: origin[0].class[0].objects: 0 is out of range",
    );
    refused(
        &min_with("objects = 10", "objets = 10"),
        "s.toml:8: origin[0].class[0].objets: unknown key",
    );
    let two = min_with(
        "[edge]",
        "[[origin]]\nname = \"web\"\nsite = \"us-east\"\n[edge]",
    );
    refused(
        &two,
        "s.toml:11: origin[1].name: duplicate origin name \"web\" (also origin[0])",
    );
}

#[test]
fn refusals_of_edge_and_pops() {
    for key in ["listen = \"127.0.0.1:1\"", "admin_listen = \"127.0.0.1:1\""] {
        let k = key.split(' ').next().unwrap();
        refused(
            &min_with("[edge]\n", &format!("[edge]\n{key}\n")),
            &format!("s.toml:11: edge.{k}: not allowed in a scenario: the runner assigns"),
        );
        refused(
            &min_with(
                "site = \"us-east\"\n[[region]]",
                &format!("site = \"us-east\"\n{key}\n[[region]]"),
            ),
            &format!("s.toml:16: pop[0].{k}: not allowed in a scenario: the runner assigns"),
        );
    }
    refused(
        &min_with("[edge]\n", "[edge]\nname = \"e\"\n"),
        "s.toml:11: edge.name: not allowed in a scenario: each PoP's edge is named after the PoP",
    );
    refused(&min_with("[edge]\n", "[edge]\n[[edge.origin]]\nname = \"o\"\nurl = \"http://a\"\n"), "s.toml:11: edge.origin: not allowed in a scenario: each PoP's edge has one origin per [[origin]]");
    refused(
        &min_with(
            "site = \"us-east\"\n[[region]]",
            "site = \"us-east\"\norigin = []\n[[region]]",
        ),
        "s.toml:16: pop[0].origin: not allowed in a scenario",
    );
    refused(
        &min_with("[[edge.behavior]]\npath = \"*\"\n", ""),
        "s.toml: edge.behavior: at least one [[behavior]] is required",
    );
    refused(
        &min_with("path = \"*\"", "path = \"/x/*\""),
        "s.toml:12: edge.behavior[0].path: the last behavior must have path = \"*\"",
    );
    refused(
        &min_with("path = \"*\"", "path = \"*\"\norigin = \"api\""),
        "s.toml:13: edge.behavior[0].origin: no origin named \"api\" (origins: web)",
    );
    refused(
        &min_with("[edge]", "[edge]\ncache = { capacity = 0 }"),
        "s.toml:11: edge.cache.capacity: must be more than 0 bytes",
    );
    refused(
        &min_with("[edge]", "[edge]\ncache = { capacity = 1, colour = 1 }"),
        "s.toml:11: edge.cache.colour: unknown key",
    );
    let pops_at = "[[pop]]\nname = \"p\"\nsite = \"us-east\"\n";
    refused(
        &min_with(pops_at, ""),
        "s.toml:1: pop: at least one [[pop]] is required",
    );
    refused(
        &min_with(pops_at, "[[pop]]\nsite = \"us-east\"\n"),
        "s.toml:13: pop[0].name: required key is missing",
    );
    refused(
        &min_with(pops_at, "[[pop]]\nname = \"p\"\n"),
        "s.toml:13: pop[0].site: required key is missing",
    );
    refused(
        &min_with(pops_at, &format!("{pops_at}{pops_at}")),
        "s.toml:17: pop[1].name: duplicate PoP name \"p\" (also pop[0])",
    );
    refused(
        &min_with(pops_at, &format!("{pops_at}command = \" \"\n")),
        "s.toml:16: pop[0].command: empty command",
    );
    refused(
        &min_with(pops_at, &format!("{pops_at}parent = \"q\"\n")),
        "s.toml:16: pop[0].parent: unknown PoP \"q\" (PoPs: p)",
    );
    refused(
        &min_with(pops_at, &format!("{pops_at}parent = \"p\"\n")),
        "s.toml:16: pop[0].parent: parents form a cycle: p → p",
    );
    let three = "[[pop]]\nname = \"a\"\nsite = \"us-east\"\n[[pop]]\nname = \"b\"\nsite = \"us-east\"\nparent = \"c\"\n[[pop]]\nname = \"c\"\nsite = \"us-east\"\nparent = \"b\"\n";
    refused(
        &min_with(pops_at, three),
        "s.toml:19: pop[1].parent: parents form a cycle: b → c → b",
    );
    refused(
        &min_with(
            pops_at,
            &format!("{pops_at}cache = {{ capacity = \"1XB\" }}\n"),
        ),
        "s.toml:16: pop[0].cache.capacity: bad size \"1XB\"",
    );
    refused(&min_with(pops_at, &format!("{pops_at}cache = {{ capacity = 1000 }}\n")).replace("[edge]\n", "[edge]\ncache = { max_object_size = 2000 }\n"), "s.toml:11: edge.cache.max_object_size: 2000B is larger than cache.capacity (1000B) (with the overrides of pop[0], PoP \"p\")");
    refused(
        &min_with(
            pops_at,
            &format!("{pops_at}limits = {{ max_connections = 0 }}\n"),
        ),
        "s.toml:16: pop[0].limits.max_connections: 0 is out of range",
    );
    refused(
        &min_with(
            pops_at,
            &format!("{pops_at}[[pop.behavior]]\npath = \"/a\"\n"),
        ),
        "s.toml:17: pop[0].behavior[0].path: the last behavior must have path = \"*\"",
    );
    refused(
        &min_with(pops_at, &format!("{pops_at}ttl = 1\n")),
        "s.toml:16: pop[0].ttl: unknown key",
    );
}

#[test]
fn refusals_of_regions() {
    let r = "[[region]]\nname = \"r\"\nsite = \"eu-west\"\n";
    refused(
        &min_with(r, ""),
        "s.toml:1: region: at least one [[region]] is required",
    );
    refused(
        &min_with("site = \"eu-west\"", "site = \"mars\""),
        "s.toml:18: region[0].site: unknown site \"mars\" (sites: us-east,",
    );
    refused(
        &min_with(r, "[[region]]\nsite = \"eu-west\"\n"),
        "s.toml:16: region[0].name: required key is missing",
    );
    refused(
        &min_with(r, &format!("{r}{r}")),
        "s.toml:16: region[0].share: required key is missing when there are several",
    );
    refused(
        &min_with(r, &format!("{r}share = 0.5\n{r}share = 0.5\n")),
        "s.toml:21: region[1].name: duplicate region name \"r\" (also region[0])",
    );
    let two = "[[region]]\nname = \"a\"\nsite = \"eu-west\"\nshare = 0.5\n[[region]]\nname = \"b\"\nsite = \"eu-west\"\nshare = 0.6\n";
    refused(
        &min_with(r, two),
        "s.toml:16: region: the shares must add up to 1, but they add up to 1.1 (a 0.5, b 0.6)",
    );
    refused(
        &min_with(r, &format!("{r}share = 0\n")),
        "s.toml:19: region[0].share: 0 is out of range",
    );
    refused(
        &min_with(r, &format!("{r}pop = \"q\"\n")),
        "s.toml:19: region[0].pop: unknown PoP \"q\" (PoPs: p)",
    );
    refused(
        &min_with(r, &format!("{r}connections = 0\n")),
        "s.toml:19: region[0].connections: 0 is out of range",
    );
    refused(
        &min_with(r, &format!("{r}requests_per_connection = -1\n")),
        "s.toml:19: region[0].requests_per_connection: -1 is out of range",
    );
    refused(
        &min_with(r, &format!("{r}protocol = \"h3\"\n")),
        "s.toml:19: region[0].protocol: \"h3\" is not a protocol (h1, h2)",
    );
    for (lm, want) in [
        (
            "rtt = \"2h\"",
            "region[0].last_mile.rtt: 2h is longer than an hour",
        ),
        (
            "jitter = \"-1ms\"",
            "region[0].last_mile.jitter: \"-1ms\" is negative",
        ),
        (
            "bandwidth = \"fast\"",
            "region[0].last_mile.bandwidth: bad bandwidth \"fast\"",
        ),
        (
            "loss = \"101%\"",
            "region[0].last_mile.loss: bad percentage \"101%\"",
        ),
        ("loss = 2", "region[0].last_mile.loss: 2 is out of range"),
        ("los = 0", "region[0].last_mile.los: unknown key"),
    ] {
        refused(
            &min_with(r, &format!("{r}last_mile = {{ {lm} }}\n")),
            &format!("s.toml:19: {want}"),
        );
    }
}

#[test]
fn refusals_of_the_workload() {
    refused(
        &min_with(
            "[workload]\nrate = 10\nmix = [{ class = \"/s/\", popularity = \"uniform\" }]\n",
            "",
        ),
        "s.toml:1: workload: required table is missing",
    );
    refused(
        &min_with("rate = 10", "rate = 0"),
        "s.toml:20: workload.rate: 0 is out of range",
    );
    refused(
        &min_with("\"/s/\", popularity", "\"/x/\", popularity"),
        "s.toml:21: workload.mix[0].class: no origin class starts with \"/x/\" (classes: /s/)",
    );
    refused(
        &format!("{MIN}[[workload.phase]]\nat = \"10s\"\nrate = 1\n"),
        "s.toml:23: workload.phase[0].at: 10s is not within the measured period (duration = 10s)",
    );
    refused(
        &format!("{MIN}[[workload.phase]]\nat = \"1s\"\nrat = 1\n"),
        "s.toml:24: workload.phase[0].rat: unknown key",
    );
    // The only behavior sends everything to the other origin.
    let routed = min_with("path = \"*\"", "path = \"*\"\norigin = \"api\"").replacen(
        "[edge]",
        "[[origin]]\nname = \"api\"\nsite = \"us-east\"\n[edge]",
        1,
    );
    refused(&routed, "s.toml:25: workload.mix[0].class: class \"/s/\" is origin \"web\"'s, but PoP \"p\" sends \"/s/0\" to origin \"api\" (its behavior[0], path \"*\")");
}

#[test]
fn refusals_of_assertions() {
    let a = |body: &str| format!("{MIN}[[assert]]\n{body}\n");
    refused(
        &a("min = 1"),
        "s.toml:22: assert[0].metric: required key is missing (one of hit_ratio, byte_hit_ratio,",
    );
    refused(
        &a("metric = \"hit_rate\"\nmin = 1"),
        "s.toml:23: assert[0].metric: unknown metric \"hit_rate\" (metrics: hit_ratio,",
    );
    refused(
        &a("metric = \"hit_ratio\""),
        "s.toml:22: assert[0].max: an assertion needs min, max or both",
    );
    refused(
        &a("metric = \"hit_ratio\"\nregion = \"asia\"\nmin = 0"),
        "s.toml:24: assert[0].region: unknown region \"asia\" (regions: r)",
    );
    refused(
        &a("metric = \"hit_ratio\"\npop = \"q\"\nmin = 0"),
        "s.toml:24: assert[0].pop: unknown PoP \"q\" (PoPs: p)",
    );
    refused(
        &a("metric = \"hit_ratio\"\nregion = \"r\"\npop = \"p\"\nmin = 0"),
        "s.toml:25: assert[0].pop: give region or pop, not both",
    );
    refused(
        &a("metric = \"hit_ratio\"\nmin = 1.5"),
        "s.toml:24: assert[0].min: 1.5 is out of range (a ratio from 0 to 1)",
    );
    refused(
        &a("metric = \"hit_ratio\"\nmin = \"50%\""),
        "s.toml:24: assert[0].min: \"50%\": hit_ratio takes a number",
    );
    refused(
        &a("metric = \"hit_ratio\"\nmin = nan"),
        "s.toml:24: assert[0].min: NaN is out of range",
    );
    refused(
        &a("metric = \"latency_p50\"\nmax = \"fast\""),
        "s.toml:24: assert[0].max: bad duration \"fast\"",
    );
    refused(
        &a("metric = \"latency_p50\"\nmax = -3"),
        "s.toml:24: assert[0].max: -3 is out of range (milliseconds",
    );
    refused(
        &a("metric = \"throughput_rps\"\nmin = 10\nmax = 5"),
        "s.toml:25: assert[0].max: max (5) is less than min (10)",
    );
    refused(
        &a("metric = \"hit_ratio\"\nmin = 0\nlimit = 1"),
        "s.toml:25: assert[0].limit: unknown key",
    );
    let s = ok(&a("metric = \"latency_p50\"\nmin = 2\nmax = \"1.5s\""));
    assert_eq!(
        (s.asserts[0].min, s.asserts[0].max),
        (Some(2.0), Some(1500.0))
    );
    round_trips(&s);
}

/// Texts near valid ones: every line left out, every prefix, every line doubled. Each is
/// either accepted or refused with a located error; none panics.
#[test]
fn mutated_scenarios_never_panic() {
    for text in [MIN, CONTRACT, QUICKSTART] {
        let lines: Vec<&str> = text.lines().collect();
        for i in 0..lines.len() {
            let mut without = lines.clone();
            without.remove(i);
            let _ = parse(&without.join("\n"), "m.toml");
            let mut doubled = lines.clone();
            doubled.insert(i, lines[i]);
            let _ = parse(&doubled.join("\n"), "m.toml");
        }
        for (i, _) in text.char_indices() {
            let _ = parse(&text[..i], "m.toml");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random edits of the scenario with every key: parse returns, whatever the result.
    #[test]
    fn edited_scenarios_never_panic(
        edits in prop::collection::vec((0usize..4000, 0usize..6, "[ -~]{0,6}"), 1..6)
    ) {
        let mut text = EVERY_KEY.to_string();
        for (at, len, with) in edits {
            let mut start = at.min(text.len());
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (start + len).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.replace_range(start..end, &with);
        }
        let _ = parse(&text, "p.toml");
    }

    /// Numbers anywhere: every integer and float of the scenario replaced by extreme values.
    #[test]
    fn extreme_numbers_never_panic(n in prop_oneof![
        Just("0".to_string()), Just("-1".to_string()), Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()), Just("1e308".to_string()), Just("nan".to_string()),
        Just("inf".to_string()), Just("-0.0".to_string()), Just("5e-324".to_string()),
        Just("\"\"".to_string()), Just("\"99999999999999d\"".to_string()),
    ], which in 0usize..40) {
        let mut count = 0;
        let mut out = String::new();
        for line in EVERY_KEY.lines() {
            let replaced = match line.split_once(" = ") {
                Some((k, v)) if v.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '"') => {
                    count += 1;
                    if count == which { format!("{k} = {n}") } else { line.to_string() }
                }
                _ => line.to_string(),
            };
            out.push_str(&replaced);
            out.push('\n');
        }
        let _ = parse(&out, "p.toml");
    }
}
