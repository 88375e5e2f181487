//! libCacheSim's `oracleGeneral` format: packed 24-byte little-endian records, no header.
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | u32 | time (seconds) |
//! | 4 | u64 | object id |
//! | 12 | u32 | size (bytes) |
//! | 16 | i64 | next access: 1-based index of the next request for the same id, or -1 |
//!
//! As in libCacheSim, -1 and `i64::MAX` mean "never"; so do 0 and any other negative value
//! (no valid 1-based index), which become [`cache::NEVER`]. Other values `v` become `v - 1`.

use std::io::Read;
use std::path::PathBuf;

use super::binary::{BlockReader, ErrorState};
use super::{Record, TraceError, TraceReader};

/// Bytes per oracleGeneral record.
pub const ORACLE_RECORD_LEN: usize = 24;

/// Reads oracleGeneral records.
pub struct OracleReader {
    blocks: BlockReader,
    state: ErrorState,
}

impl OracleReader {
    /// Reads from `src`; `path` names it in errors.
    pub fn new(src: Box<dyn Read + Send>, path: PathBuf) -> Self {
        OracleReader {
            blocks: BlockReader::new(src, path),
            state: ErrorState::default(),
        }
    }
}

/// Decodes one record; `c` is exactly [`ORACLE_RECORD_LEN`] bytes.
#[inline(always)]
pub fn decode(c: &[u8]) -> Record {
    let time = u32::from_le_bytes(c[0..4].try_into().unwrap());
    let id = u64::from_le_bytes(c[4..12].try_into().unwrap());
    let size = u32::from_le_bytes(c[12..16].try_into().unwrap());
    let next = i64::from_le_bytes(c[16..24].try_into().unwrap());
    let next_access = if next <= 0 || next == i64::MAX {
        cache::NEVER
    } else {
        next as u64 - 1
    };
    Record {
        time: time as u64,
        id,
        size: size as u64,
        next_access,
    }
}

/// Encodes one oracleGeneral record; `next_vtime` is as stored: 1-based, or -1 for none.
#[inline]
pub fn encode(time: u32, id: u64, size: u32, next_vtime: i64) -> [u8; ORACLE_RECORD_LEN] {
    let mut b = [0u8; ORACLE_RECORD_LEN];
    b[0..4].copy_from_slice(&time.to_le_bytes());
    b[4..12].copy_from_slice(&id.to_le_bytes());
    b[12..16].copy_from_slice(&size.to_le_bytes());
    b[16..24].copy_from_slice(&next_vtime.to_le_bytes());
    b
}

impl TraceReader for OracleReader {
    fn read_batch(&mut self, out: &mut Vec<Record>, max: usize) -> Result<usize, TraceError> {
        out.clear();
        self.state.check(&self.blocks.path)?;
        while out.len() < max {
            let avail = match self.blocks.records(ORACLE_RECORD_LEN) {
                Ok(a) => a,
                Err(e) => return self.state.fail(e, out.len()),
            };
            if avail.is_empty() {
                break;
            }
            let n = (avail.len() / ORACLE_RECORD_LEN).min(max - out.len());
            out.extend(
                avail[..n * ORACLE_RECORD_LEN]
                    .chunks_exact(ORACLE_RECORD_LEN)
                    .map(decode),
            );
            self.blocks.consume(n, ORACLE_RECORD_LEN);
        }
        Ok(out.len())
    }
}
