//! VMware vscsi block traces, versions 1 and 2, as libCacheSim reads them: packed
//! little-endian records with no header; `size = len`, `id = lbn`, `time = ts / 1_000_000`
//! (`ts` is in microseconds). The command (read or write) is ignored.
//!
//! Version 1, 32 bytes: u32 sn @0, u32 len @4, u32 nSG @8, u16 cmd @12, u16 ver @14,
//! u64 lbn @16, u64 ts @24.
//! Version 2, 40 bytes: u16 cmd @0, u16 ver @2, u32 sn @4, u32 len @8, u32 nSG @12,
//! u64 lbn @16, u64 ts @24, u64 rt @32.
//!
//! The version is detected as libCacheSim does: the first two records are tested as version 2
//! (`ver >> 8 == 2`), then as version 1 (`ver >> 8 == 1`). Unlike libCacheSim, a file too short
//! for two records is tested on the one it has, and a trailing partial record is an error.

use std::io::Read;
use std::path::PathBuf;

use super::binary::{BlockReader, ErrorState};
use super::{Record, TraceError, TraceReader};

/// The vscsi record layout of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VscsiVersion {
    V1,
    V2,
}

impl VscsiVersion {
    /// Bytes per record.
    pub fn record_len(self) -> usize {
        match self {
            VscsiVersion::V1 => 32,
            VscsiVersion::V2 => 40,
        }
    }

    fn ver_offset(self) -> usize {
        match self {
            VscsiVersion::V1 => 14,
            VscsiVersion::V2 => 2,
        }
    }

    fn marker(self) -> u16 {
        match self {
            VscsiVersion::V1 => 1,
            VscsiVersion::V2 => 2,
        }
    }

    /// Whether the first (up to two) whole records of `head` carry this version's marker.
    fn matches(self, head: &[u8]) -> bool {
        let len = self.record_len();
        let n = (head.len() / len).min(2);
        n > 0
            && (0..n).all(|i| {
                let o = i * len + self.ver_offset();
                u16::from_le_bytes([head[o], head[o + 1]]) >> 8 == self.marker()
            })
    }
}

/// Reads vscsi records.
pub struct VscsiReader {
    blocks: BlockReader,
    state: ErrorState,
    /// `None` for an empty file.
    version: Option<VscsiVersion>,
}

impl VscsiReader {
    /// Reads from `src` (`path` names it in errors), detecting the version from the first
    /// records. An empty source is an empty trace; a source whose first records carry no
    /// version marker is [`TraceError::BadFormat`].
    pub fn new(src: Box<dyn Read + Send>, path: PathBuf) -> Result<Self, TraceError> {
        let mut blocks = BlockReader::new(src, path.clone());
        let head = blocks.peek(2 * VscsiVersion::V2.record_len())?;
        let version = if head.is_empty() {
            None
        } else if VscsiVersion::V2.matches(head) {
            Some(VscsiVersion::V2)
        } else if VscsiVersion::V1.matches(head) {
            Some(VscsiVersion::V1)
        } else if head.len() < VscsiVersion::V1.record_len() {
            return Err(TraceError::Truncated {
                path,
                record: 1,
                got: head.len(),
                want: VscsiVersion::V1.record_len(),
            });
        } else {
            let v1 = u16::from_le_bytes([head[14], head[15]]);
            return Err(TraceError::BadFormat {
                path,
                msg: format!(
                    "not a vscsi trace: record 1 has no version marker \
                     (version 1 field = {v1:#06x}, expected 0x01xx; version 2 expects 0x02xx)"
                ),
            });
        };
        Ok(VscsiReader {
            blocks,
            state: ErrorState::default(),
            version,
        })
    }

    /// The detected version, `None` for an empty trace.
    pub fn version(&self) -> Option<VscsiVersion> {
        self.version
    }
}

#[inline(always)]
fn decode(c: &[u8]) -> Record {
    // Both versions keep len @4 or @8, lbn @16 and ts @24; only len moves.
    let lbn = u64::from_le_bytes(c[16..24].try_into().unwrap());
    let ts = u64::from_le_bytes(c[24..32].try_into().unwrap());
    Record {
        time: ts / 1_000_000,
        id: lbn,
        size: 0,
        next_access: cache::NEVER,
    }
}

impl TraceReader for VscsiReader {
    fn read_batch(&mut self, out: &mut Vec<Record>, max: usize) -> Result<usize, TraceError> {
        out.clear();
        self.state.check(&self.blocks.path)?;
        let Some(version) = self.version else {
            return Ok(0);
        };
        let (rec, len_at) = match version {
            VscsiVersion::V1 => (32, 4),
            VscsiVersion::V2 => (40, 8),
        };
        while out.len() < max {
            let avail = match self.blocks.records(rec) {
                Ok(a) => a,
                Err(e) => return self.state.fail(e, out.len()),
            };
            if avail.is_empty() {
                break;
            }
            let n = (avail.len() / rec).min(max - out.len());
            out.extend(avail[..n * rec].chunks_exact(rec).map(|c| {
                let mut r = decode(c);
                r.size = u32::from_le_bytes(c[len_at..len_at + 4].try_into().unwrap()) as u64;
                r
            }));
            self.blocks.consume(n, rec);
        }
        Ok(out.len())
    }
}
