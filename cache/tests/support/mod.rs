//! A minimal reader of the shared oracleGeneral trace for the cache crate's tests
//! (the cache crate does no I/O; the real readers live in `sim`).

use std::sync::OnceLock;

#[derive(Clone, Copy, Debug)]
pub struct Rec {
    pub id: u64,
    pub size: u64,
    /// 0-based index of the next request for the same id, or `cache::NEVER`.
    pub next_access: u64,
}

/// The 113,872 requests of `../shared/traces/cloudPhysicsIO.oracleGeneral.bin`.
pub fn oracle_trace() -> &'static [Rec] {
    static TRACE: OnceLock<Vec<Rec>> = OnceLock::new();
    TRACE.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/traces/cloudPhysicsIO.oracleGeneral.bin");
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(bytes.len() % 24, 0);
        bytes
            .chunks_exact(24)
            .map(|r| {
                let id = u64::from_le_bytes(r[4..12].try_into().unwrap());
                let size = u32::from_le_bytes(r[12..16].try_into().unwrap()) as u64;
                let next = i64::from_le_bytes(r[16..24].try_into().unwrap());
                let next_access = if next <= 0 || next == i64::MAX { cache::NEVER } else { next as u64 - 1 };
                Rec { id, size, next_access }
            })
            .collect()
    })
}
