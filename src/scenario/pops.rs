//! `[edge]` and `[[pop]]`: each PoP's edge config is `[edge]` with the PoP's overrides laid
//! over it, named after the PoP, with one origin per scenario origin, validated by the edge's
//! own validation; then the parents (known, no cycles).

use cache::config_source::{span_of, ConfigError, Source};
use edge::config::{Listen, RawConfig, RawOrigin};
use sim::geo::World;
use toml::Spanned;

use super::raw::{RawPop, RawScenario};
use super::validate::{lookup, required_name, required_site};
use super::{Pop, ScenarioOrigin, ORIGIN_URL_PLACEHOLDER, UNASSIGNED};

/// Keys of an edge config that a scenario decides itself, with why.
const REFUSED: [(&str, &str); 4] = [
    ("listen", "not allowed in a scenario: the runner assigns each PoP's addresses"),
    ("admin_listen", "not allowed in a scenario: the runner assigns each PoP's addresses"),
    ("name", "not allowed in a scenario: each PoP's edge is named after the PoP"),
    (
        "origin",
        "not allowed in a scenario: each PoP's edge has one origin per [[origin]] of the scenario, named like it (behaviors name them)",
    ),
];

fn refused_message(key: &str) -> &'static str {
    REFUSED
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("not allowed in a scenario", |(_, m)| m)
}

pub(super) fn validate_pops(
    raw: &RawScenario,
    src: &Source<'_>,
    world: &World,
    origins: &[ScenarioOrigin],
) -> Result<Vec<Pop>, ConfigError> {
    let base = raw.edge.clone().unwrap_or_default();
    let edge_src = src.with_key_prefix("edge");
    for (key, span) in [
        ("listen", span_of(&base.listen)),
        ("admin_listen", span_of(&base.admin_listen)),
        ("name", span_of(&base.name)),
        (
            "origin",
            base.origin
                .as_ref()
                .and_then(|o| o.first())
                .map(|o| o.span()),
        ),
    ] {
        if span.is_some() {
            return Err(edge_src.error(span, key, refused_message(key)));
        }
    }
    let raw_origins = raw.origin.as_deref().unwrap_or_default();
    let edge_origins: Vec<Spanned<RawOrigin>> = origins
        .iter()
        .zip(raw_origins)
        .map(|(o, ro)| {
            let span = span_of(&ro.get_ref().name).unwrap_or_else(|| ro.span());
            Spanned::new(
                span.clone(),
                RawOrigin {
                    name: Spanned::new(span.clone(), o.name.clone()),
                    url: Spanned::new(span, ORIGIN_URL_PLACEHOLDER.to_string()),
                    connect_timeout: None,
                    response_timeout: None,
                },
            )
        })
        .collect();

    let raw_pops = raw.pop.as_deref().unwrap_or_default();
    if raw_pops.is_empty() {
        return Err(src.error(
            Some(0..0),
            "pop",
            "at least one [[pop]] is required (name and site)",
        ));
    }
    let mut pops: Vec<Pop> = Vec::with_capacity(raw_pops.len());
    for (i, sp) in raw_pops.iter().enumerate() {
        let p = sp.get_ref();
        let prefix = format!("pop[{i}]");
        let key = |k: &str| format!("{prefix}.{k}");
        for (k, v) in [
            ("listen", &p.listen),
            ("admin_listen", &p.admin_listen),
            ("origin", &p.origin),
        ] {
            if let Some(v) = v {
                return Err(src.error(Some(v.span()), &key(k), refused_message(k)));
            }
        }
        let name = required_name(src, &p.name, sp.span(), &key("name"), "PoP")?;
        if let Some(j) = pops.iter().position(|q| q.name == name) {
            return Err(src.error(
                span_of(&p.name),
                &key("name"),
                format!("duplicate PoP name {name:?} (also pop[{j}])"),
            ));
        }
        let site = required_site(src, world, &p.site, sp.span(), &key("site"))?;
        let command = match &p.command {
            None => None,
            Some(c) if c.get_ref().trim().is_empty() => {
                return Err(src.error(
                    Some(c.span()),
                    &key("command"),
                    "empty command: leave it out to run cdnlab edge",
                ))
            }
            Some(c) => Some(c.get_ref().clone()),
        };
        let mut merged: RawConfig = base.clone();
        merged.overlay(p.overrides());
        merged.name = Some(Spanned::new(
            span_of(&p.name).unwrap_or(sp.span()),
            name.clone(),
        ));
        merged.origin = Some(edge_origins.clone());
        let edge = merged
            .validate(
                src,
                Listen::Assigned {
                    listen: UNASSIGNED,
                    admin_listen: UNASSIGNED,
                },
            )
            .map_err(|e| attribute(e, p, &prefix, &name))?;
        pops.push(Pop {
            name,
            site,
            parent: None,
            edge,
            command,
        });
    }

    let names: Vec<&str> = pops.iter().map(|p| p.name.as_str()).collect();
    let mut parents = Vec::with_capacity(pops.len());
    for (i, sp) in raw_pops.iter().enumerate() {
        let parent = match &sp.get_ref().parent {
            None => None,
            Some(v) => Some(lookup(src, v, &names, &format!("pop[{i}].parent"), "PoP")?),
        };
        parents.push(parent);
    }
    if let Some((i, chain)) = first_cycle(&parents) {
        let path: Vec<&str> = chain.iter().map(|&j| names[j]).collect();
        return Err(src.error(
            span_of(&raw_pops[i].get_ref().parent),
            &format!("pop[{i}].parent"),
            format!("parents form a cycle: {}", path.join(" → ")),
        ));
    }
    for (p, parent) in pops.iter_mut().zip(parents) {
        p.parent = parent;
    }
    Ok(pops)
}

/// The first PoP (in file order) whose chain of parents comes back to it, with the chain from
/// it back to it (`[a, b, a]`).
fn first_cycle(parents: &[Option<usize>]) -> Option<(usize, Vec<usize>)> {
    for start in 0..parents.len() {
        let mut chain = vec![start];
        let mut at = start;
        // A chain longer than the number of PoPs has repeated one.
        while let Some(next) = parents[at] {
            chain.push(next);
            if next == start {
                return Some((start, chain));
            }
            if chain.len() > parents.len() {
                break;
            }
            at = next;
        }
    }
    None
}

/// Names the table an edge validation error comes from: the PoP's own override when it set
/// the key, else `[edge]` (with which PoP's merge it was found in, when the PoP overrides
/// anything, since the two together may be what is wrong).
fn attribute(mut e: ConfigError, pop: &RawPop, prefix: &str, name: &str) -> ConfigError {
    let own = pop_sets(pop, &e.key);
    let table = if own { prefix } else { "edge" };
    e.key = if e.key.is_empty() {
        table.to_string()
    } else {
        format!("{table}.{}", e.key)
    };
    let overrides = pop.cache.is_some() || pop.behavior.is_some() || pop.limits.is_some();
    if !own && overrides {
        e.message = format!(
            "{} (with the overrides of {prefix}, PoP {name:?})",
            e.message
        );
    }
    e
}

/// Whether the PoP's overrides set the edge config key `key` (`cache.capacity`,
/// `behavior[1].origin`, `limits.max_connections`).
fn pop_sets(pop: &RawPop, key: &str) -> bool {
    fn set<T>(v: &Option<T>) -> bool {
        v.is_some()
    }
    if key == "behavior" || key.starts_with("behavior[") {
        return pop.behavior.is_some();
    }
    if let (Some(field), Some(c)) = (key.strip_prefix("cache."), &pop.cache) {
        return match field {
            "policy" => set(&c.policy),
            "capacity" => set(&c.capacity),
            "max_object_size" => set(&c.max_object_size),
            "shards" => set(&c.shards),
            "zero_copy" => set(&c.zero_copy),
            _ => false,
        };
    }
    if let (Some(field), Some(l)) = (key.strip_prefix("limits."), &pop.limits) {
        return match field {
            "header_read_timeout" => set(&l.header_read_timeout),
            "max_header_bytes" => set(&l.max_header_bytes),
            "max_connections" => set(&l.max_connections),
            "collapse_max_waiters" => set(&l.collapse_max_waiters),
            "collapse_timeout" => set(&l.collapse_timeout),
            _ => false,
        };
    }
    false
}
