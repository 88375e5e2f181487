//! A workload that replays a trace (`workload.trace`): the checks only the whole scenario can
//! make. Every PoP must send `/trace/` to the same origin (its seed makes the objects' bytes,
//! its `trace.max_size` bounds their sizes), and the part of the trace the run sends is read
//! whole at validation, so a missing, truncated or malformed file, or an object larger than
//! the origin serves, is refused (file, line, key) before anything starts. The runner reads
//! it again for the run itself ([`Scenario::load_replay`]), after `--duration` may have
//! changed its length.

use std::sync::Arc;
use std::time::Duration;

use cache::config_source::{span_of, ConfigError, Source};
use loadgen::{Replay, WorkloadSpec};
use toml::Spanned;

use super::raw::RawScenario;
use super::{Overrides, Pop, Scenario, ScenarioOrigin};

/// A path of the trace class, to find where behaviors send it.
const PROBE: &str = "/trace/0/1";

/// The origin (index) every PoP sends `/trace/` to, or a message naming two that differ.
fn routed_origin(pops: &[Pop], origins: &[&str]) -> Result<usize, String> {
    let route = |p: &Pop| {
        let (bi, b) = p.edge.behavior_for(PROBE);
        (b.origin, bi, b.path.clone())
    };
    let Some(first) = pops.first() else {
        return Err("no PoP".into());
    };
    let (o, bi, path) = route(first);
    for p in &pops[1..] {
        let (o2, bi2, path2) = route(p);
        if o2 != o {
            let name = |i: usize| origins.get(i).copied().unwrap_or("?");
            return Err(format!(
                "PoP {:?} sends {PROBE:?} to origin {:?} (its behavior[{bi}], path {path:?}) but PoP {:?} to origin {:?} (its behavior[{bi2}], path {path2:?}): trace objects must come from one origin (their bytes depend on its seed); route /trace/* to the same origin in every PoP",
                first.name,
                name(o),
                p.name,
                name(o2),
            ));
        }
    }
    Ok(o)
}

/// Checks a trace workload against the rest of the scenario and reads the part of the trace
/// a run of `warmup + duration` sends (then lets it go: the runner reads it again).
pub(super) fn check(
    raw: &RawScenario,
    src: &Source<'_>,
    w: &WorkloadSpec,
    run: Duration,
    origins: &[ScenarioOrigin],
    pops: &[Pop],
) -> Result<(), ConfigError> {
    let Some(spec) = &w.trace else {
        return Ok(());
    };
    let raw_trace = raw
        .workload
        .as_ref()
        .and_then(|w| w.get_ref().trace.as_ref());
    let names: Vec<&str> = origins.iter().map(|o| o.name.as_str()).collect();
    let origin = routed_origin(pops, &names)
        .map_err(|m| src.error(raw_trace.map(Spanned::span), "workload.trace", m))?;
    let max_size = origins[origin].config.trace.max_size;
    Replay::load(spec, run, max_size).map_err(|m| {
        src.error(
            raw_trace.and_then(|t| span_of(&t.get_ref().file)),
            "workload.trace.file",
            m,
        )
    })?;
    Ok(())
}

impl Scenario {
    /// With a trace workload, the origin that serves its objects (validation made sure every
    /// PoP sends `/trace/` to it).
    pub fn trace_origin(&self) -> Option<usize> {
        self.workload.trace.as_ref()?;
        let names: Vec<&str> = self.origins.iter().map(|o| o.name.as_str()).collect();
        routed_origin(&self.pops, &names).ok()
    }

    /// With a trace workload, the part of the trace this run replays (its warm-up and
    /// duration as they are now, after the command line's overrides), read whole.
    pub fn load_replay(&self) -> Result<Option<Arc<Replay>>, ConfigError> {
        let Some(spec) = &self.workload.trace else {
            return Ok(None);
        };
        let error = |message: String| ConfigError {
            file: self.file.clone(),
            line: None,
            key: "workload.trace.file".into(),
            message,
        };
        let origin = self
            .trace_origin()
            .ok_or_else(|| error("no origin serves /trace/".into()))?;
        let max_size = self.origins[origin].config.trace.max_size;
        Replay::load(spec, self.warmup + self.duration, max_size)
            .map(|r| Some(Arc::new(r)))
            .map_err(error)
    }

    /// Refuses the overrides this scenario cannot take: `--rate` with a trace (the trace's
    /// own timing sets the rate; `workload.trace.speed` scales it).
    pub fn check_overrides(&self, o: &Overrides) -> Result<(), String> {
        if let (Some(r), Some(t)) = (o.rate, &self.workload.trace) {
            return Err(format!(
                "--rate {r}: the workload replays a trace, whose own timing sets the rate; change workload.trace.speed (now {}) instead",
                t.speed
            ));
        }
        Ok(())
    }
}
