//! GDSF (Greedy-Dual-Size-Frequency): evict the object with the lowest priority
//! `L + freq × 10⁶ / size`, where `L` is the priority of the last object evicted.
//!
//! This follows libCacheSim's current `GDSF` exactly, so that its figures are matched:
//! - the priority is computed in `f64` as `L + (freq × 1.0e6) / size`, size in the units the
//!   cache is bounded in (bytes, or 1 in object mode); an object enters with frequency 1 and a
//!   hit adds 1 and recomputes the priority with the current `L`;
//! - on a miss the object is inserted first, priced with `L` as it stands before this miss's
//!   evictions, and only then are objects evicted while the cache is over capacity. So the
//!   newcomer itself is evicted at once when it is the cheapest (it is then reported in
//!   `evicted` and `admit` returns `false`), and it still raises `L`. Evicting before
//!   inserting, with the priority from the raised `L`, reproduces libCacheSim's older figures
//!   instead (a few misses apart);
//! - `L` (the "inflation" that ages old objects) becomes the priority of each evicted object;
//!   `remove` does not change it;
//! - ties in priority go to the object whose priority was set longest ago (libCacheSim keys
//!   its ordered set by `(priority, request time)`), so equal priorities are evicted FIFO;
//! - the frequency is forgotten on eviction.
//!
//! The priority queue is an indexed binary min-heap on `(priority bits, sequence)`: each
//! object record knows its entry's position, so a hit updates the key in place and sifts it
//! down (its key only grows), and `remove` takes the entry out directly, with no stale
//! entries to skip. Priorities are non-negative (or +∞ for a zero size), so their IEEE bit
//! patterns order like the values. Sequence numbers are unique, so the order is total and
//! the victim is the same as in libCacheSim's ordered set.

use crate::index::SlotIndex;
use crate::params::{ParamError, Params, PolicySpec};
use crate::registry::PolicyInfo;
use crate::{Evicted, ObjId, Policy, Request};

pub const INFO: PolicyInfo = PolicyInfo {
    name: "gdsf",
    about: "greedy dual size frequency: evicts the lowest L + freq/size, L rising to each victim's priority",
    params: &[],
    build,
};

fn build(spec: &PolicySpec, capacity: u64) -> Result<Box<dyn Policy>, ParamError> {
    Params::new(spec, &[]).finish()?;
    Ok(Box::new(Gdsf::new(capacity)))
}

/// A held object and where its entry sits in the heap.
#[derive(Clone, Copy, Debug)]
struct Obj {
    id: ObjId,
    size: u64,
    freq: u64,
    pos: u32,
}

/// A heap entry: the order key `(priority bits, seq)` kept inline for locality, and the
/// object it belongs to.
#[derive(Clone, Copy, Debug)]
struct Slot {
    pri: u64,
    seq: u64,
    obj: u32,
}

impl Slot {
    #[inline]
    fn key(&self) -> (u64, u64) {
        (self.pri, self.seq)
    }
}

pub struct Gdsf {
    capacity: u64,
    used: u64,
    /// Id to object record (the id is the record's).
    index: SlotIndex,
    objs: Vec<Obj>,
    free: Vec<u32>,
    /// A binary min-heap on `(priority, seq)`, 0-based.
    heap: Vec<Slot>,
    /// `L`: the priority of the last evicted object.
    inflation: f64,
    /// Incremented at every priority update; orders equal priorities by age.
    seq: u64,
}

impl Gdsf {
    /// The record of held `id`.
    #[inline]
    fn find(&self, id: ObjId) -> Option<u32> {
        self.index.get(id, |v| self.objs[v as usize].id)
    }

    /// Indexes `id` at record `i`, which already holds it.
    #[inline]
    fn index_at(&mut self, id: ObjId, i: u32) {
        let objs = &self.objs;
        self.index.insert(id, i, |v| objs[v as usize].id);
    }

    /// Takes `id` out of the index (its record must still hold it); returns its record.
    #[inline]
    fn unindex(&mut self, id: ObjId) -> Option<u32> {
        let objs = &self.objs;
        self.index.remove(id, |v| objs[v as usize].id)
    }

    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            used: 0,
            index: SlotIndex::with_capacity(1024),
            objs: Vec::with_capacity(1024),
            free: Vec::new(),
            heap: Vec::with_capacity(1024),
            inflation: 0.0,
            seq: 0,
        }
    }

    /// `L`, the current inflation value (for tests and diagnostics).
    pub fn inflation(&self) -> f64 {
        self.inflation
    }

    /// The current priority of a held object (for tests and diagnostics).
    pub fn priority(&self, id: ObjId) -> Option<f64> {
        let o = self.find(id)?;
        Some(f64::from_bits(
            self.heap[self.objs[o as usize].pos as usize].pri,
        ))
    }

    #[inline]
    fn priority_of(&self, freq: u64, size: u64) -> f64 {
        self.inflation + (freq as f64) * 1.0e6 / (size as f64)
    }

    #[inline]
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    #[inline]
    fn place(&mut self, pos: usize, slot: Slot) {
        self.objs[slot.obj as usize].pos = pos as u32;
        self.heap[pos] = slot;
    }

    /// Moves the entry at `pos` toward the root while it is smaller than its parent.
    fn sift_up(&mut self, mut pos: usize) {
        let slot = self.heap[pos];
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.heap[parent].key() <= slot.key() {
                break;
            }
            let p = self.heap[parent];
            self.place(pos, p);
            pos = parent;
        }
        self.place(pos, slot);
    }

    /// Moves the entry at `pos` toward the leaves while a child is smaller.
    fn sift_down(&mut self, mut pos: usize) {
        let len = self.heap.len();
        let slot = self.heap[pos];
        loop {
            let mut c = 2 * pos + 1;
            if c >= len {
                break;
            }
            if c + 1 < len && self.heap[c + 1].key() < self.heap[c].key() {
                c += 1;
            }
            if slot.key() <= self.heap[c].key() {
                break;
            }
            let child = self.heap[c];
            self.place(pos, child);
            pos = c;
        }
        self.place(pos, slot);
    }

    /// Takes the entry at `pos` out of the heap and returns it.
    fn heap_remove(&mut self, pos: usize) -> Slot {
        let slot = self.heap[pos];
        let last = self.heap.pop().expect("the heap holds the entry");
        if pos < self.heap.len() {
            self.place(pos, last);
            if last.key() < slot.key() {
                self.sift_up(pos);
            } else {
                self.sift_down(pos);
            }
        }
        slot
    }

    /// Frees object record `o`, already out of the heap, and of the map.
    fn release(&mut self, o: u32) -> Obj {
        let obj = self.objs[o as usize];
        self.unindex(obj.id);
        self.free.push(o);
        self.used -= obj.size;
        obj
    }

    /// Evicts the entry with the lowest `(priority, seq)` and returns its id.
    fn evict_one(&mut self, evicted: &mut Vec<Evicted>) -> ObjId {
        assert!(!self.heap.is_empty(), "used > 0 implies a held object");
        let slot = self.heap_remove(0);
        self.inflation = f64::from_bits(slot.pri);
        let Obj { id, size, .. } = self.release(slot.obj);
        evicted.push(Evicted {
            id,
            size,
            slot: slot.obj,
        });
        id
    }

    /// A hit on object record `o`: one more access, a new priority.
    #[inline]
    fn hit(&mut self, o: u32) {
        let obj = &mut self.objs[o as usize];
        obj.freq += 1;
        let (freq, size, pos) = (obj.freq, obj.size, obj.pos as usize);
        let pri = self.priority_of(freq, size).to_bits();
        let seq = self.next_seq();
        // Every held priority is at least L and L is the minimum evicted, so L never falls;
        // with seq growing too, the key only grows and the entry sinks. Sifting up otherwise
        // keeps the heap valid whatever happens to the arithmetic.
        let old = self.heap[pos].key();
        self.heap[pos].pri = pri;
        self.heap[pos].seq = seq;
        if (pri, seq) > old {
            self.sift_down(pos);
        } else {
            self.sift_up(pos);
        }
    }
}

impl Policy for Gdsf {
    fn name(&self) -> String {
        "gdsf".to_string()
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
        let Some(o) = self.find(req.id) else {
            return false;
        };
        self.hit(o);
        true
    }

    #[inline]
    fn touch_slot(&mut self, _req: &Request, slot: u32) {
        self.hit(slot);
    }

    fn admit(&mut self, req: &Request, evicted: &mut Vec<Evicted>) -> bool {
        if req.size > self.capacity {
            return false;
        }
        // As libCacheSim does: insert first, priced with L as it stands before this miss's
        // evictions, then evict while over capacity. The newcomer can be the victim: it has
        // the newest sequence number, so it loses only to strictly lower priorities.
        let pri = self.priority_of(1, req.size).to_bits();
        let seq = self.next_seq();
        let rec = Obj {
            id: req.id,
            size: req.size,
            freq: 1,
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
        crate::list::push_compact(&mut self.heap, Slot { pri, seq, obj: o });
        self.sift_up(self.heap.len() - 1);
        self.index_at(req.id, o);
        self.used += req.size;
        let mut admitted = true;
        while self.used > self.capacity {
            if self.evict_one(evicted) == req.id {
                admitted = false;
            }
        }
        admitted
    }

    fn remove(&mut self, id: ObjId) -> Option<u64> {
        // Not an eviction: L is left as it is.
        let o = self.find(id)?;
        self.heap_remove(self.objs[o as usize].pos as usize);
        Some(self.release(o).size)
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
    fn evicts_lowest_freq_over_size_and_inflates_l() {
        // Capacity 10 bytes. Priorities in units of 1e6; L starts at 0.
        // 1 (size 5): 0.2. 2 (size 2): 0.5. 3 (size 2): 0.5 -> used 9. Hit 1: 2/5 = 0.4.
        // 4 (size 2): priced at L = 0: 0.5; used 11: evicts the lowest, 1 (0.4); L = 0.4.
        // 5 (size 5): 0.4 + 0.2 = 0.6; used 11: evicts 2 (0.5, set before 3 and 4); L = 0.5.
        // 6 (size 4): 0.5 + 0.25 = 0.75; used 13: evicts 3 then 4 (0.5 each, in that order).
        let (p, ev) = run(
            Gdsf::new(10),
            &[(1, 5), (2, 2), (3, 2), (1, 5), (4, 2), (5, 5), (6, 4)],
        );
        assert_eq!(ids(&ev), vec![1, 2, 3, 4]);
        let mut held: Vec<_> = p.held().collect();
        held.sort();
        assert_eq!(held, vec![5, 6]);
    }

    #[test]
    fn equal_priorities_are_evicted_in_the_order_they_were_set() {
        // Object mode, capacity 3: priorities are L + freq × 1e6, listed in units of 1e6.
        // 1 2 3 enter at 1 (set in that order). Hit 1 -> 2; hit 2 -> 2 (set after 1's).
        // 4: 1 at L = 0; 3 and 4 tie at 1 and 3 is older: 3 goes; L = 1.
        // 5: L + 1 = 2; evicts 4 (1); L = 1. 6: 2; 1, 2 and 6 tie at 2: 1 goes; L = 2.
        // 7: 3; evicts 2 (2, older than 6). Hit 5 -> L + 2 = 4.
        // 8: 3; 6 (2) goes.
        let (_, ev) = run(Gdsf::new(3), &unit(&[1, 2, 3, 1, 2, 4, 5, 6, 7, 5, 8]));
        assert_eq!(ids(&ev), vec![3, 4, 1, 2, 6]);
    }

    #[test]
    fn a_newcomer_cheaper_than_everything_evicts_itself_and_still_raises_l() {
        // Capacity 4 bytes, units of 1e6. 1 (size 2): 0.5, hit twice -> 1.5. 2 (size 2): 0.5,
        // hit -> 1.0. Full. Then 3 (size 4) four times:
        // 0 + 0.25 = 0.25 is the lowest: 3 evicts itself; L = 0.25.
        // 0.25 + 0.25 = 0.5: itself again; L = 0.5. Then 0.75: itself; L = 0.75.
        // Then 1.0: ties with 2 (1.0), which is older and goes first; still over capacity,
        // 3 (1.0) is next below 1 (1.5): it goes too.
        let mut p = crate::Checked::new(Box::new(Gdsf::new(4)));
        let mut ev = Vec::new();
        for id in [1, 1, 1, 2, 2] {
            p.access(&Request::new(id, 2), &mut ev);
        }
        for _ in 0..4 {
            assert!(!p.admit(&Request::new(3, 4), &mut ev));
        }
        assert_eq!(ids(&ev), vec![3, 3, 3, 2, 3]);
        assert_eq!(p.used(), 2);
        assert!(p.contains(1));
    }

    #[test]
    fn inflation_follows_the_last_victim() {
        let mut g = Gdsf::new(2);
        let mut ev = Vec::new();
        for id in [1, 1, 2, 3] {
            g.access(&Request::new(id, 1), &mut ev);
        }
        // 1 is at 2e6, 2 at 1e6. 3 is priced at L = 0: 1e6, and ties with 2, which is older
        // and goes: L = 1e6.
        assert_eq!(ids(&ev), vec![2]);
        assert_eq!(g.inflation(), 1.0e6);
        assert_eq!(g.priority(3), Some(1.0e6));
        // 4 is priced at L + 1e6 = 2e6; 3 (1e6) goes; L stays 1e6.
        g.access(&Request::new(4, 1), &mut ev);
        assert_eq!(ids(&ev), vec![2, 3]);
        assert_eq!(g.priority(4), Some(2.0e6));
        assert_eq!(g.priority(1), Some(2.0e6));
        assert_eq!(g.inflation(), 1.0e6);
    }

    #[test]
    fn remove_leaves_l_alone_and_the_entry_is_skipped() {
        let mut p = crate::Checked::new(Box::new(Gdsf::new(3)));
        let mut ev = Vec::new();
        for id in [1, 2, 3, 1] {
            p.access(&Request::new(id, 1), &mut ev);
        }
        assert_eq!(p.remove(2), Some(1));
        assert_eq!(p.remove(2), None);
        // 4 fills the free slot; 5 evicts 3 (1e6), not the removed 2, nor 4 (set later).
        for id in [4, 5] {
            p.access(&Request::new(id, 1), &mut ev);
        }
        assert_eq!(ids(&ev), vec![3]);
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn the_heap_stays_ordered_through_hits_removals_and_evictions() {
        let mut g = Gdsf::new(200);
        let mut ev = Vec::new();
        for i in 0..5000u64 {
            let id = (i * 7919) % 263;
            g.access(&Request::new(id, 1 + id % 13), &mut ev);
            if i % 17 == 16 {
                g.remove((i * 31) % 263);
            }
            assert_eq!(g.heap.len(), g.len());
            for (pos, slot) in g.heap.iter().enumerate() {
                assert_eq!(g.objs[slot.obj as usize].pos as usize, pos);
                if pos > 0 {
                    assert!(g.heap[(pos - 1) / 2].key() <= slot.key(), "at {pos}");
                }
            }
        }
    }

    #[test]
    fn oversize_is_refused_without_evicting() {
        let (p, ev) = run(Gdsf::new(10), &[(1, 6), (2, 11)]);
        assert!(ev.is_empty());
        assert!(p.contains(1) && !p.contains(2));
    }

    #[test]
    fn builds_from_the_registry_and_refuses_parameters() {
        let p = crate::build(&"gdsf".parse().unwrap(), 100).unwrap();
        assert_eq!((p.name().as_str(), p.capacity()), ("gdsf", 100));
        assert!(crate::build(&"gdsf:k=1".parse().unwrap(), 100).is_err());
    }

    /// The indexed heap against a naive scan for the minimum (priority, seq), on a
    /// pseudo-random trace with removals.
    #[test]
    fn agrees_with_a_naive_scan() {
        // id, size, freq, priority, seq
        let mut objs: Vec<(ObjId, u64, u64, f64, u64)> = vec![];
        let (cap, mut l, mut seq) = (40u64, 0.0f64, 0u64);
        let mut g = Gdsf::new(cap);
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let (mut ev, mut naive_ev) = (Vec::new(), Vec::new());
        for _ in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = (x % 64) * (x % 64) % 97; // skewed
            let size = 1 + id % 7;
            if x % 23 == 11 {
                let want = objs
                    .iter()
                    .position(|o| o.0 == id)
                    .map(|i| objs.remove(i).1);
                assert_eq!(g.remove(id), want);
                continue;
            }
            let hit = g.access(&Request::new(id, size), &mut ev);
            seq += 1;
            if let Some(o) = objs.iter_mut().find(|o| o.0 == id) {
                o.2 += 1;
                o.3 = l + (o.2 as f64) * 1.0e6 / (o.1 as f64);
                o.4 = seq;
                assert!(hit);
            } else {
                assert!(!hit);
                objs.push((id, size, 1, l + 1.0e6 / size as f64, seq));
                let mut used: u64 = objs.iter().map(|o| o.1).sum();
                while used > cap {
                    let i = (0..objs.len())
                        .min_by(|&a, &b| {
                            (objs[a].3, objs[a].4)
                                .partial_cmp(&(objs[b].3, objs[b].4))
                                .unwrap()
                        })
                        .unwrap();
                    let o = objs.remove(i);
                    used -= o.1;
                    l = o.3;
                    naive_ev.push(o.0);
                }
            }
        }
        assert_eq!(ids(&ev), naive_ev);
        assert!(naive_ev.len() > 1000);
    }
}
