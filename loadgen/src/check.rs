//! Is a body the right one? Every object's bytes are a pure function of the origin's seed,
//! its path and its version (`sim::origin::content`), so a viewer recomputes the expected
//! digest and compares: the current version is right, an older one is a stale response, and
//! anything else is an integrity failure. Trace objects (`/trace/<id>/<size>`) never change:
//! always version 0.

use crate::replay::Replay;
use rustc_hash::FxHashMap;
use sim::origin::{content, Class};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Versions older than the current one that still count as stale, not corrupt.
const MAX_STALE_VERSIONS: u64 = 64;
/// Bodies at least this long have their expected digests remembered (recomputing one costs
/// as much as generating the body).
const CACHE_DIGESTS_FROM: u64 = 64 << 10;

/// One class of the catalog, as a mix entry names it.
#[derive(Debug, Clone)]
pub struct CatalogClass {
    /// The seed of the origin serving the class (object sizes and bytes derive from it).
    pub origin_seed: u64,
    pub objects: Objects,
    /// The origin's start: object versions count from it.
    pub origin_start: Instant,
}

/// What a class's object `index` is.
#[derive(Debug, Clone)]
pub enum Objects {
    /// Object `index` of an origin's class: `{prefix}{index}`.
    Class(Class),
    /// Request `index` of a replayed trace: `/trace/<id>/<size>`, never updated.
    Trace(Arc<Replay>),
}

impl CatalogClass {
    /// Objects of an origin's class.
    pub fn class(origin_seed: u64, class: Class, origin_start: Instant) -> CatalogClass {
        CatalogClass {
            origin_seed,
            objects: Objects::Class(class),
            origin_start,
        }
    }

    /// The requests of a replayed trace, served by the origin of `origin_seed`.
    pub fn trace(origin_seed: u64, replay: Arc<Replay>) -> CatalogClass {
        CatalogClass {
            origin_seed,
            objects: Objects::Trace(replay),
            origin_start: Instant::now(),
        }
    }

    pub fn path(&self, index: u64) -> String {
        match &self.objects {
            Objects::Class(c) => content::object_path(c, index),
            Objects::Trace(r) => r.get(index).path(),
        }
    }

    pub fn size(&self, index: u64) -> u64 {
        match &self.objects {
            Objects::Class(c) => content::object_size(c, self.origin_seed, index),
            Objects::Trace(r) => r.get(index).size,
        }
    }

    /// How many objects can be picked: the class's objects, or the replay's requests.
    pub fn count(&self) -> u64 {
        match &self.objects {
            Objects::Class(c) => c.objects,
            Objects::Trace(r) => r.len() as u64,
        }
    }

    /// The replay, for a trace.
    pub fn replay(&self) -> Option<&Arc<Replay>> {
        match &self.objects {
            Objects::Class(_) => None,
            Objects::Trace(r) => Some(r),
        }
    }

    /// Which object `index` is, for remembering digests: the index in a class; id and size
    /// in a trace (many requests name one object).
    fn object_key(&self, index: u64) -> (u64, u64) {
        match &self.objects {
            Objects::Class(_) => (index, 0),
            Objects::Trace(r) => {
                let t = r.get(index);
                (t.id, t.size)
            }
        }
    }

    fn version_at(&self, index: u64, at: Instant) -> u64 {
        match &self.objects {
            Objects::Class(c) => content::version_at(
                c,
                self.origin_seed,
                index,
                at.saturating_duration_since(self.origin_start),
            ),
            Objects::Trace(_) => 0,
        }
    }
}

/// The verdict on a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Current,
    /// An older version of the object.
    Stale,
    Corrupt,
}

/// A remembered digest's key: mix entry, object (see `CatalogClass::object_key`), version,
/// offset.
type DigestKey = (usize, (u64, u64), u64, u64);

/// Checks bodies against the catalog; shared by all viewers.
pub struct Checker {
    classes: Vec<CatalogClass>,
    digests: Mutex<FxHashMap<DigestKey, u64>>,
}

impl Checker {
    pub fn new(classes: Vec<CatalogClass>) -> Checker {
        Checker {
            classes,
            digests: Mutex::new(FxHashMap::default()),
        }
    }

    pub fn class(&self, entry: usize) -> &CatalogClass {
        &self.classes[entry]
    }

    fn expected(&self, entry: usize, index: u64, version: u64, (offset, len): (u64, u64)) -> u64 {
        let c = &self.classes[entry];
        let compute = || content::digest_range(c.origin_seed, &c.path(index), version, offset, len);
        if len < CACHE_DIGESTS_FROM {
            return compute();
        }
        let key = (entry, c.object_key(index), version, offset);
        if let Some(&d) = self.digests.lock().unwrap().get(&key) {
            return d;
        }
        let d = compute();
        self.digests.lock().unwrap().insert(key, d);
        d
    }

    /// Judges a body of `len` bytes with xxh3-64 `digest`, received for object `index` of
    /// mix entry `entry` — the whole object, or the `(offset, length)` of a range response —
    /// sent at `sent` and finished at `done`: the version current at either instant is
    /// current (it may change while the request is in flight).
    #[allow(clippy::too_many_arguments)]
    pub fn judge(
        &self,
        entry: usize,
        index: u64,
        range: Option<(u64, u64)>,
        len: u64,
        digest: u64,
        sent: Instant,
        done: Instant,
    ) -> Verdict {
        let c = &self.classes[entry];
        let size = range.unwrap_or((0, c.size(index)));
        if len != size.1 {
            return Verdict::Corrupt;
        }
        let newest = c.version_at(index, done);
        let at_send = c.version_at(index, sent);
        for v in at_send..=newest {
            if self.expected(entry, index, v, size) == digest {
                return Verdict::Current;
            }
        }
        let oldest = at_send.saturating_sub(MAX_STALE_VERSIONS);
        for v in (oldest..at_send).rev() {
            if self.expected(entry, index, v, size) == digest {
                return Verdict::Stale;
            }
        }
        Verdict::Corrupt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::dist::Dist;
    use std::time::Duration;
    use xxhash_rust::xxh3::xxh3_64;

    fn body(c: &CatalogClass, index: u64, version: u64) -> Vec<u8> {
        let mut b = vec![0u8; c.size(index) as usize];
        content::fill(c.origin_seed, &c.path(index), version, 0, &mut b);
        b
    }

    #[test]
    fn current_stale_and_corrupt() {
        let start = Instant::now() - Duration::from_secs(35);
        let mut class = Class::new("/v/", 10, Dist::Fixed(100_000.0));
        class.update_interval = Duration::from_secs(10);
        let c = CatalogClass::class(5, class, start);
        let checker = Checker::new(vec![c.clone()]);
        let now = Instant::now();
        let v = c.version_at(3, now);
        assert!(v >= 3);
        let judge = |b: &[u8]| checker.judge(0, 3, None, b.len() as u64, xxh3_64(b), now, now);
        let whole = body(&c, 3, v);
        assert_eq!(
            checker.judge(
                0,
                3,
                Some((1000, 5000)),
                5000,
                xxh3_64(&whole[1000..6000]),
                now,
                now
            ),
            Verdict::Current
        );
        assert_eq!(
            checker.judge(
                0,
                3,
                Some((1000, 5000)),
                5000,
                xxh3_64(&whole[1001..6001]),
                now,
                now
            ),
            Verdict::Corrupt
        );
        assert_eq!(judge(&body(&c, 3, v)), Verdict::Current);
        assert_eq!(judge(&body(&c, 3, v - 1)), Verdict::Stale);
        let mut bad = body(&c, 3, v);
        bad[77] ^= 1;
        assert_eq!(judge(&bad), Verdict::Corrupt);
        assert_eq!(judge(&bad[1..]), Verdict::Corrupt);
        assert_eq!(judge(&body(&c, 4, v)), Verdict::Corrupt);
    }

    #[test]
    fn trace_objects_are_their_path_and_size_at_version_0() {
        use crate::replay::TraceRequest;
        let req = |id, size| TraceRequest { at_ns: 0, id, size };
        // Requests 0 and 2 name the same object (70 KiB: its digest is remembered).
        let replay = Replay::from_requests(vec![req(7, 71_680), req(8, 100), req(7, 71_680)]);
        let c = CatalogClass::trace(11, Arc::new(replay));
        assert_eq!(
            (c.path(1), c.size(1), c.count()),
            ("/trace/8/100".into(), 100, 3)
        );
        let checker = Checker::new(vec![c.clone()]);
        let now = Instant::now();
        let judge =
            |i: u64, b: &[u8]| checker.judge(0, i, None, b.len() as u64, xxh3_64(b), now, now);
        for i in [0, 2, 0] {
            assert_eq!(judge(i, &body(&c, i, 0)), Verdict::Current);
        }
        assert_eq!(judge(1, &body(&c, 1, 0)), Verdict::Current);
        assert_eq!(judge(1, &body(&c, 1, 1)), Verdict::Corrupt);
        assert_eq!(judge(1, &body(&c, 0, 0)[..100]), Verdict::Corrupt);
        let mut other = vec![0u8; 100];
        content::fill(12, "/trace/8/100", 0, 0, &mut other);
        assert_eq!(judge(1, &other), Verdict::Corrupt, "another origin's seed");
    }
}
