//! ARC on the shared CloudPhysics trace.
//!
//! The byte-mode figures (128 MiB … 1 GiB, step 128 MiB) are libCacheSim's own expectations for
//! `cloudPhysicsIO.oracleGeneral.bin` (`test/test_evictionAlgo.c`, `test_ARC`); this crate
//! reproduces them exactly. The object-mode figures equal libCacheSim 0.3.5's (PyPI `libcachesim`).

// The shared helpers have a pre-existing `needless_borrow` lint; it is not this file's to fix.
mod support;
use support::*;

#[test]
fn arc_matches_libcachesim() {
    check_bytes(
        "arc",
        [90252, 85861, 78168, 74297, 67381, 65685, 64439, 64772],
        [
            4068098560, 3821026816, 3525644800, 3296890368, 2868538880, 2771180032, 2699484672,
            2712971264,
        ],
    );
}

#[test]
fn arc_object_mode() {
    check_objects("arc", &OBJ_CAPS, &[99870, 94229, 88002, 79413, 64370]);
}

/// Requests per second over the shared trace (release build; prints, never asserts):
/// `cargo test -p cache --release --test golden_arc -- --ignored --nocapture`
#[test]
#[ignore]
fn arc_speed() {
    speed("arc");
}
