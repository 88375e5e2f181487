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

/// An object a policy removed to make room. The caller frees its payload, if it holds one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evicted {
    pub id: ObjId,
    pub size: u64,
}

/// An admission and eviction policy bounded by a capacity in size units.
///
/// Invariants every implementation keeps (checked by [`crate::Checked`] in tests):
/// - `used() <= capacity()` after every call, where `used()` is the sum of the sizes the held
///   objects had when admitted (a hit never changes a stored size);
/// - an object is held from the `admit` that returned `true` until it is reported in an
///   `evicted` vector or returned by `remove`, and at no other time;
/// - the policy owns no payloads and performs no I/O; given the same calls, it makes the same
///   decisions (randomised policies draw from a seeded generator).
///
/// The edge store wraps a policy per shard behind a lock; the simulator drives it from a single
/// thread through [`Policy::access`]. Methods are object-safe so both can hold a `Box<dyn Policy>`.
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

    /// The hit path. If `req.id` is held, records the access (recency, frequency, …) and
    /// returns `true`; the stored size is not changed even if `req.size` differs. If it is not
    /// held, returns `false`; a policy may still learn from the request (W-TinyLFU counts it
    /// in its frequency sketch) but nothing is admitted or evicted.
    fn touch(&mut self, req: &Request) -> bool;

    /// The miss path: offers `req.id`, which the caller knows is not held, for admission.
    /// Evicts objects as needed and pushes each onto `evicted` (the caller frees their
    /// payloads; `evicted` is appended to, never cleared). Returns `true` if the object is held
    /// afterwards. An object larger than the policy accepts (the whole capacity, or S3-FIFO's
    /// small queue) is refused without evicting anything. A policy may admit the object and
    /// then evict it within the same call (W-TinyLFU when it loses to the main victim); it is
    /// then reported in `evicted` and `false` is returned.
    fn admit(&mut self, req: &Request, evicted: &mut Vec<Evicted>) -> bool;

    /// Removes `id` if held (invalidation, expiry) and returns its size. This is not an
    /// eviction: it is not reported in any `evicted` vector, and history (ghost entries,
    /// frequency sketches) is left as it is.
    fn remove(&mut self, id: ObjId) -> Option<u64>;

    /// One request of a trace: [`touch`](Policy::touch), and on a miss
    /// [`admit`](Policy::admit). Returns `true` on a hit. Policies override it when one hash
    /// probe can serve both paths.
    fn access(&mut self, req: &Request, evicted: &mut Vec<Evicted>) -> bool {
        if self.touch(req) {
            true
        } else {
            self.admit(req, evicted);
            false
        }
    }
}
