//! LFU: evict the least frequently used object; among equals, the one that reached that
//! frequency longest ago.
//!
//! This follows libCacheSim's `LFU` (and its `LFUCpp`, which gives the same figures): an
//! object enters with frequency 1, each hit adds 1, and the frequency is forgotten on
//! eviction (no ghost history). Within one frequency libCacheSim evicts in FIFO order of
//! arrival at that frequency, which is the same as least recently accessed, since an object
//! arrives at a frequency exactly when it is accessed.
//!
//! The structure is the classic O(1) LFU: a chain of frequency buckets in increasing order,
//! holding only non-empty frequencies, each bucket a list of its objects. A hit moves the
//! object to the bucket for the next frequency, which is either the next bucket in the chain
//! or a new one linked right after the current one; the victim is the tail of the first
//! bucket. Memory stays proportional to the objects held, however large frequencies grow.

use crate::index::SlotIndex;
use crate::list::{List, Slab, NIL};
use crate::params::{ParamError, Params, PolicySpec};
use crate::registry::PolicyInfo;
use crate::{Evicted, ObjId, Policy, Request};

pub const INFO: PolicyInfo = PolicyInfo {
    name: "lfu",
    about: "least frequently used: the lowest hit count is evicted, ties by least recent access",
    params: &[],
    build,
};

fn build(spec: &PolicySpec, capacity: u64) -> Result<Box<dyn Policy>, ParamError> {
    Params::new(spec, &[]).finish()?;
    Ok(Box::new(Lfu::new(capacity)))
}

/// A held object: its node lives in the slab, on the list of bucket `bucket`.
#[derive(Clone, Copy, Debug)]
struct Obj {
    id: ObjId,
    size: u64,
    bucket: u32,
}

/// Every held object with frequency `freq`, most recent arrival at the head. Buckets are
/// chained by `prev`/`next` in increasing frequency; an empty bucket is unlinked and freed.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    freq: u64,
    objs: List,
    prev: u32,
    next: u32,
}

pub struct Lfu {
    capacity: u64,
    used: u64,
    /// Id to slab slot (the id is the slot's node's).
    index: SlotIndex,
    slab: Slab<Obj>,
    buckets: Vec<Bucket>,
    free_buckets: Vec<u32>,
    /// The bucket with the lowest frequency, or `NIL` when nothing is held.
    first: u32,
}

impl Lfu {
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
            buckets: Vec::with_capacity(64),
            free_buckets: Vec::new(),
            first: NIL,
        }
    }

    /// The frequency of a held object (for tests and diagnostics).
    pub fn frequency(&self, id: ObjId) -> Option<u64> {
        let i = self.find(id)?;
        Some(self.buckets[self.slab.get(i).bucket as usize].freq)
    }

    /// A new empty bucket for `freq`, linked between `prev` and `next` (either may be `NIL`).
    fn new_bucket(&mut self, freq: u64, prev: u32, next: u32) -> u32 {
        let b = Bucket {
            freq,
            objs: List::default(),
            prev,
            next,
        };
        let i = match self.free_buckets.pop() {
            Some(i) => {
                self.buckets[i as usize] = b;
                i
            }
            None => {
                self.buckets.push(b);
                u32::try_from(self.buckets.len() - 1).expect("more than 2^32 buckets")
            }
        };
        if prev == NIL {
            self.first = i;
        } else {
            self.buckets[prev as usize].next = i;
        }
        if next != NIL {
            self.buckets[next as usize].prev = i;
        }
        i
    }

    /// Unlinks bucket `b`, which must be empty, from the chain and frees it.
    fn drop_bucket(&mut self, b: u32) {
        let Bucket { prev, next, .. } = self.buckets[b as usize];
        debug_assert!(self.buckets[b as usize].objs.is_empty());
        if prev == NIL {
            self.first = next;
        } else {
            self.buckets[prev as usize].next = next;
        }
        if next != NIL {
            self.buckets[next as usize].prev = prev;
        }
        self.free_buckets.push(b);
    }

    /// Unlinks object node `i` from its bucket, dropping the bucket if it empties.
    fn unlink_obj(&mut self, i: u32) {
        let b = self.slab.get(i).bucket;
        let objs = &mut self.buckets[b as usize].objs;
        self.slab.unlink(objs, i);
        if objs.is_empty() {
            self.drop_bucket(b);
        }
    }

    fn evict_one(&mut self, evicted: &mut Vec<Evicted>) {
        let b = self.first;
        assert_ne!(b, NIL, "used > 0 implies a held object");
        let objs = &mut self.buckets[b as usize].objs;
        let i = self.slab.pop_tail(objs).expect("buckets are never empty");
        if objs.is_empty() {
            self.drop_bucket(b);
        }
        let Obj { id, size, .. } = *self.slab.get(i);
        self.unindex(id);
        self.slab.free(i);
        self.used -= size;
        evicted.push(Evicted { id, size, slot: i });
    }

    /// One more access to held node `i`: moves it to the next frequency's bucket.
    #[inline]
    fn bump(&mut self, i: u32) {
        let b = self.slab.get(i).bucket;
        let Bucket {
            freq, objs, next, ..
        } = self.buckets[b as usize];
        let f = freq + 1;
        if next != NIL && self.buckets[next as usize].freq == f {
            self.slab.unlink(&mut self.buckets[b as usize].objs, i);
            self.slab
                .push_head(&mut self.buckets[next as usize].objs, i);
            self.slab.get_mut(i).bucket = next;
            if self.buckets[b as usize].objs.is_empty() {
                self.drop_bucket(b);
            }
        } else if objs.len() == 1 {
            // Alone at its frequency and no bucket for the next one: the bucket itself moves up.
            self.buckets[b as usize].freq = f;
        } else {
            let nb = self.new_bucket(f, b, next);
            self.slab.unlink(&mut self.buckets[b as usize].objs, i);
            self.slab.push_head(&mut self.buckets[nb as usize].objs, i);
            self.slab.get_mut(i).bucket = nb;
        }
    }
}

impl Policy for Lfu {
    fn name(&self) -> String {
        "lfu".to_string()
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
        self.bump(slot);
    }

    #[inline]
    fn touch(&mut self, req: &Request) -> bool {
        match self.find(req.id) {
            Some(i) => {
                self.bump(i);
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
        // Evictions may have emptied the frequency-1 bucket, so look for it only now.
        let b = if self.first != NIL && self.buckets[self.first as usize].freq == 1 {
            self.first
        } else {
            self.new_bucket(1, NIL, self.first)
        };
        let i = self.slab.alloc(Obj {
            id: req.id,
            size: req.size,
            bucket: b,
        });
        self.slab.push_head(&mut self.buckets[b as usize].objs, i);
        self.index_at(req.id, i);
        self.used += req.size;
        true
    }

    fn remove(&mut self, id: ObjId) -> Option<u64> {
        let i = self.unindex(id)?;
        self.unlink_obj(i);
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

    fn unit(ids: &[ObjId]) -> Vec<(ObjId, u64)> {
        ids.iter().map(|&i| (i, 1)).collect()
    }

    #[test]
    fn evicts_lowest_frequency_oldest_first_within_a_frequency() {
        // Capacity 3. 1 2 3 fill (all f=1). Hits: 1 (f2), 2 (f2), 1 (f3).
        // 4: f=1 holds only 3 -> evict 3. 5: f=1 holds 4 -> evict 4.
        // Hit 5 (f2, arrives after 2 did). 6: f=1 empty; f=2 holds 2 then 5 -> evict 2.
        // 7: f=1 holds 6 -> evict 6.
        let (p, ev) = run(Lfu::new(3), &unit(&[1, 2, 3, 1, 2, 1, 4, 5, 5, 6, 7]));
        assert_eq!(ids(&ev), vec![3, 4, 2, 6]);
        let mut held: Vec<_> = p.held().collect();
        held.sort();
        assert_eq!(held, vec![1, 5, 7]);
    }

    #[test]
    fn ties_go_to_the_object_that_reached_the_frequency_first() {
        // Capacity 3. 1 2 3 fill. Hits in order 3, 1, 2: all f=2, arrival order 3, 1, 2.
        // 4: no f=1 object, so the first to reach f=2 goes: 3. 5 evicts 4 and 6 evicts 5
        // (f=1 beats f=2). Hit 2 (f3). 7 evicts 6, 8 evicts 7. Hit 8 (f2, arriving after 1).
        // 9: f=1 is empty, and 1 reached f=2 before 8 did: 1 goes.
        let (_, ev) = run(
            Lfu::new(3),
            &unit(&[1, 2, 3, 3, 1, 2, 4, 5, 6, 2, 7, 8, 8, 9]),
        );
        assert_eq!(ids(&ev), vec![3, 4, 5, 6, 7, 1]);
    }

    #[test]
    fn frequencies_are_forgotten_on_eviction() {
        // Capacity 2. 1 is hit three times (f4); 2 enters (f1); 3 evicts 2; 2 comes back at
        // f1 (its old count is gone) and evicts 3; 4 evicts 2. 1 stays throughout.
        let (p, ev) = run(Lfu::new(2), &unit(&[1, 1, 1, 1, 2, 3, 2, 4]));
        assert_eq!(ids(&ev), vec![2, 3, 2]);
        assert!(p.contains(1));
        let mut l = Lfu::new(2);
        let mut ev = Vec::new();
        for id in [1, 1, 1, 1, 2, 3, 2] {
            l.access(&Request::new(id, 1), &mut ev);
        }
        assert_eq!(l.frequency(1), Some(4));
        assert_eq!(l.frequency(2), Some(1));
    }

    #[test]
    fn sizes_evict_until_the_object_fits_and_oversize_is_refused() {
        // Capacity 10. 1 (4) hit, 2 (4), 3 (2): full. 4 (7) needs used <= 3: evicts 2 (f1,
        // oldest; used 6), 3 (f1; used 4), then 1 (f2; used 0). 5 (11) is refused.
        let (p, ev) = run(
            Lfu::new(10),
            &[(1, 4), (1, 4), (2, 4), (3, 2), (4, 7), (5, 11)],
        );
        assert_eq!(ids(&ev), vec![2, 3, 1]);
        assert!(!p.contains(5));
        assert_eq!(p.used(), 7);
    }

    #[test]
    fn remove_unlinks_without_reporting_and_keeps_order() {
        let mut p = crate::Checked::new(Box::new(Lfu::new(3)));
        let mut ev = Vec::new();
        for id in [1, 2, 3, 2, 3] {
            p.access(&Request::new(id, 1), &mut ev);
        }
        // f=1: [1]; f=2: [2, 3]. Removing 1 drops the f=1 bucket; removing twice is a no-op.
        assert_eq!(p.remove(1), Some(1));
        assert_eq!(p.remove(1), None);
        assert!(ev.is_empty());
        // 4 fills the free slot at f=1; 5 evicts 4; 6 evicts 5; hit 6 (f2, after 2 and 3);
        // 7: f=1 is empty, so the first to reach f=2 goes: 2.
        for id in [4, 5, 6, 6, 7] {
            p.access(&Request::new(id, 1), &mut ev);
        }
        assert_eq!(ids(&ev), vec![4, 5, 2]);
        assert_eq!(p.remove(3), Some(1));
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn builds_from_the_registry_and_refuses_parameters() {
        let p = crate::build(&"lfu".parse().unwrap(), 100).unwrap();
        assert_eq!((p.name().as_str(), p.capacity()), ("lfu", 100));
        assert!(crate::build(&"lfu:k=1".parse().unwrap(), 100).is_err());
    }

    /// The O(1) bucket structure against a naive scan for the minimum
    /// (frequency, time of last access), on a pseudo-random trace with removals.
    #[test]
    fn agrees_with_a_naive_scan() {
        struct Naive {
            cap: u64,
            objs: Vec<(ObjId, u64, u64, u64)>, // id, size, freq, last access
        }
        let mut naive = Naive {
            cap: 40,
            objs: vec![],
        };
        let mut lfu = Lfu::new(40);
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let (mut ev, mut naive_ev) = (Vec::new(), Vec::new());
        for t in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = (x % 64) * (x % 64) % 97; // skewed
            let size = 1 + id % 7;
            if x % 23 == 11 {
                let want = naive
                    .objs
                    .iter()
                    .position(|o| o.0 == id)
                    .map(|i| naive.objs.remove(i).1);
                assert_eq!(lfu.remove(id), want);
                continue;
            }
            let hit = lfu.access(&Request::new(id, size), &mut ev);
            if let Some(o) = naive.objs.iter_mut().find(|o| o.0 == id) {
                o.2 += 1;
                o.3 = t;
                assert!(hit);
            } else {
                assert!(!hit);
                let mut used: u64 = naive.objs.iter().map(|o| o.1).sum();
                while used + size > naive.cap {
                    let i = (0..naive.objs.len())
                        .min_by_key(|&i| (naive.objs[i].2, naive.objs[i].3))
                        .unwrap();
                    let o = naive.objs.remove(i);
                    used -= o.1;
                    naive_ev.push(o.0);
                }
                naive.objs.push((id, size, 1, t));
            }
        }
        assert_eq!(ids(&ev), naive_ev);
        assert!(naive_ev.len() > 1000);
    }
}
