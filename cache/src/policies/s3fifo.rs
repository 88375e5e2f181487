//! S3-FIFO (Yang et al., SOSP 2023), decision for decision as libCacheSim's `S3FIFO.c` runs it.
//!
//! Three FIFO queues: a small one (10 % of the capacity) that new objects enter, a main one
//! (the rest) run as a clock with a 2-bit counter, and a ghost of ids recently evicted from the
//! small queue (90 % of the capacity, counted in the sizes of the ids it remembers). Most
//! objects are requested once; the small queue drops them quickly, and only objects hit while
//! in it (or remembered by the ghost) earn a place in main.
//!
//! The details that change miss counts, all as in libCacheSim:
//! - sizes: `small = ⌊0.1·C⌋`, `main = C − small`, `ghost = ⌊0.9·C⌋`, computed in `f64` and
//!   truncated like the C code;
//! - admission: an object larger than the small queue is refused, and so is one exactly its
//!   size unless the ghost remembers it (libCacheSim refuses those in `insert`, see below);
//! - a miss that finds its id in the ghost removes the ghost entry (even if the object is then
//!   refused) and goes to the head of main with freq 0; any other miss goes to the head of
//!   small with freq 0 — except that until the first eviction ever, a miss arriving while
//!   small is full goes to main instead (libCacheSim's `has_evicted`: the objects that arrive
//!   between small filling up and the cache filling up are kept a little longer);
//! - a hit adds 1 to the object's freq, uncapped (we saturate at 255, which changes nothing:
//!   freq is only compared with the threshold and clipped to 3);
//! - evictions, repeated until the new object fits: if main holds more bytes than its size
//!   (strictly) or small holds no bytes, evict from main, else from small;
//! - evicting from small walks its tail: an object with freq ≥ threshold moves to the head of
//!   main with freq reset to 0 (libCacheSim inserts a fresh object) and the walk goes on; the
//!   first one below the threshold is evicted, its id and size go to the ghost, and the walk
//!   stops. The walk may empty small without evicting; the next round then evicts from main;
//! - evicting from main walks its tail: an object with freq ≥ 1 is reinserted at the head with
//!   freq = min(freq, 3) − 1, the first with freq 0 is evicted and the walk stops;
//! - the ghost is a FIFO bounded in bytes: an id is remembered only if its size fits the whole
//!   ghost, and the oldest ids are forgotten until it fits.
//!
//! One deliberate difference: libCacheSim's `can_insert` accepts an object exactly the size of
//! small, makes room for it, then `insert` refuses it, so the room was made for nothing. The
//! [`Policy`] contract refuses without evicting, so we refuse before making room. No object
//! of the shared trace is that large (its largest is 68 KiB), so the golden figures are
//! unaffected.
//!
//! Speed: one hash probe per hit. A single [`SlotIndex`] maps an id to either its slab slot or
//! its ghost sequence number ([`Slot`]), so a miss learns whether it is a ghost hit from the
//! same probe. The queues are slab-threaded lists; the ghost is a ring buffer ([`GhostFifo`]).

use std::collections::VecDeque;

use crate::index::SlotIndex;
use crate::list::{List, Slab};
use crate::params::{ParamError, Params, PolicySpec};
use crate::registry::PolicyInfo;
use crate::{Evicted, ObjId, Policy, Request};

pub const INFO: PolicyInfo = PolicyInfo {
    name: "s3fifo",
    about: "S3-FIFO: a small FIFO filters one-hit wonders, a main FIFO reinserts objects hit \
            since they entered, a ghost of ids sends returning objects straight to main",
    params: &["small=0.1", "ghost=0.9", "threshold=2"],
    build,
};

const KEYS: &[&str] = &["small", "ghost", "threshold"];

fn build(spec: &PolicySpec, capacity: u64) -> Result<Box<dyn Policy>, ParamError> {
    let mut p = Params::new(spec, KEYS);
    let small = p.fraction("small", 0.1, 0.0, 1.0)?;
    let ghost = p.fraction("ghost", 0.9, 0.0, 10.0)?;
    let threshold = p.integer("threshold", 2, 0, u8::MAX as u64)?;
    p.finish()?;
    Ok(Box::new(S3Fifo::with_params(
        capacity,
        small,
        ghost,
        threshold as u8,
    )))
}

/// What a value of the owner's [`SlotIndex`] says about an id: the slab slot of a held
/// object, or the sequence number (its low 31 bits) of the id's entry in a [`GhostFifo`].
/// Bit 31 tags a ghost, so an index value stays 4 bytes; shared with 2Q, whose A1out is the
/// same kind of ghost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot(pub(crate) u32);

impl Slot {
    const GHOST: u32 = 1 << 31;

    /// A held object's slab slot (below 2^31).
    #[inline]
    pub(crate) fn held(i: u32) -> Self {
        assert!(i < Self::GHOST, "more than 2^31 cached objects");
        Slot(i)
    }

    #[inline]
    fn ghost(seq: u64) -> Self {
        Slot(seq as u32 | Self::GHOST)
    }

    /// The slab slot, if the id is held.
    #[inline]
    pub(crate) fn as_held(self) -> Option<u32> {
        (self.0 & Self::GHOST == 0).then_some(self.0)
    }

    /// The low 31 bits of the ghost entry's sequence number, if the id is only remembered.
    #[inline]
    pub(crate) fn as_ghost(self) -> Option<u32> {
        (self.0 & Self::GHOST != 0).then_some(self.0 & !Self::GHOST)
    }
}

#[derive(Clone, Copy, Debug)]
struct GhostEntry {
    id: ObjId,
    size: u64,
    /// False once the id was found by a miss ([`GhostFifo::forget`]); the entry then waits in
    /// the ring until it reaches the front or the ring is compacted.
    live: bool,
}

/// A FIFO of ids with sizes, bounded by the sum of the sizes: libCacheSim's ghost (a FIFO
/// cache whose objects have no payload). Its entries share the owner's [`SlotIndex`]: an id in
/// the ghost is indexed by [`Slot::ghost`] of the entry's sequence number, and the entry sits
/// at ring index `seq - base` (computed modulo 2^31 from the index value's 31 bits; the ring
/// never holds 2^31 entries). Removing an entry from the middle (a ghost hit) only marks it
/// dead, so every operation is O(1) amortised and, once the ring has grown to its working
/// size, allocates nothing.
///
/// The index finds an id by comparing it with the id each candidate value stands for, so
/// every method that touches the index is given `held_id`, the owner's resolution of a held
/// slot to its id, and the ring entry of every ghost value in the index stays where the value
/// says until the value is removed.
///
/// Invariant: an id is indexed as a ghost exactly when it has a live entry, and the value's
/// sequence bits are that entry's.
#[derive(Clone, Debug)]
pub(crate) struct GhostFifo {
    cap: u64,
    used: u64,
    live: usize,
    /// The sequence number of `ring[0]`.
    base: u64,
    ring: VecDeque<GhostEntry>,
}

/// The low 31 bits of a sequence number.
const SEQ_MASK: u32 = !Slot::GHOST;

impl GhostFifo {
    pub(crate) fn new(cap: u64) -> Self {
        Self {
            cap,
            used: 0,
            live: 0,
            base: 0,
            ring: VecDeque::new(),
        }
    }

    /// The bound on the sum of the remembered ids' sizes.
    pub(crate) fn cap(&self) -> u64 {
        self.cap
    }

    /// How many ids are remembered.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// The id an index value stands for: a ghost's from its ring entry, a held slot's by
    /// `held_id`.
    #[inline]
    pub(crate) fn id_of(&self, v: u32, held_id: impl Fn(u32) -> ObjId) -> ObjId {
        match Slot(v).as_ghost() {
            None => held_id(v),
            Some(seq) => self.ring[(seq.wrapping_sub(self.base as u32) & SEQ_MASK) as usize].id,
        }
    }

    /// Remembers `id`, whose index value (a held slot, still resolved by `held_id`) is
    /// replaced by the new entry's: forgets the oldest ids until `size` fits. An id larger
    /// than the whole ghost is not remembered (libCacheSim's `can_insert`) and is taken out
    /// of the index.
    pub(crate) fn remember(
        &mut self,
        id: ObjId,
        size: u64,
        index: &mut SlotIndex,
        held_id: impl Fn(u32) -> ObjId + Copy,
    ) {
        if size > self.cap {
            index.remove(id, |v| self.id_of(v, held_id));
            return;
        }
        while self.used + size > self.cap {
            self.forget_oldest(index, held_id);
        }
        let seq = self.base + self.ring.len() as u64;
        if self.ring.len() == self.ring.capacity() {
            // By a quarter, not doubling: see `list::push_compact`.
            self.ring.reserve_exact((self.ring.len() / 4).max(16));
        }
        self.ring.push_back(GhostEntry {
            id,
            size,
            live: true,
        });
        assert!(self.ring.len() <= SEQ_MASK as usize, "ghost of 2^31 ids");
        self.used += size;
        self.live += 1;
        let v = Slot::ghost(seq).0;
        if index.replace(id, v, |v| self.id_of(v, held_id)).is_none() {
            index.insert(id, v, |v| self.id_of(v, held_id));
        }
    }

    /// Drops `id`'s live entry, sequence bits `seq` (a ghost hit), and takes `id` out of the
    /// index.
    pub(crate) fn forget(
        &mut self,
        id: ObjId,
        seq: u32,
        index: &mut SlotIndex,
        held_id: impl Fn(u32) -> ObjId + Copy,
    ) {
        // Out of the index first, while its entry is where its value says.
        index.remove(id, |v| self.id_of(v, held_id));
        let e = &mut self.ring[(seq.wrapping_sub(self.base as u32) & SEQ_MASK) as usize];
        debug_assert!(e.live && e.id == id, "ghost value points at another entry");
        e.live = false;
        self.used -= e.size;
        self.live -= 1;
        while self.ring.front().is_some_and(|e| !e.live) {
            self.ring.pop_front();
            self.base += 1;
        }
        // Dead entries behind a live front stay until they reach the front; if hits keep the
        // ghost from ever filling, that could be forever, so compact when they dominate.
        if self.ring.len() > 2 * self.live + 64 {
            self.compact(index, held_id);
        }
    }

    fn forget_oldest(&mut self, index: &mut SlotIndex, held_id: impl Fn(u32) -> ObjId + Copy) {
        loop {
            let e = *self
                .ring
                .front()
                .expect("ghost over its size implies a live entry");
            if e.live {
                index.remove(e.id, |v| self.id_of(v, held_id));
            }
            self.ring.pop_front();
            self.base += 1;
            if e.live {
                self.used -= e.size;
                self.live -= 1;
                return;
            }
        }
    }

    /// Panics unless the ring, the counters and the index agree (the struct's invariant).
    #[cfg(test)]
    pub(crate) fn check(&self, index: &SlotIndex, held_id: impl Fn(u32) -> ObjId + Copy) {
        let mut live = 0;
        let mut used = 0;
        for (k, e) in self.ring.iter().enumerate() {
            if e.live {
                assert_eq!(
                    index.get(e.id, |v| self.id_of(v, held_id)),
                    Some(Slot::ghost(self.base + k as u64).0)
                );
                live += 1;
                used += e.size;
            }
        }
        assert_eq!((live, used), (self.live, self.used));
        assert!(used <= self.cap);
        let in_index = index
            .values()
            .filter(|&v| Slot(v).as_ghost().is_some())
            .count();
        assert_eq!(in_index, live, "every ghost value has its live entry");
    }

    /// Drops dead entries and renumbers the live ones, keeping their order: their values are
    /// taken out of the index while the ring is as they say, then put back renumbered.
    fn compact(&mut self, index: &mut SlotIndex, held_id: impl Fn(u32) -> ObjId + Copy) {
        for e in self.ring.iter().filter(|e| e.live) {
            index.remove(e.id, |v| self.id_of(v, held_id));
        }
        let next = self.base + self.ring.len() as u64;
        self.ring.retain(|e| e.live);
        self.base = next - self.ring.len() as u64;
        for k in 0..self.ring.len() {
            let id = self.ring[k].id;
            let v = Slot::ghost(self.base + k as u64).0;
            index.insert(id, v, |v| self.id_of(v, held_id));
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Obj {
    id: ObjId,
    size: u64,
    freq: u8,
    in_main: bool,
}

/// S3-FIFO over a capacity in size units. See the module documentation for the rules.
pub struct S3Fifo {
    capacity: u64,
    small_ratio: f64,
    ghost_ratio: f64,
    threshold: u8,
    small_cap: u64,
    main_cap: u64,
    small_used: u64,
    main_used: u64,
    /// Whether anything was ever evicted (libCacheSim's `has_evicted`).
    has_evicted: bool,
    /// Id to [`Slot`]: held objects and the ghost's ids.
    index: SlotIndex,
    slab: Slab<Obj>,
    small: List,
    main: List,
    ghost: GhostFifo,
}

impl S3Fifo {
    /// S3-FIFO with libCacheSim's defaults: small 0.1, ghost 0.9, threshold 2.
    pub fn new(capacity: u64) -> Self {
        Self::with_params(capacity, 0.1, 0.9, 2)
    }

    /// `small` and `ghost` are fractions of `capacity`; an object leaves small for main when
    /// it was hit at least `threshold` times there.
    pub fn with_params(capacity: u64, small: f64, ghost: f64, threshold: u8) -> Self {
        // The C code: `(int64_t)cache_size * ratio` truncated on assignment to int64_t.
        let small_cap = (capacity as f64 * small) as u64;
        let ghost_cap = (capacity as f64 * ghost) as u64;
        Self {
            capacity,
            small_ratio: small,
            ghost_ratio: ghost,
            threshold,
            small_cap,
            main_cap: capacity - small_cap.min(capacity),
            small_used: 0,
            main_used: 0,
            has_evicted: false,
            index: SlotIndex::with_capacity(1024),
            slab: Slab::with_capacity(1024),
            small: List::default(),
            main: List::default(),
            ghost: GhostFifo::new(ghost_cap),
        }
    }

    /// The sizes of the small queue, the main queue and the ghost.
    pub fn sizes(&self) -> (u64, u64, u64) {
        (self.small_cap, self.main_cap, self.ghost.cap())
    }

    /// The ids in the small queue, head (newest) first, with their freq.
    pub fn small_ids(&self) -> Vec<(ObjId, u8)> {
        self.queue_ids(&self.small)
    }

    /// The ids in the main queue, head (newest) first, with their freq.
    pub fn main_ids(&self) -> Vec<(ObjId, u8)> {
        self.queue_ids(&self.main)
    }

    /// The ids the ghost remembers, newest first.
    pub fn ghost_ids(&self) -> Vec<ObjId> {
        self.ghost
            .ring
            .iter()
            .rev()
            .filter(|e| e.live)
            .map(|e| e.id)
            .collect()
    }

    /// What the index says about `id`.
    #[inline]
    fn lookup(&self, id: ObjId) -> Option<Slot> {
        let slab = &self.slab;
        self.index
            .get(id, |v| self.ghost.id_of(v, |i| slab.get(i).id))
            .map(Slot)
    }

    /// Indexes held `id` at slab slot `i`, whose node already holds it.
    #[inline]
    fn index_held(&mut self, id: ObjId, i: u32) {
        let (slab, ghost) = (&self.slab, &self.ghost);
        let v = Slot::held(i).0;
        self.index
            .insert(id, v, |v| ghost.id_of(v, |i| slab.get(i).id));
    }

    /// Takes held `id` (its node must still hold it) out of the index.
    #[inline]
    fn unindex(&mut self, id: ObjId) {
        let (slab, ghost) = (&self.slab, &self.ghost);
        self.index
            .remove(id, |v| ghost.id_of(v, |i| slab.get(i).id));
    }

    /// Panics unless queues, counters, index and ghost agree.
    #[cfg(test)]
    fn check(&self) {
        for (list, in_main, used) in [
            (&self.small, false, self.small_used),
            (&self.main, true, self.main_used),
        ] {
            let mut sum = 0;
            let mut cur = list.head();
            while let Some(i) = cur {
                let o = self.slab.get(i);
                assert_eq!(o.in_main, in_main);
                assert_eq!(self.lookup(o.id), Some(Slot::held(i)));
                sum += o.size;
                cur = self.slab.next_toward_tail(i);
            }
            assert_eq!(sum, used);
        }
        let held = self
            .index
            .values()
            .filter(|&v| Slot(v).as_held().is_some())
            .count();
        assert_eq!(held, self.len());
        let slab = &self.slab;
        self.ghost.check(&self.index, |i| slab.get(i).id);
    }

    fn queue_ids(&self, list: &List) -> Vec<(ObjId, u8)> {
        let mut out = Vec::with_capacity(list.len());
        let mut cur = list.head();
        while let Some(i) = cur {
            let o = self.slab.get(i);
            out.push((o.id, o.freq));
            cur = self.slab.next_toward_tail(i);
        }
        out
    }

    #[inline]
    fn hit(&mut self, i: u32) {
        let o = self.slab.get_mut(i);
        o.freq = o.freq.saturating_add(1);
    }

    /// The miss path once the index was probed: `ghost` is the id's ghost sequence bits if
    /// the ghost remembers it.
    fn insert_missing(
        &mut self,
        req: &Request,
        ghost: Option<u32>,
        evicted: &mut Vec<Evicted>,
    ) -> bool {
        let ghost_hit = match ghost {
            Some(seq) => {
                // libCacheSim removes the ghost entry on lookup, before deciding anything.
                let slab = &self.slab;
                self.ghost
                    .forget(req.id, seq, &mut self.index, |i| slab.get(i).id);
                true
            }
            None => false,
        };
        // libCacheSim's can_insert (size <= small, size <= capacity) and insert's refusal of
        // an object as large as small (unless it goes to main), checked before making room.
        let refused = req.size > self.small_cap
            || req.size > self.capacity
            || (!ghost_hit && req.size >= self.small_cap);
        if refused {
            return false;
        }
        while self.small_used + self.main_used + req.size > self.capacity {
            self.evict_one(evicted);
        }
        let to_main = ghost_hit || (!self.has_evicted && self.small_used >= self.small_cap);
        let i = self.slab.alloc(Obj {
            id: req.id,
            size: req.size,
            freq: 0,
            in_main: to_main,
        });
        if to_main {
            self.slab.push_head(&mut self.main, i);
            self.main_used += req.size;
        } else {
            self.slab.push_head(&mut self.small, i);
            self.small_used += req.size;
        }
        self.index_held(req.id, i);
        true
    }

    fn evict_one(&mut self, evicted: &mut Vec<Evicted>) {
        self.has_evicted = true;
        if self.main_used > self.main_cap || self.small_used == 0 {
            self.evict_main(evicted);
        } else {
            self.evict_small(evicted);
        }
    }

    /// Walks small's tail: objects hit often enough move to main, the first other one is
    /// evicted into the ghost.
    fn evict_small(&mut self, evicted: &mut Vec<Evicted>) {
        while self.small_used > 0 {
            let t = self
                .slab
                .pop_tail(&mut self.small)
                .expect("bytes in small imply an object");
            let o = self.slab.get_mut(t);
            self.small_used -= o.size;
            if o.freq >= self.threshold {
                o.freq = 0;
                o.in_main = true;
                self.main_used += o.size;
                self.slab.push_head(&mut self.main, t);
            } else {
                let Obj { id, size, .. } = *o;
                // The ghost entry replaces the id's held value, which the node still resolves.
                let slab = &self.slab;
                self.ghost
                    .remember(id, size, &mut self.index, |i| slab.get(i).id);
                self.slab.free(t);
                evicted.push(Evicted { id, size, slot: t });
                return;
            }
        }
    }

    /// Walks main's tail as a clock: objects hit since they were last here go back to the
    /// head with one less credit (at most 2), the first one with none is evicted.
    fn evict_main(&mut self, evicted: &mut Vec<Evicted>) {
        while self.main_used > 0 {
            let t = self
                .slab
                .pop_tail(&mut self.main)
                .expect("bytes in main imply an object");
            let o = self.slab.get_mut(t);
            if o.freq >= 1 {
                o.freq = o.freq.min(3) - 1;
                self.slab.push_head(&mut self.main, t);
            } else {
                let Obj { id, size, .. } = *o;
                self.main_used -= size;
                self.unindex(id);
                self.slab.free(t);
                evicted.push(Evicted { id, size, slot: t });
                return;
            }
        }
    }
}

impl Policy for S3Fifo {
    fn name(&self) -> String {
        format!(
            "s3fifo:small={},ghost={},threshold={}",
            self.small_ratio, self.ghost_ratio, self.threshold
        )
    }
    fn capacity(&self) -> u64 {
        self.capacity
    }
    fn used(&self) -> u64 {
        self.small_used + self.main_used
    }
    fn len(&self) -> usize {
        self.small.len() + self.main.len()
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
        if o.in_main {
            self.slab.unlink(&mut self.main, i);
            self.main_used -= o.size;
        } else {
            self.slab.unlink(&mut self.small, i);
            self.small_used -= o.size;
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
    fn sizes_and_name_follow_libcachesim() {
        let p = S3Fifo::new(100);
        assert_eq!(p.sizes(), (10, 90, 90));
        assert_eq!(p.name(), "s3fifo:small=0.1,ghost=0.9,threshold=2");
        // 128 MiB: 0.1 × 134217728 = 13421772.8 and 0.9 × … = 120795955.2, truncated.
        assert_eq!(
            S3Fifo::new(128 << 20).sizes(),
            (13421772, 134217728 - 13421772, 120795955)
        );
        let b = crate::build(&"s3fifo:threshold=1,small=0.2".parse().unwrap(), 10).unwrap();
        assert_eq!(b.name(), "s3fifo:small=0.2,ghost=0.9,threshold=1");
        assert!(crate::build(&"s3fifo:thresh=1".parse().unwrap(), 10).is_err());
        assert!(crate::build(&"s3fifo:small=1.5".parse().unwrap(), 10).is_err());
    }

    // Capacity 20 in unit sizes: small 2, main 18, ghost 18.

    #[test]
    fn small_tail_goes_to_ghost_and_a_ghost_hit_goes_to_main() {
        let mut reqs: Vec<(ObjId, u64)> = (1..=20).map(|i| (i, 1)).collect();
        // 1, 2 fill small; 3..=20 arrive while small is full before any eviction: main.
        // 21: the cache is full; main (18) is not over 18 and small is not empty, so small's
        // tail 1 (freq 0) is evicted into the ghost; 21 enters small.
        reqs.push((21, 1));
        // 22 evicts 2 the same way.
        reqs.push((22, 1));
        // 1 is in the ghost: evict small's tail 21 into the ghost, 1 enters main.
        reqs.push((1, 1));
        let (p, ev) = run(S3Fifo::new(20), &reqs);
        assert_eq!(ids(&ev), vec![1, 2, 21]);
        assert!(p.contains(1) && p.contains(22) && !p.contains(21));
    }

    /// One request of unit size: whether it hit, and the ids it evicted.
    fn step(p: &mut S3Fifo, id: ObjId) -> (bool, Vec<ObjId>) {
        let mut ev = Vec::new();
        let hit = p.access(&Request::new(id, 1), &mut ev);
        (hit, ids(&ev))
    }

    #[test]
    fn exact_state_through_promotion_reinsertion_and_ghost() {
        let mut p = S3Fifo::new(20);
        for id in 1..=20 {
            assert_eq!(step(&mut p, id), (false, vec![]));
        }
        assert_eq!(p.small_ids(), vec![(2, 0), (1, 0)]);
        assert_eq!(p.main_ids().len(), 18);
        // Hits: 2 twice (freq 2 = threshold), 3 once, 4 four times (uncapped until reinserted).
        for id in [2, 2, 3, 4, 4, 4, 4] {
            assert!(step(&mut p, id).0);
        }
        assert_eq!(p.main_ids()[16], (4, 4));
        // 21: small's tail 1 has freq 0 -> ghost.
        assert_eq!(step(&mut p, 21), (false, vec![1]));
        assert_eq!(p.small_ids(), vec![(21, 0), (2, 2)]);
        assert_eq!(p.ghost_ids(), vec![1]);
        // 22: small's tail 2 has freq 2 -> head of main with freq 0, the walk goes on: 21 ->
        // ghost. Main now holds 19 > 18; that is fixed by the next eviction, not now.
        assert_eq!(step(&mut p, 22), (false, vec![21]));
        assert_eq!(p.small_ids(), vec![(22, 0)]);
        assert_eq!(p.ghost_ids(), vec![21, 1]);
        assert_eq!(p.main_ids()[0], (2, 0));
        assert_eq!(p.main_ids().len(), 19);
        // 23: main is over its size: main's tail 3 (freq 1) -> head with 0, 4 (freq 4) ->
        // head with min(4, 3) - 1 = 2, then 5 (freq 0) is evicted. 23 enters small.
        assert_eq!(step(&mut p, 23), (false, vec![5]));
        assert_eq!(&p.main_ids()[..3], &[(4, 2), (3, 0), (2, 0)]);
        assert_eq!(p.small_ids(), vec![(23, 0), (22, 0)]);
        // 21 is in the ghost: main is at 18 (not over), small is not empty, so small's tail
        // 22 goes to the ghost; 21 enters main with freq 0 and leaves the ghost.
        assert_eq!(step(&mut p, 21), (false, vec![22]));
        assert_eq!(p.main_ids()[0], (21, 0));
        assert_eq!(p.ghost_ids(), vec![22, 1]);
        assert_eq!(p.used(), 20);
    }

    #[test]
    fn main_reinsertion_decrements_and_evicts_in_clock_order() {
        // Small 0.5 of 4 and threshold 1: small 2, main 2, ghost 3.
        let (p, ev) = run(
            S3Fifo::with_params(4, 0.5, 0.9, 1),
            &[
                // 1, 2 fill small.
                (1, 1),
                (2, 1),
                // 3, 4: small full before any eviction -> main.
                (3, 1),
                (4, 1),
                (3, 1), // 3: freq 1
                (1, 1), // 1: freq 1 (threshold 1)
                // 5: main 2 not over 2, small not empty: small's tail 1 (freq 1) -> main
                // head, walk on: 2 (freq 0) -> ghost. 5 enters small.
                (5, 1),
                // 6: main 3 > 2: main's tail 3 (freq 1) -> head with 0; 4 (freq 0) evicted.
                (6, 1),
                // 7: main 2 not over, small [6, 5]: 5 (freq 0) -> ghost.
                (7, 1),
            ],
        );
        assert_eq!(ids(&ev), vec![2, 4, 5]);
        assert!(p.contains(1) && p.contains(3) && p.contains(6) && p.contains(7));
    }

    #[test]
    fn refuses_objects_as_large_as_small_without_evicting() {
        // Small is 10: 10 is refused like 11, without making room.
        let (p, ev) = run(
            S3Fifo::new(100),
            &[(1, 9), (2, 10), (3, 11), (4, 101), (5, 9)],
        );
        assert!(ev.is_empty());
        assert!(p.contains(1) && !p.contains(2) && !p.contains(3) && !p.contains(4));
        assert!(p.contains(5));
        assert_eq!(p.used(), 18);
    }

    #[test]
    fn remove_from_small_and_main_leaves_the_ghost_alone() {
        let mut p = S3Fifo::new(20);
        let mut ev = Vec::new();
        for id in 1..=21 {
            p.access(&Request::new(id, 1), &mut ev);
        }
        // small [21, 2], main [20..=3], ghost [1].
        assert_eq!(p.remove(2), Some(1));
        assert_eq!(p.remove(10), Some(1));
        assert_eq!(p.remove(1), None, "a ghost entry is not held");
        assert_eq!(p.remove(99), None);
        assert_eq!(p.ghost_ids(), vec![1]);
        assert_eq!((p.len(), p.used()), (18, 18));
        assert_eq!(p.small_ids(), vec![(21, 0)]);
        // 1 still returns to main through the ghost.
        assert!(!p.access(&Request::new(1, 1), &mut ev));
        assert_eq!(p.main_ids()[0], (1, 0));
        assert_eq!(ids(&ev), vec![1], "only 1's eviction so far");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Random accesses and removals at small capacities: the contract (via `Checked`) and
        /// the internal invariants hold after every call, ghost compaction included.
        #[test]
        fn invariants_hold_under_random_use(
            capacity in 10u64..200,
            ghost in 0.0f64..3.0,
            threshold in 0u8..4,
            ops in proptest::collection::vec((0u64..300, 1u64..5, 0u8..10), 1..3000),
        ) {
            let mut p = S3Fifo::with_params(capacity, 0.1, ghost, threshold);
            let mut mirror = crate::Checked::new(Box::new(S3Fifo::with_params(
                capacity, 0.1, ghost, threshold,
            )));
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
    fn ghost_is_bounded_in_bytes_and_compacts() {
        // No held objects here: nothing resolves a held slot.
        let held = |_: u32| -> ObjId { unreachable!("no held objects") };
        let get = |g: &GhostFifo, ix: &SlotIndex, id| ix.get(id, |v| g.id_of(v, held)).map(Slot);
        let mut g = GhostFifo::new(10);
        let mut ix = SlotIndex::with_capacity(4);
        for id in 1..=5 {
            g.remember(id, 3, &mut ix, held);
        }
        // 10 bytes hold three ids of 3.
        assert_eq!((g.len(), g.used), (3, 9));
        assert!(get(&g, &ix, 1).is_none() && get(&g, &ix, 2).is_none());
        let seq = get(&g, &ix, 4).unwrap().as_ghost().unwrap();
        g.forget(4, seq, &mut ix, held);
        assert!(get(&g, &ix, 4).is_none());
        assert_eq!((g.len(), g.used), (2, 6));
        g.remember(6, 4, &mut ix, held); // fits: 10
        assert_eq!(g.len(), 3);
        g.remember(7, 11, &mut ix, held); // larger than the ghost: not remembered
        assert_eq!(g.len(), 3);
        g.remember(8, 1, &mut ix, held); // forgets 3 (the dead 4 is skipped), keeps 5, 6
        let mut live: Vec<_> = (0..10).filter(|&id| get(&g, &ix, id).is_some()).collect();
        live.sort();
        assert_eq!(live, vec![5, 6, 8]);
        assert_eq!(ix.len(), 3);
        g.check(&ix, held);
        // Forget from the middle repeatedly without the ghost ever filling: the ring stays
        // small and the index keeps pointing at the right entries.
        let mut g = GhostFifo::new(1 << 40);
        let mut ix = SlotIndex::with_capacity(4);
        g.remember(0, 1, &mut ix, held);
        for id in 1..10_000u64 {
            g.remember(id, 1, &mut ix, held);
            let seq = get(&g, &ix, id).unwrap().as_ghost().unwrap();
            g.forget(id, seq, &mut ix, held);
            assert!(get(&g, &ix, id).is_none());
        }
        assert!(g.ring.len() <= 2 * g.len() + 65, "{}", g.ring.len());
        assert_eq!(get(&g, &ix, 0).map(|s| s.as_ghost().is_some()), Some(true));
        g.check(&ix, held);
    }
}
