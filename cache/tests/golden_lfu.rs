//! Golden tests for `lfu`: libCacheSim's figures for `cloudPhysicsIO.oracleGeneral.bin`
//! (its `test/test_evictionAlgo.c`, `test_LFU`), and object-mode figures equal to libCacheSim 0.3.5's (PyPI `libcachesim`).

mod support;

use support::*;

#[test]
fn lfu_matches_libcachesim() {
    check_bytes(
        "lfu",
        [91699, 86720, 78578, 76707, 69945, 66221, 64445, 64376],
        [
            4158632960, 3917211648, 3536227840, 3455379968, 3035580416, 2801699328, 2699456000,
            2696345600,
        ],
    );
}

/// Object mode (every object counts 1) at [`OBJ_CAPS`]: equal to libCacheSim 0.3.5's; recorded
/// to catch regressions; libCacheSim's test file has none for this trace.
#[test]
fn lfu_object_mode() {
    check_objects("lfu", &OBJ_CAPS, &[103311, 96765, 90040, 81059, 64375]);
}

/// Not a check: prints the replay speed of `lfu` (boxed, as the simulator drives it) on the
/// shared trace. Run with
/// `cargo test -p cache --release --test golden_lfu -- --ignored --nocapture`.
#[test]
#[ignore]
fn lfu_speed() {
    print_speed("lfu");
}

fn print_speed(spec: &str) {
    let trace = oracle_trace();
    let runs: Vec<(u64, bool)> = [128, 512, 1024]
        .iter()
        .map(|&m| (m * MIB, false))
        .chain(OBJ_CAPS[1..4].iter().map(|&c| (c, true)))
        .collect();
    for (capacity, objects) in runs {
        let reps = 10;
        let start = std::time::Instant::now();
        let mut misses = 0;
        for _ in 0..reps {
            misses += replay(trace, spec, capacity, objects).0;
        }
        let secs = start.elapsed().as_secs_f64();
        let n = (reps * trace.len()) as f64;
        println!(
            "{spec}: capacity {capacity}{} miss ratio {:.4}: {:.2} M requests/s",
            if objects { " objects" } else { " bytes" },
            misses as f64 / n,
            n / secs / 1e6
        );
    }
}
