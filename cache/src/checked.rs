//! A wrapper that checks a policy's invariants after every call; used by tests and fuzzing.

use crate::{Evicted, IdMap, ObjId, Policy, Request};

/// Wraps a policy and mirrors what it should hold. Panics, naming the policy and the call, as
/// soon as the policy breaks the [`Policy`] contract: over capacity, `contains`/`len`/`used`
/// disagreeing with what was admitted and not yet evicted or removed, a hit on an object that
/// is not held, an eviction of an object that was not held, a held object without a slot or
/// whose slot changed or is shared, an eviction reporting another slot than the object's.
pub struct Checked {
    inner: Box<dyn Policy>,
    /// Each held id's size and slot.
    held: IdMap<(u64, u32)>,
    /// The held ids by slot.
    slots: rustc_hash::FxHashMap<u32, ObjId>,
    used: u64,
    /// Total size reported evicted, for callers that check it adds up.
    pub evicted_bytes: u64,
}

impl Checked {
    pub fn new(inner: Box<dyn Policy>) -> Self {
        Self {
            inner,
            held: IdMap::default(),
            slots: Default::default(),
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
        // Every held object keeps the slot it was admitted with. (O(held): tests hold few.)
        for (&id, &(_, slot)) in &self.held {
            assert_eq!(
                self.inner.slot(id),
                Some(slot),
                "{name}: the slot of {id} changed after {call}"
            );
        }
    }

    /// Records that `id`, just admitted, is held with `size`, at the slot the policy reports.
    fn hold(&mut self, id: ObjId, size: u64, call: &str) {
        let name = self.inner.name();
        let slot = self
            .inner
            .slot(id)
            .unwrap_or_else(|| panic!("{name}: {id} admitted by {call} has no slot"));
        if let Some(other) = self.slots.insert(slot, id) {
            panic!("{name}: {call} gave {id} slot {slot}, which {other} holds");
        }
        self.held.insert(id, (size, slot));
        self.used += size;
    }

    /// Forgets held `id`, returning its size.
    fn release(&mut self, id: ObjId) -> Option<(u64, u32)> {
        let (size, slot) = self.held.remove(&id)?;
        self.slots.remove(&slot);
        self.used -= size;
        Some((size, slot))
    }

    /// `newcomer`: the request `admit` was offered, which may be admitted and evicted in the
    /// same call, so reported without having been held before it.
    fn account_evictions(&mut self, evicted: &[Evicted], newcomer: &Request, call: &str) {
        for e in evicted {
            if e.id == newcomer.id && !self.held.contains_key(&e.id) {
                assert_eq!(
                    e.size,
                    newcomer.size,
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
                self.evicted_bytes += e.size;
                continue;
            }
            let (size, slot) = self.release(e.id).unwrap_or_else(|| {
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
            assert_eq!(
                slot,
                e.slot,
                "{}: {} evicted from slot {} but held slot {slot}",
                self.inner.name(),
                e.id,
                e.slot
            );
            assert!(
                !self.inner.contains(e.id),
                "{}: evicted {} still held",
                self.inner.name(),
                e.id
            );
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
    fn slot(&self, id: ObjId) -> Option<u32> {
        let slot = self.inner.slot(id);
        assert_eq!(
            slot,
            self.held.get(&id).map(|&(_, s)| s),
            "{}: slot({id}) disagrees",
            self.inner.name()
        );
        slot
    }
    fn slot_where(&self, id: ObjId, is_id: &mut dyn FnMut(u32) -> bool) -> Option<u32> {
        let slot = self.inner.slot_where(id, is_id);
        if let Some(s) = slot {
            assert!(
                self.slots.contains_key(&s),
                "{}: slot_where({id}) offered slot {s}, which no held object has",
                self.inner.name()
            );
        }
        slot
    }
    fn touch_slot(&mut self, req: &Request, slot: u32) {
        assert_eq!(
            self.held.get(&req.id).map(|&(_, s)| s),
            Some(slot),
            "test bug: touch_slot({}, {slot}) of an object not held there",
            req.id
        );
        self.inner.touch_slot(req, slot);
        self.check("touch_slot");
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
        let new: Vec<Evicted> = evicted[start..].to_vec();
        self.account_evictions(&new, req, "admit");
        if admitted {
            self.hold(req.id, req.size, "admit");
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
        let want = self.release(id).map(|(size, _)| size);
        assert_eq!(got, want, "{}: remove({id}) disagrees", self.inner.name());
        self.check("remove");
        got
    }
}
