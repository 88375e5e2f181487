//! ARC (Megiddo & Modha, FAST '03) in libCacheSim's size-aware form.
//!
//! Four LRU lists share one slab: T1 (seen once recently) and T2 (seen at least twice) hold
//! data; B1 and B2 remember the ids and sizes of what T1 and T2 lost. A target `p` for T1's
//! share moves toward whichever ghost list is being hit. Every quantity is in size units
//! (bytes in byte mode), exactly as libCacheSim's `ARC.c` keeps it, so that the golden
//! figures of its `test_evictionAlgo.c` are reproduced to the request:
//!
//! - `p` is a float (an older `ARC.c` kept an integer `p` and REPLACEd only once per ghost hit;
//!   the current one, followed here, is what reproduces the golden figures) and moves by `max(|B2| / |B1|, 1)` on a B1 hit (`max(|B1| / |B2|, 1)` down
//!   on a B2 hit), the list sizes being byte totals. In byte mode this makes `p` move by a
//!   handful of bytes per ghost hit, which is what libCacheSim does (it is the paper's rule
//!   with sizes substituted for page counts, not a size-weighted variant).
//! - REPLACE demotes T1's tail when `T1 > 0 && (T1 > p || (T1 == p && hit was in B2))`, or
//!   when T2 is empty; otherwise T2's tail.
//! - On a miss in all four lists (case IV) each eviction first trims history: if
//!   `T1 + B1 + incoming > c`, drop B1's tail and REPLACE, or, B1 being empty, evict T1's tail
//!   outright with no ghost; otherwise, if `T1 + B1 + T2 + B2 >= 2c`, drop B2's tail (if any)
//!   and REPLACE.
//! - On a ghost hit every eviction the request needs is a plain REPLACE, and the object is
//!   admitted to T2.
//! - libCacheSim's "the last ghost hit was in B2" flag survives a request whose object was not
//!   found at all (it is cleared only when an object, data or ghost, is found, or on a
//!   ghost-hit insertion); that flag feeds REPLACE's tie rule, so it is kept the same way.

use crate::index::SlotIndex;
use crate::list::{List, Slab};
use crate::params::{ParamError, Params, PolicySpec};
use crate::registry::PolicyInfo;
use crate::{Evicted, ObjId, Policy, Request};

pub const INFO: PolicyInfo = PolicyInfo {
    name: "arc",
    about: "adaptive replacement cache: recency (T1) and frequency (T2) lists sized by ghost hits",
    params: &[],
    build,
};

fn build(spec: &PolicySpec, capacity: u64) -> Result<Box<dyn Policy>, ParamError> {
    Params::new(spec, &[]).finish()?;
    Ok(Box::new(Arc::new(capacity)))
}

/// Which of the four lists a node is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    T1,
    T2,
    B1,
    B2,
}

#[derive(Clone, Copy, Debug)]
struct Node {
    id: ObjId,
    size: u64,
    at: Where,
}

/// The ARC state. Ghost entries live in the same map and slab as data entries.
pub struct Arc {
    capacity: u64,
    /// Id to slab slot, data and ghost nodes alike (the id is the node's).
    index: SlotIndex,
    slab: Slab<Node>,
    t1: List,
    t2: List,
    b1: List,
    b2: List,
    /// Byte totals of the four lists; `t1_bytes + t2_bytes` is `used()`.
    t1_bytes: u64,
    t2_bytes: u64,
    b1_bytes: u64,
    b2_bytes: u64,
    /// Target size of T1, in size units, kept as a float like libCacheSim's.
    p: f64,
    /// The most recent found object was a ghost hit in B1 / B2 (see the module notes).
    in_b1: bool,
    in_b2: bool,
    /// The request being admitted was a ghost hit: evict by REPLACE only, insert into T2.
    ghost_hit_now: bool,
}

impl Arc {
    /// The node of `id`, data or ghost.
    #[inline]
    fn find(&self, id: ObjId) -> Option<u32> {
        self.index.get(id, |v| self.slab.get(v).id)
    }

    /// Indexes `id` at record `i`, which already holds it.
    #[inline]
    fn index_at(&mut self, id: ObjId, i: u32) {
        let slab = &self.slab;
        self.index.insert(id, i, |v| slab.get(v).id);
    }

    /// Takes `id` out of the index (its record must still hold it); returns its record.
    #[inline]
    fn unindex(&mut self, id: ObjId) -> Option<u32> {
        let slab = &self.slab;
        self.index.remove(id, |v| slab.get(v).id)
    }

    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            index: SlotIndex::with_capacity(1024),
            slab: Slab::with_capacity(1024),
            t1: List::default(),
            t2: List::default(),
            b1: List::default(),
            b2: List::default(),
            t1_bytes: 0,
            t2_bytes: 0,
            b1_bytes: 0,
            b2_bytes: 0,
            p: 0.0,
            in_b1: false,
            in_b2: false,
            ghost_hit_now: false,
        }
    }

    /// The adaptive target for T1, in size units.
    pub fn target(&self) -> f64 {
        self.p
    }

    /// Unlinks node `i` from the list it is on and takes its size off that list's total.
    fn detach(&mut self, i: u32) -> Node {
        let n = *self.slab.get(i);
        let (list, bytes) = match n.at {
            Where::T1 => (&mut self.t1, &mut self.t1_bytes),
            Where::T2 => (&mut self.t2, &mut self.t2_bytes),
            Where::B1 => (&mut self.b1, &mut self.b1_bytes),
            Where::B2 => (&mut self.b2, &mut self.b2_bytes),
        };
        self.slab.unlink(list, i);
        *bytes -= n.size;
        n
    }

    /// Links unlinked node `i` at the head of list `at`.
    fn attach(&mut self, i: u32, at: Where) {
        let n = self.slab.get_mut(i);
        n.at = at;
        let size = n.size;
        let (list, bytes) = match at {
            Where::T1 => (&mut self.t1, &mut self.t1_bytes),
            Where::T2 => (&mut self.t2, &mut self.t2_bytes),
            Where::B1 => (&mut self.b1, &mut self.b1_bytes),
            Where::B2 => (&mut self.b2, &mut self.b2_bytes),
        };
        self.slab.push_head(list, i);
        *bytes += size;
    }

    /// Forgets ghost or data node `i` entirely.
    fn drop_node(&mut self, i: u32) {
        let n = self.detach(i);
        self.unindex(n.id);
        self.slab.free(i);
    }

    /// Moves the tail of data list `from` to the head of ghost list `to`, reporting it evicted.
    fn demote_tail(&mut self, from: Where, to: Where, evicted: &mut Vec<Evicted>) {
        let i = match from {
            Where::T1 => self.t1.tail(),
            _ => self.t2.tail(),
        }
        .expect("REPLACE on an empty list: used > 0 implies a held object");
        let n = self.detach(i);
        self.attach(i, to);
        evicted.push(Evicted {
            id: n.id,
            size: n.size,
            slot: i,
        });
    }

    /// The paper's REPLACE with libCacheSim's conditions (see the module notes).
    fn replace(&mut self, evicted: &mut Vec<Evicted>) {
        let t1 = self.t1_bytes as f64;
        let from_t1 = (self.t1_bytes > 0 && (t1 > self.p || (t1 == self.p && self.in_b2)))
            || self.t2_bytes == 0;
        if from_t1 {
            self.demote_tail(Where::T1, Where::B1, evicted);
        } else {
            self.demote_tail(Where::T2, Where::B2, evicted);
        }
    }

    /// One eviction for a request that missed all four lists (the paper's case IV).
    fn evict_on_full_miss(&mut self, incoming: u64, evicted: &mut Vec<Evicted>) {
        if self.t1_bytes + self.b1_bytes + incoming > self.capacity {
            if let Some(g) = self.b1.tail() {
                self.drop_node(g);
                self.replace(evicted);
            } else {
                // T1 alone is as large as the cache: evict its tail without a ghost.
                let i = self.t1.tail().expect("T1 + incoming > c implies T1 > 0");
                let n = *self.slab.get(i);
                self.drop_node(i);
                evicted.push(Evicted {
                    id: n.id,
                    size: n.size,
                    slot: i,
                });
            }
        } else {
            if self.t1_bytes + self.b1_bytes + self.t2_bytes + self.b2_bytes >= 2 * self.capacity {
                if let Some(g) = self.b2.tail() {
                    self.drop_node(g);
                }
            }
            self.replace(evicted);
        }
    }

    /// A request found `i` in a ghost list: adapt `p`, forget the ghost, and remember that the
    /// insertion to follow goes to T2.
    fn ghost_hit(&mut self, i: u32) {
        let at = self.slab.get(i).at;
        self.in_b1 = at == Where::B1;
        self.in_b2 = at == Where::B2;
        let (b1, b2) = (self.b1_bytes as f64, self.b2_bytes as f64);
        if self.in_b1 {
            self.p = (self.p + (b2 / b1).max(1.0)).min(self.capacity as f64);
        } else {
            self.p = (self.p - (b1 / b2).max(1.0)).max(0.0);
        }
        self.drop_node(i);
        self.ghost_hit_now = true;
    }

    /// A request found node `i`: a hit if it holds data (T1 moves to T2, T2 to its head),
    /// returning `true`; a ghost is a miss, left for `admit` to adapt to.
    #[inline]
    fn hit(&mut self, i: u32) -> bool {
        match self.slab.get(i).at {
            Where::T1 => {
                self.detach(i);
                self.attach(i, Where::T2);
            }
            Where::T2 => self.slab.move_to_head(&mut self.t2, i),
            Where::B1 | Where::B2 => return false,
        }
        self.in_b1 = false;
        self.in_b2 = false;
        true
    }
}

impl Policy for Arc {
    fn name(&self) -> String {
        "arc".to_string()
    }
    fn capacity(&self) -> u64 {
        self.capacity
    }
    fn used(&self) -> u64 {
        self.t1_bytes + self.t2_bytes
    }
    fn len(&self) -> usize {
        self.t1.len() + self.t2.len()
    }
    fn contains(&self, id: ObjId) -> bool {
        self.find(id)
            .is_some_and(|i| matches!(self.slab.get(i).at, Where::T1 | Where::T2))
    }

    fn slot(&self, id: ObjId) -> Option<u32> {
        let i = self.find(id)?;
        matches!(self.slab.get(i).at, Where::T1 | Where::T2).then_some(i)
    }
    fn slot_where(&self, id: ObjId, is_id: &mut dyn FnMut(u32) -> bool) -> Option<u32> {
        // Ghost nodes have no payload the caller could recognise; checking a node's list
        // costs the access `slot_where` saves, so ask `slot` (ARC is no edge default).
        self.slot(id).filter(|&s| is_id(s))
    }

    #[inline]
    fn touch(&mut self, req: &Request) -> bool {
        let Some(i) = self.find(req.id) else {
            return false;
        };
        self.hit(i)
    }

    #[inline]
    fn touch_slot(&mut self, _req: &Request, slot: u32) {
        let hit = self.hit(slot);
        debug_assert!(hit, "touch_slot of a ghost");
    }

    fn admit(&mut self, req: &Request, evicted: &mut Vec<Evicted>) -> bool {
        if let Some(i) = self.find(req.id) {
            if matches!(self.slab.get(i).at, Where::T1 | Where::T2) {
                debug_assert!(false, "admit of a held object");
                return true;
            }
            // libCacheSim adapts to a ghost hit before checking that the object fits.
            self.ghost_hit(i);
        }
        if req.size > self.capacity {
            self.ghost_hit_now = false;
            return false;
        }
        while self.used() + req.size > self.capacity {
            if self.ghost_hit_now {
                self.replace(evicted);
            } else {
                self.evict_on_full_miss(req.size, evicted);
            }
        }
        let i = self.slab.alloc(Node {
            id: req.id,
            size: req.size,
            at: Where::T1,
        });
        if self.ghost_hit_now {
            self.attach(i, Where::T2);
            self.in_b1 = false;
            self.in_b2 = false;
            self.ghost_hit_now = false;
        } else {
            self.attach(i, Where::T1);
        }
        self.index_at(req.id, i);
        true
    }

    fn remove(&mut self, id: ObjId) -> Option<u64> {
        let i = self.find(id)?;
        if !matches!(self.slab.get(i).at, Where::T1 | Where::T2) {
            return None; // a ghost is history, not a held object
        }
        let n = *self.slab.get(i);
        self.drop_node(i);
        Some(n.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::testing::{ids, run};

    /// The ids on list `at`, head (most recent) first.
    fn list(a: &Arc, at: Where) -> Vec<ObjId> {
        let l = match at {
            Where::T1 => a.t1,
            Where::T2 => a.t2,
            Where::B1 => a.b1,
            Where::B2 => a.b2,
        };
        let mut out = vec![];
        let mut cur = l.head();
        while let Some(i) = cur {
            out.push(a.slab.get(i).id);
            cur = a.slab.next_toward_tail(i);
        }
        out
    }

    fn replay(a: &mut Arc, reqs: &[(ObjId, u64)]) -> Vec<Evicted> {
        let mut ev = vec![];
        for &(id, size) in reqs {
            a.access(&Request::new(id, size), &mut ev);
        }
        ev
    }

    fn unit(ids: &[ObjId]) -> Vec<(ObjId, u64)> {
        ids.iter().map(|&i| (i, 1)).collect()
    }

    #[test]
    fn builds_from_spec_and_refuses_parameters() {
        let p = crate::build(&"arc".parse().unwrap(), 100).unwrap();
        assert_eq!((p.name(), p.capacity()), ("arc".to_string(), 100));
        assert!(crate::build(&"arc:p=3".parse().unwrap(), 100).is_err());
    }

    #[test]
    fn full_miss_trims_b1_then_replaces_from_t1() {
        // c = 4. 1..4 fill T1. 5: T1 + B1 + 1 > 4 with B1 empty: evict 1 with no ghost.
        // 6: B1 still empty, evict 2 likewise. Hit 3 -> T2. 7: T1 = {6,5,4} (3), B1 = {}:
        // 3 + 0 + 1 = 4, not > 4; sum 4 < 8, REPLACE: T1 = 3 > p = 0, so 4 -> B1.
        // 8: T1 + B1 + 1 = 3 + 1 + 1 > 4 and B1 non-empty: drop ghost 4, REPLACE: 5 -> B1.
        let mut a = Arc::new(4);
        let ev = replay(&mut a, &unit(&[1, 2, 3, 4, 5, 6, 3, 7, 8]));
        assert_eq!(ids(&ev), vec![1, 2, 4, 5]);
        assert_eq!(list(&a, Where::T1), vec![8, 7, 6]);
        assert_eq!(list(&a, Where::T2), vec![3]);
        assert_eq!(list(&a, Where::B1), vec![5]);
        assert!(list(&a, Where::B2).is_empty());
    }

    #[test]
    fn b1_hit_raises_p_and_goes_to_t2_b2_hit_lowers_it() {
        let mut a = Arc::new(4);
        // As above, then 5 again: a B1 hit. delta = max(B2 / B1, 1) = max(0 / 1, 1) = 1, p = 1.
        // REPLACE: T1 = 3 > p = 1 -> 6 (T1's tail) goes to B1. 5 is admitted to T2's head.
        let ev = replay(&mut a, &unit(&[1, 2, 3, 4, 5, 6, 3, 7, 8, 5]));
        assert_eq!(ids(&ev), vec![1, 2, 4, 5, 6]);
        assert_eq!(a.target(), 1.0);
        assert_eq!(list(&a, Where::T1), vec![8, 7]);
        assert_eq!(list(&a, Where::T2), vec![5, 3]);
        assert_eq!(list(&a, Where::B1), vec![6]);

        // 9: full miss. T1 + B1 + 1 = 2 + 1 + 1 = 4, not > 4; sum 2 + 1 + 2 + 0 < 8.
        // REPLACE: T1 = 2 > p = 1 -> 7 to B1.
        // 10: T1 + B1 + 1 = 2 + 2 + 1 > 4: drop ghost 6; REPLACE: T1 = 2 > 1 -> 8 to B1.
        // 11: T1 = {10, 9}, B1 = {8, 7}: 2 + 2 + 1 > 4, drop 7; REPLACE: 9 to B1.
        // Hits on 10 and 11 move them to T2 (T1 empty). 12: T1 + B1 + 1 = 0 + 2 + 1 <= 4;
        // sum 0 + 2 + 4 + 0 < 8; REPLACE: T1 empty -> T2's tail 3 to B2.
        let ev = replay(&mut a, &unit(&[9, 10, 11, 10, 11, 12]));
        assert_eq!(ids(&ev), vec![7, 8, 9, 3]);
        assert_eq!(list(&a, Where::T1), vec![12]);
        assert_eq!(list(&a, Where::T2), vec![11, 10, 5]);
        assert_eq!(list(&a, Where::B1), vec![9, 8]);
        assert_eq!(list(&a, Where::B2), vec![3]);
        assert_eq!(a.remove(3), None, "a B2 ghost is not held");
        assert_eq!(list(&a, Where::B2), vec![3], "and stays history");

        // 3 again: a B2 hit. delta = max(B1 / B2, 1) = max(2 / 1, 1) = 2, p = max(1 - 2, 0) = 0.
        // REPLACE: T1 = 1 > p = 0 -> 12 to B1. 3 goes to T2's head.
        let ev = replay(&mut a, &unit(&[3]));
        assert_eq!(a.target(), 0.0);
        assert_eq!(ids(&ev), vec![12]);
        assert_eq!(list(&a, Where::T2), vec![3, 11, 10, 5]);
        assert_eq!(list(&a, Where::B1), vec![12, 9, 8]);
        assert!(list(&a, Where::B2).is_empty());
    }

    #[test]
    fn ghost_hit_deltas_are_byte_ratios() {
        let mut a = Arc::new(10);
        // 1 (6) and 2 (2) fill 8 bytes of T1; their hits move them to T2 = {2, 1}.
        // 3 (2) fits. 4 (2): T1 + B1 + 2 = 4 <= 10 and the total 10 < 20, so REPLACE:
        // T1 = 2 > p = 0, 3 goes to B1. 5 (6): T1 + B1 + 6 = 2 + 2 + 6 = 10 is not > 10;
        // REPLACE sends 4 to B1; still 8 + 6 > 10: 0 + 4 + 6 = 10 again, REPLACE with T1 empty
        // takes T2's tail 1 (6 bytes) to B2. Now 2 + 6 = 8 <= 10.
        let ev = replay(
            &mut a,
            &[(1, 6), (2, 2), (1, 6), (2, 2), (3, 2), (4, 2), (5, 6)],
        );
        assert_eq!(ids(&ev), vec![3, 4, 1]);
        assert_eq!(list(&a, Where::T1), vec![5]);
        assert_eq!(list(&a, Where::T2), vec![2]);
        assert_eq!(list(&a, Where::B1), vec![4, 3]);
        assert_eq!(list(&a, Where::B2), vec![1]);
        // 4 (B1 hit): p += max(B2 / B1, 1) = 6 / 4 = 1.5. 8 + 2 fits: no eviction, 4 -> T2.
        let ev = replay(&mut a, &[(4, 2)]);
        assert!(ev.is_empty());
        assert_eq!(a.target(), 1.5);
        // 3 (B1 hit): p += 6 / 2 = 3, p = 4.5. 10 + 2 > 10: REPLACE, T1 = 6 > 4.5: 5 -> B1.
        let ev = replay(&mut a, &[(3, 2)]);
        assert_eq!(ids(&ev), vec![5]);
        assert_eq!(a.target(), 4.5);
        assert_eq!(list(&a, Where::T2), vec![3, 4, 2]);
        // 1 (B2 hit): p -= max(B1 / B2, 1) = max(6 / 6, 1) = 1, p = 3.5. 6 + 6 > 10: REPLACE
        // with T1 empty takes T2's tail 2 to B2; 4 + 6 fits.
        let ev = replay(&mut a, &[(1, 6)]);
        assert_eq!(ids(&ev), vec![2]);
        assert_eq!(a.target(), 3.5);
        assert_eq!(list(&a, Where::T2), vec![1, 3, 4]);
        assert_eq!(list(&a, Where::B1), vec![5]);
        assert_eq!(list(&a, Where::B2), vec![2]);
    }

    #[test]
    fn remove_from_each_list_and_ghosts_are_not_held() {
        let mut a = Arc::new(4);
        replay(&mut a, &unit(&[1, 2, 3, 4, 5, 6, 3, 7, 8]));
        // T1 = {8, 7, 6}, T2 = {3}, B1 = {5}.
        assert!(!a.contains(5));
        assert_eq!(a.remove(5), None, "a ghost is not held");
        assert_eq!(list(&a, Where::B1), vec![5], "history is left alone");
        assert_eq!(a.remove(7), Some(1));
        assert_eq!(a.remove(3), Some(1));
        assert_eq!(a.remove(3), None);
        assert_eq!(list(&a, Where::T1), vec![8, 6]);
        assert!(list(&a, Where::T2).is_empty());
        assert_eq!((a.used(), a.len()), (2, 2));
        // The ghost still counts as history: 5 returns to T2.
        let ev = replay(&mut a, &unit(&[5]));
        assert!(ev.is_empty());
        assert_eq!(list(&a, Where::T2), vec![5]);
    }

    #[test]
    fn an_oversize_ghost_hit_still_adapts_and_forgets_the_ghost() {
        let mut a = Arc::new(4);
        replay(&mut a, &unit(&[1, 2, 3, 4, 5, 6, 3, 7, 8]));
        // B1 = {5}. 5 returns with size 5 > 4: libCacheSim adapts p (+1) and drops the ghost
        // before refusing it; nothing is evicted.
        let ev = replay(&mut a, &[(5, 5)]);
        assert!(ev.is_empty() && !a.contains(5));
        assert_eq!(a.target(), 1.0);
        assert!(list(&a, Where::B1).is_empty());
        // 9, a full miss: T1 + B1 + 1 = 4 is not > 4; REPLACE: T1 = 3 > p = 1, so 6 -> B1.
        assert_eq!(ids(&replay(&mut a, &unit(&[9]))), vec![6]);
        assert_eq!(list(&a, Where::T1), vec![9, 8, 7]);
    }

    #[test]
    fn invariants_hold_under_the_checker_and_oversize_is_refused() {
        let reqs: Vec<(ObjId, u64)> = (0..2000u64)
            .map(|k| ((k * 7919) % 37 + (k % 5) * 11, 1 + (k * 31) % 9))
            .collect();
        let (p, _) = run(Arc::new(20), &reqs);
        assert!(p.used() <= 20);
        let (p, ev) = run(Arc::new(10), &[(1, 4), (2, 11)]);
        assert!(ev.is_empty() && !p.contains(2) && p.contains(1));
    }
}
