//! CLOCK (FIFO-Reinsertion, second chance): a FIFO whose tail object survives eviction, and is
//! reinserted at the head, while its reference counter is above zero.
//!
//! Semantics are libCacheSim's `Clock` (`n-bit-counter`, default 1): an object is admitted at
//! the head with counter 0; a hit increments the counter, saturating at `2^bits - 1`; to evict,
//! the tail is examined: a non-zero counter is decremented and the object moved to the head,
//! and the first tail found at 0 is evicted. With one bit this is the textbook CLOCK.
//!
//! The queue is a slab-threaded list rather than a ring with a hand: with byte-sized objects an
//! admission may evict several objects or none, so "insert just behind the hand" would need
//! shifting in a ring. The list gives the same order with O(1) moves and stable `u32` indices,
//! so a hit is one hash probe and one counter write.

use crate::index::SlotIndex;
use crate::list::{List, Slab};
use crate::params::{ParamError, Params, PolicySpec};
use crate::registry::PolicyInfo;
use crate::{Evicted, ObjId, Policy, Request};

pub const INFO: PolicyInfo = PolicyInfo {
    name: "clock",
    about: "FIFO with reinsertion (second chance): a hit sets a reference counter, the tail is \
            reinserted at the head while its counter is non-zero (decrementing it), else evicted",
    params: &["bits=1"],
    build,
};

/// The widest counter accepted. libCacheSim takes any width; 8 bits (255 reinsertions without
/// a hit) is already far beyond what anyone simulates, and keeps the counter in a `u8`.
pub const MAX_BITS: u64 = 8;

fn build(spec: &PolicySpec, capacity: u64) -> Result<Box<dyn Policy>, ParamError> {
    let mut p = Params::new(spec, &["bits"]);
    let bits = p.integer("bits", 1, 1, MAX_BITS)?;
    p.finish()?;
    Ok(Box::new(Clock::with_bits(capacity, bits as u32)))
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    id: ObjId,
    size: u64,
    /// Hits not yet spent on a reinsertion, at most `max_freq`.
    freq: u8,
}

/// CLOCK with an n-bit reference counter per object.
pub struct Clock {
    capacity: u64,
    used: u64,
    bits: u32,
    max_freq: u8,
    /// Id to slab slot (the id is the slot's node's).
    index: SlotIndex,
    slab: Slab<Entry>,
    /// Head: most recently admitted or reinserted. Tail: next to be examined.
    list: List,
}

impl Clock {
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

    /// One reference bit: the classic CLOCK, libCacheSim's default.
    pub fn new(capacity: u64) -> Self {
        Self::with_bits(capacity, 1)
    }

    /// A counter of `bits` bits (1 ..= [`MAX_BITS`]), saturating at `2^bits - 1`.
    pub fn with_bits(capacity: u64, bits: u32) -> Self {
        assert!(
            (1..=MAX_BITS as u32).contains(&bits),
            "clock: bits must be 1..={MAX_BITS}"
        );
        Self {
            capacity,
            used: 0,
            bits,
            max_freq: ((1u32 << bits) - 1) as u8,
            index: SlotIndex::with_capacity(1024),
            slab: Slab::with_capacity(1024),
            list: List::default(),
        }
    }

    /// Examines the tail until one object has a zero counter, reinserting the others at the
    /// head with their counter decremented, and evicts it. Terminates: every pass over the
    /// queue lowers every counter.
    fn evict_one(&mut self, evicted: &mut Vec<Evicted>) {
        let t = loop {
            let t = self.list.tail().expect("used > 0 implies a held object");
            let e = self.slab.get_mut(t);
            if e.freq == 0 {
                break t;
            }
            e.freq -= 1;
            self.slab.move_to_head(&mut self.list, t);
        };
        self.slab.unlink(&mut self.list, t);
        let Entry { id, size, .. } = *self.slab.get(t);
        self.unindex(id);
        self.slab.free(t);
        self.used -= size;
        evicted.push(Evicted { id, size, slot: t });
    }

    #[inline]
    fn hit(&mut self, i: u32) {
        let e = self.slab.get_mut(i);
        if e.freq < self.max_freq {
            e.freq += 1;
        }
    }
}

impl Policy for Clock {
    fn name(&self) -> String {
        format!("clock:bits={}", self.bits)
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
        let i = self.slab.alloc(Entry {
            id: req.id,
            size: req.size,
            freq: 0,
        });
        self.slab.push_head(&mut self.list, i);
        self.index_at(req.id, i);
        self.used += req.size;
        true
    }

    fn remove(&mut self, id: ObjId) -> Option<u64> {
        let i = self.unindex(id)?;
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

    fn u(ids: &[ObjId]) -> Vec<(ObjId, u64)> {
        ids.iter().map(|&i| (i, 1)).collect()
    }

    #[test]
    fn second_chance_in_order() {
        // Capacity 3. Queue written head..tail, counters in brackets.
        // 1 2 3        -> 3[0] 2[0] 1[0]
        // hit 1        -> 3 2 1[1]
        // 4: tail 1[1] -> reinsert 1[0] at head: 1 3 2; tail 2[0] evicted -> 4 1 3
        // hit 3        -> 4 1 3[1]
        // 5: 3[1] -> 3[0] to head: 3 4 1; tail 1[0] evicted -> 5 3 4
        // 6: tail 4[0] evicted -> 6 5 3
        // 7: tail 3[0] evicted -> 7 6 5
        let (p, ev) = run(Clock::new(3), &u(&[1, 2, 3, 1, 4, 3, 5, 6, 7]));
        assert_eq!(ids(&ev), vec![2, 1, 4, 3]);
        assert_eq!(p.name(), "clock:bits=1");
    }

    #[test]
    fn one_bit_saturates_and_all_referenced_degrades_to_fifo() {
        // Capacity 3: 1 2 3, hit each twice (one bit: counters stay 1) -> 3[1] 2[1] 1[1].
        // 4: 1,2,3 are each reinserted with counter 0 (order 3 2 1 again), then 1 is evicted.
        // 5: tail 2[0] evicted. 6: tail 3[0] evicted.
        let (_, ev) = run(Clock::new(3), &u(&[1, 2, 3, 1, 2, 3, 1, 2, 3, 4, 5, 6]));
        assert_eq!(ids(&ev), vec![1, 2, 3]);
    }

    #[test]
    fn two_bit_counter_grants_more_chances() {
        // bits=2: counters saturate at 3. Capacity 3.
        // 1 2 3, hit 1 twice -> 3[0] 2[0] 1[2]
        // 4: 1[2] -> 1[1] to head (1 3 2); tail 2[0] evicted -> 4 1[1] 3
        // 5: tail 3[0] evicted -> 5 4 1[1]
        // 6: 1[1] -> 1[0] to head (1 5 4); tail 4 evicted -> 6 1 5
        // 7: tail 5 evicted -> 7 6 1
        // 8: tail 1[0] evicted
        let (p, ev) = run(Clock::with_bits(3, 2), &u(&[1, 2, 3, 1, 1, 4, 5, 6, 7, 8]));
        assert_eq!(ids(&ev), vec![2, 3, 4, 5, 1]);
        assert_eq!(p.name(), "clock:bits=2");
    }

    #[test]
    fn sizes_evict_until_the_object_fits_and_oversize_is_refused() {
        // Capacity 10: 1(4) 2(3) 3(2) -> used 9; hit 1 -> 1[1].
        // 4(5) needs used <= 5: tail 1[1] reinserted at head (3 2 ... -> 1 3 2), then 2 (used 6)
        // and 3 (used 4) evicted; 4 admitted, used 9.
        // 5(11) is larger than the cache: refused, nothing evicted.
        // 6(1): fits exactly (used 10), nothing evicted.
        // 7(3): tail 1[0] evicted (used 6), then 7 admitted (used 9).
        let (p, ev) = run(
            Clock::new(10),
            &[
                (1, 4),
                (2, 3),
                (3, 2),
                (1, 4),
                (4, 5),
                (5, 11),
                (6, 1),
                (7, 3),
            ],
        );
        assert_eq!(ids(&ev), vec![2, 3, 1]);
        assert!(!p.contains(5));
        assert_eq!(p.used(), 9);
    }

    #[test]
    fn a_hit_keeps_the_admitted_size() {
        let (p, _) = run(Clock::new(10), &[(1, 4), (1, 9)]);
        assert_eq!(p.used(), 4);
    }

    #[test]
    fn remove_unlinks_without_reporting() {
        // Capacity 3: 1 2 3; remove 1 (the tail) and 3 (the head); 4 5 fill; 6 evicts 2.
        let mut p = crate::Checked::new(Box::new(Clock::new(3)));
        let mut ev = Vec::new();
        for id in [1, 2, 3] {
            p.access(&Request::new(id, 1), &mut ev);
        }
        assert_eq!(p.remove(1), Some(1));
        assert_eq!(p.remove(3), Some(1));
        assert_eq!(p.remove(3), None);
        for id in [4, 5, 6] {
            p.access(&Request::new(id, 1), &mut ev);
        }
        assert_eq!(ids(&ev), vec![2]);
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn spec_parsing() {
        let p = crate::build(&"clock".parse().unwrap(), 5).unwrap();
        assert_eq!(p.name(), "clock:bits=1");
        let p = crate::build(&"clock:bits=3".parse().unwrap(), 5).unwrap();
        assert_eq!(p.name(), "clock:bits=3");
        assert!(crate::build(&"clock:bits=0".parse().unwrap(), 5).is_err());
        assert!(crate::build(&"clock:bits=9".parse().unwrap(), 5).is_err());
        assert!(crate::build(&"clock:bit=1".parse().unwrap(), 5).is_err());
    }
}
