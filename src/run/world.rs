//! Starting a scenario's world, in dependency order: origins, then every PoP (parents
//! before children) with the links to its upstream, then each region's link to its PoP.
//! Everything started is stopped when the [`World`] is dropped, also on errors.

use super::edges::{EdgeProcess, Metrics};
use crate::scenario::{Pop, Scenario};
use anyhow::{bail, Context, Result};
use sim::dist::mix64;
use sim::link::{Link, LinkSpec};
use sim::origin::RunningOrigin;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// The loopback address a region's connections come from: 127.0.1.(i + 1), then 127.0.2.x…
pub fn region_source(i: usize) -> IpAddr {
    let n = i + 1;
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        1 + (n / 250) as u8,
        (n % 250) as u8 + 1,
    ))
}

/// A started PoP: its edge (a child process) and the links to its upstream.
pub struct RunningPop {
    pub edge: EdgeProcess,
    /// Round-trip time to its upstream (parent or origin), for the summary.
    pub upstream_rtt: Duration,
    _links: Vec<Link>,
}

/// A region's way in: its link (if any) and where its viewers connect.
pub struct RegionPath {
    pub target: SocketAddr,
    /// The address the viewers bind (when they connect to the edge directly).
    pub source: Option<IpAddr>,
    /// Round-trip time from the region's viewers to its PoP (last mile + path).
    pub rtt: Duration,
    /// Kept so that it runs as long as the world.
    pub _link: Option<Link>,
}

/// Everything a scenario runs, other than the viewers.
pub struct World {
    pub origins: Vec<RunningOrigin>,
    pub pops: Vec<RunningPop>,
    pub regions: Vec<RegionPath>,
}

/// PoP indexes with every parent before its children (the scenario has no cycles).
fn parents_first(pops: &[Pop]) -> Vec<usize> {
    let mut order = Vec::with_capacity(pops.len());
    let mut placed = vec![false; pops.len()];
    while order.len() < pops.len() {
        for (i, p) in pops.iter().enumerate() {
            if !placed[i] && p.parent.is_none_or(|q| placed[q]) {
                placed[i] = true;
                order.push(i);
            }
        }
    }
    order
}

async fn link(upstream: SocketAddr, spec: LinkSpec, what: &str) -> Result<Link> {
    Link::start(SocketAddr::from(([127, 0, 0, 1], 0)), upstream, spec)
        .await
        .with_context(|| format!("starting the link of {what}"))
}

impl World {
    /// Starts the world on the current runtime; edges write their configs and logs under
    /// `dir/edges/`. `edge_threads` is each edge's worker thread count.
    pub async fn start(scn: &Scenario, dir: &Path, edge_threads: usize) -> Result<World> {
        let mut origins = Vec::with_capacity(scn.origins.len());
        for o in &scn.origins {
            let running = sim::origin::start(o.config.clone())
                .await
                .with_context(|| format!("starting origin {}", o.name))?;
            origins.push(running);
        }
        let edges_dir = dir.join("edges");
        std::fs::create_dir_all(&edges_dir)
            .with_context(|| format!("creating {}", edges_dir.display()))?;
        let mut started: Vec<Option<RunningPop>> = (0..scn.pops.len()).map(|_| None).collect();
        for i in parents_first(&scn.pops) {
            let pop = &scn.pops[i];
            let mut cfg = pop.edge.clone();
            let mut links = Vec::new();
            let mut upstream_rtt = Duration::ZERO;
            let parent_addr = pop
                .parent
                .map(|p| started[p].as_ref().expect("parents first").edge.listen);
            for (k, eo) in cfg.origins.iter_mut().enumerate() {
                let (upstream, rtt, what) = match (pop.parent, parent_addr) {
                    (Some(p), Some(addr)) => (
                        addr,
                        scn.world.rtt(pop.site, scn.pops[p].site),
                        format!("PoP {} to its parent {}", pop.name, scn.pops[p].name),
                    ),
                    _ => {
                        let Some(oi) = scn.origins.iter().position(|o| o.name == eo.name) else {
                            bail!(
                                "PoP {}: edge origin {} is not a scenario origin",
                                pop.name,
                                eo.name
                            );
                        };
                        (
                            origins[oi].local_addr(),
                            scn.world.rtt(pop.site, scn.origins[oi].site),
                            format!("PoP {} to origin {}", pop.name, eo.name),
                        )
                    }
                };
                upstream_rtt = upstream_rtt.max(rtt);
                let spec = LinkSpec {
                    rtt,
                    seed: mix64(scn.seed ^ mix64(0x1000 + (i * 64 + k) as u64)),
                    ..LinkSpec::default()
                };
                let l = link(upstream, spec, &what).await?;
                eo.url = format!("http://{}", l.local_addr())
                    .parse()
                    .expect("an address makes a URI");
                links.push(l);
            }
            let edge = EdgeProcess::start(pop, cfg, &edges_dir, edge_threads)
                .await
                .with_context(|| format!("starting the edge of PoP {}", pop.name))?;
            started[i] = Some(RunningPop {
                edge,
                upstream_rtt,
                _links: links,
            });
        }
        let pops: Vec<RunningPop> = started
            .into_iter()
            .map(|p| p.expect("all started"))
            .collect();
        let mut regions = Vec::with_capacity(scn.regions.len());
        for (i, r) in scn.regions.iter().enumerate() {
            let pop = &scn.pops[r.pop];
            let rtt = r.last_mile.rtt + scn.world.rtt(r.site, pop.site);
            let spec = LinkSpec {
                rtt,
                jitter: r.last_mile.jitter,
                bandwidth_bps: r.last_mile.bandwidth_bps,
                loss: r.last_mile.loss,
                handshake_rtts: 1,
                seed: mix64(scn.seed ^ mix64(0x2000 + i as u64)),
                upstream_source: Some(region_source(i)),
            };
            let edge_addr = pops[r.pop].edge.listen;
            // A link that adds nothing is left out: the viewers bind the region's address
            // and connect to the edge directly, and no relay costs CPU.
            if spec.is_transparent() {
                regions.push(RegionPath {
                    target: edge_addr,
                    source: Some(region_source(i)),
                    rtt,
                    _link: None,
                });
            } else {
                let l = link(edge_addr, spec, &format!("region {}", r.name)).await?;
                regions.push(RegionPath {
                    target: l.local_addr(),
                    source: None,
                    rtt,
                    _link: Some(l),
                });
            }
        }
        Ok(World {
            origins,
            pops,
            regions,
        })
    }

    /// Each PoP's metrics now (None for a PoP whose admin port does not answer).
    pub async fn scrape(&self) -> Vec<Option<Metrics>> {
        let mut out = Vec::with_capacity(self.pops.len());
        for p in &self.pops {
            out.push(p.edge.scrape().await.ok());
        }
        out
    }

    /// Stops the edges (politely, then for sure) and the origins.
    pub async fn stop(self) {
        for p in self.pops {
            p.edge.stop().await;
        }
        for o in &self.origins {
            o.shutdown();
        }
    }
}
