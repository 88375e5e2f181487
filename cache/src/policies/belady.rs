//! Belady's MIN (offline optimal for unit sizes): evict the object whose next request is
//! furthest in the future; objects never requested again go first.
//!
//! It reads [`Request::next_access`], which only a trace replay can supply; a caller that
//! passes [`crate::NEVER`] everywhere gets an arbitrary (but deterministic) order.
//!
//! This follows libCacheSim's `Belady`: a max-heap keyed by each held object's next access
//! time, updated in place on every hit, the root evicted. Never-again objects all share the
//! key `NEVER`, so which of them goes first depends on the heap's shape. To evict the same
//! object as libCacheSim, this heap replays the exact moves of libCacheSim's `pqueue` (a
//! 1-based indexed binary heap, itself from libpqueue): `insert` sifts up while the parent is
//! strictly smaller; the root is replaced by the last element, which sifts down toward the
//! larger child (the right child only when strictly larger) while strictly smaller; a key
//! change sifts up when the key grew and down otherwise; a removal moves the last element
//! into the hole and sifts it up if the removed key was smaller, down otherwise. Every
//! operation is O(log n), with positions kept in the object records so a hit finds its node
//! without searching.

use crate::params::{ParamError, Params, PolicySpec};
use crate::registry::PolicyInfo;
use crate::{id_map_with_capacity, Evicted, IdMap, ObjId, Policy, Request};

pub const INFO: PolicyInfo = PolicyInfo {
    name: "belady",
    about: "offline optimal (MIN): evicts the object requested furthest in the future; needs next-access times",
    params: &[],
    build,
};

fn build(spec: &PolicySpec, capacity: u64) -> Result<Box<dyn Policy>, ParamError> {
    Params::new(spec, &[]).finish()?;
    Ok(Box::new(Belady::new(capacity)))
}

/// A held object and where its key sits in the heap.
#[derive(Clone, Copy, Debug)]
struct Obj {
    id: ObjId,
    size: u64,
    /// Its next access time: the heap key.
    next: u64,
    /// Its index in `heap` (1-based; 0 is never used).
    pos: u32,
}

pub struct Belady {
    capacity: u64,
    used: u64,
    map: IdMap<u32>,
    objs: Vec<Obj>,
    free: Vec<u32>,
    /// The heap of indices into `objs`; `heap[0]` is a placeholder so that the children of
    /// `i` are `2i` and `2i + 1`, as in libCacheSim.
    heap: Vec<u32>,
}

impl Belady {
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            used: 0,
            map: id_map_with_capacity(1024),
            objs: Vec::with_capacity(1024),
            free: Vec::new(),
            heap: {
                let mut h = Vec::with_capacity(1024);
                h.push(u32::MAX);
                h
            },
        }
    }

    /// The next access time recorded for a held object (for tests and diagnostics).
    pub fn next_access(&self, id: ObjId) -> Option<u64> {
        self.map.get(&id).map(|&o| self.objs[o as usize].next)
    }

    #[inline]
    fn key(&self, pos: usize) -> u64 {
        self.objs[self.heap[pos] as usize].next
    }

    #[inline]
    fn place(&mut self, pos: usize, o: u32) {
        self.heap[pos] = o;
        self.objs[o as usize].pos = pos as u32;
    }

    /// Moves the node at `pos` toward the root while its parent's key is strictly smaller.
    fn sift_up(&mut self, mut pos: usize) {
        let o = self.heap[pos];
        let k = self.objs[o as usize].next;
        while pos > 1 && self.key(pos / 2) < k {
            let p = self.heap[pos / 2];
            self.place(pos, p);
            pos /= 2;
        }
        self.place(pos, o);
    }

    /// Moves the node at `pos` toward the leaves while its larger child's key is strictly
    /// larger; the right child counts as larger only when strictly larger than the left.
    fn sift_down(&mut self, mut pos: usize) {
        let len = self.heap.len();
        let o = self.heap[pos];
        let k = self.objs[o as usize].next;
        loop {
            let mut c = 2 * pos;
            if c >= len {
                break;
            }
            if c + 1 < len && self.key(c) < self.key(c + 1) {
                c += 1;
            }
            if k >= self.key(c) {
                break;
            }
            let child = self.heap[c];
            self.place(pos, child);
            pos = c;
        }
        self.place(pos, o);
    }

    /// Takes the node at heap position `pos` out of the heap, as libCacheSim's
    /// `pqueue_remove` (and, at the root, `pqueue_pop`) does.
    fn heap_remove(&mut self, pos: usize) {
        let removed_key = self.key(pos);
        let last = self.heap.pop().expect("the heap holds the node");
        if pos == self.heap.len() {
            return; // it was the last node
        }
        self.place(pos, last);
        if removed_key < self.objs[last as usize].next {
            self.sift_up(pos);
        } else {
            self.sift_down(pos);
        }
    }

    /// Frees object record `o`, already out of the heap and the map.
    fn release(&mut self, o: u32) -> Obj {
        let obj = self.objs[o as usize];
        self.free.push(o);
        self.used -= obj.size;
        obj
    }

    fn evict_one(&mut self, evicted: &mut Vec<Evicted>) {
        assert!(self.heap.len() > 1, "used > 0 implies a held object");
        let o = self.heap[1];
        self.heap_remove(1);
        let Obj { id, size, .. } = self.release(o);
        self.map.remove(&id);
        evicted.push(Evicted { id, size, slot: o });
    }

    /// A hit on object record `o`: its next access is now `next`.
    #[inline]
    fn hit(&mut self, o: u32, next: u64) {
        let obj = &mut self.objs[o as usize];
        let old = obj.next;
        obj.next = next;
        let pos = obj.pos as usize;
        if old < next {
            self.sift_up(pos);
        } else {
            self.sift_down(pos);
        }
    }
}

impl Policy for Belady {
    fn name(&self) -> String {
        "belady".to_string()
    }
    fn capacity(&self) -> u64 {
        self.capacity
    }
    fn used(&self) -> u64 {
        self.used
    }
    fn len(&self) -> usize {
        self.map.len()
    }
    fn contains(&self, id: ObjId) -> bool {
        self.map.contains_key(&id)
    }

    fn slot(&self, id: ObjId) -> Option<u32> {
        self.map.get(&id).copied()
    }

    #[inline]
    fn touch(&mut self, req: &Request) -> bool {
        let Some(&o) = self.map.get(&req.id) else {
            return false;
        };
        self.hit(o, req.next_access);
        true
    }

    #[inline]
    fn touch_slot(&mut self, req: &Request, slot: u32) {
        self.hit(slot, req.next_access);
    }

    fn admit(&mut self, req: &Request, evicted: &mut Vec<Evicted>) -> bool {
        if req.size > self.capacity {
            return false;
        }
        while self.used + req.size > self.capacity {
            self.evict_one(evicted);
        }
        let rec = Obj {
            id: req.id,
            size: req.size,
            next: req.next_access,
            pos: 0,
        };
        let o = match self.free.pop() {
            Some(o) => {
                self.objs[o as usize] = rec;
                o
            }
            None => {
                crate::list::push_compact(&mut self.objs, rec);
                u32::try_from(self.objs.len() - 1).expect("more than 2^32 cached objects")
            }
        };
        crate::list::push_compact(&mut self.heap, o);
        self.sift_up(self.heap.len() - 1);
        self.map.insert(req.id, o);
        self.used += req.size;
        true
    }

    fn remove(&mut self, id: ObjId) -> Option<u64> {
        let o = self.map.remove(&id)?;
        self.heap_remove(self.objs[o as usize].pos as usize);
        Some(self.release(o).size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Checked, NEVER};

    /// Replays `(id, size)` pairs with next-access times computed from the sequence itself,
    /// as a trace's oracle would, and returns the policy and the evicted ids in order.
    fn replay(p: Belady, reqs: &[(ObjId, u64)]) -> (Checked, Vec<ObjId>) {
        let mut next = vec![NEVER; reqs.len()];
        let mut seen: IdMap<u64> = IdMap::default();
        for (i, &(id, _)) in reqs.iter().enumerate().rev() {
            if let Some(&n) = seen.get(&id) {
                next[i] = n;
            }
            seen.insert(id, i as u64);
        }
        let mut c = Checked::new(Box::new(p));
        let mut ev = Vec::new();
        for (i, &(id, size)) in reqs.iter().enumerate() {
            c.access(
                &Request {
                    id,
                    size,
                    next_access: next[i],
                },
                &mut ev,
            );
        }
        (c, ev.iter().map(|e| e.id).collect())
    }

    fn unit(ids: &[ObjId]) -> Vec<(ObjId, u64)> {
        ids.iter().map(|&i| (i, 1)).collect()
    }

    #[test]
    fn evicts_the_furthest_next_access() {
        // Capacity 3. Times: 0:1 1:2 2:3 3:4 4:1 5:2 6:3 7:1 8:2.
        // At 3 (4 arrives): next uses are 1@4, 2@5, 3@6 -> evict 3.
        // 4 is never used again. At 6 (3 arrives): 1@7, 2@8, 4 never -> evict 4.
        let (p, ev) = replay(Belady::new(3), &unit(&[1, 2, 3, 4, 1, 2, 3, 1, 2]));
        assert_eq!(ev, vec![3, 4]);
        let mut held: Vec<_> = p.held().collect();
        held.sort();
        assert_eq!(held, vec![1, 2, 3]);
    }

    #[test]
    fn never_again_ties_follow_libcachesim_heap_order() {
        // Capacity 3; 1, 2, 3 are never requested again, so all three keys are NEVER.
        // Heap after inserts: [1, 2, 3] (nothing moves up past an equal parent).
        // 4 arrives: pop the root, 1; 3 (last) moves to the root and stays (children equal):
        //   heap [3, 2]; 4 is appended: [3, 2, 4].
        // 5: pop 3; 4 moves to the root and stays: [4, 2]; 5 appended: [4, 2, 5].
        // 6: pop 4: [5, 2] + 6. 7: pop 5: [6, 2] + 7.
        // So 2, the first object's sibling, outlives every later arrival.
        let (p, ev) = replay(Belady::new(3), &unit(&[1, 2, 3, 4, 5, 6, 7]));
        assert_eq!(ev, vec![1, 3, 4, 5]);
        assert!(p.contains(2));
    }

    #[test]
    fn a_hit_reorders_and_never_again_goes_first() {
        // Capacity 3. Times: 0:1 1:2 2:3 3:1 4:4 5:2 6:3 7:5 8:3.
        // Inserts: 1@3, 2@5 climbs over 1, 3@6 climbs to the root: heap [3, 1, 2].
        // Time 3: 1's key becomes NEVER and it climbs to the root: [1, 3, 2].
        // Time 4 (4 arrives): evict the root, 1; 2 (last) moves to the root and sinks below
        //   3 (6): [3, 2]; 4 (NEVER) is appended and climbs to the root: [4, 2, 3].
        // Time 5: 2's key becomes NEVER, but it does not climb past its equal parent 4.
        // Time 6: 3's key becomes 8. Time 7 (5 arrives): 2 and 4 are both NEVER; 4 is the
        //   root, so 4 goes, not 2.
        let (_, ev) = replay(Belady::new(3), &unit(&[1, 2, 3, 1, 4, 2, 3, 5, 3]));
        assert_eq!(ev, vec![1, 4]);
    }

    #[test]
    fn sizes_evict_until_the_object_fits_and_oversize_is_refused() {
        // Capacity 10. 1 (4), 2 (4), 3 (2): full. 4 (7) needs used <= 3. Next uses: 1@5, 2@6,
        // 3 never: evict 3 (used 8), then 2 (used 4), then 1 (used 0). 5 (11) is refused.
        // 1 comes back and evicts 4 (never used again); 2 then fits.
        let (p, ev) = replay(
            Belady::new(10),
            &[(1, 4), (2, 4), (3, 2), (4, 7), (5, 11), (1, 4), (2, 4)],
        );
        assert_eq!(ev, vec![3, 2, 1, 4]);
        assert!(!p.contains(5));
    }

    #[test]
    fn remove_takes_the_node_out_of_the_heap() {
        let mut p = Checked::new(Box::new(Belady::new(3)));
        let mut ev = Vec::new();
        let req = |id, next| Request {
            id,
            size: 1,
            next_access: next,
        };
        for (id, next) in [(1, 10), (2, 20), (3, 30)] {
            p.access(&req(id, next), &mut ev);
        }
        assert_eq!(p.remove(3), Some(1));
        assert_eq!(p.remove(3), None);
        p.access(&req(4, 15), &mut ev);
        assert!(ev.is_empty());
        // 5 (40) evicts the furthest, 2 (20); 6 (12) then evicts 5 (40).
        p.access(&req(5, 40), &mut ev);
        p.access(&req(6, 12), &mut ev);
        assert_eq!(ev.iter().map(|e| e.id).collect::<Vec<_>>(), vec![2, 5]);
        // Removing from the middle of a larger heap keeps it valid.
        let mut b = Belady::new(100);
        let mut ev = Vec::new();
        for id in 0..50u64 {
            b.access(&req(id, (id * 37) % 101), &mut ev);
        }
        for id in (0..50u64).step_by(3) {
            assert_eq!(b.remove(id), Some(1));
        }
        for i in 2..b.heap.len() {
            assert!(b.key(i / 2) >= b.key(i), "heap order broken at {i}");
            assert_eq!(b.objs[b.heap[i] as usize].pos as usize, i);
        }
        let mut last = u64::MAX;
        while !b.is_empty() {
            let mut ev = Vec::new();
            let top = b.key(1);
            assert!(top <= last);
            last = top;
            b.evict_one(&mut ev);
        }
    }

    #[test]
    fn builds_from_the_registry_and_refuses_parameters() {
        let p = crate::build(&"belady".parse().unwrap(), 100).unwrap();
        assert_eq!((p.name().as_str(), p.capacity()), ("belady", 100));
        assert!(crate::build(&"belady:k=1".parse().unwrap(), 100).is_err());
    }

    /// Away from ties (every key distinct), the victim is simply the furthest next access:
    /// checked against a naive scan on a pseudo-random trace with removals.
    #[test]
    fn agrees_with_a_naive_scan_when_keys_are_distinct() {
        let mut objs: Vec<(ObjId, u64, u64)> = vec![]; // id, size, next
        let cap = 40u64;
        let mut b = Belady::new(cap);
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let (mut ev, mut naive_ev) = (Vec::new(), Vec::new());
        for t in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = (x % 64) * (x % 64) % 97;
            let size = 1 + id % 7;
            // A made-up but distinct future: keys never repeat.
            let next = (x >> 20) % 1_000_000 * 100_000 + t;
            if x % 23 == 11 {
                let want = objs
                    .iter()
                    .position(|o| o.0 == id)
                    .map(|i| objs.remove(i).1);
                assert_eq!(b.remove(id), want);
                continue;
            }
            let req = Request {
                id,
                size,
                next_access: next,
            };
            let hit = b.access(&req, &mut ev);
            if let Some(o) = objs.iter_mut().find(|o| o.0 == id) {
                o.2 = next;
                assert!(hit);
            } else {
                assert!(!hit);
                let mut used: u64 = objs.iter().map(|o| o.1).sum();
                while used + size > cap {
                    let i = (0..objs.len()).max_by_key(|&i| objs[i].2).unwrap();
                    let o = objs.remove(i);
                    used -= o.1;
                    naive_ev.push(o.0);
                }
                objs.push((id, size, next));
            }
        }
        assert_eq!(ev.iter().map(|e| e.id).collect::<Vec<_>>(), naive_ev);
        assert!(naive_ev.len() > 1000);
    }
}
