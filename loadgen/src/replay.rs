//! A trace replayed with its own timing, scaled: the part of the trace a run sends, read whole
//! before the run starts ([`Replay::load`]), and each region's share of it ([`RegionCursor`]).
//!
//! Timing: a record of trace second `s` (the trace's times are whole seconds) that is the
//! `j`-th of the `k` records of that second is at `u = s − first + j/k` trace seconds (the
//! records of one second are spread evenly over it, in trace order), and is sent
//! `(u − skip) / speed` seconds after traffic starts; records with `u < skip` are not sent, nor
//! those due at or after the run's end (warm-up + duration), nor any after `limit` requests.
//! Records of size 0 are skipped (as `cdnlab simulate` skips them) and do not count in `k`.
//! A record whose time is earlier than the one before it counts as in that one's second, so
//! the schedule never goes back.
//!
//! Each request goes to one region, drawn by the regions' shares from a generator seeded by
//! the scenario's seed, in trace order: every region's cursor makes the same draws and keeps
//! its own requests, so the split is deterministic and needs no coordination.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use sim::dist::{mix64, SplitMix64};
use sim::trace::{Record, TraceReader};

use crate::trace_spec::TraceSpec;

/// At most this many requests are held (24 bytes each): a run that would send more must set
/// `limit` (or replay a shorter part of the trace).
pub const MAX_REQUESTS: usize = 1 << 24;
/// Records read per batch.
const BATCH: usize = 4096;
/// Salt of the region draws' generator.
const REGION_SALT: u64 = 0x7472_6163_6572_6567;

/// One request of the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceRequest {
    /// When it is due, nanoseconds after traffic starts.
    pub at_ns: u64,
    pub id: u64,
    pub size: u64,
}

impl TraceRequest {
    /// The path that names it at an origin: `/trace/<id>/<size>`.
    pub fn path(&self) -> String {
        format!("/trace/{}/{}", self.id, self.size)
    }
}

/// The requests a run replays, in trace order (their instants never decrease).
#[derive(Clone, PartialEq, Eq)]
pub struct Replay {
    requests: Vec<TraceRequest>,
}

impl fmt::Debug for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Replay({} requests)", self.requests.len())
    }
}

/// What part of a trace is replayed: the spec's skip, speed and limit, the run's length, and
/// the largest object the origin serves.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub skip: Duration,
    pub speed: f64,
    pub limit: Option<u64>,
    /// Warm-up + duration: requests due at or after it are not sent.
    pub run: Duration,
    /// The origin's `trace.max_size`: a larger record to be sent is an error.
    pub max_size: u64,
}

impl Window {
    pub fn new(spec: &TraceSpec, run: Duration, max_size: u64) -> Window {
        Window {
            skip: spec.skip,
            speed: spec.speed,
            limit: spec.limit,
            run,
            max_size,
        }
    }
}

impl Replay {
    /// Reads the part of the trace a run of length `run` sends, whole; every error (cannot
    /// open, truncated or malformed record, a record larger than `max_size`, more than
    /// [`MAX_REQUESTS`], nothing to send) is one line naming the file.
    pub fn load(spec: &TraceSpec, run: Duration, max_size: u64) -> Result<Replay, String> {
        let mut reader = sim::trace::open(&spec.file, &spec.format).map_err(|e| e.to_string())?;
        Replay::read(&mut reader, &spec.file, Window::new(spec, run, max_size))
    }

    /// [`Replay::load`] from an open reader; `file` names it in messages.
    pub fn read(reader: &mut dyn TraceReader, file: &Path, w: Window) -> Result<Replay, String> {
        let mut b = Builder {
            w,
            skip: w.skip.as_secs_f64(),
            horizon: w.run.as_secs_f64(),
            out: Vec::new(),
            done: false,
            file,
        };
        let mut batch = Vec::with_capacity(BATCH);
        // The first record's time, the current (effective) second and its records to send:
        // (id, size, record number).
        let mut first = None;
        let mut second = None;
        let mut pending: Vec<(u64, u64, u64)> = Vec::new();
        let mut number = 0u64;
        'read: loop {
            let n = reader
                .read_batch(&mut batch, BATCH)
                .map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            for r in &batch {
                number += 1;
                let Record { time, id, size, .. } = *r;
                let first = *first.get_or_insert(time);
                let t = time.max(second.unwrap_or(first));
                if second != Some(t) {
                    if let Some(s) = second {
                        b.flush(s - first, &pending)?;
                        pending.clear();
                    }
                    second = Some(t);
                    // Every record from here on is at or after this second's start.
                    if b.done || b.due(t - first, 0.0) >= b.horizon {
                        break 'read;
                    }
                }
                if size > 0 {
                    pending.push((id, size, number));
                }
            }
        }
        if let (Some(first), Some(s)) = (first, second) {
            if !b.done {
                b.flush(s - first, &pending)?;
            }
        }
        if b.out.is_empty() {
            return Err(format!(
                "{}: no request of the trace falls within the run ({number} records read; skip {}, speed {}, warm-up + duration {})",
                file.display(),
                cache::units::format_duration(w.skip),
                w.speed,
                cache::units::format_duration(w.run),
            ));
        }
        Ok(Replay { requests: b.out })
    }

    /// A replay of these requests as they are (for tests and tools).
    pub fn from_requests(requests: Vec<TraceRequest>) -> Replay {
        Replay { requests }
    }

    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Request `index` (0-based, in trace order).
    pub fn get(&self, index: u64) -> &TraceRequest {
        &self.requests[index as usize]
    }

    pub fn requests(&self) -> &[TraceRequest] {
        &self.requests
    }
}

struct Builder<'a> {
    w: Window,
    skip: f64,
    horizon: f64,
    out: Vec<TraceRequest>,
    done: bool,
    file: &'a Path,
}

impl Builder<'_> {
    /// Seconds after traffic starts of the point `offset + frac` trace seconds after the
    /// trace's first record (negative before `skip`).
    fn due(&self, offset: u64, frac: f64) -> f64 {
        (offset as f64 + frac - self.skip) / self.w.speed
    }

    /// Emits the records of the trace second `offset` seconds after the first one.
    fn flush(&mut self, offset: u64, records: &[(u64, u64, u64)]) -> Result<(), String> {
        let k = records.len() as f64;
        for (j, &(id, size, number)) in records.iter().enumerate() {
            let t = self.due(offset, j as f64 / k);
            if t < 0.0 {
                continue;
            }
            if t >= self.horizon || self.w.limit.is_some_and(|l| self.out.len() as u64 >= l) {
                self.done = true;
                return Ok(());
            }
            if size > self.w.max_size {
                return Err(format!(
                    "{}: record {number}: size {size} is more than the origin's trace.max_size ({})",
                    self.file.display(),
                    cache::units::format_size(self.w.max_size)
                ));
            }
            if self.out.len() >= MAX_REQUESTS {
                return Err(format!(
                    "{}: more than {MAX_REQUESTS} requests of the trace fall within the run: set a limit, a lower speed or a shorter run",
                    self.file.display()
                ));
            }
            self.out.push(TraceRequest {
                at_ns: (t * 1e9).round() as u64,
                id,
                size,
            });
        }
        Ok(())
    }
}

/// One region's requests of a replay: every region draws the same sequence of regions, one
/// draw per request in trace order, and keeps the requests drawn for it.
pub struct RegionCursor {
    replay: Arc<Replay>,
    next: usize,
    region: usize,
    /// Cumulative shares (the last forced to 1) and the draws' generator; None: this region
    /// takes every request (a lone region, or `same_sequence`).
    draw: Option<(Vec<f64>, SplitMix64)>,
}

impl RegionCursor {
    /// The cursor of region `region` among regions of `shares`; with `every`, each region
    /// replays the whole trace.
    pub fn new(
        replay: Arc<Replay>,
        seed: u64,
        shares: &[f64],
        region: usize,
        every: bool,
    ) -> RegionCursor {
        let draw = (!every && shares.len() > 1).then(|| {
            let total: f64 = shares.iter().sum();
            let mut acc = 0.0;
            let mut cumulative: Vec<f64> = shares
                .iter()
                .map(|s| {
                    acc += s / total;
                    acc
                })
                .collect();
            *cumulative.last_mut().expect("several regions") = 1.0;
            (cumulative, SplitMix64::new(mix64(seed ^ REGION_SALT)))
        });
        RegionCursor {
            replay,
            next: 0,
            region,
            draw,
        }
    }

    /// This region's next request: when it is due (after traffic starts) and its index in the
    /// replay.
    pub fn next_request(&mut self) -> Option<(Duration, u64)> {
        while self.next < self.replay.len() {
            let i = self.next;
            self.next += 1;
            let mine = match &mut self.draw {
                None => true,
                Some((cumulative, rng)) => {
                    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                    let r = cumulative.partition_point(|&c| c <= u);
                    r.min(cumulative.len() - 1) == self.region
                }
            };
            if mine {
                let r = self.replay.get(i as u64);
                return Some((Duration::from_nanos(r.at_ns), i as u64));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::trace::{encode_oracle, from_reader, Format};
    use std::io::Cursor;

    fn bytes(records: &[(u32, u64, u32)]) -> Vec<u8> {
        records
            .iter()
            .flat_map(|&(t, id, size)| encode_oracle(t, id, size, -1))
            .collect()
    }

    fn window(speed: f64, skip_ms: u64, limit: Option<u64>, run_s: u64) -> Window {
        Window {
            skip: Duration::from_millis(skip_ms),
            speed,
            limit,
            run: Duration::from_secs(run_s),
            max_size: 1 << 20,
        }
    }

    fn read(data: Vec<u8>, w: Window) -> Result<Replay, String> {
        let path = Path::new("t.bin");
        let mut r = from_reader(Box::new(Cursor::new(data)), path, &Format::OracleGeneral)
            .map_err(|e| e.to_string())?;
        Replay::read(&mut r, path, w)
    }

    /// (seconds after traffic starts, id) of every request.
    fn times(r: &Replay) -> Vec<(f64, u64)> {
        r.requests()
            .iter()
            .map(|q| (q.at_ns as f64 / 1e9, q.id))
            .collect()
    }

    const TRACE: &[(u32, u64, u32)] = &[
        (100, 1, 10),
        (100, 2, 10),
        (100, 3, 10),
        (100, 4, 10),
        (101, 5, 10),
        (102, 6, 10),
        (102, 7, 10),
        (102, 8, 10),
        (102, 9, 10),
        (105, 10, 10),
    ];

    #[test]
    fn the_records_of_one_second_are_spread_evenly_over_it_in_trace_order() {
        let r = read(bytes(TRACE), window(1.0, 0, None, 60)).unwrap();
        let want = [
            (0.0, 1),
            (0.25, 2),
            (0.5, 3),
            (0.75, 4),
            (1.0, 5),
            (2.0, 6),
            (2.25, 7),
            (2.5, 8),
            (2.75, 9),
            (5.0, 10),
        ];
        assert_eq!(times(&r), want);
        assert_eq!(r.get(9).path(), "/trace/10/10");
    }

    #[test]
    fn speed_divides_the_trace_time() {
        let r = read(bytes(TRACE), window(10.0, 0, None, 60)).unwrap();
        let t = times(&r);
        assert_eq!(t[1], (0.025, 2));
        assert_eq!(t[9], (0.5, 10));
    }

    #[test]
    fn skip_starts_later_in_the_trace_even_within_a_second() {
        // 2.5 trace seconds in: the third record of second 102 is the first sent.
        let r = read(bytes(TRACE), window(2.0, 2500, None, 60)).unwrap();
        assert_eq!(times(&r), [(0.0, 8), (0.125, 9), (1.25, 10)]);
    }

    #[test]
    fn limit_and_the_end_of_the_run_cut_the_replay() {
        let r = read(bytes(TRACE), window(1.0, 1000, Some(3), 60)).unwrap();
        assert_eq!(times(&r), [(0.0, 5), (1.0, 6), (1.25, 7)]);
        // A 2 s run: requests due at 2 s or later are not sent.
        let r = read(bytes(TRACE), window(1.0, 0, None, 2)).unwrap();
        assert_eq!(r.len(), 5);
    }

    #[test]
    fn zero_sizes_are_skipped_and_time_never_goes_back() {
        let t = [
            (7, 1, 5),
            (7, 2, 0),
            (7, 3, 5),
            (9, 4, 5),
            (8, 5, 5),
            (12, 6, 5),
        ];
        let r = read(bytes(&t), window(1.0, 0, None, 60)).unwrap();
        // Second 7 holds two requests to send; 8 after 9 counts as second 9.
        assert_eq!(
            times(&r),
            [(0.0, 1), (0.5, 3), (2.0, 4), (2.5, 5), (5.0, 6)]
        );
    }

    #[test]
    fn bad_traces_are_refused_with_the_record() {
        let mut data = bytes(TRACE);
        data.extend_from_slice(&[1, 2, 3]);
        let e = read(data, window(1.0, 0, None, 60)).unwrap_err();
        assert!(e.starts_with("t.bin: record 11: truncated"), "{e}");
        // Truncation after the end of the run does not matter: it is never read.
        let mut data = bytes(TRACE);
        data.extend_from_slice(&[1, 2, 3]);
        assert_eq!(read(data, window(1.0, 0, None, 3)).unwrap().len(), 9);
        let mut w = window(1.0, 0, None, 60);
        w.max_size = 9;
        let e = read(bytes(TRACE), w).unwrap_err();
        assert!(
            e.starts_with("t.bin: record 1: size 10 is more than the origin's trace.max_size (9B)"),
            "{e}"
        );
        let e = read(bytes(TRACE), window(1.0, 6000, None, 60)).unwrap_err();
        assert!(
            e.contains("no request of the trace falls within the run"),
            "{e}"
        );
        let e = read(Vec::new(), window(1.0, 0, None, 60)).unwrap_err();
        assert!(e.contains("0 records read"), "{e}");
    }

    #[test]
    fn regions_split_the_requests_by_share_deterministically() {
        let n = 20_000u64;
        let replay = Arc::new(Replay::from_requests(
            (0..n)
                .map(|i| TraceRequest {
                    at_ns: i * 1000,
                    id: i,
                    size: 1,
                })
                .collect(),
        ));
        let shares = [0.5, 0.3, 0.2];
        let split = |seed: u64, every: bool| -> Vec<Vec<u64>> {
            (0..3)
                .map(|r| {
                    let mut c = RegionCursor::new(replay.clone(), seed, &shares, r, every);
                    let mut got = Vec::new();
                    while let Some((at, i)) = c.next_request() {
                        assert_eq!(at, Duration::from_nanos(i * 1000));
                        got.push(i);
                    }
                    got
                })
                .collect()
        };
        let a = split(1, false);
        assert_eq!(a, split(1, false), "the same seed, the same split");
        assert_ne!(a, split(2, false), "another seed, another split");
        let mut all: Vec<u64> = a.concat();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>(), "each request once");
        for (got, share) in a.iter().zip(shares) {
            let p = got.len() as f64 / n as f64;
            assert!((p - share).abs() < 0.02, "{p} for {share}");
        }
        // same_sequence: every region replays everything; so does a lone region.
        assert!(split(1, true).iter().all(|g| g.len() as u64 == n));
        let mut lone = RegionCursor::new(replay.clone(), 1, &[1.0], 0, false);
        assert_eq!(std::iter::from_fn(|| lone.next_request()).count() as u64, n);
    }
}
