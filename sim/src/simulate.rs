//! The trace-driven simulator: replays a trace through policies at several sizes, in parallel.
//!
//! Each (policy, capacity) job streams the trace from its file on its own thread, so memory
//! grows with the distinct objects a policy holds, not with the trace's length. The one
//! exception is an offline policy (`belady`) on a format that does not carry next-access
//! times: a pre-pass then keeps 8 bytes per request.

use crate::capacity::SizeSpec;
use crate::trace::{self, Format, Record, TraceError, TraceReader};
use cache::{Evicted, IdMap, PolicySpec, Request};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Records decoded per batch: large enough to amortise the reader's dynamic call, small
/// enough to stay in L2.
const BATCH: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("{0}")]
    Policy(#[from] cache::ParamError),
    #[error("{0}")]
    Input(String),
}

/// A trace file and how to read it.
#[derive(Clone, Debug)]
pub struct TraceSource {
    pub path: PathBuf,
    pub format: Format,
}

impl TraceSource {
    fn open(&self) -> Result<Box<dyn TraceReader>, TraceError> {
        trace::open(&self.path, &self.format)
    }

    /// Calls `f` on every record, in order, with its 0-based index.
    fn for_each(&self, mut f: impl FnMut(u64, &Record)) -> Result<(), TraceError> {
        let mut reader = self.open()?;
        let mut batch = Vec::with_capacity(BATCH);
        let mut i = 0;
        while reader.read_batch(&mut batch, BATCH)? > 0 {
            for r in &batch {
                f(i, r);
                i += 1;
            }
        }
        Ok(())
    }
}

/// What one pass over a trace tells before any simulation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceStats {
    /// Records in the file.
    pub records: u64,
    /// Records with a size of zero, which are skipped as libCacheSim's `cachesim` does.
    pub zero_size: u64,
    /// Requests replayed: records minus zero-size ones.
    pub requests: u64,
    pub distinct_objects: u64,
    /// The sum of each object's first-seen size: libCacheSim's working set size.
    pub working_set_bytes: u64,
    pub total_bytes: u64,
    pub first_time: u64,
    pub last_time: u64,
}

impl TraceStats {
    /// The working set in the simulation's size unit.
    pub fn working_set(&self, objects: bool) -> u64 {
        if objects {
            self.distinct_objects
        } else {
            self.working_set_bytes
        }
    }
}

/// Reads the whole trace once: validates it and measures its working set.
pub fn scan(src: &TraceSource) -> Result<TraceStats, TraceError> {
    let mut seen: IdMap<()> = IdMap::default();
    let mut s = TraceStats::default();
    src.for_each(|i, r| {
        if i == 0 {
            s.first_time = r.time;
        }
        s.last_time = r.time;
        s.records += 1;
        if r.size == 0 {
            s.zero_size += 1;
            return;
        }
        s.requests += 1;
        s.total_bytes += r.size;
        if seen.insert(r.id, ()).is_none() {
            s.working_set_bytes += r.size;
        }
    })?;
    s.distinct_objects = seen.len() as u64;
    Ok(s)
}

/// For each record, the index of the next record with the same id, or [`cache::NEVER`].
pub fn next_accesses(src: &TraceSource, records: u64) -> Result<Vec<u64>, TraceError> {
    let mut next = vec![cache::NEVER; records as usize];
    let mut last: IdMap<u64> = IdMap::default();
    src.for_each(|i, r| {
        if let Some(prev) = last.insert(r.id, i) {
            next[prev as usize] = i;
        }
    })?;
    Ok(next)
}

/// Which requests are replayed without being counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Warmup {
    #[default]
    None,
    /// A fraction `num / den` of the requests.
    Fraction { num: u64, den: u64 },
    /// Requests less than this many seconds of trace time after the first one.
    Seconds(u64),
}

impl std::str::FromStr for Warmup {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().ends_with('%') {
            return match s.parse::<SizeSpec>() {
                Ok(SizeSpec::Fraction { num, den }) if num < den => {
                    Ok(Warmup::Fraction { num, den })
                }
                _ => Err(format!(
                    "bad warm-up `{s}`: a percentage must be above 0% and below 100%"
                )),
            };
        }
        let d = humantime::parse_duration(s.trim())
            .map_err(|e| format!("bad warm-up `{s}`: {e} (expected e.g. 1h or 10%)"))?;
        Ok(Warmup::Seconds(d.as_secs()))
    }
}

/// One simulation to run.
#[derive(Clone, Debug)]
pub struct Job {
    pub policy: PolicySpec,
    /// Capacity in size units: bytes, or objects with `Options::objects`.
    pub capacity: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Count objects instead of bytes: every request has size 1.
    pub objects: bool,
    pub warmup: Warmup,
    /// Worker threads; 0 means one per available core.
    pub threads: usize,
}

/// The outcome of one job: one row of `cdnlab simulate`'s CSV.
#[derive(Clone, Debug, PartialEq)]
pub struct JobResult {
    /// The policy's name with its resolved parameters.
    pub policy: String,
    pub capacity: u64,
    /// Requests counted (after warm-up).
    pub requests: u64,
    pub misses: u64,
    pub requested_bytes: u64,
    pub missed_bytes: u64,
    /// Requests replayed, warm-up included.
    pub replayed: u64,
    /// Wall time of the replay, reading the trace included.
    pub seconds: f64,
}

impl JobResult {
    pub fn miss_ratio(&self) -> f64 {
        ratio(self.misses, self.requests)
    }
    pub fn byte_miss_ratio(&self) -> f64 {
        ratio(self.missed_bytes, self.requested_bytes)
    }
    /// Requests replayed (warm-up included) per second of wall time.
    pub fn requests_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.replayed as f64 / self.seconds
        } else {
            0.0
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Replays the whole trace through one policy. `next` gives next-access times when the
/// format does not carry them; `progress` is advanced by the records read.
pub fn run_job(
    src: &TraceSource,
    stats: &TraceStats,
    job: &Job,
    opts: &Options,
    next: Option<&[u64]>,
    progress: &AtomicU64,
) -> Result<JobResult, SimError> {
    let mut policy = cache::build(&job.policy, job.capacity)?;
    let (warm_requests, warm_until) = match opts.warmup {
        Warmup::None => (0, 0),
        Warmup::Fraction { num, den } => (
            (stats.requests as u128 * num as u128 / den as u128) as u64,
            0,
        ),
        Warmup::Seconds(s) => (0, stats.first_time.saturating_add(s)),
    };
    let mut res = JobResult {
        policy: policy.name(),
        capacity: job.capacity,
        requests: 0,
        misses: 0,
        requested_bytes: 0,
        missed_bytes: 0,
        replayed: 0,
        seconds: 0.0,
    };
    let start = Instant::now();
    let mut reader = src.open()?;
    let mut batch = Vec::with_capacity(BATCH);
    let mut evicted: Vec<Evicted> = Vec::with_capacity(64);
    let mut index = 0usize;
    let mut measuring = warm_requests == 0 && warm_until == 0;
    while reader.read_batch(&mut batch, BATCH)? > 0 {
        for r in &batch {
            let i = index;
            index += 1;
            if r.size == 0 {
                continue;
            }
            let size = if opts.objects { 1 } else { r.size };
            let next_access = match next {
                Some(n) => n[i],
                None => r.next_access,
            };
            evicted.clear();
            let hit = policy.access(
                &Request {
                    id: r.id,
                    size,
                    next_access,
                },
                &mut evicted,
            );
            if !measuring && res.replayed >= warm_requests && r.time >= warm_until {
                measuring = true;
            }
            res.replayed += 1;
            if measuring {
                res.requests += 1;
                res.requested_bytes += size;
                if !hit {
                    res.misses += 1;
                    res.missed_bytes += size;
                }
            }
        }
        progress.fetch_add(batch.len() as u64, Ordering::Relaxed);
    }
    res.seconds = start.elapsed().as_secs_f64();
    Ok(res)
}

/// Runs every job on a pool of `opts.threads` workers; results come back in job order.
pub fn run_all(
    src: &TraceSource,
    stats: &TraceStats,
    jobs: &[Job],
    opts: &Options,
    progress: &AtomicU64,
) -> Result<Vec<JobResult>, SimError> {
    let needs_next = jobs
        .iter()
        .any(|j| cache::registry::is_offline(&j.policy.name))
        && src.format != Format::OracleGeneral;
    let next = if needs_next {
        Some(next_accesses(src, stats.records)?)
    } else {
        None
    };
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(jobs.len().max(1));
    let cursor = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<JobResult, SimError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let k = cursor.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(k) else { break };
                let r = run_job(src, stats, job, opts, next.as_deref(), progress);
                results.lock().expect("a worker panicked")[k] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .expect("a worker panicked")
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_parses_durations_and_percentages() {
        assert_eq!("1h".parse::<Warmup>(), Ok(Warmup::Seconds(3600)));
        assert_eq!(
            "10%".parse::<Warmup>(),
            Ok(Warmup::Fraction { num: 10, den: 100 })
        );
        assert!("100%".parse::<Warmup>().is_err());
        assert!("soon".parse::<Warmup>().is_err());
    }
}
