//! LRU: evict the least recently used object. Also the engine of FIFO (no promotion on hit).

use crate::index::SlotIndex;
use crate::list::{List, Slab};
use crate::params::{ParamError, Params, PolicySpec};
use crate::registry::PolicyInfo;
use crate::{Evicted, ObjId, Policy, Request};

pub const INFO: PolicyInfo = PolicyInfo {
    name: "lru",
    about: "least recently used: a hit moves the object to the head, the tail is evicted",
    params: &[],
    build,
};

fn build(spec: &PolicySpec, capacity: u64) -> Result<Box<dyn Policy>, ParamError> {
    Params::new(spec, &[]).finish()?;
    Ok(Box::new(Lru::new(capacity)))
}

/// A list of objects in insertion order; with `PROMOTE` a hit moves the object to the head
/// (LRU), without it the order never changes (FIFO). The tail is evicted.
pub struct RecencyList<const PROMOTE: bool> {
    capacity: u64,
    used: u64,
    /// Id to slot; the id is the slot's node's.
    index: SlotIndex,
    slab: Slab<(ObjId, u64)>,
    list: List,
}

pub type Lru = RecencyList<true>;

impl<const PROMOTE: bool> RecencyList<PROMOTE> {
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            used: 0,
            index: SlotIndex::with_capacity(1024),
            slab: Slab::with_capacity(1024),
            list: List::default(),
        }
    }

    fn evict_one(&mut self, evicted: &mut Vec<Evicted>) {
        let t = self
            .slab
            .pop_tail(&mut self.list)
            .expect("used > 0 implies a held object");
        let (id, size) = *self.slab.get(t);
        self.unindex(id);
        self.slab.free(t);
        self.used -= size;
        evicted.push(Evicted { id, size, slot: t });
    }

    /// The slab slot of held `id`.
    #[inline]
    fn find(&self, id: ObjId) -> Option<u32> {
        self.index.get(id, |v| self.slab.get(v).0)
    }

    /// Indexes `id` at slab slot `i`, whose node already holds it.
    #[inline]
    fn index_at(&mut self, id: ObjId, i: u32) {
        let slab = &self.slab;
        self.index.insert(id, i, |v| slab.get(v).0);
    }

    /// Takes `id` out of the index (its node must still hold it); returns its slot.
    #[inline]
    fn unindex(&mut self, id: ObjId) -> Option<u32> {
        let slab = &self.slab;
        self.index.remove(id, |v| slab.get(v).0)
    }

    #[inline]
    fn hit(&mut self, i: u32) {
        if PROMOTE {
            self.slab.move_to_head(&mut self.list, i);
        }
    }
}

impl<const PROMOTE: bool> Policy for RecencyList<PROMOTE> {
    fn name(&self) -> String {
        if PROMOTE { "lru" } else { "fifo" }.to_string()
    }
    fn capacity(&self) -> u64 {
        self.capacity
    }
    fn used(&self) -> u64 {
        self.used
    }
    fn len(&self) -> usize {
        self.index.len()
    }
    fn contains(&self, id: ObjId) -> bool {
        self.find(id).is_some()
    }
    fn slot(&self, id: ObjId) -> Option<u32> {
        self.find(id)
    }
    fn slot_where(&self, id: ObjId, is_id: &mut dyn FnMut(u32) -> bool) -> Option<u32> {
        self.index.get_where(id, is_id)
    }

    #[inline]
    fn touch(&mut self, req: &Request) -> bool {
        match self.find(req.id) {
            Some(i) => {
                self.hit(i);
                true
            }
            None => false,
        }
    }

    #[inline]
    fn touch_slot(&mut self, _req: &Request, slot: u32) {
        self.hit(slot);
    }

    fn admit(&mut self, req: &Request, evicted: &mut Vec<Evicted>) -> bool {
        if req.size > self.capacity {
            return false;
        }
        while self.used + req.size > self.capacity {
            self.evict_one(evicted);
        }
        let i = self.slab.alloc((req.id, req.size));
        self.slab.push_head(&mut self.list, i);
        self.index_at(req.id, i);
        self.used += req.size;
        true
    }

    fn remove(&mut self, id: ObjId) -> Option<u64> {
        let i = self.unindex(id)?;
        self.slab.unlink(&mut self.list, i);
        let size = self.slab.get(i).1;
        self.slab.free(i);
        self.used -= size;
        Some(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::testing::{ids, run};

    #[test]
    fn evicts_least_recently_used_in_order() {
        // 1 2 3 fill; hit 1; 4 evicts 2; 5 evicts 3; hit 1; 6 evicts 4.
        let (_, ev) = run(
            Lru::new(3),
            &[
                (1, 1),
                (2, 1),
                (3, 1),
                (1, 1),
                (4, 1),
                (5, 1),
                (1, 1),
                (6, 1),
            ],
        );
        assert_eq!(ids(&ev), vec![2, 3, 4]);
    }

    #[test]
    fn sizes_evict_until_the_object_fits_and_oversize_is_refused() {
        let (p, ev) = run(Lru::new(10), &[(1, 4), (2, 4), (3, 2), (4, 7), (5, 11)]);
        // 4 (size 7) needs 7 free: evicts 1 (free 2 -> 6) then 2 (-> 10).
        assert_eq!(ids(&ev), vec![1, 2]);
        assert!(!p.contains(5));
        assert_eq!(p.used(), 9);
    }
}
