//! The edge configuration through its public API: the example, defaults, every refusal (with
//! its exact file:line and key), unknown keys at every level, TOML syntax errors, behavior
//! matching, the raw layer's reuse (embedding, listen modes, overlays), and fuzzing.

use std::net::SocketAddr;
use std::time::Duration;

use edge::config::{Config, ConfigError, Listen, QueryKey, RawConfig, Source, Ttl, EXAMPLE};
use proptest::prelude::*;

/// The smallest accepted file. Line numbers below count from here.
const MIN: &str = r#"listen = "127.0.0.1:8080"
admin_listen = "127.0.0.1:8081"
[[origin]]
name = "web"
url = "http://127.0.0.1:9001"
[[behavior]]
path = "*"
"#;

fn ok(text: &str) -> Config {
    Config::from_str(text, "edge.toml").unwrap_or_else(|e| panic!("{e}\n---\n{text}"))
}

fn err(text: &str) -> ConfigError {
    match Config::from_str(text, "edge.toml") {
        Ok(c) => panic!("accepted: {c:?}\n---\n{text}"),
        Err(e) => e,
    }
}

/// Asserts the error's display starts with `want` (the rest is explanation).
#[track_caller]
fn refused(text: &str, want: &str) {
    let e = err(text).to_string();
    assert!(
        e.starts_with(want),
        "\n got: {e}\nwant: {want}…\n---\n{text}"
    );
}

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// MIN with `extra` appended (as more lines at the end).
fn min_plus(extra: &str) -> String {
    format!("{MIN}{extra}")
}

// ----- the example and defaults -----------------------------------------------------------

#[test]
fn example_is_accepted_with_its_values() {
    let c = ok(EXAMPLE);
    assert_eq!(c.listen, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
    assert_eq!(
        c.admin_listen,
        "127.0.0.1:8081".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.name, "fra");
    assert_eq!(c.cache.policy.to_string(), "s3fifo");
    assert_eq!(c.cache.capacity, 256 << 20);
    assert_eq!(c.cache.max_object_size, 64 << 20);
    assert_eq!(c.cache.shards, 16);
    assert_eq!(c.origins.len(), 1);
    let o = &c.origins[0];
    assert_eq!(o.name, "web");
    assert_eq!(o.url.to_string(), "http://127.0.0.1:9001/");
    assert_eq!(o.url.authority().unwrap().as_str(), "127.0.0.1:9001");
    assert_eq!((o.connect_timeout, o.response_timeout), (s(2), s(10)));
    assert_eq!(c.behaviors.len(), 2);
    let (api, all) = (&c.behaviors[0], &c.behaviors[1]);
    assert_eq!(
        (api.path.as_str(), api.origin, api.cache),
        ("/api/*", 0, false)
    );
    assert_eq!((all.path.as_str(), all.origin, all.cache), ("*", 0, true));
    assert_eq!(
        all.ttl,
        Ttl {
            min: s(0),
            default: s(86_400),
            max: s(365 * 86_400)
        }
    );
    assert_eq!(all.cache_key.query, QueryKey::All);
    assert!(all.cache_key.headers.is_empty());
    assert!(all.collapse);
    assert_eq!(
        (all.stale_while_revalidate, all.stale_if_error),
        (s(0), s(0))
    );
    assert_eq!(c.limits, edge::config::Limits::default());
    assert!(std::ptr::eq(c.origin_of(api), &c.origins[0]));
}

#[test]
fn defaults() {
    let c = ok(MIN);
    assert_eq!(c.name, "edge");
    assert_eq!(c.cache.policy.to_string(), "s3fifo");
    assert_eq!(
        (c.cache.capacity, c.cache.max_object_size, c.cache.shards),
        (256 << 20, 64 << 20, 16)
    );
    let o = &c.origins[0];
    assert_eq!((o.connect_timeout, o.response_timeout), (s(2), s(10)));
    let b = &c.behaviors[0];
    assert_eq!((b.origin, b.cache, b.collapse), (0, true, true));
    assert_eq!(
        b.ttl,
        Ttl {
            min: s(0),
            default: s(86_400),
            max: s(365 * 86_400)
        }
    );
    assert_eq!(b.cache_key.query, QueryKey::None);
    assert!(b.cache_key.headers.is_empty());
    assert_eq!((b.stale_while_revalidate, b.stale_if_error), (s(0), s(0)));
    let l = c.limits;
    assert_eq!(l.header_read_timeout, s(10));
    assert_eq!(l.max_header_bytes, 32 << 10);
    assert_eq!(l.max_connections, 10_000);
    assert_eq!(l.collapse_max_waiters, 1024);
    assert_eq!(l.collapse_timeout, s(5));
}

#[test]
fn max_object_size_defaults_to_capacity_when_smaller() {
    let c = ok(&min_plus("[cache]\ncapacity = \"1MiB\"\n"));
    assert_eq!(
        (c.cache.capacity, c.cache.max_object_size),
        (1 << 20, 1 << 20)
    );
    let c = ok(&min_plus(
        "[cache]\ncapacity = 1000000000\nmax_object_size = 4096\n",
    ));
    assert_eq!(
        (c.cache.capacity, c.cache.max_object_size),
        (1_000_000_000, 4096)
    );
}

#[test]
fn every_key_set() {
    let c = ok(r#"
listen = "[::1]:0"
admin_listen = "[::1]:0"
name = "fra-1.b_c"
[cache]
policy = "S3FIFO:small=0.2"
capacity = "1GB"
max_object_size = "1.5MiB"
shards = 4
[[origin]]
name = "a"
url = "http://a.example:81"
[[origin]]
name = "b"
url = "http://b.example/"
connect_timeout = "250ms"
response_timeout = "1m 30s"
[[behavior]]
path = "/v/*"
origin = "b"
ttl = { min = "1s", max = "1h" }
cache_key = { query = ["v", "lang"], headers = ["Accept-Language", "x-device"] }
collapse = false
stale_while_revalidate = "30s"
stale_if_error = "1d"
[[behavior]]
path = "*"
origin = "a"
[behavior.ttl]
default = "10s"
[limits]
header_read_timeout = "2s"
max_header_bytes = 16384
max_connections = 5
collapse_max_waiters = 7
collapse_timeout = "100ms"
"#);
    assert_eq!(c.name, "fra-1.b_c");
    assert_eq!(c.cache.policy.to_string(), "s3fifo:small=0.2");
    assert_eq!(
        (c.cache.capacity, c.cache.max_object_size, c.cache.shards),
        (1_000_000_000, 1_572_864, 4)
    );
    assert_eq!(c.origins[1].connect_timeout, Duration::from_millis(250));
    assert_eq!(c.origins[1].response_timeout, s(90));
    let v = &c.behaviors[0];
    assert_eq!(v.origin, 1);
    // An unset default sits inside the bounds that were set.
    assert_eq!(
        v.ttl,
        Ttl {
            min: s(1),
            default: s(3600),
            max: s(3600)
        }
    );
    assert_eq!(
        v.cache_key.query,
        QueryKey::Only(vec!["v".into(), "lang".into()])
    );
    let h: Vec<&str> = v.cache_key.headers.iter().map(|h| h.as_str()).collect();
    assert_eq!(h, ["accept-language", "x-device"]);
    assert!(!v.collapse);
    assert_eq!(
        (v.stale_while_revalidate, v.stale_if_error),
        (s(30), s(86_400))
    );
    assert_eq!(c.behaviors[1].origin, 0);
    assert_eq!(
        c.behaviors[1].ttl,
        Ttl {
            min: s(0),
            default: s(10),
            max: s(365 * 86_400)
        }
    );
    let l = c.limits;
    assert_eq!(
        (l.header_read_timeout, l.max_header_bytes, l.max_connections),
        (s(2), 16384, 5)
    );
    assert_eq!(
        (l.collapse_max_waiters, l.collapse_timeout),
        (7, Duration::from_millis(100))
    );
}

#[test]
fn unset_ttl_max_grows_to_a_long_default() {
    let c = ok(&min_plus("ttl = { min = \"400d\" }\n"));
    let d = s(400 * 86_400);
    assert_eq!(
        c.behaviors[0].ttl,
        Ttl {
            min: d,
            default: d,
            max: d
        }
    );
    let c = ok(&min_plus("ttl = { default = \"2y\" }\n"));
    assert_eq!(c.behaviors[0].ttl.max, c.behaviors[0].ttl.default);
}

// ----- behavior matching -------------------------------------------------------------------

const MATCHING: &str = r#"listen = "127.0.0.1:8080"
admin_listen = "127.0.0.1:8081"
[[origin]]
name = "web"
url = "http://127.0.0.1:9001"
[[behavior]]
path = "/api/*"
cache = false
[[behavior]]
path = "*.jpg"
[[behavior]]
path = "/img/?.png"
[[behavior]]
path = "/exact"
[[behavior]]
path = "*"
"#;

#[test]
fn first_match_wins_in_order() {
    let c = ok(MATCHING);
    for (path, want) in [
        ("/api/users", 0),
        ("/api/", 0),
        ("/api/x.jpg", 0), // /api/* comes first
        ("/api", 4),
        ("/API/users", 4), // case-sensitive
        ("/photo.jpg", 1),
        ("/a/b/c/photo.jpg", 1), // * crosses '/'
        (".jpg", 1),
        ("/photo.JPG", 4),
        ("/photo.jpg.bak", 4),
        ("/img/a.png", 2),
        ("/img/ab.png", 4), // ? is exactly one character
        ("/img/.png", 4),
        ("/img//.png", 2),
        ("/exact", 3),
        ("/exact/", 4),
        ("/exactly", 4),
        ("/", 4),
        ("", 4),
        ("/api/users?x=1", 0),
        ("/photo.jpg?size=2", 1),
        ("/exact?q", 3),
        ("/img/a.png?v=1.jpg", 2), // the query string is not matched
    ] {
        let (i, b) = c.behavior_for(path);
        assert_eq!(i, want, "{path}");
        assert!(std::ptr::eq(b, &c.behaviors[want]));
    }
}

// ----- refusals: top level -----------------------------------------------------------------

#[test]
fn listen_addresses() {
    refused(
        &MIN.replace("127.0.0.1:8080", "localhost:8080"),
        "edge.toml:1: listen: \"localhost:8080\" is not a socket address",
    );
    refused(
        &MIN.replace("127.0.0.1:8081", "127.0.0.1"),
        "edge.toml:2: admin_listen: \"127.0.0.1\" is not a socket address",
    );
    refused(
        &MIN.replace("listen = \"127.0.0.1:8080\"\n", ""),
        "edge.toml: listen: required key is missing (e.g. listen = \"127.0.0.1:8080\")",
    );
    refused(
        &MIN.replace("admin_listen = \"127.0.0.1:8081\"\n", ""),
        "edge.toml: admin_listen: required key is missing",
    );
    refused(
        &MIN.replace("8081", "8080"),
        "edge.toml:2: admin_listen: 127.0.0.1:8080 is also the viewer-facing listen address",
    );
    refused(
        &MIN.replace("listen = \"127.0.0.1:8080\"", "listen = 8080"),
        "edge.toml:1: listen: invalid type: integer `8080`, expected a string",
    );
    // Port 0 twice is fine: the OS picks two ports.
    ok(&MIN.replace("8080", "0").replace("8081", "0"));
}

#[test]
fn pop_name() {
    for bad in ["", "fra 1", "fra/1", "fr\u{e4}", &"x".repeat(65)] {
        refused(
            &format!("name = {bad:?}\n{MIN}"),
            &format!("edge.toml:1: name: {bad:?} is not a valid PoP name"),
        );
    }
    assert_eq!(
        ok(&format!("name = \"{}\"\n{MIN}", "x".repeat(64)))
            .name
            .len(),
        64
    );
}

// ----- refusals: [cache] -------------------------------------------------------------------

#[test]
fn cache_policy() {
    let e = err(&min_plus("[cache]\npolicy = \"nope\"\n"));
    assert_eq!((e.line, e.key.as_str()), (Some(9), "cache.policy"));
    assert!(
        e.to_string()
            .starts_with("edge.toml:9: cache.policy: unknown policy `nope` (known: "),
        "{e}"
    );
    assert!(e.message.contains("s3fifo"), "{e}");
    refused(
        &min_plus("[cache]\npolicy = \"s3fifo:smal=0.1\"\n"),
        "edge.toml:9: cache.policy: policy `s3fifo`: unknown parameter `smal` (known: ",
    );
    refused(
        &min_plus("[cache]\npolicy = \"s3fifo:small=2\"\n"),
        "edge.toml:9: cache.policy: policy `s3fifo`: parameter `small` = `2`: must be between",
    );
    refused(
        &min_plus("[cache]\npolicy = \"lru:small\"\n"),
        "edge.toml:9: cache.policy: policy spec `lru:small`: expected `name` or `name:key=value,key=value`",
    );
    refused(
        &min_plus("[cache]\npolicy = \"belady\"\n"),
        "edge.toml:9: cache.policy: `belady` is an offline policy",
    );
    refused(
        &min_plus("[cache]\npolicy = 3\n"),
        "edge.toml:9: cache.policy: invalid type: integer `3`, expected a string",
    );
    for name in ["lru", "fifo", "sieve", "lfu", "gdsf"] {
        assert_eq!(
            ok(&min_plus(&format!("[cache]\npolicy = \"{name}\"\n")))
                .cache
                .policy
                .name,
            name
        );
    }
}

#[test]
fn cache_sizes() {
    refused(
        &min_plus("[cache]\ncapacity = \"256MB!\"\n"),
        "edge.toml:9: cache.capacity: bad size \"256MB!\": unknown unit \"MB!\"",
    );
    refused(
        &min_plus("[cache]\ncapacity = \"lots\"\n"),
        "edge.toml:9: cache.capacity: bad size \"lots\": expected a number followed by a unit",
    );
    refused(
        &min_plus("[cache]\ncapacity = -5\n"),
        "edge.toml:9: cache.capacity: size -5 is negative",
    );
    refused(
        &min_plus("[cache]\ncapacity = 0\n"),
        "edge.toml:9: cache.capacity: must be more than 0 bytes",
    );
    refused(
        &min_plus("[cache]\ncapacity = 1.5\n"),
        "edge.toml:9: cache.capacity: invalid type: floating point `1.5`, expected a size such as \"64MiB\" or an integer number of bytes",
    );
    refused(
        &min_plus("[cache]\ncapacity = \"1MiB\"\nmax_object_size = \"2MiB\"\n"),
        "edge.toml:10: cache.max_object_size: 2MiB is larger than cache.capacity (1MiB)",
    );
    refused(
        &min_plus("[cache]\nmax_object_size = \"0B\"\n"),
        "edge.toml:9: cache.max_object_size: must be more than 0 bytes",
    );
    refused(
        &min_plus("[cache]\nmax_object_size = \"1TiB\"\n"),
        "edge.toml:9: cache.max_object_size: 1TiB is larger than cache.capacity (256MiB)",
    );
    refused(
        &min_plus("[cache]\nshards = 0\n"),
        "edge.toml:9: cache.shards: 0 is out of range (must be 1 to 65536)",
    );
    refused(
        &min_plus("[cache]\nshards = -1\n"),
        "edge.toml:9: cache.shards: -1 is out of range",
    );
    refused(
        &min_plus("[cache]\nshards = \"4\"\n"),
        "edge.toml:9: cache.shards: invalid type: string \"4\", expected an integer",
    );
    refused(
        &format!("cache = \"lru\"\n{MIN}"),
        "edge.toml:1: cache: invalid type: string \"lru\", expected a table",
    );
}

// ----- refusals: [[origin]] ----------------------------------------------------------------

#[test]
fn origins() {
    refused(
        "listen = \"127.0.0.1:8080\"\nadmin_listen = \"127.0.0.1:8081\"\n[[behavior]]\npath = \"*\"\n",
        "edge.toml: origin: at least one [[origin]] is required",
    );
    refused(
        &MIN.replace("name = \"web\"", "name = \"w b\""),
        "edge.toml:4: origin[0].name: \"w b\" is not a valid origin name",
    );
    refused(
        &min_plus("[[origin]]\nname = \"web\"\nurl = \"http://b:1\"\n"),
        "edge.toml:9: origin[1].name: duplicate origin name \"web\" (also origin[0])",
    );
    refused(
        &MIN.replace("url = \"http://127.0.0.1:9001\"\n", ""),
        "edge.toml:3: origin[0].url: required key is missing",
    );
    refused(
        &MIN.replace("name = \"web\"\n", ""),
        "edge.toml:3: origin[0].name: required key is missing",
    );
    for (url, want) in [
        (
            "127.0.0.1:9001",
            "\"127.0.0.1:9001\" has no scheme: write e.g. \"http://127.0.0.1:9001\"",
        ),
        (
            "https://a.example",
            "\"https://a.example\": https origins are not supported yet",
        ),
        (
            "ftp://a.example",
            "\"ftp://a.example\": scheme \"ftp\" is not supported",
        ),
        (
            "http://a.example/base",
            "\"http://a.example/base\": an origin URL is scheme and host only",
        ),
        (
            "http://a.example/?q=1",
            "\"http://a.example/?q=1\": an origin URL is scheme and host only",
        ),
        (
            "http://u:p@a.example",
            "\"http://u:p@a.example\": user info in origin URLs is not supported",
        ),
        ("/just/a/path", "\"/just/a/path\" has no scheme"),
        ("http://", "\"http://\" is not a URL"),
        ("http://a b", "\"http://a b\" is not a URL"),
        ("", "\"\" is not a URL"),
    ] {
        refused(
            &MIN.replace("http://127.0.0.1:9001", url),
            &format!("edge.toml:5: origin[0].url: {want}"),
        );
    }
    refused(
        &min_plus("[[origin]]\nname = \"b\"\nurl = \"http://b\"\nconnect_timeout = \"2\"\n"),
        "edge.toml:11: origin[1].connect_timeout: duration \"2\" has no unit: write e.g. \"2s\"",
    );
    refused(
        &min_plus("[[origin]]\nname = \"b\"\nurl = \"http://b\"\nresponse_timeout = \"0s\"\n"),
        "edge.toml:11: origin[1].response_timeout: must be longer than 0s",
    );
    refused(
        &min_plus("[[origin]]\nname = \"b\"\nurl = \"http://b\"\nresponse_timeout = 10\n"),
        "edge.toml:11: origin[1].response_timeout: invalid type: integer `10`, expected a duration string such as \"2s\"",
    );
    refused(
        &MIN.replace("[[origin]]", "[origin]"),
        "edge.toml:3: origin: invalid type: map, expected a sequence (an array of tables is written [[origin]], with double brackets)",
    );
}

// ----- refusals: [[behavior]] --------------------------------------------------------------

/// Two origins and a configurable pair of behaviors (lines 9.. are the first behavior).
fn two_origins(behaviors: &str) -> String {
    format!(
        "listen = \"127.0.0.1:8080\"\nadmin_listen = \"127.0.0.1:8081\"\n[[origin]]\nname = \"web\"\nurl = \"http://a\"\n[[origin]]\nname = \"img\"\nurl = \"http://b\"\n{behaviors}"
    )
}

#[test]
fn behavior_origin() {
    // The issue's example: a typo in a behavior's origin.
    let e = err(&EXAMPLE
        .replacen("origin = \"web\"", "origin = \"wbe\"", 2)
        .replacen("origin = \"wbe\"", "origin = \"web\"", 1));
    assert_eq!(
        e.to_string(),
        "edge.toml:19: behavior[1].origin: no origin named \"wbe\" (origins: web)"
    );
    assert_eq!(
        (e.file.as_str(), e.line, e.key.as_str()),
        ("edge.toml", Some(19), "behavior[1].origin")
    );
    refused(
        &two_origins("[[behavior]]\npath = \"*\"\norigin = \"nope\"\n"),
        "edge.toml:11: behavior[0].origin: no origin named \"nope\" (origins: web, img)",
    );
    refused(
        &two_origins("[[behavior]]\npath = \"/a\"\norigin = \"img\"\n[[behavior]]\npath = \"*\"\n"),
        "edge.toml:12: behavior[1].origin: required key is missing when there are several origins (origins: web, img)",
    );
    refused(
        &two_origins("[[behavior]]\npath = \"*\"\norigin = 1\n"),
        "edge.toml:11: behavior[0].origin: invalid type: integer `1`, expected a string",
    );
    let c = ok(&two_origins("[[behavior]]\npath = \"/i/*\"\norigin = \"img\"\n[[behavior]]\npath = \"*\"\norigin = \"web\"\n"));
    assert_eq!((c.behaviors[0].origin, c.behaviors[1].origin), (1, 0));
    assert_eq!(c.origin_of(&c.behaviors[0]).name, "img");
}

#[test]
fn behavior_paths() {
    refused(
        "listen = \"127.0.0.1:8080\"\nadmin_listen = \"127.0.0.1:8081\"\n[[origin]]\nname = \"web\"\nurl = \"http://a\"\n",
        "edge.toml: behavior: at least one [[behavior]] is required, and the last must have path = \"*\"",
    );
    refused(
        &MIN.replace("path = \"*\"", "path = \"/api/*\""),
        "edge.toml:7: behavior[0].path: the last behavior must have path = \"*\" (found \"/api/*\")",
    );
    refused(
        &min_plus("[[behavior]]\npath = \"/late\"\n"),
        "edge.toml:7: behavior[0].path: \"*\" matches every path, so the behaviors after it (behavior[1] on) would never be used: put it last",
    );
    refused(
        &MIN.replace("[[behavior]]", "[[behavior]]\npath = \"/a\"\n[[behavior]]\npath = \"/a\"\n[[behavior]]"),
        "edge.toml:9: behavior[1].path: \"/a\" is also behavior[0]'s path, so this behavior would never be used",
    );
    for (p, want) in [
        ("", "empty path pattern"),
        (
            "api/*",
            "\"api/*\" must start with '/' or '*' (e.g. \"/api/*\")",
        ),
        (
            "/a b",
            "\"/a b\" contains ' ': patterns are printable ASCII",
        ),
        ("/caf\u{e9}", "\"/caf\u{e9}\" contains '\u{e9}'"),
    ] {
        refused(
            &MIN.replace(
                "[[behavior]]",
                &format!("[[behavior]]\npath = {p:?}\n[[behavior]]"),
            ),
            &format!("edge.toml:7: behavior[0].path: {want}"),
        );
    }
    refused(
        &MIN.replace("path = \"*\"\n", "cache = true\n"),
        "edge.toml:6: behavior[0].path: required key is missing",
    );
    refused(
        &format!(
            "behavior = [{{ path = \"/x\" }}, {{ cache = false }}]\n{}",
            MIN.replace("[[behavior]]\npath = \"*\"\n", "")
        ),
        "edge.toml:1: behavior[1].path: required key is missing",
    );
}

#[test]
fn behavior_values() {
    refused(
        &min_plus("cache = \"yes\"\n"),
        "edge.toml:8: behavior[0].cache: invalid type: string \"yes\", expected a boolean",
    );
    refused(
        &min_plus("collapse = 1\n"),
        "edge.toml:8: behavior[0].collapse: invalid type: integer `1`, expected a boolean",
    );
    refused(
        &min_plus("stale_while_revalidate = \"soon\"\n"),
        "edge.toml:8: behavior[0].stale_while_revalidate: bad duration \"soon\"",
    );
    refused(
        &min_plus("stale_if_error = \"-1s\"\n"),
        "edge.toml:8: behavior[0].stale_if_error: bad duration \"-1s\"",
    );
    refused(
        &min_plus("stale_if_error = \"101y\"\n"),
        "edge.toml:8: behavior[0].stale_if_error: duration \"101y\" is longer than the maximum of 100 years",
    );
}

#[test]
fn behavior_ttl() {
    refused(
        &min_plus("ttl = { min = \"2d\", default = \"1d\" }\n"),
        "edge.toml:8: behavior[0].ttl: need min <= default <= max, got min 2d, default 1d, max 365d",
    );
    refused(
        &min_plus("ttl = { default = \"1d\", max = \"1h\" }\n"),
        "edge.toml:8: behavior[0].ttl: need min <= default <= max, got min 0s, default 1d, max 1h",
    );
    refused(
        &min_plus("ttl = { min = \"2h\", max = \"1h\" }\n"),
        "edge.toml:8: behavior[0].ttl: need min <= default <= max, got min 2h, default 1h, max 1h",
    );
    refused(
        &min_plus("[behavior.ttl]\nmin = \"0s\"\ndefault = \"1 fortnight\"\n"),
        "edge.toml:10: behavior[0].ttl.default: bad duration \"1 fortnight\": unknown time unit \"fortnight\"",
    );
    refused(
        &min_plus("ttl = { max = 5 }\n"),
        "edge.toml:8: behavior[0].ttl.max: invalid type: integer `5`, expected a duration string",
    );
    refused(
        &min_plus("ttl = \"1d\"\n"),
        "edge.toml:8: behavior[0].ttl: invalid type: string \"1d\", expected a table",
    );
}

#[test]
fn behavior_cache_key() {
    refused(
        &min_plus("cache_key = { query = \"some\" }\n"),
        "edge.toml:8: behavior[0].cache_key.query: \"some\": expected \"none\", \"all\" or a list of parameter names",
    );
    refused(
        &min_plus("cache_key = { query = [] }\n"),
        "edge.toml:8: behavior[0].cache_key.query: empty list: name at least one parameter, or write \"none\"",
    );
    refused(
        &min_plus("cache_key = { query = [\"v\", \"v\"] }\n"),
        "edge.toml:8: behavior[0].cache_key.query[1]: \"v\" is listed twice",
    );
    refused(
        &min_plus("cache_key = { query = [\"a=b\"] }\n"),
        "edge.toml:8: behavior[0].cache_key.query[0]: \"a=b\" is not a query parameter name",
    );
    refused(
        &min_plus("cache_key = { query = [\"\"] }\n"),
        "edge.toml:8: behavior[0].cache_key.query[0]: \"\" is not a query parameter name",
    );
    refused(
        &min_plus("cache_key = { query = [1] }\n"),
        "edge.toml:8: behavior[0].cache_key.query[0]: invalid type: integer `1`, expected a string",
    );
    refused(
        &min_plus("cache_key = { query = true }\n"),
        "edge.toml:8: behavior[0].cache_key.query: invalid type: boolean `true`, expected \"none\", \"all\" or a list",
    );
    refused(
        &min_plus("[behavior.cache_key]\nheaders = [\"accept\", \"bad header\"]\n"),
        "edge.toml:9: behavior[0].cache_key.headers[1]: \"bad header\" is not a valid header name",
    );
    refused(
        &min_plus("[behavior.cache_key]\nheaders = [\"Accept\",\n  \"accept\"]\n"),
        "edge.toml:10: behavior[0].cache_key.headers[1]: \"accept\" is listed twice",
    );
    refused(
        &min_plus("cache_key = { headers = \"accept\" }\n"),
        "edge.toml:8: behavior[0].cache_key.headers: invalid type: string \"accept\", expected a sequence",
    );
    let c = ok(&min_plus(
        "cache_key = { query = \"none\", headers = [] }\n",
    ));
    assert_eq!(c.behaviors[0].cache_key, Default::default());
}

// ----- refusals: [limits] ------------------------------------------------------------------

#[test]
fn limits() {
    for (line, want) in [
        (
            "header_read_timeout = \"0s\"",
            "limits.header_read_timeout: must be longer than 0s",
        ),
        (
            "collapse_timeout = \"0ms\"",
            "limits.collapse_timeout: must be longer than 0s",
        ),
        (
            "header_read_timeout = \"x\"",
            "limits.header_read_timeout: bad duration \"x\"",
        ),
        (
            "max_header_bytes = \"1KiB\"",
            "limits.max_header_bytes: 1KiB is out of range (must be 8KiB to 16MiB)",
        ),
        (
            "max_header_bytes = \"1GiB\"",
            "limits.max_header_bytes: 1GiB is out of range",
        ),
        (
            "max_header_bytes = -1",
            "limits.max_header_bytes: size -1 is negative",
        ),
        (
            "max_connections = 0",
            "limits.max_connections: 0 is out of range (must be 1 to 10000000)",
        ),
        (
            "collapse_max_waiters = -3",
            "limits.collapse_max_waiters: -3 is out of range",
        ),
        (
            "max_connections = \"many\"",
            "limits.max_connections: invalid type: string \"many\", expected an integer",
        ),
    ] {
        refused(
            &min_plus(&format!("[limits]\n{line}\n")),
            &format!("edge.toml:9: {want}"),
        );
    }
    let l = ok(&min_plus("[limits]\nmax_header_bytes = \"8KiB\"\n")).limits;
    assert_eq!(l.max_header_bytes, 8192);
}

// ----- unknown keys at every level --------------------------------------------------------

#[test]
fn unknown_keys_are_refused_with_line_and_key() {
    for (text, want) in [
        (format!("{MIN}lisen = \"x\"\n"), "edge.toml:8: behavior[0].lisen: unknown key, expected one of `path`, `origin`"),
        (format!("lisen = \"x\"\n{MIN}"), "edge.toml:1: lisen: unknown key, expected one of `listen`, `admin_listen`, `name`"),
        (min_plus("[cache]\npolcy = \"lru\"\n"), "edge.toml:9: cache.polcy: unknown key, expected one of `policy`, `capacity`"),
        (min_plus("[cache.tier]\nsize = 1\n"), "edge.toml:8: cache.tier: unknown key, expected one of `policy`"),
        (MIN.replace("url =", "uri ="), "edge.toml:5: origin[0].uri: unknown key, expected one of `name`, `url`"),
        (min_plus("ttl = { min = \"0s\", mni = \"1s\" }\n"), "edge.toml:8: behavior[0].ttl.mni: unknown key, expected one of `min`, `default`, `max`"),
        (min_plus("[behavior.ttl]\nminimum = \"1s\"\n"), "edge.toml:9: behavior[0].ttl.minimum: unknown key"),
        (min_plus("cache_key = { cookies = [] }\n"), "edge.toml:8: behavior[0].cache_key.cookies: unknown key, expected `query` or `headers`"),
        (min_plus("[limits]\nmax_conns = 1\n"), "edge.toml:9: limits.max_conns: unknown key, expected one of `header_read_timeout`"),
        (min_plus("ttl.mni = \"1s\"\n"), "edge.toml:8: behavior[0].ttl.mni: unknown key"),
        (min_plus("[[behavior]]\npath = \"*\"\n\"odd key\" = 1\n"), "edge.toml:10: behavior[1].\"odd key\": unknown key"),
        (format!("{MIN}[extra]\n"), "edge.toml:8: extra: unknown key"),
    ] {
        refused(&text, want);
    }
}

// ----- TOML syntax errors ------------------------------------------------------------------

#[test]
fn syntax_errors_report_the_line() {
    for (text, line) in [
        (min_plus("ttl = \n"), 8),
        (min_plus("path = \"unterminated\n"), 8),
        (min_plus("[cache\n"), 8),
        (format!("name = fra\n{MIN}"), 1),
        (min_plus("= 1\n"), 8),
    ] {
        let e = err(&text);
        assert_eq!(
            (e.file.as_str(), e.line, e.key.as_str()),
            ("edge.toml", Some(line), ""),
            "{e}\n---\n{text}"
        );
        assert!(
            e.to_string().starts_with(&format!("edge.toml:{line}: ")),
            "{e}"
        );
        assert!(!e.message.is_empty());
    }
    assert_eq!(
        err(&format!("name = fra\n{MIN}")).to_string(),
        "edge.toml:1: invalid boolean, expected `false` (if this is a string, quote it)"
    );
    // A duplicate key is named from its span.
    assert_eq!(
        err(&MIN.replace("admin_listen", "listen")).to_string(),
        "edge.toml:2: listen: duplicate key"
    );
    assert_eq!(
        err(&min_plus("[cache]\n[cache]\n")).to_string(),
        "edge.toml:9: cache: duplicate key"
    );
    // An empty file parses, and then lacks its required keys.
    assert_eq!(
        err("").to_string(),
        "edge.toml: listen: required key is missing (e.g. listen = \"127.0.0.1:8080\")"
    );
}

// ----- files -------------------------------------------------------------------------------

#[test]
fn from_file_names_the_path() {
    let dir = std::env::temp_dir().join(format!("edge-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pop.toml");
    std::fs::write(&path, MIN.replace("path = \"*\"", "path = \"/x\"")).unwrap();
    let e = Config::from_file(&path).unwrap_err();
    assert_eq!(e.file, path.display().to_string());
    assert_eq!(e.line, Some(7));
    assert!(
        e.to_string()
            .starts_with(&format!("{}:7: behavior[0].path: ", path.display())),
        "{e}"
    );
    std::fs::write(&path, MIN).unwrap();
    assert_eq!(Config::from_file(&path).unwrap(), ok(MIN));
    let missing = dir.join("missing.toml");
    let e = Config::from_file(&missing).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (None, ""));
    assert!(
        e.to_string()
            .starts_with(&format!("{}: cannot read: ", missing.display())),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ----- the raw layer's reuse ---------------------------------------------------------------

/// A scenario file as a later crate might write it: `[edge]` is the shared raw table, and each
/// PoP overrides some of it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    edge: RawConfig,
    #[serde(default)]
    pop: Vec<Pop>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Pop {
    name: String,
    #[serde(default)]
    edge: RawConfig,
}

const SCENARIO: &str = r#"[edge]
[edge.cache]
capacity = "64MiB"
[[edge.origin]]
name = "web"
url = "http://10.0.0.1:80"
[[edge.behavior]]
path = "*"

[[pop]]
name = "fra"
edge = { cache = { policy = "lru" } }

[[pop]]
name = "syd"
[pop.edge.cache]
capacity = "32MiB"
max_object_size = "64MiB"
"#;

fn addrs() -> Listen {
    Listen::Assigned {
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_listen: "127.0.0.1:0".parse().unwrap(),
    }
}

#[test]
fn embedded_table_with_overrides() {
    let sc: Scenario = toml::from_str(SCENARIO).unwrap();
    let src = Source::new("world.toml", SCENARIO).with_key_prefix("edge");
    let base = sc.edge.validate(&src, addrs()).unwrap();
    assert_eq!(
        (base.cache.capacity, base.cache.policy.name.as_str()),
        (64 << 20, "s3fifo")
    );
    assert_eq!(base.listen, "127.0.0.1:0".parse::<SocketAddr>().unwrap());

    let mut fra = sc.edge.clone();
    fra.overlay(sc.pop[0].edge.clone());
    let fra = fra.validate(&src, addrs()).unwrap();
    assert_eq!(sc.pop[0].name, "fra");
    assert_eq!(
        (fra.cache.capacity, fra.cache.policy.name.as_str()),
        (64 << 20, "lru")
    );

    // The override's value is reported at its own line (key names are relative to [edge]).
    let mut syd = sc.edge.clone();
    syd.overlay(sc.pop[1].edge.clone());
    let e = syd.validate(&src, addrs()).unwrap_err();
    assert_eq!(sc.pop[1].name, "syd");
    assert_eq!(
        e.to_string(),
        "world.toml:18: edge.cache.max_object_size: 64MiB is larger than cache.capacity (32MiB)"
    );
}

#[test]
fn embedded_table_errors_name_the_full_key() {
    let text = SCENARIO.replace("[edge.cache]", "[edge.cache]\nshard = 2");
    let e = toml::from_str::<Scenario>(&text).map(|_| ()).unwrap_err();
    let e = Source::new("world.toml", &text).toml_error(&e);
    assert!(
        e.to_string()
            .starts_with("world.toml:3: edge.cache.shard: unknown key"),
        "{e}"
    );
    let text = SCENARIO.replace(
        "edge = { cache = { policy = \"lru\" } }",
        "edge = { cache = { policy = 1 } }",
    );
    let e = toml::from_str::<Scenario>(&text).map(|_| ()).unwrap_err();
    let e = Source::new("world.toml", &text).toml_error(&e);
    assert!(
        e.to_string()
            .starts_with("world.toml:12: pop[0].edge.cache.policy: invalid type"),
        "{e}"
    );
}

#[test]
fn listen_modes() {
    let no_listen = "[[origin]]\nname = \"web\"\nurl = \"http://a\"\n[[behavior]]\npath = \"*\"\n";
    let raw = RawConfig::parse(no_listen, "x.toml").unwrap();
    let src = Source::new("x.toml", no_listen);
    let e = raw.validate(&src, Listen::Required).unwrap_err();
    assert_eq!(
        e.to_string(),
        "x.toml: listen: required key is missing (e.g. listen = \"127.0.0.1:8080\")"
    );
    let (l, a): (SocketAddr, SocketAddr) = (
        "10.0.0.1:80".parse().unwrap(),
        "10.0.0.1:81".parse().unwrap(),
    );
    let c = raw
        .validate(
            &src,
            Listen::Default {
                listen: l,
                admin_listen: a,
            },
        )
        .unwrap();
    assert_eq!((c.listen, c.admin_listen), (l, a));
    let c = raw
        .validate(
            &src,
            Listen::Assigned {
                listen: l,
                admin_listen: a,
            },
        )
        .unwrap();
    assert_eq!((c.listen, c.admin_listen), (l, a));

    let raw = RawConfig::parse(MIN, "x.toml").unwrap();
    let src = Source::new("x.toml", MIN);
    let c = raw
        .validate(
            &src,
            Listen::Default {
                listen: l,
                admin_listen: a,
            },
        )
        .unwrap();
    assert_eq!(c.listen, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
    let e = raw
        .validate(
            &src,
            Listen::Assigned {
                listen: l,
                admin_listen: a,
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "x.toml:1: listen: not allowed here: listen addresses are assigned for each PoP"
    );
    let e = raw
        .validate(
            &src.with_key_prefix("edge"),
            Listen::Assigned {
                listen: l,
                admin_listen: a,
            },
        )
        .unwrap_err();
    assert_eq!(e.key, "edge.listen");
    // Validation does not consume the raw config: it can be validated again.
    assert_eq!(raw.validate(&src, Listen::Required).unwrap(), ok(MIN));
}

#[test]
fn from_table_has_no_lines() {
    let table: toml::Table = toml::from_str(MIN).unwrap();
    let raw = RawConfig::from_table(&table, "t").unwrap();
    let c = raw
        .validate(
            &Source {
                has_lines: false,
                ..Source::new("t", "")
            },
            Listen::Required,
        )
        .unwrap();
    assert_eq!(c, ok(MIN));
    let table: toml::Table = toml::from_str(&min_plus("bogus = 1\n")).unwrap();
    let e = RawConfig::from_table(&table, "t").unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (None, "behavior[0].bogus"));
}

#[test]
fn error_display_forms() {
    let e = |line, key: &str| ConfigError {
        file: "f.toml".into(),
        line,
        key: key.into(),
        message: "m".into(),
    };
    assert_eq!(e(Some(3), "k").to_string(), "f.toml:3: k: m");
    assert_eq!(e(None, "k").to_string(), "f.toml: k: m");
    assert_eq!(e(Some(3), "").to_string(), "f.toml:3: m");
    let boxed: Box<dyn std::error::Error> = Box::new(e(None, "k"));
    assert_eq!(boxed.to_string(), "f.toml: k: m");
}

// ----- fuzzing ---------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        let _ = Config::from_str(&text, "fuzz.toml");
    }

    #[test]
    fn random_toml_like_text_never_panics(
        lines in prop::collection::vec(
            "(\\[\\[?(origin|behavior|cache|limits|x)\\]\\]?|[a-z_]{1,12} = (\"[ -~]{0,12}\"|-?[0-9]{1,4}|true|\\[\\]|\\{ ?[a-z]{1,6} = \"[0-9a-z]{0,4}\" ?\\}))",
            0..20,
        )
    ) {
        let text = lines.join("\n");
        let _ = Config::from_str(&text, "fuzz.toml");
    }

    #[test]
    fn mutated_example_never_panics_and_errors_are_located(
        at in 0usize..2000,
        cut in 0usize..8,
        insert in "[ -~\n]{0,6}",
    ) {
        let mut text = EXAMPLE.to_string();
        let at = at % (text.len() + 1);
        let end = (at + cut).min(text.len());
        text.replace_range(at..end, &insert);
        if let Err(e) = Config::from_str(&text, "fuzz.toml") {
            prop_assert_eq!(e.file.as_str(), "fuzz.toml");
            if let Some(line) = e.line {
                prop_assert!(line >= 1 && line <= text.lines().count() + 1, "{} in {} lines", line, text.lines().count());
            }
            prop_assert!(!e.message.is_empty());
        }
    }
}
