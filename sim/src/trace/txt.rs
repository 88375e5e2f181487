//! Plain text traces: one object id per line; every record has time 0 and size 1 (libCacheSim
//! forces `ignore_obj_size` for txt).
//!
//! Each line is trimmed of ASCII whitespace (so `\r\n` endings work). Blank lines are skipped:
//! libCacheSim skips empty lines too (it sees only exactly `"\n"`; whitespace-only lines are
//! also skipped here). The id is the line's number if it is one (decimal or `0x` hex), else
//! [`hash_id`] of the trimmed line. (libCacheSim interns string ids with `g_quark`, numbering
//! them in order of appearance, so hashed ids differ from its numbers but name the same
//! objects.) The last line needs no newline.

use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::PathBuf;

use super::binary::ErrorState;
use super::{id_from_text, Record, TraceError, TraceReader};

/// Reads txt records.
pub struct TxtReader {
    src: BufReader<Box<dyn Read + Send>>,
    line_buf: Vec<u8>,
    path: PathBuf,
    records: u64,
    lines: u64,
    state: ErrorState,
}

impl TxtReader {
    /// Reads from `src`; `path` names it in errors.
    pub fn new(src: Box<dyn Read + Send>, path: PathBuf) -> Self {
        TxtReader {
            src: BufReader::with_capacity(1 << 20, src),
            line_buf: Vec::with_capacity(256),
            path,
            records: 0,
            lines: 0,
            state: ErrorState::default(),
        }
    }

    /// The next non-blank line, trimmed, into `line_buf`; false at the end.
    fn next_line(&mut self) -> Result<Option<(usize, usize)>, TraceError> {
        loop {
            self.line_buf.clear();
            let n = loop {
                match self.src.read_until(b'\n', &mut self.line_buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(source) => {
                        return Err(TraceError::Io {
                            path: self.path.clone(),
                            record: self.records + 1,
                            source,
                        })
                    }
                }
            };
            if n == 0 {
                return Ok(None);
            }
            self.lines += 1;
            let t = self.line_buf.trim_ascii();
            if !t.is_empty() {
                let start = t.as_ptr() as usize - self.line_buf.as_ptr() as usize;
                return Ok(Some((start, start + t.len())));
            }
        }
    }

    /// 1-based number of the last line read.
    pub fn line(&self) -> u64 {
        self.lines
    }
}

impl TraceReader for TxtReader {
    fn read_batch(&mut self, out: &mut Vec<Record>, max: usize) -> Result<usize, TraceError> {
        out.clear();
        self.state.check(&self.path)?;
        while out.len() < max {
            match self.next_line() {
                Ok(None) => break,
                Ok(Some((a, b))) => {
                    out.push(Record {
                        time: 0,
                        id: id_from_text(&self.line_buf[a..b]),
                        size: 1,
                        next_access: cache::NEVER,
                    });
                    self.records += 1;
                }
                Err(e) => return self.state.fail(e, out.len()),
            }
        }
        Ok(out.len())
    }
}
