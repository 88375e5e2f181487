//! `cdnlab simulate`: validates the flags, prepares the trace, runs the jobs, writes the CSV.

use crate::cli::SimulateArgs;
use crate::BadInput;
use anyhow::{Context, Result};
use cache::PolicySpec;
use indicatif::{ProgressBar, ProgressStyle};
use sim::capacity::parse_sizes;
use sim::simulate::{run_all, scan, Job, JobResult, Options, TraceSource, Warmup};
use sim::synth::{write_oracle_general, ZipfSpec, ZipfTrace};
use sim::trace::{detect_format, CsvColumns, Format};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// The CSV header: the contract of `cdnlab simulate`'s output.
pub const HEADER: &str = "policy,capacity,requests,misses,requested_bytes,missed_bytes,miss_ratio,byte_miss_ratio,seconds,requests_per_second";

fn bad(msg: impl Into<String>) -> anyhow::Error {
    BadInput(msg.into()).into()
}

fn parse_policies(list: &str) -> Result<Vec<PolicySpec>> {
    if list.trim() == "all" {
        return Ok(cache::REGISTRY
            .iter()
            .map(|p| p.name.parse().expect("registry names parse"))
            .collect());
    }
    // Split at commas that start a new policy: a parameter list `name:k=v,k=v` contains commas too.
    let mut specs: Vec<String> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match specs.last_mut() {
            Some(last) if part.contains('=') && !part.contains(':') => {
                last.push(',');
                last.push_str(part);
            }
            _ => specs.push(part.to_string()),
        }
    }
    if specs.is_empty() {
        return Err(bad("--policies: no policy given"));
    }
    specs
        .iter()
        .map(|s| {
            let spec: PolicySpec = s.parse().map_err(|e| bad(format!("--policies: {e}")))?;
            // Build once at a token size so unknown names and parameters fail before any work.
            cache::build(&spec, 1).map_err(|e| bad(format!("--policies: {e}")))?;
            Ok(spec)
        })
        .collect()
}

fn resolve_format(args: &SimulateArgs, path: &Path) -> Result<Format> {
    let csv = match &args.csv_columns {
        Some(c) => Some(
            c.parse::<CsvColumns>()
                .map_err(|e| bad(format!("--csv-columns: {e}")))?,
        ),
        None => None,
    };
    match (&args.format, csv) {
        (Some(f), csv) => Format::parse(f, csv).map_err(|e| bad(format!("--format: {e}"))),
        (None, Some(csv)) => Ok(Format::Csv(csv)),
        (None, None) => detect_format(path).ok_or_else(|| {
            bad(format!(
                "{}: cannot tell the trace format from the name; give --format oracleGeneral|csv|txt|vscsi (csv also needs --csv-columns)",
                path.display()
            ))
        }),
    }
}

pub fn run(args: SimulateArgs) -> Result<()> {
    let interactive = std::io::stdout().is_terminal();
    // A synthetic trace is written once to a temporary oracleGeneral file, then streamed by
    // every job like any other trace (so its generation is not timed as simulation).
    let mut _temp = None;
    let src = if args.trace.starts_with("zipf:") {
        let spec: ZipfSpec = args
            .trace
            .parse()
            .map_err(|e| bad(format!("--trace: {e}")))?;
        let path: PathBuf = match &args.write_trace {
            Some(p) => p.clone(),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("cdnlab-zipf-")
                    .suffix(".oracleGeneral.bin")
                    .tempfile()?
                    .into_temp_path();
                let p = t.to_path_buf();
                _temp = Some(t);
                p
            }
        };
        let n = write_oracle_general(&mut ZipfTrace::new(&spec), &path)
            .with_context(|| format!("writing {}", path.display()))?;
        if args.write_trace.is_some() {
            eprintln!("cdnlab: wrote {n} requests to {}", path.display());
            return Ok(());
        }
        TraceSource {
            path,
            format: Format::OracleGeneral,
        }
    } else {
        if args.write_trace.is_some() {
            return Err(bad("--write-trace needs a synthetic --trace zipf:..."));
        }
        let path = PathBuf::from(&args.trace);
        let format = resolve_format(&args, &path)?;
        TraceSource { path, format }
    };

    let policies = parse_policies(&args.policies)?;
    let sizes = parse_sizes(&args.sizes).map_err(|e| bad(format!("--sizes: {e}")))?;
    let warmup: Warmup = match &args.warmup {
        Some(w) => w
            .parse()
            .map_err(|e: String| bad(format!("--warmup: {e}")))?,
        None => Warmup::None,
    };

    let stats = scan(&src).map_err(|e| bad(e.to_string()))?;
    if stats.requests == 0 {
        return Err(bad(format!(
            "{}: the trace has no requests",
            src.path.display()
        )));
    }
    let working_set = stats.working_set(args.objects);
    let mut jobs = Vec::new();
    for p in &policies {
        for s in &sizes {
            let capacity = s
                .resolve(working_set, args.objects)
                .map_err(|e| bad(format!("--sizes: {e}")))?;
            if capacity == 0 {
                return Err(bad(format!(
                    "--sizes: {s} of a working set of {working_set} is a capacity of 0"
                )));
            }
            jobs.push(Job {
                policy: p.clone(),
                capacity,
            });
        }
    }
    let opts = Options {
        objects: args.objects,
        warmup,
        threads: args.threads,
    };

    let progress = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let results = std::thread::scope(|scope| {
        if interactive {
            let total = stats.records * jobs.len() as u64;
            let (progress, done) = (&progress, &done);
            scope.spawn(move || show_progress(total, progress, done));
        }
        let r = run_all(&src, &stats, &jobs, &opts, &progress);
        done.store(true, Ordering::Relaxed);
        r
    })
    .map_err(|e| bad(e.to_string()))?;

    match &args.out {
        Some(path) => {
            let f = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            write_csv(std::io::BufWriter::new(f), &results)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        None => write_csv(std::io::stdout().lock(), &results)?,
    }
    Ok(())
}

/// A progress bar on stderr, only when a person is watching.
fn show_progress(total: u64, progress: &AtomicU64, done: &AtomicBool) {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {percent}% {human_pos}/{human_len} requests ({per_sec}, eta {eta})")
            .expect("valid template"),
    );
    while !done.load(Ordering::Relaxed) {
        bar.set_position(progress.load(Ordering::Relaxed));
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}

fn write_csv(w: impl Write, results: &[JobResult]) -> Result<()> {
    let mut w = csv::Writer::from_writer(w);
    w.write_record(HEADER.split(','))?;
    for r in results {
        w.write_record([
            r.policy.clone(),
            r.capacity.to_string(),
            r.requests.to_string(),
            r.misses.to_string(),
            r.requested_bytes.to_string(),
            r.missed_bytes.to_string(),
            format!("{:.6}", r.miss_ratio()),
            format!("{:.6}", r.byte_miss_ratio()),
            format!("{:.3}", r.seconds),
            format!("{:.0}", r.requests_per_second()),
        ])?;
    }
    w.flush()?;
    Ok(())
}
