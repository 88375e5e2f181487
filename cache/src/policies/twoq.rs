//! 2Q (Johnson & Shasha, VLDB 1994, the "full version"), with libCacheSim's `TwoQ.c` choices.
//!
//! New objects enter A1in, a FIFO; a hit there does nothing, because a burst of correlated
//! references right after a miss says little about long-term popularity. Objects pushed out
//! of A1in leave their id in A1out, a ghost FIFO; a miss found there goes to Am, an LRU,
//! because the object came back after a while. Reclaiming space: if A1in holds more than
//! Kin, its tail goes to A1out; otherwise Am's tail is evicted (and forgotten).
//!
//! Sizes and details as in libCacheSim (`TwoQ.c`), which is also what the paper describes:
//! - `Kin = ⌊0.25·C⌋`, A1out holds `⌊0.5·C⌋` worth of sizes (so half the capacity in entries
//!   when every size is 1), Am is bounded by `C − Kin`; the fractions are computed in `f64`
//!   and truncated like the C code;
//! - an object larger than Kin is refused (libCacheSim's `can_insert`), as is a returning one
//!   larger than Am's bound;
//! - a miss found in A1out removes the entry (even if the object is then refused);
//! - space is reclaimed, one object at a time, while the new object does not fit in `C`: from
//!   A1in if it holds more than Kin (strictly), else from Am;
//! - a returning object is then inserted into Am as libCacheSim's LRU `get` does, evicting
//!   Am's tail while Am would exceed `C − Kin` (possible when A1in is below Kin, e.g. after
//!   removals);
//! - A1out is bounded in bytes: an id larger than all of A1out is not remembered, and the
//!   oldest ids are forgotten until a new one fits.
//!
//! One guard libCacheSim lacks: with `ain` above 0.5, A1in at or under Kin could still leave
//! no room while Am is empty; libCacheSim would evict from an empty LRU, we evict A1in's
//! tail into A1out instead.
//!
//! libCacheSim's test suite has no figures for 2Q, so there is no golden figure to match;
//! `tests/golden_twoq.rs` checks the whole trace against a naive model and records figures.
//!
//! Speed: as S3-FIFO, one [`SlotIndex`] probe per hit, the index telling held ids and A1out's
//! ids apart ([`Slot`]), slab-threaded lists for A1in and Am, a ring for A1out ([`GhostFifo`]).

use super::s3fifo::{GhostFifo, Slot};
use crate::index::SlotIndex;
use crate::list::{List, Slab};
use crate::params::{ParamError, Params, PolicySpec};
use crate::registry::PolicyInfo;
use crate::{Evicted, ObjId, Policy, Request};

pub const INFO: PolicyInfo = PolicyInfo {
    name: "twoq",
    about: "2Q: new objects enter a FIFO (A1in), ids pushed out are remembered (A1out), \
            objects that come back while remembered enter an LRU (Am)",
    params: &["ain=0.25", "aout=0.5"],
    build,
};

const KEYS: &[&str] = &["ain", "aout"];

fn build(spec: &PolicySpec, capacity: u64) -> Result<Box<dyn Policy>, ParamError> {
    let mut p = Params::new(spec, KEYS);
    let ain = p.fraction("ain", 0.25, 0.0, 1.0)?;
    let aout = p.fraction("aout", 0.5, 0.0, 10.0)?;
    p.finish()?;
    Ok(Box::new(TwoQ::with_params(capacity, ain, aout)))
}

#[derive(Clone, Copy, Debug)]
struct Obj {
    id: ObjId,
    size: u64,
    in_am: bool,
}

/// 2Q over a capacity in size units. See the module documentation for the rules.
pub struct TwoQ {
    capacity: u64,
    ain_ratio: f64,
    aout_ratio: f64,
    kin: u64,
    am_cap: u64,
    ain_used: u64,
    am_used: u64,
    /// Id to [`Slot`]: held objects and A1out's ids.
    index: SlotIndex,
    slab: Slab<Obj>,
    ain: List,
    am: List,
    aout: GhostFifo,
}

impl TwoQ {
    /// 2Q with the paper's and libCacheSim's defaults: Kin 25 %, A1out 50 % of the capacity.
    pub fn new(capacity: u64) -> Self {
        Self::with_params(capacity, 0.25, 0.5)
    }

    /// `ain` (Kin) and `aout` (Kout) are fractions of `capacity`.
    pub fn with_params(capacity: u64, ain: f64, aout: f64) -> Self {
        let kin = (capacity as f64 * ain) as u64;
        Self {
            capacity,
            ain_ratio: ain,
            aout_ratio: aout,
            kin,
            am_cap: capacity - kin.min(capacity),
            ain_used: 0,
            am_used: 0,
            index: SlotIndex::with_capacity(1024),
            slab: Slab::with_capacity(1024),
            ain: List::default(),
            am: List::default(),
            aout: GhostFifo::new((capacity as f64 * aout) as u64),
        }
    }

    /// Kin, Am's bound, and A1out's size.
    pub fn sizes(&self) -> (u64, u64, u64) {
        (self.kin, self.am_cap, self.aout.cap())
    }

    /// The ids in A1in, newest first.
    pub fn ain_ids(&self) -> Vec<ObjId> {
        self.queue_ids(&self.ain)
    }

    /// The ids in Am, most recently used first.
    pub fn am_ids(&self) -> Vec<ObjId> {
        self.queue_ids(&self.am)
    }

    /// What the index says about `id`.
    #[inline]
    fn lookup(&self, id: ObjId) -> Option<Slot> {
        let slab = &self.slab;
        self.index
            .get(id, |v| self.aout.id_of(v, |i| slab.get(i).id))
            .map(Slot)
    }

    /// Indexes held `id` at slab slot `i`, whose node already holds it.
    #[inline]
    fn index_held(&mut self, id: ObjId, i: u32) {
        let (slab, aout) = (&self.slab, &self.aout);
        let v = Slot::held(i).0;
        self.index
            .insert(id, v, |v| aout.id_of(v, |i| slab.get(i).id));
    }

    /// Takes held `id` (its node must still hold it) out of the index.
    #[inline]
    fn unindex(&mut self, id: ObjId) {
        let (slab, aout) = (&self.slab, &self.aout);
        self.index.remove(id, |v| aout.id_of(v, |i| slab.get(i).id));
    }

    /// Panics unless queues, counters, index and A1out agree.
    #[cfg(test)]
    fn check(&self) {
        for (list, in_am, used) in [
            (&self.ain, false, self.ain_used),
            (&self.am, true, self.am_used),
        ] {
            let mut sum = 0;
            let mut cur = list.head();
            while let Some(i) = cur {
                let o = self.slab.get(i);
                assert_eq!(o.in_am, in_am);
                assert_eq!(self.lookup(o.id), Some(Slot::held(i)));
                sum += o.size;
                cur = self.slab.next_toward_tail(i);
            }
            assert_eq!(sum, used);
        }
        assert!(self.am_used <= self.am_cap);
        let held = self
            .index
            .values()
            .filter(|&v| Slot(v).as_held().is_some())
            .count();
        assert_eq!(held, self.len());
        let slab = &self.slab;
        self.aout.check(&self.index, |i| slab.get(i).id);
    }

    fn queue_ids(&self, list: &List) -> Vec<ObjId> {
        let mut out = Vec::with_capacity(list.len());
        let mut cur = list.head();
        while let Some(i) = cur {
            out.push(self.slab.get(i).id);
            cur = self.slab.next_toward_tail(i);
        }
        out
    }

    /// How many ids A1out remembers.
    pub fn aout_len(&self) -> usize {
        self.aout.len()
    }

    #[inline]
    fn hit(&mut self, i: u32) {
        if self.slab.get(i).in_am {
            self.slab.move_to_head(&mut self.am, i);
        }
    }

    /// The miss path once the index was probed: `ghost` is the id's A1out sequence bits if
    /// A1out remembers it.
    fn insert_missing(
        &mut self,
        req: &Request,
        ghost: Option<u32>,
        evicted: &mut Vec<Evicted>,
    ) -> bool {
        let returning = match ghost {
            Some(seq) => {
                let slab = &self.slab;
                self.aout
                    .forget(req.id, seq, &mut self.index, |i| slab.get(i).id);
                true
            }
            None => false,
        };
        let refused = req.size > self.kin
            || req.size > self.capacity
            || (returning && req.size > self.am_cap);
        if refused {
            return false;
        }
        while self.ain_used + self.am_used + req.size > self.capacity {
            self.reclaim(evicted);
        }
        let i = self.slab.alloc(Obj {
            id: req.id,
            size: req.size,
            in_am: returning,
        });
        if returning {
            while self.am_used + req.size > self.am_cap {
                self.evict_am(evicted);
            }
            self.slab.push_head(&mut self.am, i);
            self.am_used += req.size;
        } else {
            self.slab.push_head(&mut self.ain, i);
            self.ain_used += req.size;
        }
        self.index_held(req.id, i);
        true
    }

    fn reclaim(&mut self, evicted: &mut Vec<Evicted>) {
        if self.ain_used > self.kin || self.am.is_empty() {
            let t = self
                .slab
                .pop_tail(&mut self.ain)
                .expect("no room implies a held object");
            let Obj { id, size, .. } = *self.slab.get(t);
            self.ain_used -= size;
            // The A1out entry replaces the id's held value, which the node still resolves.
            let slab = &self.slab;
            self.aout
                .remember(id, size, &mut self.index, |i| slab.get(i).id);
            self.slab.free(t);
            evicted.push(Evicted { id, size, slot: t });
        } else {
            self.evict_am(evicted);
        }
    }

    fn evict_am(&mut self, evicted: &mut Vec<Evicted>) {
        let t = self
            .slab
            .pop_tail(&mut self.am)
            .expect("Am over its bound implies an object");
        let Obj { id, size, .. } = *self.slab.get(t);
        self.am_used -= size;
        self.unindex(id);
        self.slab.free(t);
        evicted.push(Evicted { id, size, slot: t });
    }
}

impl Policy for TwoQ {
    fn name(&self) -> String {
        format!("twoq:ain={},aout={}", self.ain_ratio, self.aout_ratio)
    }
    fn capacity(&self) -> u64 {
        self.capacity
    }
    fn used(&self) -> u64 {
        self.ain_used + self.am_used
    }
    fn len(&self) -> usize {
        self.ain.len() + self.am.len()
    }
    fn contains(&self, id: ObjId) -> bool {
        self.lookup(id).is_some_and(|s| s.as_held().is_some())
    }
    fn slot(&self, id: ObjId) -> Option<u32> {
        self.lookup(id).and_then(|s| s.as_held())
    }
    fn slot_where(&self, id: ObjId, is_id: &mut dyn FnMut(u32) -> bool) -> Option<u32> {
        // A ghost's value is tagged: only held slots are offered.
        self.index
            .get_where(id, |v| Slot(v).as_held().is_some_and(&mut *is_id))
    }

    #[inline]
    fn touch_slot(&mut self, _req: &Request, slot: u32) {
        self.hit(slot);
    }

    #[inline]
    fn touch(&mut self, req: &Request) -> bool {
        match self.lookup(req.id).and_then(|s| s.as_held()) {
            Some(i) => {
                self.hit(i);
                true
            }
            None => false,
        }
    }

    fn admit(&mut self, req: &Request, evicted: &mut Vec<Evicted>) -> bool {
        let ghost = match self.lookup(req.id) {
            Some(s) if s.as_held().is_some() => {
                debug_assert!(false, "admit of held object {}", req.id);
                return true;
            }
            Some(s) => s.as_ghost(),
            None => None,
        };
        self.insert_missing(req, ghost, evicted)
    }

    fn remove(&mut self, id: ObjId) -> Option<u64> {
        let i = self.lookup(id)?.as_held()?;
        self.unindex(id);
        let o = *self.slab.get(i);
        if o.in_am {
            self.slab.unlink(&mut self.am, i);
            self.am_used -= o.size;
        } else {
            self.slab.unlink(&mut self.ain, i);
            self.ain_used -= o.size;
        }
        self.slab.free(i);
        Some(o.size)
    }

    #[inline]
    fn access(&mut self, req: &Request, evicted: &mut Vec<Evicted>) -> bool {
        let ghost = match self.lookup(req.id) {
            Some(s) => match s.as_held() {
                Some(i) => {
                    self.hit(i);
                    return true;
                }
                None => s.as_ghost(),
            },
            None => None,
        };
        self.insert_missing(req, ghost, evicted);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::testing::{ids, run};

    #[test]
    fn sizes_and_name() {
        let p = TwoQ::new(8);
        assert_eq!(p.sizes(), (2, 6, 4));
        assert_eq!(p.name(), "twoq:ain=0.25,aout=0.5");
        let b = crate::build(&"twoq:aout=1,ain=0.5".parse().unwrap(), 10).unwrap();
        assert_eq!(b.name(), "twoq:ain=0.5,aout=1");
        assert!(crate::build(&"twoq:kin=0.5".parse().unwrap(), 10).is_err());
    }

    /// The trace of the exact-order test, at capacity 8: Kin 2, Am ≤ 6, A1out 4 ids.
    const TRACE: &[ObjId] = &[
        1, 2, 3, 4, 5, 6, 7, 8, // fill A1in
        9, 10, // A1in over Kin: 1, 2 to A1out
        1,  // in A1out: 3 to A1out, 1 to Am
        4,  // hit in A1in: changes nothing
        11, // 4 to A1out all the same
        2, 3, // back from A1out: 5, 6 to A1out; Am [3, 2, 1]
        1, // hit in Am: to its head, Am [1, 3, 2]
        12, 13, // 7, 8 to A1out, which forgets 4 (4 ids)
        5, 6, 7,  // back: 9, 10, 11 to A1out; Am [7, 6, 5, 1, 3, 2], A1in [13, 12]
        14, // A1in at Kin, not over: Am's LRU tail 2 is evicted (not remembered)
        15, // A1in [14, 13, 12] over Kin: 12 to A1out
        8,  // forgotten by A1out: an ordinary miss, 13 to A1out, 8 to A1in
        10, // back: A1in [8, 15, 14] over Kin: 14 to A1out; 10 to Am
        11, // back: A1in [8, 15] at Kin: Am's tail 3 is evicted
    ];

    #[test]
    fn exact_eviction_order() {
        let reqs: Vec<(ObjId, u64)> = TRACE.iter().map(|&id| (id, 1)).collect();
        let (_, ev) = run(TwoQ::new(8), &reqs);
        assert_eq!(
            ids(&ev),
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 2, 12, 13, 14, 3]
        );
    }

    #[test]
    fn exact_queues_and_removal_from_each() {
        let mut p = TwoQ::new(8);
        let mut ev = Vec::new();
        for &id in TRACE {
            p.access(&Request::new(id, 1), &mut ev);
        }
        assert_eq!(p.ain_ids(), vec![8, 15]);
        assert_eq!(p.am_ids(), vec![11, 10, 7, 6, 5, 1]);
        assert_eq!(p.aout_len(), 3); // 14, 13, 12
                                     // Remove from A1in (both) and try an id A1out remembers: not held, left alone.
        assert_eq!(p.remove(8), Some(1));
        assert_eq!(p.remove(15), Some(1));
        assert_eq!(p.remove(13), None);
        assert_eq!(p.aout_len(), 3);
        // 12 comes back: 6 + 1 fits the capacity, but Am is at its bound of 6, so Am's tail
        // 1 is evicted to make room, as libCacheSim's LRU would.
        ev.clear();
        assert!(!p.access(&Request::new(12, 1), &mut ev));
        assert_eq!(ids(&ev), vec![1]);
        assert_eq!(p.am_ids(), vec![12, 11, 10, 7, 6, 5]);
        // Remove from Am.
        assert_eq!(p.remove(7), Some(1));
        assert_eq!(p.am_ids(), vec![12, 11, 10, 6, 5]);
        assert_eq!((p.len(), p.used()), (5, 5));
        // 13 still comes back to Am.
        assert!(!p.access(&Request::new(13, 1), &mut ev));
        assert_eq!(p.am_ids()[0], 13);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Random accesses and removals at small capacities: the contract (via `Checked`) and
        /// the internal invariants hold after every call.
        #[test]
        fn invariants_hold_under_random_use(
            capacity in 4u64..200,
            ain in 0.05f64..0.95,
            aout in 0.0f64..3.0,
            ops in proptest::collection::vec((0u64..300, 1u64..5, 0u8..10), 1..3000),
        ) {
            let mut p = TwoQ::with_params(capacity, ain, aout);
            let mut mirror = crate::Checked::new(Box::new(TwoQ::with_params(capacity, ain, aout)));
            let mut ev = Vec::new();
            for (id, size, op) in ops {
                if op == 0 {
                    assert_eq!(p.remove(id), mirror.remove(id));
                } else {
                    let req = Request::new(id, size);
                    assert_eq!(p.access(&req, &mut ev), mirror.access(&req, &mut ev));
                }
                p.check();
            }
        }
    }

    #[test]
    fn sizes_reclaim_until_fit_and_large_objects_are_refused() {
        // Capacity 100: Kin 25, Am ≤ 75, A1out 50.
        let (p, ev) = run(
            TwoQ::new(100),
            &[
                (1, 20),
                (2, 20),
                (3, 20),
                (4, 20),
                (5, 26),
                (6, 25),
                (1, 20),
            ],
        );
        // 5 is larger than Kin: refused without evicting. 6 needs 25 with 20 free: A1in (80)
        // is over Kin, so 1 goes to A1out. 1 comes back and needs 20 with 15 free: A1in
        // [6, 4, 3, 2] = 85 is over Kin, so 2 goes to A1out; 1 enters Am.
        assert_eq!(ids(&ev), vec![1, 2]);
        assert!(!p.contains(5));
        assert_eq!(p.used(), 85);
    }
}
