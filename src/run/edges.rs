//! The proxies under test as separate processes: `cdnlab edge` started from a config the
//! runner writes, or a PoP's own `command` (nginx, …) with its placeholders filled in; their
//! readiness, their Prometheus metrics, their CPU time, and stopping them.

use crate::scenario::Pop;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long an edge may take to report its addresses (or to accept, for a `command`).
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A PoP's proxy process.
pub struct EdgeProcess {
    pub listen: SocketAddr,
    /// The admin port (`cdnlab edge` only).
    pub admin: Option<SocketAddr>,
    pub pid: Option<u32>,
    child: Child,
}

/// What a PoP's `/metrics` says (cdnlab's edge metrics; totals since it started).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// `cdnlab_edge_requests_total` by `result`.
    pub requests: BTreeMap<String, f64>,
    /// `cdnlab_edge_origin_requests_total`, all origins and statuses.
    pub origin_requests: f64,
    pub sent_bytes: f64,
    pub cache_bytes: f64,
    pub cache_metadata_bytes: f64,
    pub cache_objects: f64,
    pub evictions: f64,
    pub invalidations: f64,
}

impl Metrics {
    /// Parses the Prometheus text exposition (only the series named above).
    pub fn parse(text: &str) -> Metrics {
        let mut m = Metrics::default();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(v) = value.trim().parse::<f64>() else {
                continue;
            };
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (n, l.trim_end_matches('}')),
                None => (series, ""),
            };
            match name {
                "cdnlab_edge_requests_total" => {
                    if let Some(r) = label(labels, "result") {
                        *m.requests.entry(r.to_string()).or_default() += v;
                    }
                }
                "cdnlab_edge_origin_requests_total" => m.origin_requests += v,
                "cdnlab_edge_sent_bytes_total" => m.sent_bytes = v,
                "cdnlab_edge_cache_bytes" => m.cache_bytes = v,
                "cdnlab_edge_cache_metadata_bytes" => m.cache_metadata_bytes = v,
                "cdnlab_edge_cache_objects" => m.cache_objects = v,
                "cdnlab_edge_evictions_total" => m.evictions = v,
                "cdnlab_edge_invalidated_objects_total" => m.invalidations = v,
                _ => {}
            }
        }
        m
    }

    /// Counters that grew from `earlier` to `self` (gauges keep `self`'s values).
    pub fn since(&self, earlier: &Metrics) -> Metrics {
        let mut d = self.clone();
        for (k, v) in d.requests.iter_mut() {
            *v -= earlier.requests.get(k).copied().unwrap_or(0.0);
        }
        d.origin_requests -= earlier.origin_requests;
        d.sent_bytes -= earlier.sent_bytes;
        d.evictions -= earlier.evictions;
        d.invalidations -= earlier.invalidations;
        d
    }
}

fn label<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    labels.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"'))
    })
}

/// Parses `… viewers on http://A, admin on http://B` (the line `cdnlab edge` prints when it
/// is ready).
fn parse_ready(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let rest = line.split_once("viewers on http://")?.1;
    let (listen, rest) = rest.split_once(',')?;
    let admin = rest.split_once("admin on http://")?.1.trim();
    Some((listen.trim().parse().ok()?, admin.parse().ok()?))
}

/// A free loopback port for a proxy that cannot report the one it bound.
fn free_port() -> Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?)
}

impl EdgeProcess {
    /// Starts the PoP's proxy with `cfg` (origins already pointing at their links) and
    /// waits until it is ready. Its config goes to `dir/<pop>.toml`, its log to
    /// `dir/<pop>.log`.
    pub async fn start(pop: &Pop, cfg: edge::Config, dir: &Path, threads: usize) -> Result<Self> {
        let config = dir.join(format!("{}.toml", pop.name));
        std::fs::write(&config, cfg.to_toml())
            .with_context(|| format!("writing {}", config.display()))?;
        let log_path = dir.join(format!("{}.log", pop.name));
        match &pop.command {
            None => Self::start_cdnlab(config, &log_path, threads).await,
            Some(cmd) => Self::start_command(pop, &cfg, cmd, config, &log_path, dir).await,
        }
    }

    async fn start_cdnlab(config: PathBuf, log_path: &Path, threads: usize) -> Result<Self> {
        let exe = std::env::current_exe().context("locating the cdnlab binary")?;
        let mut command = Command::new(exe);
        command
            .arg("edge")
            .arg("--config")
            .arg(&config)
            .arg("--threads")
            .arg(threads.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its own process group: a Ctrl-C at the terminal reaches the runner only, which
        // then reads the edge's metrics before stopping it.
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command.spawn().context("spawning cdnlab edge")?;
        let stderr = child.stderr.take().expect("piped");
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(addrs) = parse_ready(&line) {
                    seen.push(line);
                    return Ok::<_, std::io::Error>(Some(addrs));
                }
                seen.push(line);
            }
            Ok(None)
        })
        .await;
        let (listen, admin) = match ready {
            Ok(Ok(Some(a))) => a,
            Ok(Ok(None)) | Ok(Err(_)) => {
                bail!("the edge exited before it was ready: {}", seen.join(" / "))
            }
            Err(_) => bail!("the edge was not ready within {READY_TIMEOUT:?}"),
        };
        let mut log = tokio::fs::File::create(log_path)
            .await
            .with_context(|| format!("creating {}", log_path.display()))?;
        // The rest of its standard error goes to its log, as long as it runs.
        tokio::spawn(async move {
            let mut text = seen.join("\n");
            text.push('\n');
            let _ = log.write_all(text.as_bytes()).await;
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = log.write_all(line.as_bytes()).await;
                let _ = log.write_all(b"\n").await;
            }
        });
        Ok(EdgeProcess {
            listen,
            admin: Some(admin),
            pid: child.id(),
            child,
        })
    }

    async fn start_command(
        pop: &Pop,
        cfg: &edge::Config,
        cmd: &str,
        config: PathBuf,
        log_path: &Path,
        dir: &Path,
    ) -> Result<Self> {
        let listen = free_port()?;
        let origin = cfg
            .origins
            .first()
            .and_then(|o| o.url.authority().map(|a| a.to_string()))
            .unwrap_or_default();
        let line = cmd
            .replace("{listen}", &listen.to_string())
            .replace("{port}", &listen.port().to_string())
            .replace("{origin}", &origin)
            .replace("{name}", &pop.name)
            .replace("{config}", &config.display().to_string())
            .replace("{dir}", &dir.display().to_string());
        let log = std::fs::File::create(log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&line)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command
            .spawn()
            .with_context(|| format!("running `{line}`"))?;
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if TcpStream::connect(listen).await.is_ok() {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!("`{line}` exited ({status}) before accepting on {listen}");
            }
            if tokio::time::Instant::now() > deadline {
                bail!("`{line}` did not accept on {listen} within {READY_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(EdgeProcess {
            listen,
            admin: None,
            pid: child.id(),
            child,
        })
    }

    /// Reads `/metrics` from the admin port.
    pub async fn scrape(&self) -> Result<Metrics> {
        let admin = self.admin.ok_or_else(|| anyhow!("no admin port"))?;
        let text = tokio::time::timeout(Duration::from_secs(5), async {
            let mut s = TcpStream::connect(admin).await?;
            s.write_all(b"GET /metrics HTTP/1.0\r\nHost: admin\r\n\r\n")
                .await?;
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await?;
            Ok::<_, std::io::Error>(buf)
        })
        .await
        .context("scraping metrics: timeout")??;
        let text = String::from_utf8_lossy(&text);
        let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
        Ok(Metrics::parse(body))
    }

    /// CPU seconds (user + system) the process has used so far, from `/proc`.
    pub fn cpu_seconds(&self) -> Option<f64> {
        super::cpu::process_seconds(self.pid?)
    }

    /// Stops the process: SIGTERM to its process group (every PoP's proxy runs in its own,
    /// and a `command` may have children), then SIGKILL if it has not exited within 2 s.
    pub async fn stop(mut self) {
        signal_group(self.pid, libc::SIGTERM);
        if tokio::time::timeout(Duration::from_secs(2), self.child.wait())
            .await
            .is_err()
        {
            signal_group(self.pid, libc::SIGKILL);
            let _ = self.child.kill().await;
        }
    }
}

/// Sends `signal` to the process group led by `pid` (a process started with
/// `process_group(0)`); nothing if the process is gone.
fn signal_group(pid: Option<u32>, signal: libc::c_int) {
    if let Some(pid) = pid.and_then(|p| libc::pid_t::try_from(p).ok()) {
        // SAFETY: kill(2) has no memory effects; a stale group id only yields ESRCH.
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line() {
        let (l, a) = parse_ready(
            "cdnlab edge fra: viewers on http://127.0.0.1:4000, admin on http://127.0.0.1:4001",
        )
        .unwrap();
        assert_eq!(l.port(), 4000);
        assert_eq!(a.port(), 4001);
        assert!(parse_ready("something else").is_none());
    }

    #[test]
    fn metrics_text() {
        let m = Metrics::parse(
            "# TYPE x counter\ncdnlab_edge_requests_total{pop=\"fra\",result=\"hit\"} 10\n\
             cdnlab_edge_requests_total{pop=\"fra\",result=\"miss\"} 3\n\
             cdnlab_edge_origin_requests_total{pop=\"fra\",origin=\"web\",status=\"200\"} 3\n\
             cdnlab_edge_origin_requests_total{pop=\"fra\",origin=\"web\",status=\"error\"} 1\n\
             cdnlab_edge_cache_objects{pop=\"fra\"} 3\n",
        );
        assert_eq!(m.requests["hit"], 10.0);
        assert_eq!(m.origin_requests, 4.0);
        assert_eq!(m.cache_objects, 3.0);
        let later = Metrics {
            origin_requests: 10.0,
            ..m.clone()
        };
        assert_eq!(later.since(&m).origin_requests, 6.0);
    }
}
