//! The edge's configuration: a TOML file modelled on a CloudFront distribution.
//!
//! Two layers:
//!
//! - **Raw** ([`RawConfig`] and friends): serde structs that mirror the file, refuse unknown
//!   keys, and keep the byte span of every value a later check may complain about. Every key
//!   is optional at this layer (except an origin's `name`/`url` and a behavior's `path`), so a
//!   raw table can be embedded elsewhere (a scenario file's `[edge]` table) and overlaid with
//!   per-PoP overrides ([`RawConfig::overlay`]).
//! - **Typed** ([`Config`]): produced by one step, [`RawConfig::validate`], which applies the
//!   defaults and checks everything. Errors ([`ConfigError`]) name the file, the line (from
//!   the spans) and the key (`behavior[1].origin`, indices from 0).
//!
//! [`EXAMPLE`] is a complete file with every key.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::units::{format_duration, format_size};

/// A complete, commented configuration using every key of the contract (the file that
/// `Config::from_str(EXAMPLE, "edge.toml")` accepts).
pub const EXAMPLE: &str = r#"listen = "127.0.0.1:8080"          # viewer-facing, HTTP/1.1 and h2c
admin_listen = "127.0.0.1:8081"    # GET /metrics, GET /healthz, POST /invalidations
name = "fra"                       # this PoP's name: in Via, X-Cache, logs and metrics
[cache]
policy = "s3fifo"                  # any name the cache registry knows, with parameters
capacity = "256MiB"                # payload bytes held; metadata is bounded and reported apart
max_object_size = "64MiB"          # larger responses stream through uncached
[[origin]]
name = "web"
url = "http://127.0.0.1:9001"
connect_timeout = "2s"
response_timeout = "10s"           # to the first byte
[[behavior]]                       # matched in order, first match wins; the last must be "*"
path = "/api/*"
origin = "web"
cache = false                      # pass through, never stored
[[behavior]]
path = "*"
origin = "web"
ttl = { min = "0s", default = "1d", max = "365d" }
cache_key = { query = "all" }      # "none" | "all" | ["v", "lang"]; headers = ["accept-language"]
collapse = true                    # one origin fetch per key in flight
stale_while_revalidate = "0s"      # used when the origin's Cache-Control gives none
stale_if_error = "0s"

# Optional: these are the defaults.
[limits]
header_read_timeout = "10s"        # for a request's headers to arrive (idle keep-alive included)
max_header_bytes = "32KiB"         # largest request head (at least 8KiB)
max_connections = 10000            # concurrent viewer connections
collapse_max_waiters = 1024        # requests waiting on one collapsed fetch
collapse_timeout = "5s"            # then a waiter fetches on its own
"#;

use cache::config_source::{count, duration, positive_duration, size, span_of};
pub use cache::config_source::{ConfigError, RawDuration, RawSize, Source};

// ---------------------------------------------------------------------------------------------
// Raw layer
// ---------------------------------------------------------------------------------------------

/// `cache_key.query` as written: `"none"`, `"all"`, or a list of parameter names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawQuery {
    Mode(String),
    List(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawQuery {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawQuery;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"none\", \"all\" or a list of query parameter names")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawQuery, E> {
                Ok(RawQuery::Mode(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawQuery, A::Error> {
                let mut names = Vec::new();
                while let Some(n) = seq.next_element::<Spanned<String>>()? {
                    names.push(n);
                }
                Ok(RawQuery::List(names))
            }
        }
        d.deserialize_any(V)
    }
}

/// The whole file as written. Everything is optional here; [`RawConfig::validate`] applies
/// defaults and requires what must be present.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: Option<Spanned<String>>,
    pub admin_listen: Option<Spanned<String>>,
    pub name: Option<Spanned<String>>,
    pub cache: Option<RawCache>,
    pub origin: Option<Vec<Spanned<RawOrigin>>>,
    pub behavior: Option<Vec<Spanned<RawBehavior>>>,
    pub limits: Option<RawLimits>,
}

/// `[cache]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    pub policy: Option<Spanned<String>>,
    pub capacity: Option<Spanned<RawSize>>,
    pub max_object_size: Option<Spanned<RawSize>>,
    /// Added to the contract: independent store shards, default 16.
    pub shards: Option<Spanned<i64>>,
    /// Added to the contract: send large hits by page reference (Linux), default true.
    pub zero_copy: Option<Spanned<bool>>,
}

/// One `[[origin]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOrigin {
    pub name: Spanned<String>,
    pub url: Spanned<String>,
    pub connect_timeout: Option<Spanned<RawDuration>>,
    pub response_timeout: Option<Spanned<RawDuration>>,
}

/// One `[[behavior]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBehavior {
    pub path: Spanned<String>,
    pub origin: Option<Spanned<String>>,
    pub cache: Option<bool>,
    pub ttl: Option<Spanned<RawTtl>>,
    pub cache_key: Option<Spanned<RawCacheKey>>,
    pub collapse: Option<bool>,
    pub stale_while_revalidate: Option<Spanned<RawDuration>>,
    pub stale_if_error: Option<Spanned<RawDuration>>,
}

/// A behavior's `ttl = { min, default, max }`. Unset keys default to 0s, 1d and 365d, except
/// that an unset `default` is clamped into the bounds that were set, and an unset `max` grows
/// to an explicit `min` or `default` above 365d.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTtl {
    pub min: Option<Spanned<RawDuration>>,
    pub default: Option<Spanned<RawDuration>>,
    pub max: Option<Spanned<RawDuration>>,
}

/// A behavior's `cache_key = { query, headers }`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCacheKey {
    pub query: Option<Spanned<RawQuery>>,
    pub headers: Option<Vec<Spanned<String>>>,
}

/// `[limits]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub header_read_timeout: Option<Spanned<RawDuration>>,
    pub max_header_bytes: Option<Spanned<RawSize>>,
    pub max_connections: Option<Spanned<i64>>,
    pub collapse_max_waiters: Option<Spanned<i64>>,
    pub collapse_timeout: Option<Spanned<RawDuration>>,
}

fn take<T>(dst: &mut Option<T>, src: Option<T>) {
    if src.is_some() {
        *dst = src;
    }
}

impl RawConfig {
    /// Parses a TOML text; errors name `file`, the line and the key.
    pub fn parse(text: &str, file: &str) -> Result<RawConfig, ConfigError> {
        cache::config_source::parse_toml(text, file)
    }

    /// Reads a parsed table (no spans survive a [`toml::Table`], so errors carry no line).
    pub fn from_table(table: &toml::Table, file: &str) -> Result<RawConfig, ConfigError> {
        cache::config_source::from_toml_table(table, file)
    }

    /// Overlays `over` on `self`: each key `over` sets replaces this one; `[cache]` and
    /// `[limits]` merge key by key; `origin` and `behavior` lists, if set, replace the whole
    /// list. For per-PoP overrides of a shared table (spans stay valid if both come from the
    /// same text).
    pub fn overlay(&mut self, over: RawConfig) {
        take(&mut self.listen, over.listen);
        take(&mut self.admin_listen, over.admin_listen);
        take(&mut self.name, over.name);
        match (&mut self.cache, over.cache) {
            (Some(c), Some(o)) => {
                take(&mut c.policy, o.policy);
                take(&mut c.capacity, o.capacity);
                take(&mut c.max_object_size, o.max_object_size);
                take(&mut c.shards, o.shards);
                take(&mut c.zero_copy, o.zero_copy);
            }
            (c, o) => take(c, o),
        }
        take(&mut self.origin, over.origin);
        take(&mut self.behavior, over.behavior);
        match (&mut self.limits, over.limits) {
            (Some(l), Some(o)) => {
                take(&mut l.header_read_timeout, o.header_read_timeout);
                take(&mut l.max_header_bytes, o.max_header_bytes);
                take(&mut l.max_connections, o.max_connections);
                take(&mut l.collapse_max_waiters, o.collapse_max_waiters);
                take(&mut l.collapse_timeout, o.collapse_timeout);
            }
            (l, o) => take(l, o),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Typed layer
// ---------------------------------------------------------------------------------------------

/// The validated configuration of one edge (PoP).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Viewer-facing address (HTTP/1.1 and h2c).
    pub listen: SocketAddr,
    /// Admin address: `GET /metrics`, `GET /healthz`, `POST /invalidations`.
    pub admin_listen: SocketAddr,
    /// This PoP's name, in `Via`, `X-Cache`, logs and metrics (`[A-Za-z0-9._-]`, ≤ 64 bytes).
    pub name: String,
    pub cache: CacheConfig,
    pub origins: Vec<Origin>,
    /// In order; the last one's path is `"*"`.
    pub behaviors: Vec<Behavior>,
    pub limits: Limits,
}

/// `[cache]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// A policy the cache registry knows (offline policies refused), with its parameters.
    pub policy: cache::PolicySpec,
    /// Payload bytes held (metadata is bounded and reported apart). > 0.
    pub capacity: u64,
    /// Larger responses stream through uncached. 1..=capacity.
    pub max_object_size: u64,
    /// Independent store shards (each with its own policy); ≥ 1.
    pub shards: usize,
    /// Whether viewer connections send slices of large entries by page reference instead of
    /// copying them (Linux; elsewhere they are always copied). See `viewer_io`.
    pub zero_copy: bool,
}

/// One `[[origin]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    pub name: String,
    /// `http://host[:port]` (path empty or `/`, no query, no user info).
    pub url: http::Uri,
    pub connect_timeout: Duration,
    /// To the first byte of the response.
    pub response_timeout: Duration,
}

/// One `[[behavior]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Behavior {
    /// CloudFront path pattern: `*` any run of bytes (including `/`), `?` exactly one byte,
    /// case-sensitive, matched against the path without its query string.
    pub path: String,
    /// Index into [`Config::origins`].
    pub origin: usize,
    /// False: pass through, never stored.
    pub cache: bool,
    pub ttl: Ttl,
    pub cache_key: CacheKey,
    /// One origin fetch per key in flight.
    pub collapse: bool,
    /// Used when the origin's `Cache-Control` gives none.
    pub stale_while_revalidate: Duration,
    /// Used when the origin's `Cache-Control` gives none.
    pub stale_if_error: Duration,
}

/// TTL bounds: `min <= default <= max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl {
    pub min: Duration,
    pub default: Duration,
    pub max: Duration,
}

/// What besides the path goes into the cache key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CacheKey {
    pub query: QueryKey,
    /// Request headers whose values join the key (lower-case names, no duplicates).
    pub headers: Vec<http::HeaderName>,
}

/// Which query parameters go into the cache key (and are forwarded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum QueryKey {
    /// None (CloudFront's CachingOptimized): the default.
    #[default]
    None,
    All,
    /// These names, as written (non-empty, no duplicates, case-sensitive).
    Only(Vec<String>),
}

/// `[limits]`: protection against slow or greedy viewers and thundering herds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time allowed for a request's headers to arrive. Default 10s.
    pub header_read_timeout: Duration,
    /// Largest request head accepted. Default 32KiB; at least 8KiB (hyper's minimum buffer).
    pub max_header_bytes: usize,
    /// Concurrent viewer connections. Default 10000.
    pub max_connections: usize,
    /// Requests that may wait on one collapsed fetch. Default 1024.
    pub collapse_max_waiters: usize,
    /// How long a collapsed request waits before fetching on its own. Default 5s.
    pub collapse_timeout: Duration,
}

/// Defaults, also used by [`RawConfig::validate`].
pub mod defaults {
    use std::time::Duration;

    pub const NAME: &str = "edge";
    pub const POLICY: &str = "s3fifo";
    pub const CAPACITY: u64 = 256 << 20;
    /// Capped at the capacity when the capacity is smaller and this is not set.
    pub const MAX_OBJECT_SIZE: u64 = 64 << 20;
    pub const SHARDS: usize = 16;
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
    pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
    pub const TTL_MIN: Duration = Duration::ZERO;
    pub const TTL_DEFAULT: Duration = Duration::from_secs(86_400);
    pub const TTL_MAX: Duration = Duration::from_secs(365 * 86_400);
    pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    pub const MAX_HEADER_BYTES: usize = 32 << 10;
    pub const MIN_HEADER_BYTES: usize = 8 << 10;
    pub const MAX_CONNECTIONS: usize = 10_000;
    pub const COLLAPSE_MAX_WAITERS: usize = 1024;
    pub const COLLAPSE_TIMEOUT: Duration = Duration::from_secs(5);
}

impl Default for Ttl {
    fn default() -> Self {
        Ttl {
            min: defaults::TTL_MIN,
            default: defaults::TTL_DEFAULT,
            max: defaults::TTL_MAX,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: defaults::HEADER_READ_TIMEOUT,
            max_header_bytes: defaults::MAX_HEADER_BYTES,
            max_connections: defaults::MAX_CONNECTIONS,
            collapse_max_waiters: defaults::COLLAPSE_MAX_WAITERS,
            collapse_timeout: defaults::COLLAPSE_TIMEOUT,
        }
    }
}

impl Ttl {
    /// `t` clamped into `[min, max]`.
    pub fn clamp(&self, t: Duration) -> Duration {
        t.clamp(self.min, self.max)
    }
}

impl Behavior {
    /// Whether this behavior's path pattern matches `path` (no query string).
    pub fn matches(&self, path: &str) -> bool {
        path_matches(&self.path, path)
    }
}

/// CloudFront path-pattern matching: `*` matches any run of bytes including `/`, `?` exactly
/// one byte, everything else itself (case-sensitive). Request paths are ASCII (anything else
/// arrives percent-encoded), so bytes are characters. No allocation; linear unless the
/// pattern has several `*` that must backtrack.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), path.as_bytes());
    if p == b"*" {
        return true;
    }
    let (mut pi, mut si) = (0, 0);
    // After the latest `*`: where the pattern resumes, and where the subject resumes next.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                star = Some((pi, si));
            }
            Some(&c) if c == b'?' || c == s[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Where the listen addresses come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// `listen` and `admin_listen` must both be in the config (a standalone edge file).
    Required,
    /// The config may set them; these are used where it does not.
    Default {
        listen: SocketAddr,
        admin_listen: SocketAddr,
    },
    /// The config must not set them (e.g. a scenario assigns every PoP's addresses).
    Assigned {
        listen: SocketAddr,
        admin_listen: SocketAddr,
    },
}

impl Config {
    /// Reads and validates an edge config file; errors name the path as given.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        Config::from_str(&text, &file)
    }

    /// Parses and validates a config text; `file` is the name errors report.
    pub fn from_str(text: &str, file: &str) -> Result<Config, ConfigError> {
        RawConfig::parse(text, file)?.validate(&Source::new(file, text), Listen::Required)
    }

    /// The behavior for a request path: the first match in order (the last is `"*"`, so there
    /// always is one). Anything from a `?` on is ignored. No allocation.
    pub fn behavior_for(&self, path: &str) -> (usize, &Behavior) {
        let path = match path.find('?') {
            Some(q) => &path[..q],
            None => path,
        };
        for (i, b) in self.behaviors.iter().enumerate() {
            if b.matches(path) {
                return (i, b);
            }
        }
        // Only reachable for a hand-built config without a final "*".
        let last = self
            .behaviors
            .len()
            .checked_sub(1)
            .expect("a config has at least one behavior");
        (last, &self.behaviors[last])
    }

    /// The origin a behavior sends to.
    pub fn origin_of(&self, behavior: &Behavior) -> &Origin {
        &self.origins[behavior.origin]
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

fn is_token(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn list(names: &[&str]) -> String {
    names.join(", ")
}

impl RawConfig {
    /// The one validation step: applies defaults, checks every key, resolves origin names.
    /// `listen` says whether the listen addresses come from the config or the caller.
    pub fn validate(&self, src: &Source<'_>, listen: Listen) -> Result<Config, ConfigError> {
        let (listen, admin_listen) = self.validate_listen(src, listen)?;
        let name = match &self.name {
            None => defaults::NAME.to_string(),
            Some(n) => {
                let v = n.get_ref();
                if v.is_empty() || v.len() > 64 || !is_token(v) {
                    return Err(src.error(
                        Some(n.span()),
                        "name",
                        format!(
                            "{v:?} is not a valid PoP name: use 1 to 64 letters, digits, '-', '_' or '.'"
                        ),
                    ));
                }
                v.clone()
            }
        };
        let cache = validate_cache(src, self.cache.as_ref())?;
        let origins = self.validate_origins(src)?;
        let behaviors = self.validate_behaviors(src, &origins)?;
        let limits = validate_limits(src, self.limits.as_ref())?;
        Ok(Config {
            listen,
            admin_listen,
            name,
            cache,
            origins,
            behaviors,
            limits,
        })
    }

    fn validate_listen(
        &self,
        src: &Source<'_>,
        mode: Listen,
    ) -> Result<(SocketAddr, SocketAddr), ConfigError> {
        let parse = |v: &Option<Spanned<String>>, key: &str| -> Result<_, ConfigError> {
            let Some(s) = v else { return Ok(None) };
            s.get_ref().trim().parse::<SocketAddr>().map(Some).map_err(|_| {
                src.error(
                    Some(s.span()),
                    key,
                    format!(
                        "{:?} is not a socket address: write an IP address and a port, e.g. \"127.0.0.1:8080\" or \"[::1]:8080\"",
                        s.get_ref()
                    ),
                )
            })
        };
        let l = parse(&self.listen, "listen")?;
        let a = parse(&self.admin_listen, "admin_listen")?;
        let (l, a) = match mode {
            Listen::Required => {
                let missing = |key: &str, eg: &str| {
                    src.error(
                        None,
                        key,
                        format!("required key is missing (e.g. {key} = \"{eg}\")"),
                    )
                };
                (
                    l.ok_or_else(|| missing("listen", "127.0.0.1:8080"))?,
                    a.ok_or_else(|| missing("admin_listen", "127.0.0.1:8081"))?,
                )
            }
            Listen::Default {
                listen,
                admin_listen,
            } => (l.unwrap_or(listen), a.unwrap_or(admin_listen)),
            Listen::Assigned {
                listen,
                admin_listen,
            } => {
                for (v, key) in [
                    (&self.listen, "listen"),
                    (&self.admin_listen, "admin_listen"),
                ] {
                    if let Some(s) = v {
                        return Err(src.error(
                            Some(s.span()),
                            key,
                            "not allowed here: listen addresses are assigned for each PoP",
                        ));
                    }
                }
                (listen, admin_listen)
            }
        };
        if l == a && l.port() != 0 {
            return Err(src.error(
                span_of(&self.admin_listen).or(span_of(&self.listen)),
                "admin_listen",
                format!("{a} is also the viewer-facing listen address"),
            ));
        }
        Ok((l, a))
    }

    fn validate_origins(&self, src: &Source<'_>) -> Result<Vec<Origin>, ConfigError> {
        let raw = self.origin.as_deref().unwrap_or_default();
        if raw.is_empty() {
            return Err(src.error(
                None,
                "origin",
                "at least one [[origin]] is required (name and url)",
            ));
        }
        let mut out: Vec<Origin> = Vec::with_capacity(raw.len());
        for (i, o) in raw.iter().enumerate() {
            let key = |k: &str| format!("origin[{i}].{k}");
            let name = o.get_ref().name.get_ref();
            let name_span = Some(o.get_ref().name.span());
            if name.is_empty() || name.len() > 64 || !is_token(name) {
                return Err(src.error(
                    name_span,
                    &key("name"),
                    format!(
                        "{name:?} is not a valid origin name: use 1 to 64 letters, digits, '-', '_' or '.'"
                    ),
                ));
            }
            if let Some(j) = out.iter().position(|p| p.name == *name) {
                return Err(src.error(
                    name_span,
                    &key("name"),
                    format!("duplicate origin name {name:?} (also origin[{j}])"),
                ));
            }
            let url = validate_url(src, &o.get_ref().url, &key("url"))?;
            let connect_timeout = positive_duration(
                src,
                &o.get_ref().connect_timeout,
                &key("connect_timeout"),
                defaults::CONNECT_TIMEOUT,
            )?;
            let response_timeout = positive_duration(
                src,
                &o.get_ref().response_timeout,
                &key("response_timeout"),
                defaults::RESPONSE_TIMEOUT,
            )?;
            out.push(Origin {
                name: name.clone(),
                url,
                connect_timeout,
                response_timeout,
            });
        }
        Ok(out)
    }

    fn validate_behaviors(
        &self,
        src: &Source<'_>,
        origins: &[Origin],
    ) -> Result<Vec<Behavior>, ConfigError> {
        let raw = self.behavior.as_deref().unwrap_or_default();
        if raw.is_empty() {
            return Err(src.error(
                None,
                "behavior",
                "at least one [[behavior]] is required, and the last must have path = \"*\"",
            ));
        }
        let names: Vec<&str> = origins.iter().map(|o| o.name.as_str()).collect();
        let mut out: Vec<Behavior> = Vec::with_capacity(raw.len());
        for (i, sb) in raw.iter().enumerate() {
            let b = sb.get_ref();
            let key = |k: &str| format!("behavior[{i}].{k}");
            let path = b.path.get_ref();
            let path_span = Some(b.path.span());
            validate_pattern(path).map_err(|m| src.error(path_span.clone(), &key("path"), m))?;
            if let Some(j) = out.iter().position(|p| p.path == *path) {
                return Err(src.error(
                    path_span,
                    &key("path"),
                    format!("{path:?} is also behavior[{j}]'s path, so this behavior would never be used"),
                ));
            }
            let last = i + 1 == raw.len();
            if path == "*" && !last {
                return Err(src.error(
                    path_span,
                    &key("path"),
                    format!(
                        "\"*\" matches every path, so the behaviors after it (behavior[{}] on) would never be used: put it last",
                        i + 1
                    ),
                ));
            }
            if last && path != "*" {
                return Err(src.error(
                    path_span,
                    &key("path"),
                    format!("the last behavior must have path = \"*\" (found {path:?}): add a final catch-all [[behavior]]"),
                ));
            }
            let origin = match &b.origin {
                Some(o) => names.iter().position(|n| n == o.get_ref()).ok_or_else(|| {
                    src.error(
                        Some(o.span()),
                        &key("origin"),
                        format!(
                            "no origin named {:?} (origins: {})",
                            o.get_ref(),
                            list(&names)
                        ),
                    )
                })?,
                None if origins.len() == 1 => 0,
                None => {
                    return Err(src.error(
                        Some(sb.span()),
                        &key("origin"),
                        format!(
                            "required key is missing when there are several origins (origins: {})",
                            list(&names)
                        ),
                    ))
                }
            };
            let ttl = validate_ttl(src, b.ttl.as_ref(), &key("ttl"))?;
            let cache_key = validate_cache_key(src, b.cache_key.as_ref(), &key("cache_key"))?;
            let stale_while_revalidate = duration(
                src,
                &b.stale_while_revalidate,
                &key("stale_while_revalidate"),
                Duration::ZERO,
            )?;
            let stale_if_error = duration(
                src,
                &b.stale_if_error,
                &key("stale_if_error"),
                Duration::ZERO,
            )?;
            out.push(Behavior {
                path: path.clone(),
                origin,
                cache: b.cache.unwrap_or(true),
                ttl,
                cache_key,
                collapse: b.collapse.unwrap_or(true),
                stale_while_revalidate,
                stale_if_error,
            });
        }
        Ok(out)
    }
}

fn validate_cache(src: &Source<'_>, raw: Option<&RawCache>) -> Result<CacheConfig, ConfigError> {
    let empty = RawCache::default();
    let raw = raw.unwrap_or(&empty);
    let policy = match &raw.policy {
        None => defaults::POLICY.parse().expect("the default policy parses"),
        Some(p) => {
            let spec: cache::PolicySpec = p.get_ref().parse().map_err(|e: cache::ParamError| {
                src.error(Some(p.span()), "cache.policy", e.to_string())
            })?;
            if cache::registry::is_offline(&spec.name) {
                return Err(src.error(
                    Some(p.span()),
                    "cache.policy",
                    format!(
                        "`{}` is an offline policy (it needs each request's next access time), which a live cache cannot know",
                        spec.name
                    ),
                ));
            }
            spec
        }
    };
    let capacity = size(src, &raw.capacity, "cache.capacity")?.unwrap_or(defaults::CAPACITY);
    if capacity == 0 {
        return Err(src.error(
            span_of(&raw.capacity),
            "cache.capacity",
            "must be more than 0 bytes (to cache nothing, set cache = false on the behaviors)",
        ));
    }
    let max_object_size = match size(src, &raw.max_object_size, "cache.max_object_size")? {
        None => defaults::MAX_OBJECT_SIZE.min(capacity),
        Some(0) => {
            return Err(src.error(
                span_of(&raw.max_object_size),
                "cache.max_object_size",
                "must be more than 0 bytes",
            ))
        }
        Some(m) if m > capacity => {
            return Err(src.error(
                span_of(&raw.max_object_size),
                "cache.max_object_size",
                format!(
                    "{} is larger than cache.capacity ({})",
                    format_size(m),
                    format_size(capacity)
                ),
            ))
        }
        Some(m) => m,
    };
    let shards = count(
        src,
        &raw.shards,
        "cache.shards",
        defaults::SHARDS,
        1..=65_536,
    )?;
    // Checks the policy's parameters (and that the registry knows it).
    cache::build(&policy, capacity)
        .map_err(|e| src.error(span_of(&raw.policy), "cache.policy", e.to_string()))?;
    Ok(CacheConfig {
        policy,
        capacity,
        max_object_size,
        shards,
        zero_copy: raw.zero_copy.as_ref().is_none_or(|z| *z.get_ref()),
    })
}

fn validate_url(
    src: &Source<'_>,
    raw: &Spanned<String>,
    key: &str,
) -> Result<http::Uri, ConfigError> {
    let text = raw.get_ref().trim();
    let err = |m: String| src.error(Some(raw.span()), key, m);
    let uri: http::Uri = text
        .parse()
        .map_err(|e| err(format!("{text:?} is not a URL: {e}")))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(err(format!(
                "{text:?}: https origins are not supported yet; use http://"
            )))
        }
        Some(s) => {
            return Err(err(format!(
                "{text:?}: scheme {s:?} is not supported; use http://"
            )))
        }
        None => {
            return Err(err(format!(
                "{text:?} has no scheme: write e.g. \"http://{text}\""
            )))
        }
    }
    let Some(auth) = uri.authority() else {
        return Err(err(format!("{text:?} has no host")));
    };
    if auth.as_str().contains('@') {
        return Err(err(format!(
            "{text:?}: user info in origin URLs is not supported"
        )));
    }
    if auth.host().is_empty() {
        return Err(err(format!("{text:?} has no host")));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(err(format!(
            "{text:?}: an origin URL is scheme and host only (no path or query), e.g. \"http://{auth}\""
        )));
    }
    Ok(uri)
}

/// A CloudFront path pattern: starts with `/` or `*`, printable ASCII without spaces.
fn validate_pattern(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("empty path pattern: use \"*\" for every path".into());
    }
    if !(p.starts_with('/') || p.starts_with('*')) {
        return Err(format!("{p:?} must start with '/' or '*' (e.g. \"/{p}\")"));
    }
    if let Some(c) = p.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "{p:?} contains {c:?}: patterns are printable ASCII without spaces (percent-encode the rest)"
        ));
    }
    Ok(())
}

fn validate_ttl(
    src: &Source<'_>,
    raw: Option<&Spanned<RawTtl>>,
    key: &str,
) -> Result<Ttl, ConfigError> {
    let Some(st) = raw else {
        return Ok(Ttl::default());
    };
    let t = st.get_ref();
    let k = |f: &str| format!("{key}.{f}");
    let min = duration(src, &t.min, &k("min"), defaults::TTL_MIN)?;
    let max_set = t.max.is_some();
    let max = duration(src, &t.max, &k("max"), defaults::TTL_MAX)?;
    // An unset default sits inside whatever bounds were set; an unset max is at least them.
    let default = match &t.default {
        Some(_) => duration(src, &t.default, &k("default"), defaults::TTL_DEFAULT)?,
        None if max_set => defaults::TTL_DEFAULT.clamp(min.min(max), max),
        None => defaults::TTL_DEFAULT.max(min),
    };
    let max = if max_set { max } else { max.max(default) };
    let show = format_duration;
    if min > default || default > max {
        return Err(src.error(
            Some(st.span()),
            key,
            format!(
                "need min <= default <= max, got min {}, default {}, max {}",
                show(min),
                show(default),
                show(max)
            ),
        ));
    }
    Ok(Ttl { min, default, max })
}

fn validate_cache_key(
    src: &Source<'_>,
    raw: Option<&Spanned<RawCacheKey>>,
    key: &str,
) -> Result<CacheKey, ConfigError> {
    let Some(sk) = raw else {
        return Ok(CacheKey::default());
    };
    let k = sk.get_ref();
    let qkey = format!("{key}.query");
    let query = match &k.query {
        None => QueryKey::None,
        Some(q) => match q.get_ref() {
            RawQuery::Mode(m) if m == "none" => QueryKey::None,
            RawQuery::Mode(m) if m == "all" => QueryKey::All,
            RawQuery::Mode(m) => {
                return Err(src.error(
                    Some(q.span()),
                    &qkey,
                    format!("{m:?}: expected \"none\", \"all\" or a list of parameter names such as [\"v\", \"lang\"]"),
                ))
            }
            RawQuery::List(names) => {
                if names.is_empty() {
                    return Err(src.error(
                        Some(q.span()),
                        &qkey,
                        "empty list: name at least one parameter, or write \"none\"",
                    ));
                }
                let mut out: Vec<String> = Vec::with_capacity(names.len());
                for (i, n) in names.iter().enumerate() {
                    let v = n.get_ref();
                    let nkey = format!("{qkey}[{i}]");
                    if v.is_empty() || v.contains(['&', '=', '#']) || v.chars().any(|c| c.is_control() || c == ' ') {
                        return Err(src.error(
                            Some(n.span()),
                            &nkey,
                            format!("{v:?} is not a query parameter name"),
                        ));
                    }
                    if out.contains(v) {
                        return Err(src.error(Some(n.span()), &nkey, format!("{v:?} is listed twice")));
                    }
                    out.push(v.clone());
                }
                QueryKey::Only(out)
            }
        },
    };
    let mut headers: Vec<http::HeaderName> = Vec::new();
    for (i, h) in k.headers.as_deref().unwrap_or_default().iter().enumerate() {
        let hkey = format!("{key}.headers[{i}]");
        let name = http::HeaderName::from_bytes(h.get_ref().as_bytes()).map_err(|_| {
            src.error(
                Some(h.span()),
                &hkey,
                format!("{:?} is not a valid header name", h.get_ref()),
            )
        })?;
        if headers.contains(&name) {
            return Err(src.error(Some(h.span()), &hkey, format!("{name:?} is listed twice")));
        }
        headers.push(name);
    }
    Ok(CacheKey { query, headers })
}

fn validate_limits(src: &Source<'_>, raw: Option<&RawLimits>) -> Result<Limits, ConfigError> {
    let empty = RawLimits::default();
    let l = raw.unwrap_or(&empty);
    let max_header_bytes = match size(src, &l.max_header_bytes, "limits.max_header_bytes")? {
        None => defaults::MAX_HEADER_BYTES,
        Some(n) => match usize::try_from(n) {
            Ok(n) if (defaults::MIN_HEADER_BYTES..=16 << 20).contains(&n) => n,
            _ => {
                return Err(src.error(
                    span_of(&l.max_header_bytes),
                    "limits.max_header_bytes",
                    format!("{} is out of range (must be 8KiB to 16MiB)", format_size(n)),
                ))
            }
        },
    };
    Ok(Limits {
        header_read_timeout: positive_duration(
            src,
            &l.header_read_timeout,
            "limits.header_read_timeout",
            defaults::HEADER_READ_TIMEOUT,
        )?,
        max_header_bytes,
        max_connections: count(
            src,
            &l.max_connections,
            "limits.max_connections",
            defaults::MAX_CONNECTIONS,
            1..=10_000_000,
        )?,
        collapse_max_waiters: count(
            src,
            &l.collapse_max_waiters,
            "limits.collapse_max_waiters",
            defaults::COLLAPSE_MAX_WAITERS,
            1..=10_000_000,
        )?,
        collapse_timeout: positive_duration(
            src,
            &l.collapse_timeout,
            "limits.collapse_timeout",
            defaults::COLLAPSE_TIMEOUT,
        )?,
    })
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// A string as a TOML value (quoted and escaped).
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn toml_duration(d: Duration) -> String {
    toml_str(&format_duration(d))
}

impl Config {
    /// The whole config as a TOML file, every default written out: the text that
    /// [`Config::from_str`] turns back into an equal `Config`. For the record of what ran
    /// (a scenario's resolved file) and for writing configs out.
    pub fn to_toml(&self) -> String {
        let mut out = format!(
            "listen = {}\nadmin_listen = {}\nname = {}\n\n[cache]\n{}",
            toml_str(&self.listen.to_string()),
            toml_str(&self.admin_listen.to_string()),
            toml_str(&self.name),
            self.cache.to_toml()
        );
        for o in &self.origins {
            out.push_str("\n[[origin]]\n");
            out.push_str(&o.to_toml());
        }
        for b in &self.behaviors {
            out.push_str("\n[[behavior]]\n");
            out.push_str(&b.to_toml(&self.origins));
        }
        out.push_str("\n[limits]\n");
        out.push_str(&self.limits.to_toml());
        out
    }
}

// The sections' writers give the body of their table (`key = value` lines, no header), so
// that a file embedding the edge's tables elsewhere (a scenario's `[edge]` and `[[pop]]`)
// writes its own headers around them.

impl CacheConfig {
    /// The body of `[cache]`.
    pub fn to_toml(&self) -> String {
        format!(
            "policy = {}\ncapacity = {}\nmax_object_size = {}\nshards = {}\nzero_copy = {}\n",
            toml_str(&self.policy.to_string()),
            toml_str(&format_size(self.capacity)),
            toml_str(&format_size(self.max_object_size)),
            self.shards,
            self.zero_copy
        )
    }
}

impl Origin {
    /// The body of one `[[origin]]`.
    pub fn to_toml(&self) -> String {
        // Scheme and authority only: the form the validation asks people to write.
        let url = match (self.url.scheme_str(), self.url.authority()) {
            (Some(s), Some(a)) => format!("{s}://{a}"),
            _ => self.url.to_string(),
        };
        format!(
            "name = {}\nurl = {}\nconnect_timeout = {}\nresponse_timeout = {}\n",
            toml_str(&self.name),
            toml_str(&url),
            toml_duration(self.connect_timeout),
            toml_duration(self.response_timeout)
        )
    }
}

impl Behavior {
    /// The body of one `[[behavior]]`; `origins` are the config's (the behavior names its
    /// origin by name).
    pub fn to_toml(&self, origins: &[Origin]) -> String {
        let mut out = format!("path = {}\n", toml_str(&self.path));
        if let Some(o) = origins.get(self.origin) {
            out.push_str(&format!("origin = {}\n", toml_str(&o.name)));
        }
        let query = match &self.cache_key.query {
            QueryKey::None => toml_str("none"),
            QueryKey::All => toml_str("all"),
            QueryKey::Only(names) => toml_list(names.iter().map(|n| toml_str(n))),
        };
        let headers = toml_list(self.cache_key.headers.iter().map(|h| toml_str(h.as_str())));
        out.push_str(&format!(
            "cache = {}\nttl = {{ min = {}, default = {}, max = {} }}\n\
             cache_key = {{ query = {query}, headers = {headers} }}\ncollapse = {}\n\
             stale_while_revalidate = {}\nstale_if_error = {}\n",
            self.cache,
            toml_duration(self.ttl.min),
            toml_duration(self.ttl.default),
            toml_duration(self.ttl.max),
            self.collapse,
            toml_duration(self.stale_while_revalidate),
            toml_duration(self.stale_if_error)
        ));
        out
    }
}

fn toml_list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

impl Limits {
    /// The body of `[limits]`.
    pub fn to_toml(&self) -> String {
        format!(
            "header_read_timeout = {}\nmax_header_bytes = {}\nmax_connections = {}\n\
             collapse_max_waiters = {}\ncollapse_timeout = {}\n",
            toml_duration(self.header_read_timeout),
            toml_str(&format_size(self.max_header_bytes as u64)),
            self.max_connections,
            self.collapse_max_waiters,
            toml_duration(self.collapse_timeout)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An obviously correct (exponential) matcher to check [`path_matches`] against.
    fn reference(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| reference(rest, &s[i..])),
            Some((&c, rest)) => {
                !s.is_empty() && (c == b'?' || c == s[0]) && reference(rest, &s[1..])
            }
        }
    }

    #[test]
    fn patterns() {
        for (p, s, want) in [
            ("*", "", true),
            ("*", "/any/thing", true),
            ("/api/*", "/api/", true),
            ("/api/*", "/api", false),
            ("/api/*", "/api/v1/users", true),
            ("*.jpg", "/a/b.jpg", true),
            ("*.jpg", "/a/b.jpeg", false),
            ("/img/?.png", "/img/a.png", true),
            ("/img/?.png", "/img/ab.png", false),
            ("/a*b*c", "/aXbYc", true),
            ("/a*b*c", "/aXcYb", false),
            ("/a*b*c", "/abcbc", true),
            ("**", "x", true),
            ("/x?", "/x", false),
            ("/exact", "/exact", true),
            ("/exact", "/Exact", false),
            ("", "", true),
            ("", "/", false),
            ("/*/*.css", "/a/b/c.css", true),
            ("/*/*.css", "/c.css", false),
        ] {
            assert_eq!(path_matches(p, s), want, "{p} vs {s}");
            assert_eq!(
                reference(p.as_bytes(), s.as_bytes()),
                want,
                "reference: {p} vs {s}"
            );
        }
    }

    #[test]
    fn overlay_merges_tables_and_replaces_lists() {
        let base = RawConfig::parse(
            "name = \"a\"\n[cache]\npolicy = \"lru\"\ncapacity = 10\n[limits]\nmax_connections = 5\n[[origin]]\nname = \"o\"\nurl = \"http://o\"\n",
            "b",
        )
        .unwrap();
        let over = RawConfig::parse(
            "[cache]\ncapacity = 20\n[limits]\ncollapse_timeout = \"1s\"\n",
            "o",
        )
        .unwrap();
        let mut m = base.clone();
        m.overlay(over);
        let cache = m.cache.as_ref().unwrap();
        assert_eq!(cache.policy.as_ref().unwrap().get_ref(), "lru");
        assert_eq!(
            cache.capacity.as_ref().unwrap().get_ref(),
            &RawSize::Bytes(20)
        );
        let limits = m.limits.as_ref().unwrap();
        assert_eq!(
            limits.max_connections.as_ref().map(|v| *v.get_ref()),
            Some(5)
        );
        assert!(limits.collapse_timeout.is_some());
        assert_eq!(m.origin, base.origin);
        assert_eq!(m.name, base.name);
        let mut e = RawConfig::default();
        e.overlay(base.clone());
        assert_eq!(e, base);
    }

    #[test]
    fn to_toml_round_trips() {
        let every_key = r#"listen = "[::1]:8080"
admin_listen = "127.0.0.1:0"
name = "fra.1"
[cache]
policy = "s3fifo:small=0.2,ghost=0.5"
capacity = 1000003
max_object_size = "1000B"
shards = 3
[[origin]]
name = "a"
url = "http://127.0.0.1:9001/"
connect_timeout = "1500ms"
[[origin]]
name = "b"
url = "http://example.com"
response_timeout = "1h 1ns"
[[behavior]]
path = "/api/*"
origin = "b"
cache = false
ttl = { max = "2d" }
cache_key = { query = ["v", "la\"ng"], headers = ["Accept-Language", "x-a"] }
collapse = false
stale_while_revalidate = "10s"
stale_if_error = "1d 2h"
[[behavior]]
path = "*"
origin = "a"
ttl = { min = "400d" }
cache_key = { query = "all" }
[limits]
max_header_bytes = "9KiB"
collapse_timeout = "1ms"
"#;
        for text in [EXAMPLE, every_key] {
            let c = Config::from_str(text, "a.toml").unwrap();
            let written = c.to_toml();
            let back = Config::from_str(&written, "b.toml")
                .unwrap_or_else(|e| panic!("{e}\n---\n{written}"));
            assert_eq!(back, c, "\n---\n{written}");
            assert_eq!(back.to_toml(), written);
        }
    }

    proptest! {
        #[test]
        fn matcher_agrees_with_reference(p in "[ab/*?]{0,8}", s in "[ab/]{0,10}") {
            prop_assert_eq!(path_matches(&p, &s), reference(p.as_bytes(), s.as_bytes()));
        }
    }
}
