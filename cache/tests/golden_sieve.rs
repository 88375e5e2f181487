//! SIEVE golden tests: libCacheSim's figures in byte mode, libCacheSim 0.3.5's in object mode,
//! both cross-checked against a naive model written only to be obviously right.
//!
//! The byte-mode figures are those libCacheSim's `test/test_evictionAlgo.c` lists for `Sieve`
//! on `cloudPhysicsIO.oracleGeneral.bin`. The same sixteen numbers are listed there for LFU
//! (and were LFU's before a Sieve test existed), so they look like a copy-paste; yet this
//! implementation, written from `Sieve.c`, and the naive model below both reproduce them
//! exactly, and the newest version of that file registers `test_Sieve` with them. They are
//! SIEVE's figures on this trace.

mod support;

use cache::{Policy, Request};
use support::*;

#[test]
fn sieve_matches_libcachesim() {
    check_bytes(
        "sieve",
        [91699, 86720, 78578, 76707, 69945, 66221, 64445, 64376],
        [
            4158632960, 3917211648, 3536227840, 3455379968, 3035580416, 2801699328, 2699456000,
            2696345600,
        ],
    );
}

#[test]
fn sieve_object_mode() {
    check_objects("sieve", &OBJ_CAPS, &[100308, 94419, 90040, 81059, 64375]);
}

/// SIEVE as a plain vector, O(n) per request: `q[0]` is the tail (oldest), the last element
/// the head; `hand` is the index the next eviction starts at, `None` meaning the tail.
struct NaiveSieve {
    capacity: u64,
    used: u64,
    q: Vec<(u64, u64, bool)>,
    hand: Option<usize>,
    /// How many `remove` calls took the object under the hand (tests check they happen).
    hand_removals: usize,
}

impl NaiveSieve {
    fn new(capacity: u64) -> Self {
        Self {
            capacity,
            used: 0,
            q: Vec::new(),
            hand: None,
            hand_removals: 0,
        }
    }

    /// Returns true on a hit.
    fn access(&mut self, id: u64, size: u64) -> bool {
        if let Some(e) = self.q.iter_mut().find(|e| e.0 == id) {
            e.2 = true;
            return true;
        }
        if size > self.capacity {
            return false;
        }
        while self.used + size > self.capacity {
            // Sweep toward the head (higher indices), wrapping to the tail, clearing marks.
            let mut i = self.hand.unwrap_or(0);
            while self.q[i].2 {
                self.q[i].2 = false;
                i = if i + 1 == self.q.len() { 0 } else { i + 1 };
            }
            let (_, s, _) = self.q.remove(i);
            self.used -= s;
            // The evicted object's neighbour toward the head now sits at index i.
            self.hand = (i < self.q.len()).then_some(i);
        }
        self.q.push((id, size, false));
        self.used += size;
        false
    }

    fn remove(&mut self, id: u64) -> Option<u64> {
        let i = self.q.iter().position(|e| e.0 == id)?;
        let (_, s, _) = self.q.remove(i);
        self.used -= s;
        self.hand = match self.hand {
            // The hand was on the removed object: its neighbour toward the head is now at i.
            Some(h) if h == i => {
                self.hand_removals += 1;
                (i < self.q.len()).then_some(i)
            }
            Some(h) if h > i => Some(h - 1),
            h => h,
        };
        Some(s)
    }
}

/// Replays the whole trace through both the real policy and the naive model, request by
/// request, and returns the real policy's misses.
fn cross_check(capacity: u64, objects: bool) -> u64 {
    let mut real = cache::build(&"sieve".parse().unwrap(), capacity).unwrap();
    let mut naive = NaiveSieve::new(capacity);
    let mut ev = Vec::new();
    let mut misses = 0;
    for (n, r) in oracle_trace().iter().enumerate() {
        let size = if objects { 1 } else { r.size };
        let hit = real.access(&Request::new(r.id, size), &mut ev);
        assert_eq!(
            hit,
            naive.access(r.id, size),
            "sieve capacity {capacity} objects={objects}: request {n} (id {})",
            r.id
        );
        misses += u64::from(!hit);
    }
    assert_eq!(real.used(), naive.used);
    assert_eq!(real.len(), naive.q.len());
    misses
}

#[test]
fn sieve_agrees_with_naive_model_in_bytes() {
    // A few sizes only: the model is slow in a debug build (see the ignored test below).
    cross_check(64 * MIB, false);
    assert_eq!(cross_check(256 * MIB, false), 86720);
}

#[test]
fn sieve_agrees_with_naive_model_in_objects() {
    let got: Vec<u64> = OBJ_CAPS[..3]
        .iter()
        .map(|&c| cross_check(c, true))
        .collect();
    assert_eq!(got, [100308, 94419, 90040]);
}

/// The naive model at every golden size; slow in a debug build, run with
/// `cargo test -p cache --release -- --ignored`.
#[test]
#[ignore]
fn sieve_agrees_with_naive_model_everywhere() {
    for i in 1..=8 {
        cross_check(i * 128 * MIB, false);
    }
    for c in OBJ_CAPS {
        cross_check(c, true);
    }
}

#[test]
fn sieve_remove_agrees_with_naive_model() {
    // Every 7th request also invalidates an object requested a little earlier (often the one
    // under the hand at small sizes), so removals hit the hand, the head, the tail and gaps.
    for capacity in [3, 10, 100] {
        let mut real =
            cache::Checked::new(cache::build(&"sieve".parse().unwrap(), capacity).unwrap());
        let mut naive = NaiveSieve::new(capacity);
        let mut ev = Vec::new();
        let trace = &oracle_trace()[..30_000];
        for (n, r) in trace.iter().enumerate() {
            let hit = real.access(&Request::new(r.id, 1), &mut ev);
            assert_eq!(
                hit,
                naive.access(r.id, 1),
                "capacity {capacity}: request {n}"
            );
            if n % 7 == 6 {
                let victim = trace[n - (n / 7) % 6].id;
                assert_eq!(real.remove(victim), naive.remove(victim), "request {n}");
            }
        }
        assert!(
            naive.hand_removals > 0,
            "capacity {capacity}: the hand was never removed"
        );
        assert_eq!(real.len(), naive.q.len());
    }
}

/// Throughput through `Box<dyn Policy>` as the simulator drives it; prints, never asserts.
/// `cargo test -p cache --release --test golden_sieve -- --ignored --nocapture sieve_throughput`
#[test]
#[ignore]
fn sieve_throughput() {
    let trace = oracle_trace();
    for (capacity, objects) in [(128 * MIB, false), (1024 * MIB, false), (4897, true)] {
        let mut p = cache::build(&"sieve".parse().unwrap(), capacity).unwrap();
        let mut ev = Vec::with_capacity(64);
        let reqs: Vec<Request> = trace
            .iter()
            .map(|r| Request::new(r.id, if objects { 1 } else { r.size }))
            .collect();
        let rounds = 30;
        let start = std::time::Instant::now();
        let mut hits = 0u64;
        for _ in 0..rounds {
            for r in &reqs {
                ev.clear();
                hits += u64::from(p.access(r, &mut ev));
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "sieve capacity {capacity} objects={objects}: {:.1} M req/s ({hits} hits)",
            (rounds * reqs.len()) as f64 / secs / 1e6
        );
    }
}
