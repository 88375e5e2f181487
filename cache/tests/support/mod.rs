//! A minimal reader of the shared oracleGeneral trace for the cache crate's tests
//! (the cache crate does no I/O; the real readers live in `sim`).

#![allow(dead_code)] // each test file uses a different subset

use cache::{build, Policy, Request};
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug)]
pub struct Rec {
    pub id: u64,
    pub size: u64,
    /// 0-based index of the next request for the same id, or `cache::NEVER`.
    pub next_access: u64,
}

/// The 113,872 requests of `../shared/traces/cloudPhysicsIO.oracleGeneral.bin`.
pub fn oracle_trace() -> &'static [Rec] {
    static TRACE: OnceLock<Vec<Rec>> = OnceLock::new();
    TRACE.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/traces/cloudPhysicsIO.oracleGeneral.bin"
        );
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(bytes.len() % 24, 0);
        bytes
            .chunks_exact(24)
            .map(|r| {
                let id = u64::from_le_bytes(r[4..12].try_into().unwrap());
                let size = u32::from_le_bytes(r[12..16].try_into().unwrap()) as u64;
                let next = i64::from_le_bytes(r[16..24].try_into().unwrap());
                let next_access = if next <= 0 || next == i64::MAX {
                    cache::NEVER
                } else {
                    next as u64 - 1
                };
                Rec {
                    id,
                    size,
                    next_access,
                }
            })
            .collect()
    })
}

pub const MIB: u64 = 1 << 20;

/// Replays `trace` through the named policy at `capacity`; returns (misses, missed bytes).
pub fn replay(trace: &[Rec], spec: &str, capacity: u64, objects: bool) -> (u64, u64) {
    let mut p: Box<dyn Policy> = build(&spec.parse().unwrap(), capacity).unwrap();
    let mut ev = Vec::new();
    let (mut misses, mut missed_bytes) = (0, 0);
    for r in trace {
        let size = if objects { 1 } else { r.size };
        ev.clear();
        if !p.access(
            &Request {
                id: r.id,
                size,
                next_access: r.next_access,
            },
            &mut ev,
        ) {
            misses += 1;
            missed_bytes += size;
        }
    }
    (misses, missed_bytes)
}

/// Checks a policy at the eight libCacheSim test sizes (128 MiB steps up to 1 GiB).
pub fn check_bytes(spec: &str, misses: [u64; 8], missed_bytes: [u64; 8]) {
    let trace = oracle_trace();
    assert_eq!(trace.len(), 113_872);
    assert_eq!(trace.iter().map(|r| r.size).sum::<u64>(), 4_368_040_448);
    let got: Vec<(u64, u64)> = (1..=8)
        .map(|i| replay(trace, spec, i * 128 * MIB, false))
        .collect();
    let want: Vec<(u64, u64)> = misses.into_iter().zip(missed_bytes).collect();
    assert_eq!(
        got, want,
        "{spec}: (misses, missed bytes) at 128 MiB … 1 GiB"
    );
}

/// Checks a policy in object mode at the given capacities.
pub fn check_objects(spec: &str, capacities: &[u64], misses: &[u64]) {
    let trace = oracle_trace();
    let got: Vec<u64> = capacities
        .iter()
        .map(|&c| replay(trace, spec, c, true).0)
        .collect();
    assert_eq!(
        got, misses,
        "{spec}: misses in object mode at {capacities:?}"
    );
}

/// Object-mode capacities: libCacheSim's 0.1 %, 1 %, 10 % of the 48,974 distinct objects,
/// and two more.
pub const OBJ_CAPS: [u64; 5] = [48, 489, 4897, 10_000, 25_000];

/// Prints requests per second of `spec` over the shared trace at 128 MiB, 1 GiB and 4897
/// objects (best and median of 7 runs). Speed tests print and never assert.
pub fn speed(spec: &str) {
    use cache::{build, Request};
    use std::time::Instant;
    let reqs: Vec<Request> = oracle_trace()
        .iter()
        .map(|r| Request::new(r.id, r.size))
        .collect();
    for (label, cap, objects) in [
        ("128 MiB", 128 * MIB, false),
        ("1 GiB", 1024 * MIB, false),
        ("4897 objects", 4897, true),
    ] {
        let reqs: Vec<Request> = reqs
            .iter()
            .map(|r| Request::new(r.id, if objects { 1 } else { r.size }))
            .collect();
        let mut times = Vec::new();
        for _ in 0..7 {
            let mut p = build(&spec.parse().unwrap(), cap).unwrap();
            let mut ev = Vec::with_capacity(64);
            let start = Instant::now();
            let mut hits = 0u64;
            for r in &reqs {
                ev.clear();
                hits += p.access(r, &mut ev) as u64;
            }
            times.push(start.elapsed().as_secs_f64());
            std::hint::black_box(hits);
        }
        times.sort_by(f64::total_cmp);
        let rate = |t: f64| reqs.len() as f64 / t / 1e6;
        println!(
            "{spec} at {label}: best {:.1} M req/s, median {:.1} M req/s",
            rate(times[0]),
            rate(times[times.len() / 2])
        );
    }
}
