//! Is a body the right one? Every object's bytes are a pure function of the origin's seed,
//! its path and its version (`sim::origin::content`), so a viewer recomputes the expected
//! digest and compares: the current version is right, an older one is a stale response, and
//! anything else is an integrity failure.

use rustc_hash::FxHashMap;
use sim::origin::{content, Class};
use std::sync::Mutex;
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
    pub class: Class,
    /// The origin's start: object versions count from it.
    pub origin_start: Instant,
}

impl CatalogClass {
    pub fn path(&self, index: u64) -> String {
        content::object_path(&self.class, index)
    }

    pub fn size(&self, index: u64) -> u64 {
        content::object_size(&self.class, self.origin_seed, index)
    }

    fn version_at(&self, index: u64, at: Instant) -> u64 {
        content::version_at(
            &self.class,
            self.origin_seed,
            index,
            at.saturating_duration_since(self.origin_start),
        )
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

/// Checks bodies against the catalog; shared by all viewers.
pub struct Checker {
    classes: Vec<CatalogClass>,
    digests: Mutex<FxHashMap<(usize, u64, u64, u64), u64>>,
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
        let key = (entry, index, version, offset);
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
        let c = CatalogClass {
            origin_seed: 5,
            class,
            origin_start: start,
        };
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
}
