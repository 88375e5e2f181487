//! The command line: subcommands and their flags (clap derive).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "cdnlab",
    version,
    about = "A laboratory for CDN behaviour",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Replay a cache trace through eviction policies at several cache sizes; one CSV row per (policy, size).
    Simulate(Box<SimulateArgs>),
    /// List the cache policies and their parameters.
    Policies,
    /// Run the caching edge proxy alone, configured like a CDN distribution.
    Edge(EdgeArgs),
    /// Relay TCP connections with added latency, jitter, bandwidth limit and loss (a simulated network link).
    Link(crate::link::LinkArgs),
    /// Run a simulated origin alone: a synthetic catalog with service times and scheduled faults.
    Origin(OriginArgs),
    /// Run a scenario end to end (origins, links, edges, viewers) and write a run folder; with no file, a built-in quickstart.
    Run(RunArgs),
    /// Compare two run folders metric by metric; with --max-regression, exit 3 when the candidate is worse than allowed.
    Compare(CompareArgs),
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The baseline: a run folder (or its summary.json).
    pub baseline: PathBuf,
    /// The candidate: a run folder (or its summary.json).
    pub candidate: PathBuf,
    /// `[region:NAME:|pop:NAME:]METRIC=LIMIT`: how much worse the candidate may be — `10%` of the baseline, an amount (`0.02`), or for latencies a duration (`5ms`). Repeatable.
    #[arg(long, value_name = "LIMIT")]
    pub max_regression: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The scenario file (TOML); the built-in quickstart when absent.
    pub scenario: Option<PathBuf>,
    /// The run folder to write (default `results/<name>/<UTC time>/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overrides the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Overrides the measured duration (`30s`).
    #[arg(long)]
    pub duration: Option<String>,
    /// Overrides the total request rate at the start (requests per second); phases scale with it.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Validate the scenario and print it resolved (defaults filled in); start nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the sequence of requests, in the order they were sent, as `trace.oracleGeneral.bin` in the run folder (for `cdnlab simulate`).
    #[arg(long)]
    pub export_trace: bool,
    /// No live progress, even on a terminal.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct OriginArgs {
    /// The origin config (TOML): listen, seed, classes of objects, service times, faults.
    #[arg(long)]
    pub config: PathBuf,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Args, Debug)]
pub struct EdgeArgs {
    /// The distribution config (TOML): listen addresses, cache, origins, behaviors.
    #[arg(long)]
    pub config: PathBuf,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// A trace file (`.zst` is decompressed on the fly), or `zipf:requests=N,objects=N,alpha=A,seed=S` for a synthetic trace.
    #[arg(long)]
    pub trace: String,
    /// oracleGeneral | csv | txt | vscsi; guessed from the file name when absent.
    #[arg(long)]
    pub format: Option<String>,
    /// CSV column mapping (1-based), e.g. `time=2,id=5,size=4,header=true,delimiter=,`. Implies --format csv.
    #[arg(long)]
    pub csv_columns: Option<String>,
    /// Comma-separated policies, each `name` or `name:key=value,...` (see `cdnlab policies`); `all` for every policy.
    #[arg(long, default_value = "lru")]
    pub policies: String,
    /// Comma-separated sizes: `10%` of the working set, `64MiB`, or a bare integer (bytes, or objects with --objects).
    #[arg(long, default_value = "1%,10%")]
    pub sizes: String,
    /// Bound the cache in objects: every object counts 1, byte columns equal request columns.
    #[arg(long)]
    pub objects: bool,
    /// Replay but do not count the first part of the trace: a duration of trace time (`1h`) or a share of requests (`10%`).
    #[arg(long)]
    pub warmup: Option<String>,
    /// Write the CSV here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// With a synthetic trace: write it to this file in oracleGeneral format instead of simulating.
    #[arg(long)]
    pub write_trace: Option<PathBuf>,
}
