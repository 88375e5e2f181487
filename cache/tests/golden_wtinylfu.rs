//! W-TinyLFU on the shared CloudPhysics trace.
//!
//! libCacheSim has no expected figures for W-TinyLFU (its `test_WTinyLFU` is a TODO), so these
//! are this crate's own, recorded to catch unintended changes. In byte mode libCacheSim's
//! frequency filter is so large that its counts are exact; with a 2^24-counter sketch this
//! crate's counts are exact too and give misses
//! {90456, 84189, 79113, 74893, 72902, 65546, 61372, 53657}; the default 2^22-counter cap
//! below stays within 0.07 % of those at every size.

// The shared helpers have a pre-existing `needless_borrow` lint; it is not this file's to fix.
mod support;
use support::*;

#[test]
fn wtinylfu_byte_mode() {
    check_bytes(
        "wtinylfu",
        [90499, 84183, 79113, 74892, 72902, 65534, 61355, 53623],
        [
            4084155904, 3723356672, 3428521984, 3155629568, 2985374208, 2621896704, 2535174656,
            2276479488,
        ],
    );
}

#[test]
fn wtinylfu_with_doorkeeper_byte_mode() {
    check_bytes(
        "wtinylfu:doorkeeper=1",
        [90456, 84189, 79113, 74893, 72775, 65546, 61372, 53657],
        [
            4083012096, 3723320832, 3428418048, 3155640320, 2978194432, 2622440960, 2536182784,
            2276128256,
        ],
    );
}

#[test]
fn wtinylfu_object_mode() {
    check_objects("wtinylfu", &OBJ_CAPS, &[100934, 96455, 88350, 76767, 54329]);
    check_objects(
        "wtinylfu:doorkeeper=1",
        &OBJ_CAPS,
        &[100853, 96465, 87916, 76539, 54330],
    );
}

/// Requests per second over the shared trace (release build; prints, never asserts):
/// `cargo test -p cache --release --test golden_wtinylfu -- --ignored --nocapture`
#[test]
#[ignore]
fn wtinylfu_speed() {
    speed("wtinylfu");
}

fn speed(spec: &str) {
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
