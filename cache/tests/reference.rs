//! Naive reference models (a plain Vec, O(n) per request, obviously correct) replayed against
//! the real policies on the shared trace, in object mode where libCacheSim publishes no figure.

mod support;

use support::{oracle_trace, replay};

/// A Vec ordered oldest first; `promote` moves a hit to the back (LRU), else FIFO.
fn naive(capacity: u64, promote: bool) -> (u64, u64) {
    let mut q: Vec<u64> = Vec::new();
    let mut misses = 0;
    for r in oracle_trace() {
        if let Some(i) = q.iter().position(|&id| id == r.id) {
            if promote {
                let id = q.remove(i);
                q.push(id);
            }
            continue;
        }
        misses += 1;
        if q.len() as u64 == capacity {
            q.remove(0);
        }
        q.push(r.id);
    }
    (misses, misses)
}

#[test]
fn fifo_and_lru_agree_with_naive_models_in_object_mode() {
    for cap in [1, 48, 489] {
        assert_eq!(
            replay(oracle_trace(), "fifo", cap, true),
            naive(cap, false),
            "fifo at {cap}"
        );
        assert_eq!(
            replay(oracle_trace(), "lru", cap, true),
            naive(cap, true),
            "lru at {cap}"
        );
    }
}
