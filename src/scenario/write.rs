//! The resolved scenario as TOML: every default written out, names instead of indices, in
//! the order of the contract. [`super::parse`] reads it back into an equal [`Scenario`], so
//! a run folder's `scenario.toml` runs the same scenario again.

use std::fmt::Write as _;
use std::time::Duration;

use cache::units::format_duration;
use sim::geo::World;

use super::{Metric, Scenario, Scope};

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn toml_f64(x: f64) -> String {
    toml::Value::Float(x).to_string()
}

fn toml_duration(d: Duration) -> String {
    toml_str(&format_duration(d))
}

impl Scenario {
    /// The resolved scenario, every default filled in, that [`super::parse`] accepts again and
    /// turns into an equal `Scenario` (given the same file name).
    pub fn to_toml(&self) -> String {
        let mut out = String::from("# A cdnlab scenario, resolved: every default written out.\n\n");
        let _ = write!(
            out,
            "name = {}\nseed = {}\nduration = {}\nwarmup = {}\n",
            toml_str(&self.name),
            self.seed,
            toml_duration(self.duration),
            toml_duration(self.warmup)
        );
        out.push_str(&world_toml(&self.world));
        self.write_origins(&mut out);
        self.write_pops(&mut out);
        self.write_regions(&mut out);
        out.push('\n');
        out.push_str(&self.workload.to_toml("workload"));
        self.write_asserts(&mut out);
        out
    }

    fn write_origins(&self, out: &mut String) {
        for o in &self.origins {
            let _ = writeln!(out, "\n[[origin]]\nname = {}", toml_str(&o.name));
            for (k, v) in o.config.toml_keys() {
                if k == "seed" && o.seed_inherited {
                    // Left out so that it keeps following the scenario's seed.
                    let _ = writeln!(out, "# seed = {v}: the scenario's");
                } else {
                    let _ = writeln!(out, "{k} = {v}");
                }
            }
            out.push_str(&o.config.toml_tables("origin"));
        }
    }

    /// `[edge]` holds, section by section, the value most PoPs have (the first PoP's on a
    /// tie); each PoP then overrides the sections in which its own differs (whole sections,
    /// which reproduce it exactly).
    fn write_pops(&self, out: &mut String) {
        let Some(first) = self.pops.first().map(|p| &p.edge) else {
            return;
        };
        let edges: Vec<&edge::Config> = self.pops.iter().map(|p| &p.edge).collect();
        let cache = most_common(edges.iter().map(|e| &e.cache));
        let behaviors = most_common(edges.iter().map(|e| &e.behaviors));
        let limits = most_common(edges.iter().map(|e| &e.limits));
        let _ = write!(out, "\n[edge]\n\n[edge.cache]\n{}", cache.to_toml());
        for b in behaviors {
            let _ = write!(out, "\n[[edge.behavior]]\n{}", b.to_toml(&first.origins));
        }
        let _ = write!(out, "\n[edge.limits]\n{}", limits.to_toml());
        for p in &self.pops {
            let _ = write!(
                out,
                "\n[[pop]]\nname = {}\nsite = {}\n",
                toml_str(&p.name),
                toml_str(self.world.name(p.site))
            );
            if let Some(parent) = p.parent.and_then(|i| self.pops.get(i)) {
                let _ = writeln!(out, "parent = {}", toml_str(&parent.name));
            }
            if let Some(c) = &p.command {
                let _ = writeln!(out, "command = {}", toml_str(c));
            }
            if p.edge.cache != *cache {
                let _ = write!(out, "\n[pop.cache]\n{}", p.edge.cache.to_toml());
            }
            if p.edge.behaviors != *behaviors {
                for b in &p.edge.behaviors {
                    let _ = write!(out, "\n[[pop.behavior]]\n{}", b.to_toml(&p.edge.origins));
                }
            }
            if p.edge.limits != *limits {
                let _ = write!(out, "\n[pop.limits]\n{}", p.edge.limits.to_toml());
            }
        }
    }

    fn write_regions(&self, out: &mut String) {
        for r in &self.regions {
            let lm = &r.last_mile;
            let mut last_mile = format!(
                "rtt = {}, jitter = {}",
                toml_duration(lm.rtt),
                toml_duration(lm.jitter)
            );
            if let Some(bps) = lm.bandwidth_bps {
                let _ = write!(
                    last_mile,
                    ", bandwidth = {}",
                    toml_str(&sim::link::format_bandwidth(bps))
                );
            }
            let _ = write!(last_mile, ", loss = {}", toml_f64(lm.loss));
            let _ = write!(
                out,
                "\n[[region]]\nname = {}\nsite = {}\nshare = {}\npop = {}\nconnections = {}\n\
                 requests_per_connection = {}\nprotocol = {}\nlast_mile = {{ {last_mile} }}\n",
                toml_str(&r.name),
                toml_str(self.world.name(r.site)),
                toml_f64(r.share),
                toml_str(self.pops.get(r.pop).map_or("", |p| p.name.as_str())),
                r.connections,
                r.requests_per_connection,
                toml_str(r.protocol.name()),
            );
        }
    }

    fn write_asserts(&self, out: &mut String) {
        for a in &self.asserts {
            let _ = write!(
                out,
                "\n[[assert]]\nmetric = {}\n",
                toml_str(a.metric.name())
            );
            match a.scope {
                Scope::Run => {}
                Scope::Region(i) => {
                    let name = self.regions.get(i).map_or("", |r| r.name.as_str());
                    let _ = writeln!(out, "region = {}", toml_str(name));
                }
                Scope::Pop(i) => {
                    let name = self.pops.get(i).map_or("", |p| p.name.as_str());
                    let _ = writeln!(out, "pop = {}", toml_str(name));
                }
            }
            for (k, v) in [("min", a.min), ("max", a.max)] {
                if let Some(v) = v {
                    let _ = writeln!(out, "{k} = {}", limit_toml(a.metric, v));
                }
            }
        }
    }
}

/// The value that occurs most often, the earliest on a tie; `items` is not empty.
fn most_common<'a, T: PartialEq + 'a>(items: impl Iterator<Item = &'a T> + Clone) -> &'a T {
    let mut best: Option<(&T, usize)> = None;
    for x in items.clone() {
        let n = items.clone().filter(|y| *y == x).count();
        if best.is_none_or(|(_, m)| n > m) {
            best = Some((x, n));
        }
    }
    best.map(|(x, _)| x).expect("at least one item")
}

/// A limit as written: a duration for latency metrics when one reads back exactly, else a
/// number.
fn limit_toml(metric: Metric, v: f64) -> String {
    if metric.is_latency() && (0.0..1e15).contains(&v) {
        let d = Duration::from_nanos((v * 1e6).round() as u64);
        if d.as_nanos() as f64 / 1e6 == v {
            return toml_duration(d);
        }
    }
    toml_f64(v)
}

/// `[world]`: the preset when the world starts with its sites, the model's parameters, the
/// added sites, then every overridden pair.
fn world_toml(w: &World) -> String {
    let earth = World::earth();
    let preset = w.sites().starts_with(earth.sites());
    let added = if preset {
        &w.sites()[earth.sites().len()..]
    } else {
        w.sites()
    };
    let mut out = format!(
        "\n[world]\npreset = {}\nbase_rtt = {}\ninflation = {}\n",
        toml_str(if preset { "earth" } else { "none" }),
        toml_duration(w.base_rtt()),
        toml_f64(w.inflation())
    );
    for s in added {
        let _ = write!(
            out,
            "\n[[world.site]]\nname = {}\ncity = {}\nlat = {}\nlon = {}\n",
            toml_str(&s.name),
            toml_str(&s.city),
            toml_f64(s.lat),
            toml_f64(s.lon)
        );
    }
    let n = w.sites().len();
    for a in 0..n {
        for b in a..n {
            if let Some(rtt) = w.rtt_override(a, b) {
                let _ = write!(
                    out,
                    "\n[[world.rtt]]\na = {}\nb = {}\nrtt = {}\n",
                    toml_str(w.name(a)),
                    toml_str(w.name(b)),
                    toml_duration(rtt)
                );
            }
        }
    }
    out
}
