//! Golden tests: exact miss counts on the shared CloudPhysics trace, against libCacheSim.
//!
//! The byte-mode figures for sizes 128 MiB … 1 GiB (step 128 MiB) are libCacheSim's own
//! expectations for `cloudPhysicsIO.oracleGeneral.bin` (its `test/test_evictionAlgo.c`).
//! Object-mode figures are this crate's, cross-checked against the naive reference models in
//! `reference.rs` for the policies that have one.

mod support;

use cache::{build, Policy, Request};
use support::{oracle_trace, Rec};

const MIB: u64 = 1 << 20;

/// Replays `trace` through the named policy at `capacity`; returns (misses, missed bytes).
pub fn replay(trace: &[Rec], spec: &str, capacity: u64, objects: bool) -> (u64, u64) {
    let mut p: Box<dyn Policy> = build(&spec.parse().unwrap(), capacity).unwrap();
    let mut ev = Vec::new();
    let (mut misses, mut missed_bytes) = (0, 0);
    for r in trace {
        let size = if objects { 1 } else { r.size };
        ev.clear();
        if !p.access(&Request { id: r.id, size, next_access: r.next_access }, &mut ev) {
            misses += 1;
            missed_bytes += size;
        }
    }
    (misses, missed_bytes)
}

/// Checks a policy at the eight libCacheSim test sizes (128 MiB steps up to 1 GiB).
fn check_bytes(spec: &str, misses: [u64; 8], missed_bytes: [u64; 8]) {
    let trace = oracle_trace();
    assert_eq!(trace.len(), 113_872);
    assert_eq!(trace.iter().map(|r| r.size).sum::<u64>(), 4_368_040_448);
    let got: Vec<(u64, u64)> = (1..=8).map(|i| replay(&trace, spec, i * 128 * MIB, false)).collect();
    let want: Vec<(u64, u64)> = misses.into_iter().zip(missed_bytes).collect();
    assert_eq!(got, want, "{spec}: (misses, missed bytes) at 128 MiB … 1 GiB");
}

/// Checks a policy in object mode at the given capacities.
fn check_objects(spec: &str, capacities: &[u64], misses: &[u64]) {
    let trace = oracle_trace();
    let got: Vec<u64> = capacities.iter().map(|&c| replay(&trace, spec, c, true).0).collect();
    assert_eq!(got, misses, "{spec}: misses in object mode at {capacities:?}");
}

/// Object-mode capacities: libCacheSim's 0.1 %, 1 %, 10 % of the 48,974 distinct objects,
/// and two more.
const OBJ_CAPS: [u64; 5] = [48, 489, 4897, 10_000, 25_000];

#[test]
fn lru_matches_libcachesim() {
    check_bytes(
        "lru",
        [93374, 89783, 83572, 81722, 72494, 72104, 71972, 71704],
        [4214303232, 4061242368, 3778040320, 3660569600, 3100927488, 3078128640, 3075403776, 3061662720],
    );
}

#[test]
fn fifo_matches_libcachesim() {
    check_bytes(
        "fifo",
        [93403, 89386, 84387, 84025, 72498, 72228, 72182, 72140],
        [4213112832, 4052646400, 3829170176, 3807412736, 3093146112, 3079525888, 3079210496, 3077547520],
    );
}
