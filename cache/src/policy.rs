//! The one trait every eviction algorithm implements, for the simulator and the edge store alike.

/// An object's identity: a trace's object id, or the edge's hash of a cache key.
pub type ObjId = u64;

/// `next_access` of a request whose object is never requested again.
pub const NEVER: u64 = u64::MAX;

/// One request, as a policy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// The object requested.
    pub id: ObjId,
    /// What the object charges against capacity: its size in bytes, or 1 when the cache is
    /// bounded in objects. Policies never interpret it otherwise.
    pub size: u64,
    /// Virtual time: the 0-based index of the next request for the same object, or [`NEVER`].
    /// Only offline policies (`belady`) read it; online ones ignore it, so callers that cannot
    /// know the future pass [`NEVER`].
    pub next_access: u64,
}

impl Request {
    /// A request with no knowledge of the future.
    pub fn new(id: ObjId, size: u64) -> Self {
        Self {
            id,
            size,
            next_access: NEVER,
        }
    }
}

/// An object a policy removed to make room, reported by [`Policy::admit`] (or
/// [`Policy::access`]). The policy has already forgotten it; the caller frees its payload, if
/// it holds one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evicted {
    pub id: ObjId,
    /// The size it was admitted with.
    pub size: u64,
    /// The [slot](Policy::slot) it held. The slot is free once the eviction is reported, and
    /// the object admitted by the same call may already have been given it: a caller keeping
    /// payloads by slot frees the evicted ones before storing the newcomer's.
    pub slot: u32,
}

/// An admission and eviction policy bounded by a capacity in size units.
///
/// Invariants every implementation keeps (checked by [`crate::Checked`] in tests):
/// - `used() <= capacity()` after every call, where `used()` is the sum of the sizes the held
///   objects had when admitted (a hit never changes a stored size);
/// - an object is held from the `admit` that returned `true` until it is reported in an
///   `evicted` vector or returned by `remove`, and at no other time;
/// - each held object has a [slot](Policy::slot), a small integer fixed from its admission
///   until it is evicted or removed and never shared by two held objects at once;
/// - the policy owns no payloads and performs no I/O; given the same calls, it makes the same
///   decisions (randomised policies draw from a seeded generator).
///
/// Storage is kept apart from eviction: the policy decides what is held, whoever holds the
/// payloads stores them. The trace simulator holds none and drives a policy from a single
/// thread through [`Policy::access`]. The edge store wraps a policy per shard behind a lock
/// and keeps no index of its own: it keeps each payload at the held object's slot, finds it
/// with [`slot_where`](Policy::slot_where) (checking each candidate slot against the key of
/// the payload it keeps there) and records the hit with [`touch_slot`](Policy::touch_slot)
/// (one hash probe per hit, the policy's), and frees the payloads of the objects `admit`
/// reports evicted. Methods are object-safe so both can hold a `Box<dyn Policy>`.
///
/// Which calls change what: `name`, `capacity`, `used`, `len`, `is_empty`, `contains`, `slot`
/// and `slot_where` have no side effects. `touch` and `touch_slot` record an access but admit and evict
/// nothing. Only `admit` and `access` evict, and they report every object they evict. `remove`
/// forgets one object without reporting it.
pub trait Policy: Send {
    /// The registry name followed by the resolved parameters, e.g. `s3fifo:small=0.1,ghost=0.9,threshold=2`.
    fn name(&self) -> String;

    /// The bound on `used()`, fixed at construction.
    fn capacity(&self) -> u64;

    /// The sum of the sizes of the objects held now.
    fn used(&self) -> u64;

    /// How many objects are held now.
    fn len(&self) -> usize;

    /// True when no object is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `id` is held. No side effects: it does not count as an access.
    fn contains(&self, id: ObjId) -> bool;

    /// The slot of `id` if it is held, else `None`. No side effects: it does not count as an
    /// access. A slot is the index of the object's record in the policy's own storage: fixed
    /// from the `admit` that admitted the object until it is evicted (then reported in
    /// [`Evicted::slot`]) or removed, and never that of another held object meanwhile. Slots
    /// are dense: they are reused once free, so the largest is below the most records the
    /// policy has held at once (held objects, plus ghosts for policies that keep a ghost's
    /// record in the same storage, as ARC does), and a caller can keep payloads in a vector
    /// indexed by slot instead of a map of its own.
    fn slot(&self, id: ObjId) -> Option<u32>;

    /// [`slot`](Policy::slot) for a caller that can tell from its own records which object a
    /// slot holds: the policy offers the slots of held objects that may be `id` (those its
    /// index files under `id`'s hash, usually just one) to `is_id` without looking at its own
    /// records, and returns the first one `is_id` accepts. `is_id` must accept only `id`'s slot
    /// (the edge store compares the key string of the entry it keeps at that slot), so the
    /// answer is `slot(id)`'s, found without the memory access that checking the id costs
    /// the policy. No side effects. The default asks `slot`.
    fn slot_where(&self, id: ObjId, is_id: &mut dyn FnMut(u32) -> bool) -> Option<u32> {
        self.slot(id).filter(|&s| is_id(s))
    }

    /// The hit path. If `req.id` is held, records the access (recency, frequency, …) and
    /// returns `true`; the stored size is not changed even if `req.size` differs. If it is not
    /// held, returns `false`; a policy may still learn from the request (a frequency sketch
    /// could count it) but nothing is admitted or evicted.
    fn touch(&mut self, req: &Request) -> bool;

    /// [`touch`](Policy::touch) of an object the caller knows is held at `slot` (it asked
    /// [`slot`](Policy::slot) or [`slot_where`](Policy::slot_where) since the last call that
    /// could have evicted or removed it):
    /// the same effect as `touch(req)` returning `true`, without probing the policy's index
    /// again. Calling it with any other slot is a caller bug; the policy may panic or
    /// record the access against whatever object holds that slot.
    fn touch_slot(&mut self, req: &Request, slot: u32) {
        let _ = slot;
        let hit = self.touch(req);
        debug_assert!(hit, "touch_slot of an object not held");
    }

    /// The miss path: offers `req.id`, which the caller knows is not held, for admission.
    /// Evicts objects as needed and pushes each onto `evicted` (the caller frees their
    /// payloads; `evicted` is appended to, never cleared). Returns `true` if the object is held
    /// afterwards (its slot is then [`slot(req.id)`](Policy::slot)). An object larger than the
    /// policy accepts (the whole capacity, or S3-FIFO's small queue) is refused without
    /// evicting anything. A policy may admit the object and then evict it within the same call
    /// (GDSF when it has the lowest priority); it is then reported in `evicted` and `false` is
    /// returned. An eviction a bare `touch` made necessary may be carried out here (W-TinyLFU
    /// evicts probation's overflow from a hit's demotions at its next `admit`).
    fn admit(&mut self, req: &Request, evicted: &mut Vec<Evicted>) -> bool;

    /// Removes `id` if held (invalidation, expiry) and returns its size; its slot is free
    /// afterwards. This is not an eviction: it is not reported in any `evicted` vector, and
    /// history (ghost entries, frequency sketches) is left as it is. The caller frees the
    /// payload.
    fn remove(&mut self, id: ObjId) -> Option<u64>;

    /// One request of a trace: [`touch`](Policy::touch), and on a miss
    /// [`admit`](Policy::admit). Returns `true` on a hit. Evictions are reported in `evicted`
    /// as `admit` reports them (a policy may also evict on a hit, as W-TinyLFU does when a
    /// hit overflows probation). Policies override it when one hash probe can serve both
    /// paths.
    fn access(&mut self, req: &Request, evicted: &mut Vec<Evicted>) -> bool {
        if self.touch(req) {
            true
        } else {
            self.admit(req, evicted);
            false
        }
    }
}
