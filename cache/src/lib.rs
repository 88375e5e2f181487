//! Cache admission and eviction policies over object ids with sizes: pure data structures, no I/O.
//!
//! Every algorithm implements [`Policy`]; [`registry`] builds one from a [`PolicySpec`] such as
//! `s3fifo:small=0.1,ghost=0.9,threshold=2`. Policies track ids and sizes only: whoever holds
//! the payloads (the trace simulator holds none, the edge store holds bytes) removes an evicted
//! object's payload when the policy reports it.

pub mod checked;
pub mod config_source;
pub mod index;
pub mod list;
pub mod params;
pub mod policies;
pub mod policy;
pub mod registry;
pub mod units;

pub use checked::Checked;
pub use params::{ParamError, PolicySpec};
pub use policy::{Evicted, ObjId, Policy, Request, NEVER};
pub use registry::{build, names, PolicyInfo, REGISTRY};

/// A hash map keyed by object id with a fast non-cryptographic hasher: ids come from traces
/// and the proxy's own key hashing, never from an adversary choosing collisions.
pub type IdMap<V> = rustc_hash::FxHashMap<ObjId, V>;

/// An empty [`IdMap`] with room for `n` entries.
pub fn id_map_with_capacity<V>(n: usize) -> IdMap<V> {
    IdMap::with_capacity_and_hasher(n, Default::default())
}
