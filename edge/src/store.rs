//! The cache store: response payloads in memory, bounded in payload bytes, with eviction
//! decided by a [`cache::Policy`], split into shards that each sit behind their own lock.
//!
//! # Layout
//!
//! A key string (built by the proxy from the request) is hashed with xxh3 ([`Store::hash_key`]).
//! The hash selects the shard (its top bits) and is the object id the shard's policy sees.
//! Each shard is a `Mutex` around:
//! - its own policy instance, sized to the shard's share of the capacity;
//! - an [`IdMap`] from hash to `Arc<Entry>`: the payloads (policies own none);
//! - a reused `Vec<Evicted>` that the policy's `admit` fills, from which the store removes the
//!   evicted entries from its map;
//! - counters for [`StoreStats`].
//!
//! Readers get an `Arc<Entry>`: an entry evicted or invalidated while a response is being
//! streamed from it stays alive until that reader drops it, and not longer. Entries leaving the
//! map are dropped after the shard's lock is released, so freeing bodies and header maps never
//! happens under a lock; the metadata estimate (which walks an entry's headers) is computed
//! and accounted outside the lock too.
//!
//! # Invariants
//!
//! After every operation, in every shard: the map's keys are exactly the ids the policy holds
//! (`Policy::contains`), and the payload bytes held are at most the shard's capacity; so the
//! store as a whole never holds more than `capacity` payload bytes.
//!
//! # Hash collisions
//!
//! The map is keyed by the 64-bit hash, and each entry carries its full key string. A lookup
//! whose hash matches an entry with a different key string is a miss (and records no access
//! with the policy). Inserting a key whose hash is held by a different key replaces that entry
//! (it is removed as a refresh would be, then the new one is admitted): with 64-bit hashes
//! this costs a spurious miss about once per 2^64 / (objects held) insertions.

use std::mem::size_of;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use cache::{Evicted, IdMap, ObjId, ParamError, Policy, PolicySpec, Request};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// One stored response (a variant). Immutable once stored; refreshed by replacing.
///
/// The store accounts `body.len()` as the payload. Callers should store a body and header
/// values that own their bytes (e.g. `Bytes::copy_from_slice`, or a body assembled into one
/// fresh buffer): a `Bytes` that is a slice of a larger receive buffer keeps that whole buffer
/// alive for as long as the entry is cached, which the store cannot see.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The full cache key string (used to detect hash collisions).
    pub key: Box<str>,
    /// The request path the key was built from (invalidation matches on it).
    pub path: Box<str>,
    pub status: StatusCode,
    /// Stored response headers (hop-by-hop already stripped by the caller).
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
    pub received_at: SystemTime,
    pub age_at_receipt: Duration,
    /// Freshness lifetime.
    pub fresh_for: Duration,
    pub stale_while_revalidate: Duration,
    pub stale_if_error: Duration,
    pub revalidate_always: bool,
}

/// Estimated heap bytes per object outside the `Arc<Entry>` allocation: the store map's slot
/// (`u64` key and `Arc` pointer, 16 bytes plus a control byte, at hashbrown's load factor)
/// and the policy's own index slot and list node. Measured with a counting allocator by
/// `cargo bench -p edge --bench store`, which prints it per policy: 76–120 bytes for LRU,
/// FIFO, CLOCK, SIEVE, ARC, LFU, 2Q and S3-FIFO depending on where the hash tables and slabs
/// are in their growth (S3-FIFO's and 2Q's ghosts add up to ~40 once evicting), ~120–160 for
/// GDSF. W-TinyLFU's frequency sketch is sized by the shard's capacity in bytes, not by its
/// object count (up to 8 MiB per shard), and is not counted here.
pub const INDEX_BYTES_PER_OBJECT: usize = 96;

/// Estimated heap bytes per header slot in a [`HeaderMap`] beyond the name and value bytes:
/// the bucket (hash, name, value, links) and its share of the index table.
const HEADER_SLOT_BYTES: usize = size_of::<HeaderName>() + size_of::<HeaderValue>() + 32;

/// An extra value under a name already present (`links` plus the value).
const EXTRA_VALUE_BYTES: usize = size_of::<HeaderValue>() + 24;

/// The `Arc` allocation of an entry: two reference counts and the struct.
const ARC_ENTRY_BYTES: usize = 2 * size_of::<usize>() + size_of::<Entry>();

impl Entry {
    /// What the entry charges against the store's capacity: its payload bytes, `body.len()`.
    pub fn charge(&self) -> u64 {
        self.body.len() as u64
    }

    /// An estimate of the memory the entry costs beyond its body: the key and path strings,
    /// the header names and values and the header map's own slots, the `Arc<Entry>` allocation,
    /// and the store's and policy's index ([`INDEX_BYTES_PER_OBJECT`]).
    pub fn metadata_bytes(&self) -> usize {
        let h = &self.headers;
        let strings: usize = h.iter().map(|(n, v)| n.as_str().len() + v.len()).sum();
        let slots = h.capacity().max(h.keys_len()) * HEADER_SLOT_BYTES;
        let extra = (h.len() - h.keys_len()) * EXTRA_VALUE_BYTES;
        self.key.len()
            + self.path.len()
            + strings
            + slots
            + extra
            + ARC_ENTRY_BYTES
            + INDEX_BYTES_PER_OBJECT
    }

    /// The size the policy is told: the charge, but at least 1, so that empty bodies (redirects,
    /// 204s) still count and the number of objects held stays bounded by the capacity.
    fn policy_size(&self) -> u64 {
        self.charge().max(1)
    }
}

/// Totals over all shards. Counters (`evictions`, `evicted_bytes`, `invalidations`) count since
/// the store was built; the rest describe what is held now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Entries held.
    pub objects: u64,
    /// Sum of the held entries' [`Entry::charge`]; never above `capacity`.
    pub payload_bytes: u64,
    /// Sum of the held entries' [`Entry::metadata_bytes`] (an estimate).
    pub metadata_bytes: u64,
    /// Entries the policies evicted to make room.
    pub evictions: u64,
    /// Their payload bytes.
    pub evicted_bytes: u64,
    /// Entries removed by [`Store::remove`] or [`Store::invalidate`].
    pub invalidations: u64,
    /// The capacity in payload bytes (the sum of the shards' capacities).
    pub capacity: u64,
}

/// What [`Store::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// The entry is held; `evicted` entries were evicted to make room for it.
    Stored { evicted: usize },
    /// The entry is not held: it is larger than `max_object_size` or than its shard's capacity,
    /// or the policy refused it (S3-FIFO refuses objects larger than its small queue;
    /// W-TinyLFU may admit and at once evict a newcomer that loses to the main victim). Any
    /// entry previously held for the same key has been removed all the same.
    Refused,
}

/// One shard: a policy and the payloads of the ids it holds.
struct Shard {
    policy: Box<dyn Policy>,
    map: IdMap<Arc<Entry>>,
    /// Reused by every `admit` so the miss path does not allocate for it.
    evicted: Vec<Evicted>,
    capacity: u64,
    payload_bytes: u64,
    evictions: u64,
    evicted_bytes: u64,
    invalidations: u64,
}

/// A shard on its own cache lines, so threads hitting neighbouring shards do not contend for
/// the line that holds each other's lock word.
#[repr(align(128))]
struct Slot {
    shard: Mutex<Shard>,
    /// The sum of the held entries' [`Entry::metadata_bytes`], kept outside the lock: computing
    /// it walks an entry's header map, which for an evicted (cold) entry means cache misses,
    /// so it is done after the lock is released. It can lag the map for an instant (and even
    /// dip below zero when an entry is evicted before its inserter has added it).
    metadata_bytes: AtomicI64,
}

impl Slot {
    /// Accounts for entries that left the map (after the lock is released) and drops them.
    fn bury(&self, dead: &mut Vec<Arc<Entry>>) {
        let bytes: usize = dead.iter().map(|e| e.metadata_bytes()).sum();
        if bytes > 0 {
            self.metadata_bytes.fetch_sub(bytes as i64, Relaxed);
        }
        dead.clear();
    }
}

impl Shard {
    /// Takes `hash`'s entry out of the map and the policy (not an eviction), whatever its key.
    fn take(&mut self, hash: ObjId) -> Option<Arc<Entry>> {
        let old = self.map.remove(&hash)?;
        let size = self.policy.remove(hash);
        debug_assert_eq!(size, Some(old.policy_size()), "map and policy disagree");
        self.payload_bytes -= old.charge();
        Some(old)
    }

    /// Takes `hash`'s entry out if its key is `key` (an invalidation).
    fn remove_key(&mut self, hash: ObjId, key: &str) -> Option<Arc<Entry>> {
        match self.map.get(&hash) {
            Some(e) if &*e.key == key => {
                self.invalidations += 1;
                self.take(hash)
            }
            _ => None,
        }
    }

    /// `Store::insert` under the lock; entries leaving the map go to `dead`.
    fn insert(
        &mut self,
        hash: ObjId,
        entry: Arc<Entry>,
        max_object_size: u64,
        dead: &mut Vec<Arc<Entry>>,
    ) -> Insert {
        if let Some(old) = self.take(hash) {
            dead.push(old);
        }
        let size = entry.policy_size();
        if entry.charge() > max_object_size || size > self.capacity {
            return Insert::Refused;
        }
        let Shard {
            policy,
            map,
            evicted,
            ..
        } = self;
        evicted.clear();
        let admitted = policy.admit(&Request::new(hash, size), evicted);
        let mut count = 0;
        for e in evicted.iter() {
            if e.id == hash {
                // The newcomer itself, admitted and evicted in the same call: never stored.
                debug_assert!(!admitted);
                continue;
            }
            let Some(gone) = map.remove(&e.id) else {
                // A policy bug: fail loudly in tests, keep serving in production.
                if cfg!(debug_assertions) {
                    panic!("the policy evicted {}, which the store does not hold", e.id);
                }
                continue;
            };
            debug_assert_eq!(e.size, gone.policy_size());
            self.payload_bytes -= gone.charge();
            self.evicted_bytes += gone.charge();
            count += 1;
            dead.push(gone);
        }
        self.evictions += count as u64;
        if !admitted {
            return Insert::Refused;
        }
        self.payload_bytes += entry.charge();
        map.insert(hash, entry);
        Insert::Stored { evicted: count }
    }
}

/// The cache store: see the [module documentation](self).
pub struct Store {
    shards: Box<[Slot]>,
    /// log2 of the shard count: the hash's top `shard_bits` bits select the shard.
    shard_bits: u32,
    max_object_size: u64,
    capacity: u64,
    policy_name: String,
}

impl Store {
    /// A store of `capacity` payload bytes split evenly over `shards` shards, each its own
    /// instance of the `policy` behind its own lock.
    ///
    /// Shard sizing: the count is first reduced to `capacity / max_object_size` (at least 1)
    /// and rounded *down* to a power of two; then it is halved while a fresh policy of one
    /// shard's capacity would refuse an object of `max_object_size` (S3-FIFO admits only
    /// objects that fit its small queue, 10 % of the shard by default; W-TinyLFU only what
    /// fits its window, 1 %). So each shard can hold an object of `max_object_size` unless even
    /// a single shard cannot. The capacity is divided exactly: the first `capacity % n` shards
    /// get one byte more. `shards` and `max_object_size` of 0 count as 1; bodies larger than
    /// `max_object_size` are refused by [`insert`](Store::insert).
    ///
    /// A bad policy spec is an error, and so is an offline policy (`belady`), which needs each
    /// request's next access time.
    pub fn new(
        policy: &PolicySpec,
        capacity: u64,
        max_object_size: u64,
        shards: usize,
    ) -> Result<Store, ParamError> {
        if cache::registry::is_offline(&policy.name) {
            return Err(ParamError::BadValue {
                policy: policy.name.clone(),
                key: "policy".into(),
                value: policy.name.clone(),
                why: "an offline policy needs each request's next access time, which a proxy \
                      cannot know"
                    .into(),
            });
        }
        let max_object_size = max_object_size.max(1);
        let by_size = usize::try_from(capacity / max_object_size).unwrap_or(usize::MAX);
        let mut n = prev_power_of_two(shards.min(by_size).max(1));
        while n > 1 {
            let mut probe = cache::build(policy, capacity / n as u64)?;
            let mut ev = Vec::new();
            if probe.admit(&Request::new(0, max_object_size), &mut ev) {
                break;
            }
            n /= 2;
        }
        let base = capacity / n as u64;
        let extra = capacity % n as u64;
        let mut slots = Vec::with_capacity(n);
        let mut policy_name = String::new();
        for i in 0..n {
            let cap = base + u64::from((i as u64) < extra);
            let p = cache::build(policy, cap)?;
            policy_name = p.name();
            let shard = Mutex::new(Shard {
                policy: p,
                map: IdMap::default(),
                evicted: Vec::with_capacity(16),
                capacity: cap,
                payload_bytes: 0,
                evictions: 0,
                evicted_bytes: 0,
                invalidations: 0,
            });
            slots.push(Slot {
                shard,
                metadata_bytes: AtomicI64::new(0),
            });
        }
        Ok(Store {
            shards: slots.into_boxed_slice(),
            shard_bits: n.trailing_zeros(),
            max_object_size,
            capacity,
            policy_name,
        })
    }

    /// The key's 64-bit hash (xxh3 of the key string): what the policy sees as the object id
    /// and what selects the shard.
    #[inline]
    pub fn hash_key(key: &str) -> u64 {
        xxhash_rust::xxh3::xxh3_64(key.as_bytes())
    }

    /// How many shards the store has (a power of two).
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The policy's name with its resolved parameters, e.g. `s3fifo:small=0.1,ghost=0.9,threshold=2`.
    pub fn policy_name(&self) -> &str {
        &self.policy_name
    }

    /// The largest body the store accepts (at least 1).
    pub fn max_object_size(&self) -> u64 {
        self.max_object_size
    }

    #[inline]
    fn shard_index(&self, hash: u64) -> usize {
        // The top `shard_bits` bits, rotated to the bottom (rotate by 0 keeps all; mask is 0).
        (hash.rotate_left(self.shard_bits) as usize) & (self.shards.len() - 1)
    }

    #[inline]
    fn slot(&self, hash: u64) -> &Slot {
        &self.shards[self.shard_index(hash)]
    }

    #[inline]
    fn lock(&self, hash: u64) -> MutexGuard<'_, Shard> {
        lock(self.slot(hash))
    }

    /// The hit path: the entry for `key` if held, recording the access with the policy
    /// (`touch`). A hash match whose key string differs is a miss (a collision) and records
    /// nothing. A plain miss is offered to the policy's `touch` too, which may learn from it
    /// (frequency sketches) but admits nothing. One lock, one map probe, an `Arc` clone.
    #[inline]
    pub fn get(&self, hash: u64, key: &str) -> Option<Arc<Entry>> {
        let mut guard = self.lock(hash);
        let shard = &mut *guard;
        match shard.map.get(&hash) {
            Some(e) if &*e.key == key => {
                let e = Arc::clone(e);
                let hit = shard.policy.touch(&Request::new(hash, e.policy_size()));
                debug_assert!(hit, "map and policy disagree");
                Some(e)
            }
            Some(_) => None,
            None => {
                // The size of a missing object is unknown; `touch` does not store it.
                shard.policy.touch(&Request::new(hash, 0));
                None
            }
        }
    }

    /// The entry for `key` if held, without recording an access (no side effects on the
    /// policy).
    #[inline]
    pub fn peek(&self, hash: u64, key: &str) -> Option<Arc<Entry>> {
        let guard = self.lock(hash);
        match guard.map.get(&hash) {
            Some(e) if &*e.key == key => Some(Arc::clone(e)),
            _ => None,
        }
    }

    /// Stores `entry` under `hash` (which must be `Store::hash_key(&entry.key)`), replacing
    /// any entry held under that hash, whether for the same key (a refresh) or, in the
    /// astronomically rare case of a collision, another key: the old one is removed first
    /// (not counted as an eviction), then the new one is offered to the policy as a miss would
    /// be. Entries the policy evicts are dropped from the shard's map, and freed once no
    /// reader holds them; the drops happen after the lock is released.
    pub fn insert(&self, hash: u64, entry: Arc<Entry>) -> Insert {
        debug_assert_eq!(hash, Self::hash_key(&entry.key), "hash is not the key's");
        let slot = self.slot(hash);
        let meta = entry.metadata_bytes() as i64;
        let mut dead = Vec::new();
        let outcome = lock(slot).insert(hash, entry, self.max_object_size, &mut dead);
        if let Insert::Stored { .. } = outcome {
            slot.metadata_bytes.fetch_add(meta, Relaxed);
        }
        slot.bury(&mut dead);
        outcome
    }

    /// Removes the entry for `key` (an invalidation: the policy's history, such as ghost
    /// entries, is kept); returns whether it was held.
    pub fn remove(&self, hash: u64, key: &str) -> bool {
        let slot = self.slot(hash);
        let gone = lock(slot).remove_key(hash, key);
        match gone {
            Some(e) => {
                slot.metadata_bytes
                    .fetch_sub(e.metadata_bytes() as i64, Relaxed);
                true
            }
            None => false,
        }
    }

    /// Removes every entry whose path is one of `exact` or starts with one of `prefixes` (the
    /// caller turns a wildcard like `/img/*` into the prefix `/img/`); returns how many entries
    /// went. Scans shard by shard, holding one lock at a time, so an entry inserted into a shard
    /// already scanned survives.
    pub fn invalidate(&self, exact: &[&str], prefixes: &[&str]) -> u64 {
        if exact.is_empty() && prefixes.is_empty() {
            return 0;
        }
        let exact: rustc_hash::FxHashSet<&str> = exact.iter().copied().collect();
        let matches = |p: &str| exact.contains(p) || prefixes.iter().any(|x| p.starts_with(x));
        let mut total = 0;
        let mut ids = Vec::new();
        let mut dead = Vec::new();
        for slot in self.shards.iter() {
            {
                let mut shard = lock(slot);
                ids.clear();
                ids.extend(
                    shard
                        .map
                        .iter()
                        .filter(|(_, e)| matches(&e.path))
                        .map(|(&id, _)| id),
                );
                for &id in &ids {
                    dead.extend(shard.take(id));
                }
                shard.invalidations += ids.len() as u64;
            }
            total += ids.len() as u64;
            slot.bury(&mut dead);
        }
        total
    }

    /// Totals over the shards, each locked briefly in turn (so not one atomic snapshot).
    pub fn stats(&self) -> StoreStats {
        let mut s = StoreStats {
            capacity: self.capacity,
            ..StoreStats::default()
        };
        for slot in self.shards.iter() {
            let shard = lock(slot);
            s.objects += shard.map.len() as u64;
            s.payload_bytes += shard.payload_bytes;
            s.metadata_bytes += slot.metadata_bytes.load(Relaxed).max(0) as u64;
            s.evictions += shard.evictions;
            s.evicted_bytes += shard.evicted_bytes;
            s.invalidations += shard.invalidations;
        }
        s
    }

    /// Panics unless every shard's map holds exactly the policy's ids, within capacity, with
    /// counters matching the entries. For tests.
    #[cfg(test)]
    fn check_invariants(&self) {
        let mut capacity = 0;
        for (i, slot) in self.shards.iter().enumerate() {
            let s = lock(slot);
            capacity += s.capacity;
            assert_eq!(s.policy.capacity(), s.capacity);
            assert_eq!(s.map.len(), s.policy.len(), "shard {i}: len");
            let (mut payload, mut meta, mut used) = (0, 0, 0);
            for (&id, e) in &s.map {
                assert!(s.policy.contains(id), "shard {i}: {id} not in the policy");
                assert_eq!(self.shard_index(id), i, "{id} in the wrong shard");
                assert_eq!(id, Self::hash_key(&e.key));
                payload += e.charge();
                used += e.policy_size();
                meta += e.metadata_bytes() as u64;
            }
            assert_eq!(s.payload_bytes, payload, "shard {i}: payload bytes");
            let m = slot.metadata_bytes.load(Relaxed);
            assert_eq!(m, meta as i64, "shard {i}: metadata bytes");
            assert_eq!(s.policy.used(), used, "shard {i}: policy used");
            assert!(
                payload <= s.capacity && used <= s.capacity,
                "shard {i}: over"
            );
        }
        assert_eq!(capacity, self.capacity);
    }
}

fn lock(slot: &Slot) -> MutexGuard<'_, Shard> {
    // A panic under the lock can only come from a bug (in a policy, most likely). Rather than
    // fail every later request to the shard, keep serving: at worst the map then holds entries
    // the policy no longer tracks, which costs memory until they are replaced or invalidated.
    slot.shard.lock().unwrap_or_else(PoisonError::into_inner)
}

fn prev_power_of_two(n: usize) -> usize {
    debug_assert!(n > 0);
    1 << (usize::BITS - 1 - n.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn spec(s: &str) -> PolicySpec {
        s.parse().unwrap()
    }

    fn entry(key: &str, path: &str, size: usize) -> Arc<Entry> {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, "text/plain".parse().unwrap());
        Arc::new(Entry {
            key: key.into(),
            path: path.into(),
            status: StatusCode::OK,
            headers,
            body: Bytes::from(vec![b'x'; size]),
            received_at: SystemTime::UNIX_EPOCH,
            age_at_receipt: Duration::ZERO,
            fresh_for: Duration::from_secs(60),
            stale_while_revalidate: Duration::ZERO,
            stale_if_error: Duration::ZERO,
            revalidate_always: false,
        })
    }

    /// Key `k` with path `/k`.
    fn put(s: &Store, k: &str, size: usize) -> Insert {
        s.insert(Store::hash_key(k), entry(k, &format!("/{k}"), size))
    }

    fn get(s: &Store, k: &str) -> Option<Arc<Entry>> {
        s.get(Store::hash_key(k), k)
    }

    fn held(s: &Store, keys: &[&str]) -> Vec<String> {
        keys.iter()
            .filter(|k| s.peek(Store::hash_key(k), k).is_some())
            .map(|k| k.to_string())
            .collect()
    }

    fn lru(capacity: u64) -> Store {
        let s = Store::new(&spec("lru"), capacity, capacity, 1).unwrap();
        assert_eq!(s.shard_count(), 1);
        s
    }

    #[test]
    fn lru_evicts_exactly_the_least_recently_used() {
        let s = lru(30);
        assert_eq!(put(&s, "a", 10), Insert::Stored { evicted: 0 });
        assert_eq!(put(&s, "b", 10), Insert::Stored { evicted: 0 });
        assert_eq!(put(&s, "c", 10), Insert::Stored { evicted: 0 });
        assert!(get(&s, "a").is_some()); // order now b c a
        assert_eq!(put(&s, "d", 10), Insert::Stored { evicted: 1 });
        assert_eq!(held(&s, &["a", "b", "c", "d"]), ["a", "c", "d"]);
        // peek does not count as an access: c stays the least recent.
        assert!(s.peek(Store::hash_key("c"), "c").is_some());
        // 20 bytes need two evictions: c then a.
        assert_eq!(put(&s, "e", 20), Insert::Stored { evicted: 2 });
        assert_eq!(held(&s, &["a", "b", "c", "d", "e"]), ["d", "e"]);
        s.check_invariants();
        let st = s.stats();
        assert_eq!(
            (st.objects, st.payload_bytes, st.evictions, st.evicted_bytes),
            (2, 30, 3, 30)
        );
        assert_eq!(st.capacity, 30);
    }

    #[test]
    fn oversize_is_refused_without_evicting_and_empty_bodies_are_charged_one() {
        let s = Store::new(&spec("lru"), 30, 20, 1).unwrap();
        put(&s, "a", 10);
        assert_eq!(put(&s, "big", 21), Insert::Refused, "over max_object_size");
        assert_eq!(held(&s, &["a"]), ["a"]);
        let s = lru(3);
        assert_eq!(put(&s, "e1", 0), Insert::Stored { evicted: 0 });
        put(&s, "e2", 0);
        put(&s, "e3", 0);
        assert_eq!(put(&s, "e4", 0), Insert::Stored { evicted: 1 });
        assert_eq!(s.stats().objects, 3);
        assert_eq!(s.stats().payload_bytes, 0);
        s.check_invariants();
    }

    #[test]
    fn replacing_removes_the_old_entry_first() {
        let s = lru(30);
        put(&s, "a", 10);
        put(&s, "b", 10);
        put(&s, "c", 10);
        // Refreshing a with 20 bytes: the old a goes first (not an eviction), then 10 more
        // bytes are needed: b, the least recent, is evicted.
        assert_eq!(put(&s, "a", 20), Insert::Stored { evicted: 1 });
        assert_eq!(held(&s, &["a", "b", "c"]), ["a", "c"]);
        assert_eq!(get(&s, "a").unwrap().charge(), 20);
        let st = s.stats();
        assert_eq!((st.evictions, st.payload_bytes), (1, 30));
        // A refresh that is refused still drops the stale entry.
        let s2 = Store::new(&spec("lru"), 30, 15, 1).unwrap();
        put(&s2, "a", 10);
        assert_eq!(put(&s2, "a", 16), Insert::Refused);
        assert!(get(&s2, "a").is_none());
        s.check_invariants();
        s2.check_invariants();
    }

    #[test]
    fn colliding_hash_with_another_key_is_a_miss_and_is_replaced_by_insert() {
        let s = lru(100);
        let h = Store::hash_key("a");
        s.insert(h, entry("a", "/a", 10));
        // Pretend "z" hashes to h: a lookup for it misses, and storing it displaces "a".
        assert!(s.get(h, "z").is_none());
        assert!(s.peek(h, "z").is_none());
        assert!(!s.remove(h, "z"));
        assert!(s.get(h, "a").is_some());
        let mut shard = s.lock(h);
        let mut dead = Vec::new();
        let out = shard.insert(h, entry("z", "/z", 5), u64::MAX, &mut dead);
        assert_eq!(out, Insert::Stored { evicted: 0 });
        assert_eq!(&*dead[0].key, "a");
        assert_eq!(shard.payload_bytes, 5);
        drop(shard);
        let slot = s.slot(h);
        slot.metadata_bytes
            .fetch_add(s.peek(h, "z").unwrap().metadata_bytes() as i64, Relaxed);
        slot.bury(&mut dead);
        let z = s.peek(h, "z").unwrap();
        assert_eq!(s.stats().metadata_bytes, z.metadata_bytes() as u64);
        assert!(s.get(h, "a").is_none());
        assert_eq!(&*s.get(h, "z").unwrap().key, "z");
    }

    #[test]
    fn evicted_and_removed_entries_are_freed_once_readers_let_go() {
        let s = lru(20);
        put(&s, "a", 10);
        put(&s, "b", 10);
        put(&s, "c", 10);
        // c evicted a. Reading b makes c the least recent; peeking c changes nothing.
        let reader = get(&s, "b").unwrap();
        let peeked = s.peek(Store::hash_key("c"), "c").unwrap();
        assert_eq!(Arc::strong_count(&peeked), 2, "store + this reader");
        drop(peeked);
        put(&s, "d", 10); // evicts c
        assert!(get(&s, "c").is_none());
        assert_eq!(Arc::strong_count(&reader), 2, "store + this reader");
        put(&s, "e", 10); // evicts b
        assert_eq!(held(&s, &["b", "d", "e"]), ["d", "e"]);
        assert_eq!(
            Arc::strong_count(&reader),
            1,
            "only the outside reader holds b"
        );
        // Removal and invalidation release the store's reference too.
        let d = get(&s, "d").unwrap();
        assert!(s.remove(Store::hash_key("d"), "d"));
        assert!(!s.remove(Store::hash_key("d"), "d"));
        assert_eq!(Arc::strong_count(&d), 1);
        let e = get(&s, "e").unwrap();
        assert_eq!(s.invalidate(&["/e"], &[]), 1);
        assert_eq!(Arc::strong_count(&e), 1);
        // A weak reference to an evicted entry nobody reads dies with the eviction.
        let f = entry("f", "/f", 10);
        let weak = Arc::downgrade(&f);
        s.insert(Store::hash_key("f"), f);
        put(&s, "g", 10);
        put(&s, "h", 10);
        assert!(weak.upgrade().is_none());
        s.check_invariants();
        assert_eq!(s.stats().invalidations, 2);
    }

    #[test]
    fn invalidate_matches_exact_paths_and_prefixes() {
        let s = Store::new(&spec("lru"), 1 << 20, 1 << 10, 8).unwrap();
        assert_eq!(s.shard_count(), 8);
        let paths = [
            "/img/a.png",
            "/img/b.png",
            "/img/sub/c.png",
            "/imgx",
            "/css/site.css",
            "/index.html",
        ];
        for (i, p) in paths.iter().enumerate() {
            // Two variants per path (e.g. Accept-Encoding).
            for v in ["gzip", "br"] {
                let key = format!("host{p}?v={v}#{i}");
                s.insert(Store::hash_key(&key), entry(&key, p, 100));
            }
        }
        assert_eq!(s.invalidate(&[], &[]), 0);
        assert_eq!(s.invalidate(&["/index.html", "/nope"], &["/img/"]), 8);
        assert_eq!(s.stats().objects, 4);
        assert_eq!(s.invalidate(&["/index.html"], &[]), 0);
        assert_eq!(s.invalidate(&[], &["/"]), 4);
        let st = s.stats();
        assert_eq!((st.objects, st.payload_bytes, st.invalidations), (0, 0, 12));
        s.check_invariants();
    }

    #[test]
    fn shard_sizing() {
        let n = |cap, max, shards| Store::new(&spec("lru"), cap, max, shards).unwrap();
        assert_eq!(n(1 << 30, 1 << 20, 16).shard_count(), 16);
        assert_eq!(n(1 << 30, 1 << 20, 12).shard_count(), 8, "rounded down");
        assert_eq!(
            n(1 << 30, 100 << 20, 64).shard_count(),
            8,
            "1 GiB / 100 MiB = 10"
        );
        assert_eq!(n(100, 1000, 64).shard_count(), 1);
        assert_eq!(n(100, 0, 0).shard_count(), 1);
        // Capacity divides exactly: 103 over 4 shards is 26 + 26 + 26 + 25.
        let s = n(103, 1, 4);
        assert_eq!(s.stats().capacity, 103);
        s.check_invariants();
        // S3-FIFO admits only what fits its small queue (10 % of a shard): 1 GiB with 16 MiB
        // objects needs shards of at least 160 MiB, so 4 shards, not 64.
        let s3 = Store::new(&spec("s3fifo"), 1 << 30, 16 << 20, 64).unwrap();
        assert_eq!(s3.shard_count(), 4);
        let key = "big";
        let e = entry(key, "/big", 16 << 20);
        assert!(matches!(
            s3.insert(Store::hash_key(key), e),
            Insert::Stored { .. }
        ));
        // A store of no capacity refuses everything, whatever the policy.
        for info in cache::REGISTRY {
            if !cache::registry::is_offline(info.name) {
                let s = Store::new(&spec(info.name), 0, 10, 8).unwrap();
                assert_eq!(s.shard_count(), 1);
                assert_eq!(put(&s, "a", 0), Insert::Refused, "{}", info.name);
                assert_eq!(put(&s, "b", 5), Insert::Refused, "{}", info.name);
                s.check_invariants();
            }
        }
        // Errors: a bad spec, an offline policy.
        assert!(Store::new(&spec("nope"), 100, 1, 1).is_err());
        assert!(Store::new(&spec("lru:x=1"), 100, 1, 1).is_err());
        let e = Store::new(&spec("belady"), 100, 1, 1).err().unwrap();
        assert!(e.to_string().contains("offline"), "{e}");
    }

    #[test]
    fn every_online_policy_keeps_the_invariants() {
        for info in cache::REGISTRY {
            if cache::registry::is_offline(info.name) {
                continue;
            }
            // W-TinyLFU admits only what fits its window (1 % of a shard): it gets 1 shard.
            let s = Store::new(&spec(info.name), 40_000, 400, 4).unwrap();
            let mut rng = 0x9E37_79B9_7F4A_7C15u64;
            for i in 0..4000u64 {
                rng = xorshift(rng);
                let k = format!("k{}", rng % 300);
                match rng >> 60 {
                    0 => {
                        s.remove(Store::hash_key(&k), &k);
                    }
                    1 if i % 97 == 0 => {
                        s.invalidate(&["/k1"], &["/k2"]);
                    }
                    2..=8 => {
                        get(&s, &k);
                    }
                    _ => {
                        put(&s, &k, (rng % 401) as usize);
                    }
                }
                if i % 50 == 0 {
                    s.check_invariants();
                }
            }
            s.check_invariants();
            let st = s.stats();
            assert!(st.payload_bytes <= st.capacity, "{}", info.name);
            assert!(st.evictions > 0, "{}", info.name);
        }
    }

    fn xorshift(mut x: u64) -> u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }

    #[test]
    fn four_threads_mixed_operations_keep_the_invariants() {
        for policy in ["lru", "s3fifo", "wtinylfu"] {
            let s = Store::new(&spec(policy), 200_000, 2_000, 8).unwrap();
            let shards = if policy == "wtinylfu" { 1 } else { 8 };
            assert_eq!(s.shard_count(), shards, "{policy}");
            let keys: Vec<String> = (0..2_000).map(|i| format!("/t/{}/{i}", i % 7)).collect();
            std::thread::scope(|scope| {
                for t in 0..4u64 {
                    let (s, keys) = (&s, &keys);
                    scope.spawn(move || {
                        let mut rng = 0x2545_F491_4F6C_DD1Du64 ^ (t + 1).wrapping_mul(0x9E37);
                        for i in 0..20_000u32 {
                            rng = xorshift(rng);
                            let k = &keys[(rng % keys.len() as u64) as usize];
                            let h = Store::hash_key(k);
                            match rng % 100 {
                                0..=59 => {
                                    if let Some(e) = s.get(h, k) {
                                        assert_eq!(&*e.key, k.as_str());
                                    }
                                }
                                60..=89 => {
                                    let size = ((rng >> 20) % 2_001) as usize;
                                    s.insert(h, entry(k, k, size));
                                }
                                90..=98 => {
                                    s.remove(h, k);
                                }
                                _ if i % 10 == 0 => {
                                    let p = format!("/t/{}/", rng % 7);
                                    s.invalidate(&[k.as_str()], &[p.as_str()]);
                                }
                                _ => {}
                            }
                            if i % 1000 == 0 {
                                let st = s.stats();
                                assert!(st.payload_bytes <= st.capacity);
                            }
                        }
                    });
                }
            });
            s.check_invariants();
            let st = s.stats();
            assert!(st.evictions > 0 && st.invalidations > 0, "{policy}: {st:?}");
            // No entry is referenced from anywhere but the store now.
            for slot in s.shards.iter() {
                for e in lock(slot).map.values() {
                    assert_eq!(Arc::strong_count(e), 1);
                }
            }
        }
    }

    #[test]
    fn prints_per_object_metadata_overhead() {
        // Structural figures (the bench measures actual heap use with a counting allocator).
        let slot = (size_of::<(u64, Arc<Entry>)>() + 1) * 8 / 7;
        println!(
            "size_of Entry = {}, Arc<Entry> allocation = {}, store map slot ≈ {} (at 7/8 load), \
             index estimate (map + policy) = {}, per header slot ≈ {}",
            size_of::<Entry>(),
            ARC_ENTRY_BYTES,
            slot,
            INDEX_BYTES_PER_OBJECT,
            HEADER_SLOT_BYTES,
        );
        println!(
            "Entry fields: HeaderMap {}, Bytes {}, 2 × Box<str> {}, SystemTime {}, 4 × Duration {}, \
             StatusCode + bool {} (+ padding)",
            size_of::<HeaderMap>(),
            size_of::<bytes::Bytes>(),
            2 * size_of::<Box<str>>(),
            size_of::<SystemTime>(),
            4 * size_of::<Duration>(),
            size_of::<StatusCode>() + 1,
        );
        let e = entry("k", "/k", 10);
        let fixed = ARC_ENTRY_BYTES + INDEX_BYTES_PER_OBJECT;
        println!(
            "per-object overhead beyond key, path and headers ≈ {fixed} bytes; this entry's \
             metadata estimate = {} bytes",
            e.metadata_bytes()
        );
        assert!(e.metadata_bytes() >= fixed + 2 + 1 + "content-type".len() + "text/plain".len());
    }

    #[test]
    fn store_and_entries_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Store>();
        send_sync::<Arc<Entry>>();
    }

    #[test]
    fn hash_is_xxh3_and_shards_use_the_top_bits() {
        assert_eq!(Store::hash_key("abc"), xxhash_rust::xxh3::xxh3_64(b"abc"));
        let s = Store::new(&spec("lru"), 1 << 20, 1, 4).unwrap();
        assert_eq!(s.shard_index(0x3FFF_FFFF_FFFF_FFFF), 0);
        assert_eq!(s.shard_index(0xC000_0000_0000_0000), 3);
        assert_eq!(lru(10).shard_index(u64::MAX), 0);
        assert_eq!(prev_power_of_two(1), 1);
        assert_eq!(prev_power_of_two(7), 4);
        assert_eq!(prev_power_of_two(8), 8);
    }
}
