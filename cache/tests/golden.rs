//! Golden tests: exact miss counts on the shared CloudPhysics trace, against libCacheSim.
//!
//! The byte-mode figures for sizes 128 MiB … 1 GiB (step 128 MiB) are libCacheSim's own
//! expectations for `cloudPhysicsIO.oracleGeneral.bin` (its `test/test_evictionAlgo.c`).
//! Object-mode figures (every request size 1, at `support::OBJ_CAPS`) in every golden file
//! equal what libCacheSim 0.3.5 (PyPI `libcachesim`, its C core, `ignore_obj_size=true`) gives,
//! for every policy but W-TinyLFU (see its file); FIFO and LRU are also cross-checked against the
//! naive models of `reference.rs`.

mod support;

use support::{check_bytes, check_objects};

#[test]
fn lru_matches_libcachesim() {
    check_bytes(
        "lru",
        [93374, 89783, 83572, 81722, 72494, 72104, 71972, 71704],
        [
            4214303232, 4061242368, 3778040320, 3660569600, 3100927488, 3078128640, 3075403776,
            3061662720,
        ],
    );
}

#[test]
fn fifo_matches_libcachesim() {
    check_bytes(
        "fifo",
        [93403, 89386, 84387, 84025, 72498, 72228, 72182, 72140],
        [
            4213112832, 4052646400, 3829170176, 3807412736, 3093146112, 3079525888, 3079210496,
            3077547520,
        ],
    );
}

#[test]
fn fifo_and_lru_in_object_mode() {
    // Cross-checked against the naive models of reference.rs at 48 and 489 objects.
    check_objects(
        "lru",
        &support::OBJ_CAPS,
        &[102823, 95420, 91657, 79438, 70832],
    );
    check_objects(
        "fifo",
        &support::OBJ_CAPS,
        &[103859, 96518, 91716, 79210, 72137],
    );
}
