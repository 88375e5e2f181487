//! Helpers for the policies' unit tests: replay (id, size) pairs and collect evictions.

use crate::{Checked, Evicted, ObjId, Policy, Request};

/// Replays `reqs` through `p`, wrapped in the invariant checker, and returns the wrapped
/// policy (to inspect afterwards) and every eviction in order.
pub fn run(p: impl Policy + 'static, reqs: &[(ObjId, u64)]) -> (Checked, Vec<Evicted>) {
    let mut checked = Checked::new(Box::new(p));
    let mut ev = Vec::new();
    for &(id, size) in reqs {
        checked.access(&Request::new(id, size), &mut ev);
    }
    (checked, ev)
}

/// The ids of `ev`, in order.
pub fn ids(ev: &[Evicted]) -> Vec<ObjId> {
    ev.iter().map(|e| e.id).collect()
}
