//! `cdnlab link --listen A --upstream B --rtt 80ms ...`: one latency-injecting link alone,
//! until Ctrl-C or SIGTERM (see `sim::link`).

use crate::BadInput;
use anyhow::{Context, Result};
use clap::Args;
use sim::link::{parse_bandwidth, parse_percent, Link, LinkSpec};
use std::net::{IpAddr, SocketAddr};

/// Values are taken as text and checked here, so that a bad one gets a one-line message
/// naming its flag (and exit code 2).
#[derive(Args, Debug)]
pub struct LinkArgs {
    /// Address to listen on, e.g. `127.0.0.1:8081` (port 0: the system picks one; the address
    /// is printed on standard error).
    #[arg(long)]
    pub listen: String,
    /// Address every connection is relayed to, e.g. `127.0.0.1:8080`.
    #[arg(long)]
    pub upstream: String,
    /// Round-trip time added, e.g. `80ms`; each direction gets half.
    #[arg(long)]
    pub rtt: String,
    /// The round trip varies by up to ± this, e.g. `5ms` (bytes are never reordered).
    #[arg(long)]
    pub jitter: Option<String>,
    /// Bandwidth of each direction, e.g. `50Mbit/s`, `8Mbps`, `1Gbit/s`, `10MB/s`; unlimited if absent.
    #[arg(long)]
    pub bandwidth: Option<String>,
    /// Share of chunks lost (each then arrives one retransmission timeout late), e.g. `0.1%`.
    #[arg(long)]
    pub loss: Option<String>,
    /// Round trips a new connection waits before its first byte (1: TCP; 2 or 3: with TLS).
    #[arg(long)]
    pub handshake_rtts: Option<String>,
    /// Seed of the jitter and loss draws.
    #[arg(long)]
    pub seed: Option<String>,
    /// Source address of the upstream connections, e.g. `127.0.1.5`.
    #[arg(long)]
    pub source: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

fn flag<T>(name: &str, r: Result<T, String>) -> Result<T> {
    r.map_err(|e| BadInput(format!("--{name}: {e}")).into())
}

fn addr(name: &str, s: &str) -> Result<SocketAddr> {
    flag(
        name,
        s.trim()
            .parse()
            .map_err(|_| format!("bad address {s:?}: expected IP:PORT, e.g. 127.0.0.1:8080")),
    )
}

fn number<T: std::str::FromStr>(name: &str, s: &str) -> Result<T> {
    flag(
        name,
        s.trim()
            .parse()
            .map_err(|_| format!("bad value {s:?}: expected a whole number")),
    )
}

/// The link's address pair and spec from the flags; every error names its flag.
pub fn spec_from(args: &LinkArgs) -> Result<(SocketAddr, SocketAddr, LinkSpec)> {
    let listen = addr("listen", &args.listen)?;
    let upstream = addr("upstream", &args.upstream)?;
    let mut spec = LinkSpec {
        rtt: flag("rtt", cache::units::parse_duration(&args.rtt))?,
        ..LinkSpec::default()
    };
    if let Some(j) = &args.jitter {
        spec.jitter = flag("jitter", cache::units::parse_duration(j))?;
    }
    if let Some(b) = &args.bandwidth {
        spec.bandwidth_bps = Some(flag("bandwidth", parse_bandwidth(b))?);
    }
    if let Some(l) = &args.loss {
        spec.loss = flag("loss", parse_percent(l))?;
    }
    if let Some(h) = &args.handshake_rtts {
        spec.handshake_rtts = number("handshake-rtts", h)?;
    }
    if let Some(s) = &args.seed {
        spec.seed = number("seed", s)?;
    }
    if let Some(s) = &args.source {
        let ip: IpAddr = flag(
            "source",
            s.trim()
                .parse()
                .map_err(|_| format!("bad IP address {s:?}, e.g. 127.0.1.5")),
        )?;
        if ip.is_ipv4() != upstream.is_ipv4() {
            return Err(BadInput(format!(
                "--source: {ip} is not of the same IP family as --upstream {upstream}"
            ))
            .into());
        }
        spec.upstream_source = Some(ip);
    }
    if let Err(e) = spec.validate() {
        // validate() names the field; map it back to its flag.
        let name = ["rtt", "jitter", "bandwidth", "loss", "handshake_rtts"]
            .into_iter()
            .find(|f| e.starts_with(f))
            .unwrap_or("rtt")
            .replace('_', "-");
        return Err(BadInput(format!("--{name}: {e}")).into());
    }
    Ok((listen, upstream, spec))
}

pub fn run(args: LinkArgs) -> Result<()> {
    let (listen, upstream, spec) = spec_from(&args)?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        // Handlers first: whoever reads the address below may signal at once.
        let signal = crate::signals::shutdown_signal()?;
        let link = Link::start(listen, upstream, spec)
            .await
            .with_context(|| format!("--listen {listen}"))?;
        eprintln!(
            "cdnlab link: listening on {} -> {upstream} ({})",
            link.local_addr(),
            link.spec()
        );
        signal.await;
        link.shutdown();
        link.stopped().await;
        let s = link.stats();
        eprintln!(
            "cdnlab link: stopped: {} connections, {} bytes up, {} bytes down, {:?} delay applied, {} lost chunks, {} upstream failures",
            s.connections, s.bytes_up, s.bytes_down, s.delay_applied, s.lost_chunks, s.upstream_failures
        );
        Ok(())
    })
}
