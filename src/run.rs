//! `cdnlab run [SCENARIO]`: validates a scenario, starts its world (origins, links, one edge
//! process per PoP), runs the viewers, and writes the run folder; exit code 3 when an
//! assertion fails.

mod assertions;
mod cpu;
mod edges;
mod output;
mod progress;
mod report;
mod world;

use crate::cli::RunArgs;
use crate::scenario::{self, Scenario};
use crate::{AssertionsFailed, BadInput};
use anyhow::{anyhow, Context, Result};
use loadgen::{CatalogClass, Loadgen, Plan, RegionPlan, Replay};
use output::Gathered;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use world::World;

pub use assertions::value_of;

/// Every request carries this `Host`.
const HOST: &str = "cdnlab.test";
/// A request with no complete response after this fails as a timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Traffic begins this long after the viewers are started, so that every region starts
/// together.
const LEAD_IN: Duration = Duration::from_millis(100);

pub fn run(args: RunArgs) -> Result<()> {
    // The whole scenario is validated before anything starts.
    let mut scn = match &args.scenario {
        Some(p) => scenario::load(p),
        None => scenario::parse(scenario::QUICKSTART, "quickstart"),
    }
    .map_err(|e| BadInput(e.to_string()))?;
    let o = scenario::parse_overrides(args.seed, args.duration.as_deref(), args.rate)
        .map_err(BadInput)?;
    scn.check_overrides(&o).map_err(BadInput)?;
    scn.apply_overrides(o.seed, o.duration, o.rate);
    // A replayed trace is read whole before anything starts (a bad file is invalid input).
    let replay = scn.load_replay().map_err(|e| BadInput(e.to_string()))?;
    if args.dry_run {
        print!("{}", scn.to_toml());
        return Ok(());
    }
    let dir = run_dir(&scn, args.out.as_deref())?;
    std::fs::write(dir.join("scenario.toml"), scn.to_toml())
        .with_context(|| format!("writing {}", dir.join("scenario.toml").display()))?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let world_rt = runtime("cdnlab-world", cores)?;
    let viewers_rt = runtime("cdnlab-viewers", cores)?;
    let passed = world_rt.block_on(run_scenario(
        &scn,
        &dir,
        &args,
        viewers_rt.handle(),
        cores,
        replay,
    ))?;
    viewers_rt.shutdown_timeout(Duration::from_secs(1));
    world_rt.shutdown_timeout(Duration::from_secs(1));
    match passed {
        Outcome::Passed => Ok(()),
        Outcome::Failed(msg) => Err(AssertionsFailed(msg).into()),
        Outcome::Interrupted => Err(anyhow!("interrupted; partial results in {}", dir.display())),
    }
}

enum Outcome {
    Passed,
    Failed(String),
    Interrupted,
}

fn runtime(name: &str, threads: usize) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name(name)
        .enable_all()
        .build()
        .with_context(|| format!("starting the {name} runtime"))
}

/// `--out`, or `results/<name>/<UTC time>/` (a suffix when two runs start in one second).
fn run_dir(scn: &Scenario, out: Option<&Path>) -> Result<PathBuf> {
    let dir = match out {
        Some(d) => d.to_path_buf(),
        None => {
            let stamp: String = humantime::format_rfc3339_seconds(SystemTime::now())
                .to_string()
                .chars()
                .filter(|c| *c != '-' && *c != ':')
                .collect();
            let base = Path::new("results").join(&scn.name).join(&stamp);
            let mut dir = base.clone();
            let mut n = 2;
            while dir.exists() {
                dir = PathBuf::from(format!("{}-{n}", base.display()));
                n += 1;
            }
            dir
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// The catalog class each mix entry names (validation made sure there is exactly one); a
/// trace's class holds its replay, checked against the seed of the origin serving `/trace/`.
fn catalog(
    scn: &Scenario,
    world: &World,
    replay: Option<Arc<Replay>>,
) -> Result<Vec<CatalogClass>> {
    scn.workload
        .mix
        .iter()
        .map(|m| {
            if let (Some(r), Some(o)) = (&replay, scn.trace_origin()) {
                if m.class == loadgen::TRACE_CLASS {
                    return Ok(CatalogClass::trace(scn.origins[o].config.seed, r.clone()));
                }
            }
            for (o, running) in scn.origins.iter().zip(&world.origins) {
                if let Some(c) = o.config.classes.iter().find(|c| c.prefix == m.class) {
                    return Ok(CatalogClass::class(
                        o.config.seed,
                        c.clone(),
                        running.started(),
                    ));
                }
            }
            Err(anyhow!("workload class {} is no origin's class", m.class))
        })
        .collect()
}

async fn run_scenario(
    scn: &Scenario,
    dir: &Path,
    args: &RunArgs,
    viewers: &tokio::runtime::Handle,
    cores: usize,
    replay: Option<Arc<Replay>>,
) -> Result<Outcome> {
    let mut signal = Box::pin(crate::signals::shutdown_signal()?);
    let started_at = SystemTime::now();
    let world = World::start(scn, dir, cores).await?;
    let plan = Plan {
        seed: scn.seed,
        warmup: scn.warmup,
        duration: scn.duration,
        workload: scn.workload.clone(),
        catalog: catalog(scn, &world, replay)?,
        regions: scn
            .regions
            .iter()
            .zip(&world.regions)
            .map(|(r, path)| RegionPlan {
                name: r.name.clone(),
                share: r.share,
                pop: r.pop,
                target: path.target,
                source: path.source,
                connections: r.connections,
                requests_per_connection: r.requests_per_connection,
                protocol: r.protocol,
            })
            .collect(),
        host: HOST.to_string(),
        request_timeout: REQUEST_TIMEOUT,
        connect_timeout: CONNECT_TIMEOUT,
        record_sequence: args.export_trace,
    };
    let catalog = plan.catalog.clone();
    let start = Instant::now() + LEAD_IN;
    let lg = {
        let _in_viewers = viewers.enter();
        Loadgen::start(plan, start).context("starting the viewers")?
    };
    let progress = progress::Progress::new(scn.warmup + scn.duration, scn.warmup, args.quiet);
    let measure_from = start + scn.warmup;
    let end = measure_from + scn.duration;
    let mut at_warmup = None;
    let mut interrupted = false;
    let mut stopped_at = end;
    loop {
        let now = Instant::now();
        if at_warmup.is_none() && now >= measure_from {
            at_warmup = Some((origin_stats(&world), world.scrape().await));
        }
        if now >= end {
            break;
        }
        progress.update(&lg.live());
        let next = (now + Duration::from_millis(250)).min(if at_warmup.is_none() {
            measure_from
        } else {
            end
        });
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = &mut signal => {
                interrupted = true;
                stopped_at = Instant::now();
                lg.stop();
                break;
            }
        }
    }
    let report = lg.finish().await;
    progress.finish();
    let at_end = (origin_stats(&world), world.scrape().await);
    let (at_warmup_origins, at_warmup_pops) = at_warmup.unwrap_or_else(|| {
        (
            vec![Default::default(); world.origins.len()],
            vec![None; world.pops.len()],
        )
    });
    let cpu_edges = world.pops.iter().map(|p| p.edge.cpu_seconds()).collect();
    let g = Gathered {
        scenario: scn,
        report: &report,
        origins: at_warmup_origins.into_iter().zip(at_end.0).collect(),
        pops: at_warmup_pops.into_iter().zip(at_end.1).collect(),
        region_rtts: world.regions.iter().map(|r| r.rtt).collect(),
        pop_rtts: world.pops.iter().map(|p| p.upstream_rtt).collect(),
        cpu_viewers: cpu::threads_seconds("cdnlab-viewers"),
        cpu_world: cpu::threads_seconds("cdnlab-world"),
        cpu_edges,
        started_at,
        interrupted,
        measured_s: stopped_at
            .saturating_duration_since(measure_from)
            .min(scn.duration)
            .as_secs_f64(),
    };
    world.stop().await;
    let mut summary = output::summary(&g);
    let (list, all_ok) = assertions::evaluate(scn, &summary);
    summary["assertions"] = list;
    output::write_files(dir, &g, &summary)?;
    report::write(dir, &summary)?;
    if args.export_trace {
        let path = dir.join("trace.oracleGeneral.bin");
        output::write_trace(&path, &g, &catalog)?;
    }
    print_summary(&summary, dir);
    Ok(if interrupted {
        Outcome::Interrupted
    } else if all_ok {
        Outcome::Passed
    } else {
        let failed: Vec<String> = summary["assertions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["ok"] == false)
            .map(|a| {
                format!(
                    "{} ({}) = {}",
                    a["metric"].as_str().unwrap_or(""),
                    a["scope"].as_str().unwrap_or(""),
                    a["value"]
                )
            })
            .collect();
        Outcome::Failed(format!("assertions failed: {}", failed.join("; ")))
    })
}

fn origin_stats(world: &World) -> Vec<sim::origin::OriginStats> {
    world.origins.iter().map(|o| o.stats()).collect()
}

/// A few lines for the person at the terminal; the files hold everything.
fn print_summary(s: &serde_json::Value, dir: &Path) {
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    println!(
        "{}: {} requests in {:.0} s ({:.0} req/s), hit ratio {:.3}, origin offload {:.3}, errors {}, integrity failures {}",
        s["scenario"].as_str().unwrap_or(""),
        s["requests"],
        f(&s["duration_s"]),
        f(&s["throughput_rps"]),
        f(&s["hit_ratio"]),
        f(&s["origin_offload"]),
        s["errors"],
        s["integrity_failures"],
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        f(&s["latency_ms"]["p50"]),
        f(&s["latency_ms"]["p90"]),
        f(&s["latency_ms"]["p99"]),
        f(&s["latency_ms"]["p999"]),
        f(&s["latency_ms"]["max"]),
    );
    if let Some(regions) = s["regions"].as_object() {
        for (name, r) in regions {
            println!(
                "  region {name:<12} → {:<8} {:>8} req  hit {:.3}  p50 {:>8.2} ms  p99 {:>8.2} ms  errors {}",
                r["pop"].as_str().unwrap_or(""),
                r["requests"],
                f(&r["hit_ratio"]),
                f(&r["latency_ms"]["p50"]),
                f(&r["latency_ms"]["p99"]),
                r["errors"],
            );
        }
    }
    for a in s["assertions"].as_array().into_iter().flatten() {
        println!(
            "  assert {} ({}) = {} → {}",
            a["metric"].as_str().unwrap_or(""),
            a["scope"].as_str().unwrap_or(""),
            a["value"],
            if a["ok"] == true { "ok" } else { "FAILED" }
        );
    }
    println!("results in {}", dir.display());
}
