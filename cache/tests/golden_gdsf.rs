//! Golden tests for `gdsf`: libCacheSim's figures for `cloudPhysicsIO.oracleGeneral.bin`
//! (its `test/test_evictionAlgo.c`, `test_GDSF`), and object-mode figures equal to libCacheSim 0.3.5's (PyPI `libcachesim`).

mod support;

use support::*;

#[test]
fn gdsf_matches_libcachesim() {
    check_bytes(
        "gdsf",
        [89070, 84750, 74850, 70490, 67923, 64180, 61027, 58721],
        [
            4210726912, 4057058816, 3719176192, 3436855296, 3271648256, 3029728768, 2828456448,
            2677800448,
        ],
    );
}

/// Object mode (every object counts 1) at [`OBJ_CAPS`]: equal to libCacheSim 0.3.5's; recorded
/// to catch regressions; libCacheSim's test file has none for this trace.
#[test]
fn gdsf_object_mode() {
    check_objects("gdsf", &OBJ_CAPS, &[100735, 94681, 91388, 84752, 66434]);
}

/// Not a check: prints the replay speed of `gdsf` (boxed, as the simulator drives it) on the
/// shared trace. Run with
/// `cargo test -p cache --release --test golden_gdsf -- --ignored --nocapture`.
#[test]
#[ignore]
fn gdsf_speed() {
    print_speed("gdsf");
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
