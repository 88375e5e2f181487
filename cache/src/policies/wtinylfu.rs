//! W-TinyLFU (Einziger, Friedman & Manes, 2017) as libCacheSim's `WTinyLFU.c` builds it: a
//! window LRU in front of a main segmented LRU, and a frequency sketch that decides whether a
//! window victim may displace the main cache's victim.
//!
//! The structure, following libCacheSim:
//! - **Window**: an LRU list. Every admitted object enters it. Its nominal size,
//!   `floor(capacity × window)`, only bounds what may be admitted (an object larger than the
//!   window is refused, as is one larger than probation); the list itself holds whatever the
//!   main cache does not, so it briefly holds everything while the cache first fills.
//! - **Main**: an SLRU of `capacity − window` split 1:4 into probation (20 %) and protected
//!   (80 %), each `floor`ed. An object moving into main goes to the lowest segment with room
//!   (so protected fills directly once probation is full), or to probation if none has room.
//!   A hit in probation promotes to protected; protected's overflow is demoted to probation's
//!   head, and probation's overflow is evicted (a hit can evict, see [`Policy::access`] below).
//!   The main victim is the tail of the lowest non-empty segment.
//! - **Eviction** (one step, repeated while the new object does not fit): take the window's
//!   LRU object. If main has room for it, move it there and take the next one. Otherwise it
//!   competes with the main victim: it is admitted to main (evicting the main victim, and more
//!   if it still does not fit) only if its estimated frequency is strictly greater; on a tie
//!   or less the window object is evicted. Either way the window object is then counted once
//!   more in the sketch (libCacheSim's quirk, kept).
//! - **Counting**: a hit in main counts the object; a hit in the window does not; an admitted
//!   miss counts the new object once (after the evictions it caused); refused objects are not
//!   counted. Only main hits advance the aging clock: after `sample × (capacity − window)`
//!   of them every counter is halved. In byte mode that sample is measured in bytes, exactly
//!   as libCacheSim does, so the sketch practically never ages there.
//!
//! Where this differs from libCacheSim, by choice:
//! - libCacheSim's sketch is a counting Bloom filter sized for `main capacity` entries at
//!   0.1 % error (14.4 counters per entry, 10 hash functions, 32-bit counters, and, in byte
//!   mode, up to 2³¹ counters). Here it is a blocked count-min sketch: 4 counters per object
//!   in one 64-byte block (one cache line per update), 16-bit saturating counters, 16
//!   counters per expected entry (main capacity in size units, as libCacheSim) rounded up to
//!   a power of two and capped at 2²² counters (8 MiB). Like libCacheSim's filter, an update
//!   increments all of an object's counters (its "minimal increment" filter in fact
//!   increments every counter) and the estimate is their minimum. libCacheSim's byte-mode
//!   filter is so large that its counts are exact; on the shared trace (49 k objects) a
//!   2²⁴-counter sketch is exact too, and the 2²² cap stays within 0.07 % of it in misses
//!   (2²⁰ was up to 0.7 % off), at a cost in cache misses. At small object-mode capacities
//!   both sketches overestimate heavily, but not identically (the hashing differs).
//! - The window is at least one size unit: libCacheSim's `floor(48 × 0.01) = 0` window
//!   refuses every object in a 48-object cache.
//! - A probation overflow caused by a hit is evicted at once by [`Policy::access`] (as in
//!   libCacheSim); [`Policy::touch`] cannot report evictions, so after a bare `touch` the
//!   overflow is evicted at the start of the next `admit` instead.
//! - The optional doorkeeper (`doorkeeper=1`, off by default since libCacheSim has none) is
//!   the paper's: a Bloom filter that absorbs each object's first count until the next
//!   aging, and adds one to the estimate of objects it holds.

use crate::list::{List, Slab};
use crate::params::{ParamError, Params, PolicySpec};
use crate::registry::PolicyInfo;
use crate::{id_map_with_capacity, Evicted, IdMap, ObjId, Policy, Request};

pub const INFO: PolicyInfo = PolicyInfo {
    name: "wtinylfu",
    about: "window LRU + segmented LRU main cache, admission to main by a TinyLFU frequency sketch",
    params: &["window=0.01", "sample=32", "doorkeeper=0"],
    build,
};

fn build(spec: &PolicySpec, capacity: u64) -> Result<Box<dyn Policy>, ParamError> {
    let mut p = Params::new(spec, &["window", "sample", "doorkeeper"]);
    let window = p.fraction("window", 0.01, 0.001, 0.99)?;
    let sample = p.integer("sample", 32, 1, 1 << 20)?;
    let doorkeeper = p.integer("doorkeeper", 0, 0, 1)? == 1;
    p.finish()?;
    Ok(Box::new(WTinyLfu::new(
        capacity, window, sample, doorkeeper,
    )))
}

/// Which list a node is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    Window,
    Probation,
    Protected,
}

#[derive(Clone, Copy, Debug)]
struct Node {
    id: ObjId,
    size: u64,
    at: Where,
}

/// Sketch size bounds, in counters.
const MIN_COUNTERS: u64 = 64;
const MAX_COUNTERS: u64 = 1 << 22;
/// Counters per entry the sketch is sized for (libCacheSim's filter has 14.4).
const COUNTERS_PER_ENTRY: u64 = 16;
/// Fixed seeds: the sketch must decide the same way on every run.
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;
const DOOR_SEED: u64 = 0xd1b5_4a32_d192_ed03;

/// One cache line of counters. Row `r` of the count-min sketch owns counters `8r..8r + 8`.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Block([u16; 32]);

/// A blocked count-min sketch with 16-bit saturating counters, 4 rows, and an optional
/// doorkeeper Bloom filter (2 probes).
pub struct Sketch {
    blocks: Vec<Block>,
    block_mask: u64,
    door: Vec<u64>,
    door_mask: u64,
}

/// A 64-bit mixer (the SplitMix64 finaliser) over a seeded id.
#[inline]
fn mix(id: ObjId, seed: u64) -> u64 {
    let mut z = id ^ seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Sketch {
    /// A sketch for about `entries` distinct objects.
    pub fn new(entries: u64, doorkeeper: bool) -> Self {
        let counters = entries
            .saturating_mul(COUNTERS_PER_ENTRY)
            .clamp(MIN_COUNTERS, MAX_COUNTERS)
            .next_power_of_two();
        let n_blocks = (counters / 32) as usize;
        let door_bits = if doorkeeper { counters } else { 0 };
        Self {
            blocks: vec![Block([0; 32]); n_blocks],
            block_mask: n_blocks as u64 - 1,
            door: vec![0; (door_bits / 64) as usize],
            door_mask: door_bits.wrapping_sub(1),
        }
    }

    /// The object's block and its four counter slots.
    #[inline]
    fn slots(&self, id: ObjId) -> (usize, [usize; 4]) {
        let h = mix(id, SEED);
        let b = (h & self.block_mask) as usize;
        let s = |r: usize| r * 8 + ((h >> (40 + 3 * r)) & 7) as usize;
        (b, [s(0), s(1), s(2), s(3)])
    }

    #[inline]
    fn door_bits(&self, id: ObjId) -> [u64; 2] {
        let g = mix(id, DOOR_SEED);
        [g & self.door_mask, (g >> 32) & self.door_mask]
    }

    #[inline]
    fn in_door(&self, id: ObjId) -> bool {
        !self.door.is_empty()
            && self
                .door_bits(id)
                .iter()
                .all(|&bit| self.door[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }

    /// The estimated count of `id`: the minimum of its counters, plus its doorkeeper bit.
    #[inline]
    pub fn estimate(&self, id: ObjId) -> u32 {
        let (b, s) = self.slots(id);
        let c = &self.blocks[b].0;
        let min = c[s[0]].min(c[s[1]]).min(c[s[2]]).min(c[s[3]]) as u32;
        min + self.in_door(id) as u32
    }

    /// Counts one occurrence of `id`. With a doorkeeper, an object it does not hold is only
    /// recorded there.
    #[inline]
    pub fn add(&mut self, id: ObjId) {
        if !self.door.is_empty() && !self.in_door(id) {
            for bit in self.door_bits(id) {
                self.door[(bit / 64) as usize] |= 1 << (bit % 64);
            }
            return;
        }
        let (b, s) = self.slots(id);
        let c = &mut self.blocks[b].0;
        for i in s {
            c[i] = c[i].saturating_add(1);
        }
    }

    /// Ages the sketch: halves every counter and empties the doorkeeper.
    pub fn halve(&mut self) {
        for b in &mut self.blocks {
            for c in &mut b.0 {
                *c >>= 1;
            }
        }
        self.door.fill(0);
    }
}

/// The W-TinyLFU state. Window, probation and protected lists share one slab.
pub struct WTinyLfu {
    capacity: u64,
    window_frac: f64,
    sample: u64,
    doorkeeper: bool,
    /// Nominal window size; also the admission bound.
    window_cap: u64,
    main_cap: u64,
    probation_cap: u64,
    protected_cap: u64,
    /// The largest object admitted: `min(window_cap, probation_cap, capacity)`.
    max_size: u64,
    map: IdMap<u32>,
    slab: Slab<Node>,
    window: List,
    probation: List,
    protected: List,
    window_bytes: u64,
    probation_bytes: u64,
    protected_bytes: u64,
    sketch: Sketch,
    /// A hit demoted protected objects into probation, which may now exceed its share:
    /// libCacheSim evicts that overflow within the hit; here `access` or the next `admit` does.
    /// (Probation may also exceed its share after an insertion; that is not evicted.)
    settle_pending: bool,
    /// Main hits counted since the sketch last aged, and how many trigger aging.
    hits_since_aging: u64,
    aging_period: u64,
}

impl WTinyLfu {
    /// A W-TinyLFU of `capacity` size units with a `window` fraction, aging after
    /// `sample × main capacity` main hits, with or without a doorkeeper.
    pub fn new(capacity: u64, window: f64, sample: u64, doorkeeper: bool) -> Self {
        let window_cap = ((capacity as f64 * window) as u64).max(1);
        let main_cap = capacity.saturating_sub(window_cap);
        let probation_cap = (0.2 * main_cap as f64) as u64;
        let protected_cap = (0.8 * main_cap as f64) as u64;
        Self {
            capacity,
            window_frac: window,
            sample,
            doorkeeper,
            window_cap,
            main_cap,
            probation_cap,
            protected_cap,
            max_size: window_cap.min(probation_cap).min(capacity),
            map: id_map_with_capacity(1024),
            slab: Slab::with_capacity(1024),
            window: List::default(),
            probation: List::default(),
            protected: List::default(),
            window_bytes: 0,
            probation_bytes: 0,
            protected_bytes: 0,
            sketch: Sketch::new(main_cap, doorkeeper),
            settle_pending: false,
            hits_since_aging: 0,
            aging_period: sample.saturating_mul(main_cap).max(1),
        }
    }

    /// The nominal window size, which bounds the size of an admitted object.
    pub fn window_capacity(&self) -> u64 {
        self.window_cap
    }

    /// The estimated frequency of `id` in the admission sketch.
    pub fn frequency(&self, id: ObjId) -> u32 {
        self.sketch.estimate(id)
    }

    fn main_bytes(&self) -> u64 {
        self.probation_bytes + self.protected_bytes
    }

    /// Unlinks node `i` from its list and takes its size off that list's total.
    fn detach(&mut self, i: u32) -> Node {
        let n = *self.slab.get(i);
        let (list, bytes) = match n.at {
            Where::Window => (&mut self.window, &mut self.window_bytes),
            Where::Probation => (&mut self.probation, &mut self.probation_bytes),
            Where::Protected => (&mut self.protected, &mut self.protected_bytes),
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
            Where::Window => (&mut self.window, &mut self.window_bytes),
            Where::Probation => (&mut self.probation, &mut self.probation_bytes),
            Where::Protected => (&mut self.protected, &mut self.protected_bytes),
        };
        self.slab.push_head(list, i);
        *bytes += size;
    }

    /// Evicts node `i` (on any list) and reports it.
    fn evict_node(&mut self, i: u32, evicted: &mut Vec<Evicted>) {
        let n = self.detach(i);
        self.map.remove(&n.id);
        self.slab.free(i);
        evicted.push(Evicted {
            id: n.id,
            size: n.size,
        });
    }

    /// The main cache's victim: the tail of the lowest non-empty segment.
    fn main_victim(&self) -> Option<u32> {
        if self.probation_bytes > 0 {
            self.probation.tail()
        } else if self.protected_bytes > 0 {
            self.protected.tail()
        } else {
            self.probation.tail().or(self.protected.tail())
        }
    }

    fn evict_main(&mut self, evicted: &mut Vec<Evicted>) {
        let v = self.main_victim().expect("main eviction with main empty");
        self.evict_node(v, evicted);
    }

    /// Moves detached node `i` into main: the lowest segment with room, else probation after
    /// evicting from main until it fits.
    fn insert_main(&mut self, i: u32, evicted: &mut Vec<Evicted>) {
        let size = self.slab.get(i).size;
        let at = if self.probation_bytes + size <= self.probation_cap {
            Where::Probation
        } else if self.protected_bytes + size <= self.protected_cap {
            Where::Protected
        } else {
            while self.main_bytes() + size > self.main_cap {
                self.evict_main(evicted);
            }
            Where::Probation
        };
        self.attach(i, at);
    }

    /// Evicts probation's overflow left by a hit's demotions (libCacheSim does it within the
    /// hit).
    #[inline]
    fn settle(&mut self, evicted: &mut Vec<Evicted>) {
        if self.settle_pending {
            self.settle_pending = false;
            while self.probation_bytes > self.probation_cap {
                self.evict_main(evicted);
            }
        }
    }

    /// One eviction step (libCacheSim's `WTinyLFU_evict`).
    fn evict_one(&mut self, evicted: &mut Vec<Evicted>) {
        loop {
            let Some(w) = self.window.tail() else {
                self.evict_main(evicted);
                return;
            };
            let cand = *self.slab.get(w);
            if self.main_bytes() + cand.size <= self.main_cap {
                self.detach(w);
                self.insert_main(w, evicted);
                self.sketch.add(cand.id);
                continue;
            }
            let m = self.main_victim().expect("main is full, so not empty");
            let main_id = self.slab.get(m).id;
            if self.sketch.estimate(cand.id) > self.sketch.estimate(main_id) {
                self.evict_node(m, evicted);
                self.detach(w);
                self.insert_main(w, evicted);
            } else {
                self.evict_node(w, evicted);
            }
            self.sketch.add(cand.id);
            return;
        }
    }

    fn count_main_hit(&mut self, id: ObjId) {
        self.sketch.add(id);
        self.hits_since_aging += 1;
        if self.hits_since_aging >= self.aging_period {
            self.hits_since_aging = 0;
            self.sketch.halve();
        }
    }
}

impl Policy for WTinyLfu {
    fn name(&self) -> String {
        format!(
            "wtinylfu:window={},sample={},doorkeeper={}",
            self.window_frac, self.sample, self.doorkeeper as u8
        )
    }
    fn capacity(&self) -> u64 {
        self.capacity
    }
    fn used(&self) -> u64 {
        self.window_bytes + self.main_bytes()
    }
    fn len(&self) -> usize {
        self.window.len() + self.probation.len() + self.protected.len()
    }
    fn contains(&self, id: ObjId) -> bool {
        self.map.contains_key(&id)
    }

    #[inline]
    fn touch(&mut self, req: &Request) -> bool {
        let Some(&i) = self.map.get(&req.id) else {
            return false;
        };
        match self.slab.get(i).at {
            Where::Window => {
                self.slab.move_to_head(&mut self.window, i);
                return true; // window hits are not counted (libCacheSim)
            }
            Where::Protected => self.slab.move_to_head(&mut self.protected, i),
            Where::Probation => {
                self.detach(i);
                self.attach(i, Where::Protected);
                while self.protected_bytes > self.protected_cap {
                    let t = self.protected.tail().expect("protected over its size");
                    self.detach(t);
                    self.attach(t, Where::Probation);
                    self.settle_pending = true;
                }
                // Probation may now overflow; `access` or the next `admit` evicts it.
            }
        }
        self.count_main_hit(req.id);
        true
    }

    fn admit(&mut self, req: &Request, evicted: &mut Vec<Evicted>) -> bool {
        // Refuse first: the contract promises an oversize refusal evicts nothing, so a
        // pending eviction from an earlier bare `touch` waits for the next admission.
        if req.size > self.max_size {
            return false;
        }
        self.settle(evicted);
        while self.used() + req.size > self.capacity {
            self.evict_one(evicted);
        }
        let i = self.slab.alloc(Node {
            id: req.id,
            size: req.size,
            at: Where::Window,
        });
        self.attach(i, Where::Window);
        self.map.insert(req.id, i);
        self.sketch.add(req.id);
        true
    }

    fn remove(&mut self, id: ObjId) -> Option<u64> {
        let i = self.map.remove(&id)?;
        let n = self.detach(i);
        self.slab.free(i);
        Some(n.size)
    }

    /// As the default, but a hit that overflows probation evicts at once, as in libCacheSim.
    #[inline]
    fn access(&mut self, req: &Request, evicted: &mut Vec<Evicted>) -> bool {
        if self.touch(req) {
            self.settle(evicted);
            true
        } else {
            self.admit(req, evicted);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::testing::{ids, run};

    fn list(c: &WTinyLfu, at: Where) -> Vec<ObjId> {
        let l = match at {
            Where::Window => c.window,
            Where::Probation => c.probation,
            Where::Protected => c.protected,
        };
        let mut out = vec![];
        let mut cur = l.head();
        while let Some(i) = cur {
            out.push(c.slab.get(i).id);
            cur = c.slab.next_toward_tail(i);
        }
        out
    }

    fn replay(c: &mut WTinyLfu, reqs: &[ObjId]) -> Vec<ObjId> {
        let mut ev = vec![];
        for &id in reqs {
            c.access(&Request::new(id, 1), &mut ev);
        }
        ids(&ev)
    }

    /// 10 objects: window 1, main 9 = probation 1 (floor 1.8) + protected 7 (floor 7.2).
    fn small() -> WTinyLfu {
        WTinyLfu::new(10, 0.1, 32, false)
    }

    #[test]
    fn builds_from_spec_and_refuses_unknown_keys() {
        let p = crate::build(&"wtinylfu:window=0.05,doorkeeper=1".parse().unwrap(), 100).unwrap();
        assert_eq!(p.name(), "wtinylfu:window=0.05,sample=32,doorkeeper=1");
        assert_eq!((p.capacity(), p.len()), (100, 0));
        assert!(crate::build(&"wtinylfu:windw=0.05".parse().unwrap(), 100).is_err());
        assert!(crate::build(&"wtinylfu:window=1".parse().unwrap(), 100).is_err());
    }

    #[test]
    fn sizes_follow_libcachesim() {
        let c = small();
        assert_eq!(
            (c.window_cap, c.main_cap, c.probation_cap, c.protected_cap),
            (1, 9, 1, 7)
        );
        let c = WTinyLfu::new(128 << 20, 0.01, 32, false);
        // floor(134217728 × 0.01) = 1342177; main 132875551; 20 % / 80 % floored.
        assert_eq!(c.window_capacity(), 1_342_177);
        assert_eq!(
            (c.probation_cap, c.protected_cap),
            (26_575_110, 106_300_440)
        );
        assert_eq!(WTinyLfu::new(48, 0.01, 32, false).window_capacity(), 1);
    }

    #[test]
    fn window_drains_into_main_then_a_rare_victim_is_rejected() {
        let mut c = small();
        // 1..10 all enter the window (each counted once). 11 needs room: the window's LRU
        // objects move into main while it has room: 1 to probation, 2..8 to protected, 9 to
        // probation (no segment has room but main does). Each is counted again (2). Then 10
        // (count 1) meets main's victim, probation's tail 1 (count 2): 1 > 2 fails, 10 is
        // evicted and counted (2).
        let ev = replay(&mut c, &(1..=11).collect::<Vec<_>>());
        assert_eq!(ev, vec![10]);
        assert_eq!(list(&c, Where::Probation), vec![9, 1]);
        assert_eq!(list(&c, Where::Protected), vec![8, 7, 6, 5, 4, 3, 2]);
        assert_eq!(list(&c, Where::Window), vec![11]);
        assert_eq!(
            (c.frequency(10), c.frequency(1), c.frequency(11)),
            (2, 2, 1)
        );
        // 12: window victim 11 (1) against 1 (2): rejected.
        assert_eq!(replay(&mut c, &[12]), vec![11]);
    }

    #[test]
    fn a_frequent_window_victim_displaces_the_probation_victim() {
        let mut c = small();
        assert_eq!(replay(&mut c, &(1..=12).collect::<Vec<_>>()), vec![10, 11]);
        // Counts: 1..11 = 2, 12 = 1. Window = {12}, probation = {9, 1}.
        // 11 again: victim 12 (1) vs 1 (2) rejected; 11 enters with count 3.
        // 13: victim 11 (3) vs 1 (2): admitted. 1 is evicted; 11 goes to main: probation
        // (1 of 1) and protected (7 of 7) are full but main (8 of 9) has room, so it goes to
        // probation's head.
        assert_eq!(replay(&mut c, &[11, 13]), vec![12, 1]);
        assert_eq!(list(&c, Where::Probation), vec![11, 9]);
        assert_eq!(list(&c, Where::Window), vec![13]);
        assert_eq!(c.frequency(11), 4);
    }

    #[test]
    fn a_tie_keeps_the_main_victim() {
        let mut c = small();
        replay(&mut c, &(1..=11).collect::<Vec<_>>());
        // Hit 1 (probation, count 3): promoted; protected overflows and demotes its tail 2,
        // probation {2, 9} overflows and evicts 9. Hitting 2..8 in turn as each comes down
        // promotes each (count 3) and demotes the next; the hit on 8 demotes 1.
        let ev = replay(&mut c, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(ev, vec![9]);
        assert_eq!(list(&c, Where::Probation), vec![1]);
        assert_eq!(list(&c, Where::Protected), vec![8, 7, 6, 5, 4, 3, 2]);
        assert_eq!(c.frequency(1), 3);
        // 12 fits (9 + 1). 13: the window's victim 11 moves to main (8 of 9), to probation
        // as no segment has room (count 2); then 12 (1) vs 1 (3) is rejected.
        assert_eq!(replay(&mut c, &[12, 13]), vec![12]);
        assert_eq!(list(&c, Where::Probation), vec![11, 1]);
        // 12 returns: victim 13 (1) vs 1 (3) rejected; 12 enters with 2 + 1 = 3.
        // 14: victim 12 (3) vs 1 (3): a tie, so the window victim loses.
        assert_eq!(replay(&mut c, &[12, 14]), vec![13, 12]);
        assert_eq!(c.frequency(12), 4);
        // 12 once more (5): victim 14 (1) rejected; 15: 12 (5) > 1 (3) displaces 1.
        assert_eq!(replay(&mut c, &[12, 15]), vec![14, 1]);
        assert_eq!(list(&c, Where::Probation), vec![12, 11]);
    }

    #[test]
    fn touch_defers_probation_overflow_to_the_next_admit() {
        let mut c = small();
        replay(&mut c, &(1..=11).collect::<Vec<_>>());
        // A bare touch of 1 promotes it and demotes 2, but cannot report 9's eviction.
        assert!(c.touch(&Request::new(1, 1)));
        assert!(c.contains(9));
        assert_eq!(list(&c, Where::Probation), vec![2, 9]);
        let mut ev = vec![];
        assert!(c.admit(&Request::new(20, 1), &mut ev));
        // 9 goes first (the overflow), then 20 fits without another eviction.
        assert_eq!(ids(&ev), vec![9]);
        assert_eq!(list(&c, Where::Window), vec![20, 11]);
    }

    #[test]
    fn remove_from_each_list() {
        let mut c = small();
        replay(&mut c, &(1..=11).collect::<Vec<_>>());
        assert_eq!(c.remove(11), Some(1), "window");
        assert_eq!(c.remove(9), Some(1), "probation");
        assert_eq!(c.remove(5), Some(1), "protected");
        assert_eq!(c.remove(5), None);
        assert_eq!(c.remove(10), None, "evicted earlier");
        assert_eq!((c.used(), c.len()), (7, 7));
        // History is kept: 1 still has its count.
        assert_eq!(c.frequency(1), 2);
        assert!(list(&c, Where::Window).is_empty());
        assert_eq!(list(&c, Where::Probation), vec![1]);
    }

    #[test]
    fn oversize_is_refused_and_invariants_hold() {
        // Window 10 % of 100 = 10, probation floor(0.2 × 90) = 18: the bound is 10.
        let (p, ev) = run(WTinyLfu::new(100, 0.1, 32, false), &[(1, 10), (2, 11)]);
        assert!(ev.is_empty() && p.contains(1) && !p.contains(2));
        let reqs: Vec<(ObjId, u64)> = (0..5000u64)
            .map(|k| ((k * 7919) % 97 + (k % 7) * 13, 1 + (k * 31) % 9))
            .collect();
        for door in [false, true] {
            let (p, _) = run(WTinyLfu::new(200, 0.05, 1, door), &reqs);
            assert!(p.used() <= 200);
        }
    }

    #[test]
    fn sketch_counts_ages_and_doorkeeps() {
        let mut s = Sketch::new(1000, false);
        for _ in 0..5 {
            s.add(42);
        }
        assert_eq!(s.estimate(42), 5);
        s.halve();
        assert_eq!(s.estimate(42), 2);
        let mut d = Sketch::new(1000, true);
        d.add(7);
        assert_eq!(d.estimate(7), 1, "the first count is the doorkeeper's");
        d.add(7);
        d.add(7);
        assert_eq!(d.estimate(7), 3);
        d.halve();
        assert_eq!(d.estimate(7), 1, "2 halved, doorkeeper cleared");
    }

    #[test]
    fn aging_after_sample_times_main_capacity_main_hits() {
        // Main 9, sample 1: the 9th main hit halves the sketch.
        let mut c = WTinyLfu::new(10, 0.1, 1, false);
        replay(&mut c, &(1..=11).collect::<Vec<_>>());
        // 2..8 are in protected with count 2; hit 2 eight times: 3..10, then the 9th hit
        // makes 11 and halves to 5.
        for _ in 0..8 {
            replay(&mut c, &[2]);
        }
        assert_eq!(c.frequency(2), 10);
        replay(&mut c, &[2]);
        assert_eq!(c.frequency(2), 5);
    }
}
