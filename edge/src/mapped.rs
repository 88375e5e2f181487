//! Large entry buffers in anonymous mappings of their own, registered so that the viewer
//! connection ([`crate::viewer_io`]) can send them by page reference instead of copying them.
//!
//! Why a mapping of its own: once `vmsplice` has handed a page to a pipe, the kernel keeps a
//! reference to it until the bytes have reached the receiving socket's reader, which may be
//! after the entry is evicted. Heap memory would be reused by the allocator under that
//! reference (and a viewer would receive another object's bytes); an unmapped page is not
//! reused while referenced. So a registered range is written only while it is being built
//! (`SharedBuf::build`), never again, and is returned to the kernel with `munmap`.

/// Buffers of at least this many bytes get a mapping of their own, and only slices of at least
/// this size are sent by reference: below it, one copy costs less than the extra system calls
/// and the page faults of a fresh mapping.
pub const MIN_MAPPED: usize = 64 * 1024;

#[cfg(all(target_os = "linux", not(miri)))]
mod imp {
    use std::collections::BTreeMap;
    use std::ptr::NonNull;
    use std::sync::RwLock;

    /// Start address → length of every live mapping made by [`alloc_zeroed`]. Written on a
    /// large fill and on its eviction; read on each send of a large slice.
    static REGISTRY: RwLock<BTreeMap<usize, usize>> = RwLock::new(BTreeMap::new());

    fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
    }

    /// The length of the mapping that holds `size` bytes.
    pub fn mapped_len(size: usize) -> usize {
        size.div_ceil(page_size()) * page_size()
    }

    /// A registered mapping of `size` zero bytes, page-aligned; `None` if the kernel refuses
    /// (the caller then uses the heap).
    pub fn alloc_zeroed(size: usize) -> Option<NonNull<u8>> {
        let len = mapped_len(size);
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        // A child made by fork must not share (copy-on-write) pages the kernel may be sending.
        // SAFETY: the range is the mapping just made. Failure only loses that precaution.
        unsafe { libc::madvise(p, len, libc::MADV_DONTFORK) };
        registry_write().insert(p as usize, len);
        NonNull::new(p.cast())
    }

    /// Unregisters and unmaps the mapping `alloc_zeroed` returned at `p`; false (and nothing
    /// done) if `p` is not one.
    ///
    /// # Safety
    /// No reference into the mapping may be used after this returns true.
    pub unsafe fn free(p: *mut u8) -> bool {
        let Some(len) = registry_write().remove(&(p as usize)) else {
            return false;
        };
        // SAFETY: the mapping is ours (it was registered) and the caller holds no reference.
        unsafe { libc::munmap(p.cast(), len) };
        true
    }

    /// Whether `bytes` lie wholly inside one registered mapping.
    pub fn contains(bytes: &[u8]) -> bool {
        contains_range(bytes.as_ptr() as usize, bytes.len())
    }

    /// Whether the `len` bytes from address `start` lie wholly inside one registered mapping.
    pub fn contains_range(start: usize, len: usize) -> bool {
        let reg = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
        reg.range(..=start)
            .next_back()
            .is_some_and(|(&base, &mapped)| start + len <= base + mapped)
    }

    fn registry_write() -> std::sync::RwLockWriteGuard<'static, BTreeMap<usize, usize>> {
        // The map is valid after any panic (each change is one insert or remove).
        REGISTRY.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(not(all(target_os = "linux", not(miri))))]
mod imp {
    use std::ptr::NonNull;

    pub fn mapped_len(size: usize) -> usize {
        size
    }
    pub fn alloc_zeroed(_size: usize) -> Option<NonNull<u8>> {
        None
    }
    /// # Safety
    /// Nothing is ever mapped here.
    pub unsafe fn free(_p: *mut u8) -> bool {
        false
    }
    pub fn contains(_bytes: &[u8]) -> bool {
        false
    }
}

pub use imp::{alloc_zeroed, contains, free, mapped_len};

#[cfg(all(test, target_os = "linux", not(miri)))]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_is_registered_until_freed() {
        let size = MIN_MAPPED + 100;
        let p = alloc_zeroed(size).unwrap();
        assert_eq!(p.as_ptr() as usize % 4096, 0);
        // SAFETY: the mapping holds `size` bytes, zeroed.
        let all = unsafe { std::slice::from_raw_parts(p.as_ptr(), size) };
        assert!(all.iter().all(|&b| b == 0));
        assert!(contains(all));
        assert!(contains(&all[1000..size]));
        // Past the mapping's end (rounded to pages) is not inside it.
        let base = p.as_ptr() as usize;
        assert!(imp::contains_range(base, mapped_len(size)));
        assert!(!imp::contains_range(base, mapped_len(size) + 1));
        assert!(!imp::contains_range(base - 1, 2));
        let heap = vec![0u8; MIN_MAPPED];
        assert!(!contains(&heap));
        // SAFETY: `all` is not used again.
        assert!(unsafe { free(p.as_ptr()) });
        assert!(!unsafe { free(p.as_ptr()) });
        assert!(!imp::contains_range(base, 1));
    }
}
