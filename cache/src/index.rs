//! An index from object id to a `u32` (a slab slot) that stores only the `u32`s: 5 bytes a
//! bucket instead of an [`IdMap<u32>`](crate::IdMap)'s 17.
//!
//! Every policy keeps each object's id in its own record (a slab node), so the index need not
//! keep it again: a lookup compares the id it is given with the id of the record each candidate
//! points to, which the caller resolves (`id_of`). Candidates are first filtered by 7 bits of
//! the hash, as in any SwissTable, so a miss almost never touches a record and a hit touches
//! only the record the caller is about to use anyway. The hash is the one [`IdMap`] uses
//! (`FxHash`), so buckets are spread as before.
//!
//! The `id_of` a call is given must resolve every value in the index (the table may rehash
//! them all when it grows), so a record is written before its value is inserted and its value
//! removed before the record is reused.
//!
//! [`IdMap`]: crate::IdMap

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::ObjId;

#[inline]
fn hash(id: ObjId) -> u64 {
    FxBuildHasher.hash_one(id)
}

/// A set of `u32` values, each standing for the object id `id_of(value)`, found by id.
#[derive(Clone, Debug)]
pub struct SlotIndex {
    table: HashTable<u32>,
}

impl SlotIndex {
    /// An empty index with room for `n` values.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            table: HashTable::with_capacity(n),
        }
    }

    /// How many values it holds.
    #[inline]
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether it holds none.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The value standing for `id`, if any.
    #[inline]
    pub fn get(&self, id: ObjId, id_of: impl Fn(u32) -> ObjId) -> Option<u32> {
        self.table.find(hash(id), |&v| id_of(v) == id).copied()
    }

    /// The first value under `id`'s hash for which `is_id` says it stands for `id`: for a
    /// caller that can tell from its own records, so the index's owner need not look at its
    /// own. Candidates are the values whose 7 hash bits match (usually just the one sought).
    #[inline]
    pub fn get_where(&self, id: ObjId, mut is_id: impl FnMut(u32) -> bool) -> Option<u32> {
        self.table.find(hash(id), |&v| is_id(v)).copied()
    }

    /// Adds `value`, which stands for `id`; the index must hold no value for `id` yet.
    #[inline]
    pub fn insert(&mut self, id: ObjId, value: u32, id_of: impl Fn(u32) -> ObjId) {
        debug_assert_eq!(id_of(value), id, "the record must be written first");
        self.table
            .insert_unique(hash(id), value, |&v| hash(id_of(v)));
    }

    /// Removes the value standing for `id` and returns it.
    #[inline]
    pub fn remove(&mut self, id: ObjId, id_of: impl Fn(u32) -> ObjId) -> Option<u32> {
        match self.table.find_entry(hash(id), |&v| id_of(v) == id) {
            Ok(e) => Some(e.remove().0),
            Err(_) => None,
        }
    }

    /// Replaces the value standing for `id` with `value` (which must stand for `id` too) and
    /// returns the old one; `None`, changing nothing, if there was none.
    #[inline]
    pub fn replace(&mut self, id: ObjId, value: u32, id_of: impl Fn(u32) -> ObjId) -> Option<u32> {
        let v = self.table.find_mut(hash(id), |&v| id_of(v) == id)?;
        Some(std::mem::replace(v, value))
    }

    /// Every value, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = u32> + '_ {
        self.table.iter().copied()
    }

    /// Every value, to rewrite in place (each must still stand for the same id afterwards, as
    /// resolved by the `id_of` of later calls).
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut u32> + '_ {
        self.table.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_the_callers_ids_and_survives_growth() {
        // Records: value v stands for id ids[v].
        let ids: Vec<ObjId> = (0..5000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let id_of = |v: u32| ids[v as usize];
        let mut ix = SlotIndex::with_capacity(4);
        for v in 0..5000u32 {
            ix.insert(ids[v as usize], v, id_of);
        }
        assert_eq!(ix.len(), 5000);
        for v in (0..5000u32).step_by(7) {
            assert_eq!(ix.get(ids[v as usize], id_of), Some(v));
        }
        assert_eq!(ix.get(12345, id_of), None);
        assert_eq!(ix.remove(ids[10], id_of), Some(10));
        assert_eq!(ix.remove(ids[10], id_of), None);
        assert_eq!(ix.get(ids[10], id_of), None);
        assert_eq!(ix.replace(ids[11], 11, id_of), Some(11));
        assert_eq!(ix.replace(ids[10], 10, id_of), None);
        assert_eq!(ix.len(), 4999);
        assert_eq!(ix.values().count(), 4999);
        for v in ix.values_mut() {
            assert_ne!(*v, 10);
        }
    }
}
