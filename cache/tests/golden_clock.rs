//! CLOCK golden tests: libCacheSim's figures in byte mode (its `test/test_evictionAlgo.c`,
//! `Clock` with the default 1-bit counter), libCacheSim 0.3.5's in object mode, all cross-checked
//! against a naive FIFO-with-reinsertion model.

mod support;

use cache::Request;
use std::collections::VecDeque;
use support::*;

#[test]
fn clock_matches_libcachesim() {
    check_bytes(
        "clock",
        [93313, 89775, 83411, 81328, 74815, 72283, 71927, 64456],
        [
            4213887488, 4064512000, 3762650624, 3644467200, 3256760832, 3091688448, 3074241024,
            2697378816,
        ],
    );
}

#[test]
fn clock_object_mode() {
    check_objects("clock", &OBJ_CAPS, &[102599, 95332, 91599, 84750, 64443]);
}

/// CLOCK as FIFO-Reinsertion over a deque, O(n) per request: the front is the tail.
struct NaiveClock {
    capacity: u64,
    used: u64,
    max_freq: u32,
    q: VecDeque<(u64, u64, u32)>,
}

impl NaiveClock {
    fn access(&mut self, id: u64, size: u64) -> bool {
        if let Some(e) = self.q.iter_mut().find(|e| e.0 == id) {
            e.2 = (e.2 + 1).min(self.max_freq);
            return true;
        }
        if size > self.capacity {
            return false;
        }
        while self.used + size > self.capacity {
            let mut e = self.q.pop_front().unwrap();
            while e.2 > 0 {
                e.2 -= 1;
                self.q.push_back(e);
                e = self.q.pop_front().unwrap();
            }
            self.used -= e.1;
        }
        self.q.push_back((id, size, 0));
        self.used += size;
        false
    }
}

fn cross_check(bits: u32, capacity: u64, objects: bool) -> u64 {
    let spec = format!("clock:bits={bits}");
    let mut real = cache::build(&spec.parse().unwrap(), capacity).unwrap();
    let mut naive = NaiveClock {
        capacity,
        used: 0,
        max_freq: (1 << bits) - 1,
        q: VecDeque::new(),
    };
    let mut ev = Vec::new();
    let mut misses = 0;
    for (n, r) in oracle_trace().iter().enumerate() {
        let size = if objects { 1 } else { r.size };
        let hit = real.access(&Request::new(r.id, size), &mut ev);
        assert_eq!(
            hit,
            naive.access(r.id, size),
            "{spec} capacity {capacity} objects={objects}: request {n}"
        );
        misses += u64::from(!hit);
    }
    assert_eq!(real.used(), naive.used);
    assert_eq!(real.len(), naive.q.len());
    misses
}

#[test]
fn clock_agrees_with_naive_model() {
    // A few sizes only: the model is slow in a debug build (see the ignored test below).
    assert_eq!(cross_check(1, 128 * MIB, false), 93313);
    cross_check(2, 64 * MIB, false);
    let got: Vec<u64> = OBJ_CAPS[..2]
        .iter()
        .map(|&c| cross_check(1, c, true))
        .collect();
    assert_eq!(got, [102599, 95332]);
}

/// The naive model at every golden size; slow in a debug build, run with
/// `cargo test -p cache --release -- --ignored`.
#[test]
#[ignore]
fn clock_agrees_with_naive_model_everywhere() {
    for bits in [1, 2, 3] {
        for i in 1..=8 {
            cross_check(bits, i * 128 * MIB, false);
        }
        for c in OBJ_CAPS {
            cross_check(bits, c, true);
        }
    }
}

/// Throughput through `Box<dyn Policy>` as the simulator drives it; prints, never asserts.
/// `cargo test -p cache --release --test golden_clock -- --ignored --nocapture clock_throughput`
#[test]
#[ignore]
fn clock_throughput() {
    let trace = oracle_trace();
    for (capacity, objects) in [(128 * MIB, false), (1024 * MIB, false), (4897, true)] {
        let mut p = cache::build(&"clock".parse().unwrap(), capacity).unwrap();
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
            "clock capacity {capacity} objects={objects}: {:.1} M req/s ({hits} hits)",
            (rounds * reqs.len()) as f64 / secs / 1e6
        );
    }
}
