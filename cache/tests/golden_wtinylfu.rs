//! W-TinyLFU on the shared CloudPhysics trace, against libCacheSim.
//!
//! libCacheSim has no expected figures for W-TinyLFU (its `test_WTinyLFU` is a TODO), so its
//! figures here were measured with libCacheSim 0.3.5 (PyPI `libcachesim`, which wraps its C
//! core): `WTinyLFU(cache_size)` with its defaults (SLRU main cache, window 0.01), replaying
//! this trace through `process_trace`, in object mode with
//! `ReaderInitParam(ignore_obj_size=True)`. This crate's own figures are asserted exactly, to
//! catch unintended changes, and checked to lie within 0.5 % (relative, in misses and missed
//! bytes) of libCacheSim's. They are in fact equal everywhere but at 48 objects, where
//! libCacheSim's window is `floor(48 × 0.01) = 0` objects and it refuses everything (this
//! crate keeps a window of at least one; see the module documentation).

// The shared helpers have a pre-existing `needless_borrow` lint; it is not this file's to fix.
mod support;
use support::*;

/// libCacheSim 0.3.5 in byte mode at 128 MiB × 1 … 8: misses, …
const LCS_BYTE_MISSES: [u64; 8] = [90456, 84189, 79113, 74893, 72902, 65546, 61372, 53657];
/// … and missed bytes.
const LCS_BYTE_MISSED_BYTES: [u64; 8] = [
    4083012096, 3723320832, 3428521984, 3155640320, 2985374208, 2622440960, 2536182784, 2276128256,
];
/// libCacheSim 0.3.5 in object mode at [`OBJ_CAPS`] (48, 489, 4897, 10000, 25000): misses.
const LCS_OBJ_MISSES: [u64; 5] = [113872, 96433, 88396, 77281, 54294];

/// This crate's figures, in the same places.
const BYTE_MISSES: [u64; 8] = [90456, 84189, 79113, 74893, 72902, 65546, 61372, 53657];
const BYTE_MISSED_BYTES: [u64; 8] = [
    4083012096, 3723320832, 3428521984, 3155640320, 2985374208, 2622440960, 2536182784, 2276128256,
];
const OBJ_MISSES: [u64; 5] = [101079, 96433, 88396, 77281, 54294];

/// The agreement required with libCacheSim: 0.5 % relative.
const TOLERANCE: f64 = 0.005;

fn assert_close(what: &str, ours: &[u64], theirs: &[u64]) {
    for (i, (&o, &t)) in ours.iter().zip(theirs).enumerate() {
        let rel = (o as f64 - t as f64).abs() / t as f64;
        assert!(
            rel <= TOLERANCE,
            "{what} [{i}]: ours {o}, libCacheSim {t}: {:.3} % apart",
            rel * 100.0
        );
    }
}

#[test]
fn wtinylfu_agrees_with_libcachesim() {
    assert_close("byte-mode misses", &BYTE_MISSES, &LCS_BYTE_MISSES);
    assert_close("missed bytes", &BYTE_MISSED_BYTES, &LCS_BYTE_MISSED_BYTES);
    // At 48 objects libCacheSim's window is empty and it misses every request.
    assert_eq!(LCS_OBJ_MISSES[0], 113_872);
    assert_close("object-mode misses", &OBJ_MISSES[1..], &LCS_OBJ_MISSES[1..]);
}

#[test]
fn wtinylfu_byte_mode() {
    check_bytes("wtinylfu", BYTE_MISSES, BYTE_MISSED_BYTES);
}

#[test]
fn wtinylfu_object_mode() {
    check_objects("wtinylfu", &OBJ_CAPS, &OBJ_MISSES);
}

/// The doorkeeper is this crate's addition (libCacheSim has none): its figures are its own.
#[test]
fn wtinylfu_with_doorkeeper() {
    check_bytes(
        "wtinylfu:doorkeeper=1",
        [90472, 84187, 79097, 74893, 72776, 65552, 60911, 53657],
        [
            4082438656, 3724323328, 3428233728, 3155640320, 2978192896, 2621857280, 2506874368,
            2276128256,
        ],
    );
    check_objects(
        "wtinylfu:doorkeeper=1",
        &OBJ_CAPS,
        &[101012, 96354, 88490, 77156, 54231],
    );
}
/// Requests per second over the shared trace (release build; prints, never asserts):
/// `cargo test -p cache --release --test golden_wtinylfu -- --ignored --nocapture`
#[test]
#[ignore]
fn wtinylfu_speed() {
    speed("wtinylfu");
}
