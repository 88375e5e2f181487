//! A wrapper that checks a policy's invariants after every call; used by tests and fuzzing.

use crate::{Evicted, IdMap, ObjId, Policy, Request};

/// Wraps a policy and mirrors what it should hold. Panics, naming the policy and the call, as
/// soon as the policy breaks the [`Policy`] contract: over capacity, `contains`/`len`/`used`
/// disagreeing with what was admitted and not yet evicted or removed, a hit on an object that
/// is not held, an eviction of an object that was not held.
pub struct Checked {
    inner: Box<dyn Policy>,
    held: IdMap<u64>,
    used: u64,
    /// Total size reported evicted, for callers that check it adds up.
    pub evicted_bytes: u64,
}

impl Checked {
    pub fn new(inner: Box<dyn Policy>) -> Self {
        Self {
            inner,
            held: IdMap::default(),
            used: 0,
            evicted_bytes: 0,
        }
    }

    fn check(&self, call: &str) {
        let name = self.inner.name();
        assert!(
            self.inner.used() <= self.inner.capacity(),
            "{name}: over capacity after {call}"
        );
        assert_eq!(
            self.inner.used(),
            self.used,
            "{name}: used() disagrees after {call}"
        );
        assert_eq!(
            self.inner.len(),
            self.held.len(),
            "{name}: len() disagrees after {call}"
        );
    }

    fn account_evictions(&mut self, evicted: &[Evicted], call: &str) {
        for e in evicted {
            let size = self.held.remove(&e.id).unwrap_or_else(|| {
                panic!(
                    "{}: {call} evicted {} which was not held",
                    self.inner.name(),
                    e.id
                )
            });
            assert_eq!(
                size,
                e.size,
                "{}: evicted size of {} changed",
                self.inner.name(),
                e.id
            );
            assert!(
                !self.inner.contains(e.id),
                "{}: evicted {} still held",
                self.inner.name(),
                e.id
            );
            self.used -= size;
            self.evicted_bytes += size;
        }
    }

    /// The ids the mirror says are held.
    pub fn held(&self) -> impl Iterator<Item = ObjId> + '_ {
        self.held.keys().copied()
    }
}

impl Policy for Checked {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn capacity(&self) -> u64 {
        self.inner.capacity()
    }
    fn used(&self) -> u64 {
        self.inner.used()
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn contains(&self, id: ObjId) -> bool {
        let c = self.inner.contains(id);
        assert_eq!(
            c,
            self.held.contains_key(&id),
            "{}: contains({id}) disagrees",
            self.inner.name()
        );
        c
    }
    fn touch(&mut self, req: &Request) -> bool {
        let hit = self.inner.touch(req);
        assert_eq!(
            hit,
            self.held.contains_key(&req.id),
            "{}: touch({}) disagrees",
            self.inner.name(),
            req.id
        );
        self.check("touch");
        hit
    }
    fn admit(&mut self, req: &Request, evicted: &mut Vec<Evicted>) -> bool {
        assert!(
            !self.held.contains_key(&req.id),
            "test bug: admit of a held object"
        );
        let start = evicted.len();
        let admitted = self.inner.admit(req, evicted);
        // An object admitted then evicted in the same call is reported after its admission.
        self.held.insert(req.id, req.size);
        self.used += req.size;
        let new: Vec<Evicted> = evicted[start..].to_vec();
        self.account_evictions(&new, "admit");
        if !admitted {
            if let Some(size) = self.held.remove(&req.id) {
                self.used -= size;
            }
        }
        assert_eq!(
            self.inner.contains(req.id),
            admitted,
            "{}: admit({}) result disagrees",
            self.inner.name(),
            req.id
        );
        if req.size > self.inner.capacity() {
            assert!(
                !admitted && new.is_empty(),
                "{}: an object larger than the cache caused evictions",
                self.inner.name()
            );
        }
        self.check("admit");
        admitted
    }
    fn remove(&mut self, id: ObjId) -> Option<u64> {
        let got = self.inner.remove(id);
        let want = self.held.remove(&id);
        assert_eq!(got, want, "{}: remove({id}) disagrees", self.inner.name());
        if let Some(s) = want {
            self.used -= s;
        }
        self.check("remove");
        got
    }
}
