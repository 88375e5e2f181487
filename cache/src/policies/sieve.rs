//! SIEVE (Zhang et al., NSDI '24): a FIFO queue that never reorders, a visited bit per object,
//! and a hand that sweeps from the tail toward the head, clearing visited bits, and evicts the
//! first unvisited object it finds.
//!
//! Semantics are libCacheSim's `Sieve`: an object is admitted at the head unvisited; a hit
//! marks it visited; the hand starts at the tail (first eviction, or after it ran off the head)
//! and, while the object under it is visited, clears the mark and steps toward the head,
//! wrapping to the tail past the head. The object under it is evicted and the hand stays at
//! that object's neighbour toward the head (none when it was the head, meaning "restart at the
//! tail"). `remove` of the object under the hand moves the hand the same way, so an
//! invalidation never leaves it dangling.
//!
//! Unlike CLOCK nothing moves on eviction either: objects stay where they were admitted and
//! survivors stay behind the hand, which is what lets new objects be evicted quickly.

use crate::index::SlotIndex;
use crate::list::{List, Slab};
use crate::params::{ParamError, Params, PolicySpec};
use crate::registry::PolicyInfo;
use crate::{Evicted, ObjId, Policy, Request};

pub const INFO: PolicyInfo = PolicyInfo {
    name: "sieve",
    about: "FIFO queue plus a visited bit: a hand sweeps from the tail toward the head, \
            clearing visited bits, and evicts the first unvisited object in place",
    params: &[],
    build,
};

fn build(spec: &PolicySpec, capacity: u64) -> Result<Box<dyn Policy>, ParamError> {
    Params::new(spec, &[]).finish()?;
    Ok(Box::new(Sieve::new(capacity)))
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    id: ObjId,
    size: u64,
    visited: bool,
}

/// SIEVE over a slab-threaded list with a hand index.
pub struct Sieve {
    capacity: u64,
    used: u64,
    /// Id to slab slot (the id is the slot's node's).
    index: SlotIndex,
    slab: Slab<Entry>,
    /// Head: most recently admitted. Tail: admitted longest ago.
    list: List,
    /// The next object the hand examines; `None` means the tail.
    hand: Option<u32>,
}

impl Sieve {
    /// The slab slot of held `id`.
    #[inline]
    fn find(&self, id: ObjId) -> Option<u32> {
        self.index.get(id, |v| self.slab.get(v).id)
    }

    /// Indexes `id` at slab slot `i`, whose node already holds it.
    #[inline]
    fn index_at(&mut self, id: ObjId, i: u32) {
        let slab = &self.slab;
        self.index.insert(id, i, |v| slab.get(v).id);
    }

    /// Takes `id` out of the index (its node must still hold it); returns its slot.
    #[inline]
    fn unindex(&mut self, id: ObjId) -> Option<u32> {
        let slab = &self.slab;
        self.index.remove(id, |v| slab.get(v).id)
    }

    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            used: 0,
            index: SlotIndex::with_capacity(1024),
            slab: Slab::with_capacity(1024),
            list: List::default(),
            hand: None,
        }
    }

    /// Moves the hand to the first unvisited object, clearing marks on the way, and evicts
    /// it. Terminates: after one full sweep every mark is clear.
    fn evict_one(&mut self, evicted: &mut Vec<Evicted>) {
        let tail = self.list.tail().expect("used > 0 implies a held object");
        let mut i = self.hand.unwrap_or(tail);
        loop {
            let e = self.slab.get_mut(i);
            if !e.visited {
                break;
            }
            e.visited = false;
            i = self.slab.prev_toward_head(i).unwrap_or(tail);
        }
        self.hand = self.slab.prev_toward_head(i);
        self.slab.unlink(&mut self.list, i);
        let Entry { id, size, .. } = *self.slab.get(i);
        self.unindex(id);
        self.slab.free(i);
        self.used -= size;
        evicted.push(Evicted { id, size, slot: i });
    }
}

impl Policy for Sieve {
    fn name(&self) -> String {
        "sieve".to_string()
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
    fn touch_slot(&mut self, _req: &Request, slot: u32) {
        self.slab.get_mut(slot).visited = true;
    }

    #[inline]
    fn touch(&mut self, req: &Request) -> bool {
        match self.find(req.id) {
            Some(i) => {
                self.slab.get_mut(i).visited = true;
                true
            }
            None => false,
        }
    }

    fn admit(&mut self, req: &Request, evicted: &mut Vec<Evicted>) -> bool {
        if req.size > self.capacity {
            return false;
        }
        while self.used + req.size > self.capacity {
            self.evict_one(evicted);
        }
        let i = self.slab.alloc(Entry {
            id: req.id,
            size: req.size,
            visited: false,
        });
        self.slab.push_head(&mut self.list, i);
        self.index_at(req.id, i);
        self.used += req.size;
        true
    }

    fn remove(&mut self, id: ObjId) -> Option<u64> {
        let i = self.unindex(id)?;
        if self.hand == Some(i) {
            self.hand = self.slab.prev_toward_head(i);
        }
        self.slab.unlink(&mut self.list, i);
        let size = self.slab.get(i).size;
        self.slab.free(i);
        self.used -= size;
        Some(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::testing::{ids, run};
    use crate::Checked;

    fn u(ids: &[ObjId]) -> Vec<(ObjId, u64)> {
        ids.iter().map(|&i| (i, 1)).collect()
    }

    #[test]
    fn hand_sweeps_and_stays() {
        // Capacity 3. Queue written tail..head, visited marked *, hand ^ (none = tail).
        // 1 2 3           -> 1 2 3
        // hit 1           -> 1* 2 3
        // 4: hand at tail 1*: clear, step to 2; 2 evicted; hand -> 3.  Queue 1 3 4, hand ^3
        // hit 1, hit 4    -> 1* 3 4*, hand ^3
        // 5: 3 unvisited, evicted; hand -> 4.  Queue 1* 4* 5, hand ^4
        // 6: 4*: clear, step to 5; 5 unvisited, evicted (the new object goes first: SIEVE's
        //    quick demotion); 5 was the head, so the hand restarts at the tail.  Queue 1* 4 6
        // 7: hand at tail 1*: clear, step to 4; 4 evicted; hand -> 6.  Queue 1 6 7
        // 8: 6 evicted; hand -> 7.  Queue 1 7 8
        // 9: 7 evicted; hand -> 8
        let (p, ev) = run(Sieve::new(3), &u(&[1, 2, 3, 1, 4, 1, 4, 5, 6, 7, 8, 9]));
        assert_eq!(ids(&ev), vec![2, 3, 5, 4, 6, 7]);
        assert_eq!(p.name(), "sieve");
    }

    #[test]
    fn all_visited_wraps_to_the_tail() {
        // Capacity 4: 1 2 3 4, all hit -> 1* 2* 3* 4*.
        // 5: the hand clears 1..4, wraps to the tail 1 (now clear) and evicts it; hand -> 2.
        // 6: 2 evicted; hand -> 3. 7: 3 evicted; hand -> 4.
        let (_, ev) = run(Sieve::new(4), &u(&[1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7]));
        assert_eq!(ids(&ev), vec![1, 2, 3]);
    }

    #[test]
    fn sizes_evict_until_the_object_fits_and_oversize_is_refused() {
        // Capacity 10, tail..head: 1(4) 2(3) 3(2), used 9; hit 2 -> 1 2* 3.
        // 4(5) needs used <= 5: 1 evicted (used 5, hand -> 2* ), fits: 2* 3 4, used 10.
        // 5(11) larger than the cache: refused, nothing evicted.
        // 6(2): hand at 2*: clear, step to 3; 3 evicted (used 8); hand -> 4.  2 4 6, used 10.
        // 7(1): hand at 4, evicted (used 5); hand -> 6.  2 6 7, used 6.
        let (p, ev) = run(
            Sieve::new(10),
            &[
                (1, 4),
                (2, 3),
                (3, 2),
                (2, 3),
                (4, 5),
                (5, 11),
                (6, 2),
                (7, 1),
            ],
        );
        assert_eq!(ids(&ev), vec![1, 3, 4]);
        assert!(!p.contains(5));
        assert_eq!(p.used(), 6);
    }

    #[test]
    fn removing_the_object_under_the_hand_moves_the_hand_toward_the_head() {
        // Capacity 4, tail..head: 1 2 3 4; hit 1 -> 1* 2 3 4.
        // 5: hand clears 1, evicts 2; hand -> 3.  Queue 1 3 4 5, hand ^3.
        // remove 3 (under the hand): hand -> 4.  Queue 1 4 5.
        // hit 4 -> 1 4* 5. 6 fills: 1 4* 5 6.
        // 7: hand at 4*: clear, step to 5; 5 evicted; hand -> 6.  Queue 1 4 6 7.
        // remove 6 (under the hand): hand -> 7.  Queue 1 4 7.
        // remove 7 (under the hand, the head): hand -> none, i.e. the tail.  Queue 1 4.
        // 8 9 fill: 1 4 8 9.  10: hand at the tail: 1 evicted (not 8, where a stale hand
        // would have gone next).
        let mut p = Checked::new(Box::new(Sieve::new(4)));
        let mut ev = Vec::new();
        let mut go = |p: &mut Checked, ids: &[ObjId]| {
            for &id in ids {
                p.access(&Request::new(id, 1), &mut ev);
            }
        };
        go(&mut p, &[1, 2, 3, 4, 1, 5]);
        assert_eq!(p.remove(3), Some(1));
        go(&mut p, &[4, 6, 7]);
        assert_eq!(p.remove(6), Some(1));
        assert_eq!(p.remove(7), Some(1));
        assert_eq!(p.remove(7), None);
        go(&mut p, &[8, 9, 10]);
        assert_eq!(ids(&ev), vec![2, 5, 1]);
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn removing_everything_resets_cleanly() {
        // Capacity 3: 1 2 3, hit 1; 4: hand clears 1, evicts 2, hand -> 3.  Queue 1 3 4.
        // remove 3 (hand -> 4), 4 (the head: hand -> tail), 1: empty.
        // 5 6 7 fill; 8 evicts 5 from the tail.
        let mut p = Checked::new(Box::new(Sieve::new(3)));
        let mut ev = Vec::new();
        for id in [1, 2, 3, 1, 4] {
            p.access(&Request::new(id, 1), &mut ev);
        }
        assert_eq!(ids(&ev), vec![2]);
        for id in [3, 4, 1] {
            assert_eq!(p.remove(id), Some(1));
        }
        assert!(p.is_empty());
        for id in [5, 6, 7, 8] {
            p.access(&Request::new(id, 1), &mut ev);
        }
        assert_eq!(ids(&ev), vec![2, 5]);
    }

    #[test]
    fn spec_parsing() {
        assert_eq!(
            crate::build(&"sieve".parse().unwrap(), 5).unwrap().name(),
            "sieve"
        );
        assert!(crate::build(&"sieve:bits=1".parse().unwrap(), 5).is_err());
    }
}
