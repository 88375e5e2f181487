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
//! The frequency sketch agrees with libCacheSim's in bounded memory:
//! - libCacheSim's is a counting Bloom filter (`minimalIncrementCBF`) sized for `main
//!   capacity` entries at a 0.1 % error: `ceil(14.38 × main capacity)` 32-bit counters; an
//!   object's are the 10 at `(a + i·b) mod n`, from two XXH64 hashes of its id; an update
//!   increments all 10 (despite the filter's name) and the estimate is their minimum. Where
//!   that is at most 2²² counters (16 MiB: main capacities up to 291,725 size units, so
//!   object-mode caches up to about that many objects, and byte-mode caches under about
//!   290 KB), the sketch here *is* that filter: same size, seeds, hashes and arithmetic, so
//!   the same estimates, collisions included. On the shared trace this reproduces
//!   libCacheSim's misses exactly in object mode (489 to 25,000 objects).
//! - Past that (byte mode in practice), libCacheSim's filter has up to 2³¹ − 1 counters
//!   (8 GiB of address space) and so counts practically exactly. Here the counts are kept
//!   exactly instead, in a table keyed by a 40-bit fingerprint of those hashes: 8 bytes an
//!   object, 16 objects to a bucket of two adjacent cache lines, one bucket read per update
//!   or estimate. It starts at 64 KiB and doubles (splitting each bucket, losing nothing)
//!   when more than half full or when a bucket fills, up to 8 MiB (2²⁰ objects); at that
//!   size an object finding its bucket full displaces the bucket's least-counted object. This
//!   reproduces libCacheSim's byte-mode misses exactly on the shared trace (49 k objects),
//!   and on a 2 M-request Zipf(0.9) trace of 471 k objects at 16 and 64 MiB. The
//!   alternatives tried were worse: the blocked count-min sketch this replaces (2²² 16-bit
//!   counters) was up to 0.07 % off; a libCacheSim-style filter needs 2²⁰ counters (4 MiB)
//!   to be exact here (2¹⁸ is 3 % off) and its ten cache misses an update about halved the
//!   speed; and a filter grown by doubling (copying each counter to both halves keeps every
//!   estimate) keeps its fill, so collisions pile up with each doubling (1.8 % off).
//! - Where the table replaces a filter that is overloaded (object mode with far more distinct
//!   objects than main capacity, just past 2²² counters), the exact counts admit a little
//!   differently from libCacheSim's overestimates: 0.13 % fewer misses at 300,000 objects on
//!   that Zipf trace (at 150,000 objects, still a filter here, the table would be 0.66 % off,
//!   hence the 16 MiB bound rather than 8; up to 200,000 objects the filter is exact there).
//! - libCacheSim takes the filter's entry count as a C `int`: past 2³¹ − 1 bytes of main
//!   capacity it wraps, to a negative count (the filter then gets 20 counters) or a much
//!   smaller one. That is not reproduced.
//!
//! Other differences from libCacheSim, by choice:
//! - The window is at least one size unit: libCacheSim's `floor(48 × 0.01) = 0` window
//!   refuses every object in a 48-object cache (it misses all 113,872 requests of the shared
//!   trace; this misses 101,079), which is no use to anyone.
//! - A probation overflow caused by a hit is evicted at once by [`Policy::access`] (as in
//!   libCacheSim); [`Policy::touch`] cannot report evictions, so after a bare `touch` the
//!   overflow is evicted at the start of the next `admit` instead.
//! - The optional doorkeeper (`doorkeeper=1`, off by default since libCacheSim has none) is
//!   the paper's: a Bloom filter that absorbs each object's first count until the next
//!   aging, and adds one to the estimate of objects it holds.

use crate::index::SlotIndex;
use crate::list::{List, Slab};
use crate::params::{ParamError, Params, PolicySpec};
use crate::registry::PolicyInfo;
use crate::{Evicted, ObjId, Policy, Request};
use xxhash_rust::xxh64::xxh64;

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
    Window = 0,
    Probation = 1,
    Protected = 2,
}

/// The bits of a node's size; its list takes the top two of the word.
const SIZE_BITS: u32 = 62;
/// The largest size a node records (4 EiB). Never reached: an admitted object fits
/// probation, at most a fifth of a capacity that is at most 2^64 − 1.
const MAX_NODE_SIZE: u64 = (1 << SIZE_BITS) - 1;

/// A held object's record: with its list links, 32 bytes (40 with the list in a byte of its
/// own).
#[derive(Clone, Copy, Debug)]
struct Node {
    /// The id and its sketch hashes, computed once at admission.
    key: Key,
    /// The size in the low [`SIZE_BITS`] bits, the list ([`Where`]) above.
    size_at: u64,
}

impl Node {
    #[inline]
    fn new(key: Key, size: u64, at: Where) -> Self {
        debug_assert!(size <= MAX_NODE_SIZE);
        Self {
            key,
            size_at: size | (at as u64) << SIZE_BITS,
        }
    }

    #[inline]
    fn size(&self) -> u64 {
        self.size_at & MAX_NODE_SIZE
    }

    #[inline]
    fn at(&self) -> Where {
        match self.size_at >> SIZE_BITS {
            0 => Where::Window,
            1 => Where::Probation,
            _ => Where::Protected,
        }
    }

    #[inline]
    fn set_at(&mut self, at: Where) {
        self.size_at = self.size() | (at as u64) << SIZE_BITS;
    }
}

/// libCacheSim's filter: `−ln(0.001) / ln(2)²` ≈ 14.38 counters per expected entry, for a
/// 0.1 % false-positive rate, and `ceil(ln 2 × 14.38)` = 10 hash functions.
fn counters_per_entry() -> f64 {
    -(0.001f64).ln() / 0.480_453_013_918_201
}
const HASHES: u32 = 10;
/// libCacheSim's `HASH_SEED0` and `HASH_SEED1`: the two XXH64 seeds of its filter.
const SEED_A: u64 = 0x1234_5678;
const SEED_B: u64 = 0x1234_4321;
/// The doorkeeper's own seed (libCacheSim has no doorkeeper).
const DOOR_SEED: u64 = 0xd1b5_4a32_d192_ed03;

/// Up to this many counters (16 MiB), frequencies are kept in libCacheSim's filter, sized as
/// libCacheSim sizes it: `ceil(14.38 × main capacity)` counters, which covers main
/// capacities up to 291,725 size units.
pub const FILTER_MAX_COUNTERS: u64 = 1 << 22;
/// Past that, in a `Table` of 2^9 buckets (64 KiB) at first …
const TABLE_MIN_LOG2: u32 = 9;
/// … doubling as it fills, up to 2^16 buckets (8 MiB, 2^20 slots).
const TABLE_MAX_LOG2: u32 = 16;
/// The doorkeeper's bits alongside a table (128 KiB).
const TABLE_DOOR_BITS: u64 = 1 << 20;

/// How many counters libCacheSim's filter has for `entries` expected entries (at least twice
/// the hash count). libCacheSim also clamps to `INT_MAX`, and takes `entries` as a C `int`,
/// which wraps past 2³¹ − 1; neither case is reached here, as such sizes get a `Table`.
pub fn libcachesim_counters(entries: u64) -> u64 {
    let n = (counters_per_entry() * entries as f64).ceil();
    (n.min(i32::MAX as f64) as u64).max(2 * HASHES as u64)
}

/// An object's id and two 32-bit hashes: XXH64 of the id's 8 little-endian bytes under each
/// of libCacheSim's seeds, truncated (as libCacheSim assigns them to `unsigned int`).
/// Computed once when the object is admitted and kept in its node.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    pub id: ObjId,
    a: u32,
    b: u32,
}

impl Key {
    #[inline]
    pub fn new(id: ObjId) -> Self {
        let bytes = id.to_le_bytes();
        Self {
            id,
            a: xxh64(&bytes, SEED_A) as u32,
            b: xxh64(&bytes, SEED_B) as u32,
        }
    }

    /// 40 bits of the two hashes, the key of a `Table`.
    #[inline]
    fn fingerprint(self) -> u64 {
        ((self.b as u64) << 32 | self.a as u64) >> (64 - FP_BITS)
    }
}

/// libCacheSim's `minimalIncrementCBF`: `n` 32-bit counters; an object's are the 10 at
/// `(a + i·b) mod n`, `i` in `0..10`, computed in 32-bit arithmetic. An update increments
/// all 10 (despite its name, libCacheSim's filter does not increment only the minimal
/// ones), the estimate is their minimum, and aging halves every counter.
struct Filter {
    counters: Vec<u32>,
    n: u32,
    /// Lemire's constant for reducing modulo `n`.
    fastmod: u64,
}

impl Filter {
    fn new(counters: u64) -> Self {
        let n = counters.clamp(HASHES as u64, i32::MAX as u64) as u32;
        Self {
            counters: vec![0; n as usize],
            n,
            fastmod: (u64::MAX / n as u64).wrapping_add(1),
        }
    }

    /// The `i`th counter of `k`, the modulo by Lemire's multiply-shift (exact for 32-bit
    /// operands).
    #[inline]
    fn index(&self, k: Key, i: u32) -> usize {
        let x = k.a.wrapping_add(i.wrapping_mul(k.b));
        let low = self.fastmod.wrapping_mul(x as u64);
        ((low as u128 * self.n as u128) >> 64) as usize
    }

    #[inline]
    fn estimate(&self, k: Key) -> u32 {
        (0..HASHES)
            .map(|i| self.counters[self.index(k, i)])
            .min()
            .unwrap_or(0)
    }

    #[inline]
    fn add(&mut self, k: Key) {
        for i in 0..HASHES {
            let x = self.index(k, i);
            self.counters[x] = self.counters[x].saturating_add(1);
        }
    }

    fn halve(&mut self) {
        for c in &mut self.counters {
            *c >>= 1;
        }
    }
}

/// Fingerprint and count bits of a `Table` slot.
const FP_BITS: u32 = 40;
const COUNT_BITS: u32 = 24;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;

/// Slots in a `Table` bucket.
const SLOTS: usize = 16;

/// Two adjacent cache lines of a `Table`: 16 slots, each `fingerprint << 24 | count`, 0
/// when free.
#[derive(Clone, Copy)]
#[repr(C, align(128))]
struct Bucket([u64; SLOTS]);

/// Exact counts keyed by 40-bit fingerprint, in `2^log2` buckets of 16 slots: an object lives
/// in the bucket named by the top `log2` bits of its fingerprint, so a lookup reads two
/// adjacent cache lines, and doubling splits each bucket in two by the next bit without
/// losing or merging anything. Two objects share a count only if their fingerprints are
/// equal (about n² / 2⁴¹ pairs among n objects: 0.001 for 50,000). The table doubles when
/// more than half its slots are taken. An object that finds its bucket full before that goes
/// to a small spill list, counted exactly all the same (16-slot buckets make that rare below
/// half full, and the spill is searched only for an object whose bucket is full; doubling on
/// a full bucket instead, as this table once did, kept it at about a fifth full). At its
/// largest, an object that finds its bucket full replaces the bucket's least-counted object,
/// which is forgotten. Aging halves every count and frees the slots that reach 0.
struct Table {
    buckets: Vec<Bucket>,
    log2: u32,
    max_log2: u32,
    /// Bucket slots taken.
    used: usize,
    /// `fingerprint << 24 | count` of objects whose bucket is full: they spilled from it while
    /// the table was below its largest size. Every entry's bucket stays full (aging moves an
    /// entry back into its bucket if a slot frees up there, doubling re-places every entry),
    /// so only a lookup that finds its bucket full needs to search here.
    spill: Vec<u64>,
}

impl Table {
    fn new(log2: u32, max_log2: u32) -> Self {
        Self {
            buckets: vec![Bucket([0; SLOTS]); 1 << log2],
            log2,
            max_log2: max_log2.max(log2),
            used: 0,
            spill: Vec::new(),
        }
    }

    #[inline]
    fn bucket(&self, fp: u64) -> usize {
        // `log2` is at most 40 (checked by `Sketch::table`), so the shift is in range.
        (fp >> (FP_BITS - self.log2)) as usize
    }

    #[inline]
    fn estimate(&self, fp: u64) -> u32 {
        let slots = &self.buckets[self.bucket(fp)].0;
        let found = slots.iter().find(|&&s| s != 0 && s >> COUNT_BITS == fp);
        match found {
            Some(&s) => (s & COUNT_MAX) as u32,
            None if !self.spill.is_empty() && slots.iter().all(|&s| s != 0) => self
                .spill
                .iter()
                .find(|&&s| s >> COUNT_BITS == fp)
                .map_or(0, |&s| (s & COUNT_MAX) as u32),
            None => 0,
        }
    }

    #[inline]
    fn add(&mut self, fp: u64) {
        let b = self.bucket(fp);
        let slots = &mut self.buckets[b].0;
        let mut free = None;
        for (j, s) in slots.iter_mut().enumerate() {
            if *s == 0 {
                free = free.or(Some(j));
            } else if *s >> COUNT_BITS == fp {
                if *s & COUNT_MAX < COUNT_MAX {
                    *s += 1;
                }
                return;
            }
        }
        if let Some(j) = free {
            slots[j] = fp << COUNT_BITS | 1;
            self.used += 1;
        } else if let Some(s) = self.spill.iter_mut().find(|s| **s >> COUNT_BITS == fp) {
            if *s & COUNT_MAX < COUNT_MAX {
                *s += 1;
            }
            return;
        } else if self.log2 < self.max_log2 {
            self.spill.push(fp << COUNT_BITS | 1);
        } else {
            // Full at its largest: forget the least-counted object (the first of equals).
            let j = (0..SLOTS)
                .min_by_key(|&j| slots[j] & COUNT_MAX)
                .unwrap_or(0);
            slots[j] = fp << COUNT_BITS | 1;
            return;
        }
        if (self.used + self.spill.len()) * 2 > self.buckets.len() * SLOTS
            && self.log2 < self.max_log2
        {
            self.double();
        }
    }

    /// Puts `s` in a free slot of its bucket if there is one (else gives it back).
    fn place(&mut self, s: u64) -> Result<(), u64> {
        let b = self.bucket(s >> COUNT_BITS);
        match self.buckets[b].0.iter_mut().find(|x| **x == 0) {
            Some(x) => {
                *x = s;
                self.used += 1;
                Ok(())
            }
            None => Err(s),
        }
    }

    fn double(&mut self) {
        let log2 = self.log2 + 1;
        let old = std::mem::replace(&mut self.buckets, vec![Bucket([0; SLOTS]); 1 << log2]);
        self.log2 = log2;
        self.used = 0;
        for s in old.iter().flat_map(|b| b.0) {
            if s != 0 {
                // A new bucket takes part of one old bucket's slots, so it has room.
                self.place(s).expect("a split bucket has room");
            }
        }
        let spill = std::mem::take(&mut self.spill);
        for s in spill {
            if let Err(s) = self.place(s) {
                self.spill.push(s);
            }
        }
    }

    fn halve(&mut self) {
        for s in self.buckets.iter_mut().flat_map(|b| b.0.iter_mut()) {
            if *s != 0 {
                let count = (*s & COUNT_MAX) >> 1;
                if count == 0 {
                    *s = 0;
                    self.used -= 1;
                } else {
                    *s = (*s & !COUNT_MAX) | count;
                }
            }
        }
        // Halve the spilled counts too, and move them back into their buckets where slots
        // were freed, so every spilled object's bucket stays full.
        let spill = std::mem::take(&mut self.spill);
        for s in spill {
            let count = (s & COUNT_MAX) >> 1;
            if count > 0 {
                if let Err(s) = self.place((s & !COUNT_MAX) | count) {
                    self.spill.push(s);
                }
            }
        }
    }
}

/// Where the counts are kept.
enum Counts {
    Filter(Filter),
    Table(Table),
}

/// W-TinyLFU's frequency sketch: libCacheSim's counting Bloom filter where that is small,
/// else an exact-count `Table` that grows with the objects it counts, to a bound; and an
/// optional doorkeeper Bloom filter (2 probes) in front.
pub struct Sketch {
    counts: Counts,
    door: Vec<u64>,
    door_mask: u64,
}

/// A 64-bit mixer (the SplitMix64 finaliser) over a seeded id, for the doorkeeper.
#[inline]
fn mix(id: ObjId, seed: u64) -> u64 {
    let mut z = id ^ seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Sketch {
    fn with(counts: Counts, door_bits: u64, doorkeeper: bool) -> Self {
        let door_bits = if doorkeeper { door_bits.max(64) } else { 0 };
        Self {
            counts,
            door: vec![0; (door_bits / 64) as usize],
            door_mask: door_bits.wrapping_sub(1),
        }
    }

    /// libCacheSim's filter with `counters` counters (at least 10).
    pub fn filter(counters: u64, doorkeeper: bool) -> Self {
        let f = Filter::new(counters);
        let door_bits = (f.n as u64).next_power_of_two();
        Self::with(Counts::Filter(f), door_bits, doorkeeper)
    }

    /// An exact-count table of `2^log2` buckets that may double up to `2^max_log2`
    /// (at most 2^40).
    pub fn table(log2: u32, max_log2: u32, doorkeeper: bool) -> Self {
        assert!(max_log2 <= FP_BITS, "a table has at most 2^40 buckets");
        Self::with(
            Counts::Table(Table::new(log2, max_log2)),
            TABLE_DOOR_BITS,
            doorkeeper,
        )
    }

    /// The sketch for a main cache of `main_cap` size units: libCacheSim's filter, sized as
    /// libCacheSim sizes it, while that is at most [`FILTER_MAX_COUNTERS`]; else a table
    /// growing from 64 KiB to 8 MiB.
    pub fn for_main_capacity(main_cap: u64, doorkeeper: bool) -> Self {
        let counters = libcachesim_counters(main_cap);
        if counters <= FILTER_MAX_COUNTERS {
            Self::filter(counters, doorkeeper)
        } else {
            Self::table(TABLE_MIN_LOG2, TABLE_MAX_LOG2, doorkeeper)
        }
    }

    /// Whether the counts are in libCacheSim's filter (else in a table).
    pub fn is_filter(&self) -> bool {
        matches!(self.counts, Counts::Filter(_))
    }

    /// Heap bytes held: counters or buckets, and doorkeeper.
    pub fn heap_bytes(&self) -> usize {
        let counts = match &self.counts {
            Counts::Filter(f) => f.counters.capacity() * 4,
            Counts::Table(t) => t.buckets.capacity() * size_of::<Bucket>() + t.spill.capacity() * 8,
        };
        counts + self.door.capacity() * 8
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

    /// The estimated count of `id`.
    pub fn estimate(&self, id: ObjId) -> u32 {
        self.estimate_key(Key::new(id))
    }

    /// Counts one occurrence of `id`.
    pub fn add(&mut self, id: ObjId) {
        self.add_key(Key::new(id))
    }

    /// The estimated count of `k`, plus its doorkeeper bit.
    #[inline]
    pub fn estimate_key(&self, k: Key) -> u32 {
        let count = match &self.counts {
            Counts::Filter(f) => f.estimate(k),
            Counts::Table(t) => t.estimate(k.fingerprint()),
        };
        count + self.in_door(k.id) as u32
    }

    /// Counts one occurrence of `k`. With a doorkeeper, an object it does not hold is only
    /// recorded there.
    #[inline]
    pub fn add_key(&mut self, k: Key) {
        if !self.door.is_empty() && !self.in_door(k.id) {
            for bit in self.door_bits(k.id) {
                self.door[(bit / 64) as usize] |= 1 << (bit % 64);
            }
            return;
        }
        match &mut self.counts {
            Counts::Filter(f) => f.add(k),
            Counts::Table(t) => t.add(k.fingerprint()),
        }
    }

    /// Ages the sketch: halves every count and empties the doorkeeper.
    pub fn halve(&mut self) {
        match &mut self.counts {
            Counts::Filter(f) => f.halve(),
            Counts::Table(t) => t.halve(),
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
    /// The largest object admitted: `min(window_cap, probation_cap, capacity)` (so below
    /// [`MAX_NODE_SIZE`]).
    max_size: u64,
    /// Id to slab slot (the id is the node's).
    index: SlotIndex,
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
    /// The record of held `id`.
    #[inline]
    fn find(&self, id: ObjId) -> Option<u32> {
        self.index.get(id, |v| self.slab.get(v).key.id)
    }

    /// Indexes `id` at record `i`, which already holds it.
    #[inline]
    fn index_at(&mut self, id: ObjId, i: u32) {
        let slab = &self.slab;
        self.index.insert(id, i, |v| slab.get(v).key.id);
    }

    /// Takes `id` out of the index (its record must still hold it); returns its record.
    #[inline]
    fn unindex(&mut self, id: ObjId) -> Option<u32> {
        let slab = &self.slab;
        self.index.remove(id, |v| slab.get(v).key.id)
    }

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
            index: SlotIndex::with_capacity(1024),
            slab: Slab::with_capacity(1024),
            window: List::default(),
            probation: List::default(),
            protected: List::default(),
            window_bytes: 0,
            probation_bytes: 0,
            protected_bytes: 0,
            sketch: Sketch::for_main_capacity(main_cap, doorkeeper),
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

    /// The heap bytes the admission sketch holds now: at most 16 MiB (a libCacheSim filter)
    /// or 8 MiB (a table), plus at most 512 KiB with a doorkeeper.
    pub fn sketch_bytes(&self) -> usize {
        self.sketch.heap_bytes()
    }

    fn main_bytes(&self) -> u64 {
        self.probation_bytes + self.protected_bytes
    }

    /// Unlinks node `i` from its list and takes its size off that list's total.
    fn detach(&mut self, i: u32) -> Node {
        let n = *self.slab.get(i);
        let (list, bytes) = match n.at() {
            Where::Window => (&mut self.window, &mut self.window_bytes),
            Where::Probation => (&mut self.probation, &mut self.probation_bytes),
            Where::Protected => (&mut self.protected, &mut self.protected_bytes),
        };
        self.slab.unlink(list, i);
        *bytes -= n.size();
        n
    }

    /// Links unlinked node `i` at the head of list `at`.
    fn attach(&mut self, i: u32, at: Where) {
        let n = self.slab.get_mut(i);
        n.set_at(at);
        let size = n.size();
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
        self.unindex(n.key.id);
        self.slab.free(i);
        evicted.push(Evicted {
            id: n.key.id,
            size: n.size(),
            slot: i,
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
        let size = self.slab.get(i).size();
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
            if self.main_bytes() + cand.size() <= self.main_cap {
                self.detach(w);
                self.insert_main(w, evicted);
                self.sketch.add_key(cand.key);
                continue;
            }
            let m = self.main_victim().expect("main is full, so not empty");
            let main_key = self.slab.get(m).key;
            if self.sketch.estimate_key(cand.key) > self.sketch.estimate_key(main_key) {
                self.evict_node(m, evicted);
                self.detach(w);
                self.insert_main(w, evicted);
            } else {
                self.evict_node(w, evicted);
            }
            self.sketch.add_key(cand.key);
            return;
        }
    }

    fn count_main_hit(&mut self, key: Key) {
        self.sketch.add_key(key);
        self.hits_since_aging += 1;
        if self.hits_since_aging >= self.aging_period {
            self.hits_since_aging = 0;
            self.sketch.halve();
        }
    }

    /// A hit on node `i`: window hits reorder the window only (not counted, as in
    /// libCacheSim); main hits promote and are counted.
    #[inline]
    fn hit(&mut self, i: u32) {
        match self.slab.get(i).at() {
            Where::Window => {
                self.slab.move_to_head(&mut self.window, i);
                return; // window hits are not counted (libCacheSim)
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
        self.count_main_hit(self.slab.get(i).key);
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
        let Some(i) = self.find(req.id) else {
            return false;
        };
        self.hit(i);
        true
    }

    #[inline]
    fn touch_slot(&mut self, _req: &Request, slot: u32) {
        self.hit(slot);
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
        let key = Key::new(req.id);
        let i = self.slab.alloc(Node::new(key, req.size, Where::Window));
        self.attach(i, Where::Window);
        self.index_at(req.id, i);
        self.sketch.add_key(key);
        true
    }

    fn remove(&mut self, id: ObjId) -> Option<u64> {
        let i = self.unindex(id)?;
        let n = self.detach(i);
        self.slab.free(i);
        Some(n.size())
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
            out.push(c.slab.get(i).key.id);
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
        for table in [false, true] {
            let make = |door| {
                if table {
                    Sketch::table(TABLE_MIN_LOG2, TABLE_MAX_LOG2, door)
                } else {
                    Sketch::filter(1000, door)
                }
            };
            let mut s = make(false);
            for _ in 0..5 {
                s.add(42);
            }
            assert_eq!(s.estimate(42), 5);
            s.halve();
            assert_eq!(s.estimate(42), 2);
            let mut d = make(true);
            d.add(7);
            assert_eq!(d.estimate(7), 1, "the first count is the doorkeeper's");
            d.add(7);
            d.add(7);
            assert_eq!(d.estimate(7), 3);
            d.halve();
            assert_eq!(d.estimate(7), 1, "2 halved, doorkeeper cleared");
        }
    }

    #[test]
    fn the_sketch_is_libcachesims_filter_where_that_is_small_else_a_table() {
        // libCacheSim: ceil(-ln(0.001) / ln(2)² × 9900) counters for 10,000 objects.
        assert_eq!(libcachesim_counters(9900), 142_339);
        assert_eq!(libcachesim_counters(0), 20);
        let s = Sketch::for_main_capacity(9900, false);
        assert!(s.is_filter());
        assert_eq!(s.heap_bytes(), 142_339 * 4);
        assert_eq!(libcachesim_counters(291_725), 4_194_302);
        assert!(Sketch::for_main_capacity(291_725, false).is_filter());
        assert!(!Sketch::for_main_capacity(291_726, false).is_filter());
        // 128 MiB in bytes: a table, 64 KiB to start with.
        let c = WTinyLfu::new(128 << 20, 0.01, 32, false);
        assert!(!c.sketch.is_filter());
        assert_eq!(c.sketch_bytes(), 64 << 10);
    }

    #[test]
    fn the_table_counts_exactly_grows_and_stays_bounded() {
        let mut s = Sketch::table(TABLE_MIN_LOG2, TABLE_MAX_LOG2, false);
        // 200,000 objects, object k counted k % 5 + 1 times: every count exact.
        for round in 0..5 {
            for k in 0..200_000u64 {
                if k % 5 >= round {
                    s.add(k);
                }
            }
        }
        let bad: Vec<_> = (0..200_000u64)
            .filter(|&k| s.estimate(k) != (k % 5 + 1) as u32)
            .map(|k| (k, s.estimate(k), Key::new(k).fingerprint()))
            .take(10)
            .collect();
        eprintln!("{bad:?} {}", s.heap_bytes());
        assert!((0..200_000u64).all(|k| s.estimate(k) == (k % 5 + 1) as u32));
        // Grown to hold them at most half full: 4 MiB, and a few spilled objects.
        assert!(s.heap_bytes() >= 4 << 20 && s.heap_bytes() < (4 << 20) + 4096);
        // Millions more distinct objects: it stops at 8 MiB and forgets some of them.
        for k in 1_000_000..4_000_000u64 {
            s.add(k);
        }
        assert_eq!(s.heap_bytes(), 8 << 20);
        let Counts::Table(t) = &s.counts else {
            unreachable!()
        };
        assert_eq!(t.used, 1 << 20, "full");
        // Aging halves the counts and frees the slots of objects counted once.
        s.halve();
        let Counts::Table(t) = &s.counts else {
            unreachable!()
        };
        assert!(t.used < 200_000);
        assert!((0..200_000u64).all(|k| s.estimate(k) <= (k % 5 + 1) as u32 / 2));
    }

    #[test]
    fn a_full_table_forgets_its_least_counted_object() {
        // One bucket, never doubling: fingerprints 1..=16 counted 1..=16 times.
        let mut t = Table::new(0, 0);
        for fp in 1..=16u64 {
            for _ in 0..fp {
                t.add(fp);
            }
        }
        t.add(17);
        assert_eq!((t.estimate(1), t.estimate(17), t.estimate(16)), (0, 1, 16));
        assert_eq!(t.used, 16);
        // A doubling table splits its buckets by the next fingerprint bit and loses nothing.
        let mut t = Table::new(0, 3);
        let fps: Vec<u64> = (0..16u64).map(|k| k << (FP_BITS - 4) | k).collect();
        for (n, &fp) in fps.iter().enumerate() {
            for _ in 0..=n {
                t.add(fp);
            }
        }
        assert_eq!(
            t.log2, 1,
            "doubled once more than half of 16 slots were taken"
        );
        assert!(fps
            .iter()
            .enumerate()
            .all(|(n, &fp)| t.estimate(fp) == n as u32 + 1));
        // With every fingerprint in one bucket, a full bucket spills: counts stay exact and the
        // table doubles only when more than half its slots are taken (here: at the 9th
        // object, at the 17th, the first to spill, and at the 33rd).
        let mut t = Table::new(0, 3);
        let fps: Vec<u64> = (0..34u64).map(|k| k << 2).collect();
        for &fp in &fps[..17] {
            t.add(fp);
        }
        assert_eq!((t.log2, t.used, t.spill.len()), (2, 16, 1));
        for &fp in &fps[17..32] {
            t.add(fp);
            t.add(fp);
        }
        assert_eq!((t.log2, t.used, t.spill.len()), (2, 16, 16));
        t.add(fps[32]);
        assert_eq!(
            (t.log2, t.used, t.spill.len()),
            (3, 16, 17),
            "at its largest"
        );
        assert!(fps[..17].iter().all(|&fp| t.estimate(fp) == 1));
        assert!(fps[17..32].iter().all(|&fp| t.estimate(fp) == 2));
        // At its largest, a newcomer to the full bucket replaces its least-counted object.
        t.add(fps[33]);
        assert_eq!((t.estimate(fps[0]), t.estimate(fps[33])), (0, 1));
        assert_eq!((t.used, t.spill.len()), (16, 17));
        // Aging halves spilled counts too, drops those reaching 0 and moves the others into
        // slots freed in their bucket: every object counted once goes; the 15 counted twice
        // (all spilled) move into the bucket.
        t.halve();
        assert_eq!((t.used, t.spill.len()), (15, 0));
        assert!(fps[17..32].iter().all(|&fp| t.estimate(fp) == 1));
        assert!(fps[..17].iter().all(|&fp| t.estimate(fp) == 0));
    }

    #[test]
    fn a_node_packs_its_list_into_its_size() {
        assert_eq!(size_of::<Node>(), 24);
        for at in [Where::Window, Where::Probation, Where::Protected] {
            let mut n = Node::new(Key::new(7), MAX_NODE_SIZE, at);
            assert_eq!((n.size(), n.at()), (MAX_NODE_SIZE, at));
            n.set_at(Where::Window);
            assert_eq!((n.size(), n.at()), (MAX_NODE_SIZE, Where::Window));
        }
        // Probation is at most a fifth of any capacity, so it always bounds admitted sizes
        // below that.
        let c = WTinyLfu::new(u64::MAX, 0.001, 32, false);
        assert!(c.max_size < MAX_NODE_SIZE);
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
