//! Golden tests for `belady`: libCacheSim's figures for `cloudPhysicsIO.oracleGeneral.bin`
//! (its `test/test_evictionAlgo.c`, `test_Belady`), and object-mode figures equal to libCacheSim 0.3.5's (PyPI `libcachesim`).

mod support;

use support::*;

#[test]
fn belady_matches_libcachesim() {
    check_bytes(
        "belady",
        [79256, 70724, 65481, 61594, 59645, 57599, 50873, 48974],
        [
            3472532480, 2995165696, 2726689792, 2537648128, 2403427840, 2269212672, 2134992896,
            2029769728,
        ],
    );
}

/// Object mode (every object counts 1) at [`OBJ_CAPS`]: equal to libCacheSim 0.3.5's; recorded
/// to catch regressions; libCacheSim's test file has none for this trace.
#[test]
fn belady_object_mode() {
    check_objects("belady", &OBJ_CAPS, &[96517, 90263, 71620, 61843, 48974]);
}

/// Not a check: prints the replay speed of `belady` (boxed, as the simulator drives it) on the
/// shared trace. Run with
/// `cargo test -p cache --release --test golden_belady -- --ignored --nocapture`.
#[test]
#[ignore]
fn belady_speed() {
    print_speed("belady");
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
