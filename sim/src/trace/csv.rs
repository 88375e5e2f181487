//! Delimited text traces, read with the `csv` crate into one reused `ByteRecord`.
//!
//! Columns are 1-based ([`CsvColumns`]). Fields are trimmed of ASCII whitespace, and quoted
//! fields are unquoted, as libCacheSim's libcsv-based reader does. Per field:
//! - id: an unsigned integer (decimal or `0x` hex), else [`hash_id`] of the field's bytes
//!   (what libCacheSim does to string ids). An empty id is an error.
//! - time: an unsigned integer, or a decimal number truncated to whole seconds (libCacheSim
//!   reads it with `strtod`); missing column: 0. Anything else is an error.
//! - size: an unsigned integer; missing column: 1. Anything else is an error.
//!
//! Blank lines are skipped; rows may have different numbers of fields, but a row too short to
//! hold a configured column is an error.

use std::io::Read;
use std::path::PathBuf;

use super::binary::ErrorState;
use super::{hash_id, parse_u64, CsvColumns, Record, TraceError, TraceReader};

/// Reads csv records.
pub struct CsvReader {
    rdr: ::csv::Reader<Box<dyn Read + Send>>,
    rec: ::csv::ByteRecord,
    cols: CsvColumns,
    path: PathBuf,
    records: u64,
    state: ErrorState,
}

impl CsvReader {
    /// Reads from `src` (`path` names it in errors) with columns `cols`.
    pub fn new(src: Box<dyn Read + Send>, path: PathBuf, cols: CsvColumns) -> Self {
        let rdr = ::csv::ReaderBuilder::new()
            .delimiter(cols.delimiter)
            .has_headers(cols.header)
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(src);
        CsvReader {
            rdr,
            rec: ::csv::ByteRecord::new(),
            cols,
            path,
            records: 0,
            state: ErrorState::default(),
        }
    }

    fn line(&self) -> u64 {
        self.rec.position().map_or(0, |p| p.line())
    }

    fn parse_err(&self, column: usize, msg: String) -> TraceError {
        TraceError::Parse {
            path: self.path.clone(),
            record: self.records + 1,
            line: self.line(),
            column,
            msg,
        }
    }

    fn field(&self, column: usize, what: &str) -> Result<&[u8], TraceError> {
        match self.rec.get(column - 1) {
            Some(f) => Ok(f.trim_ascii()),
            None => Err(self.parse_err(
                column,
                format!("no {what} column: the row has {} field(s)", self.rec.len()),
            )),
        }
    }

    /// Decodes the current row.
    fn decode(&self) -> Result<Record, TraceError> {
        let c = &self.cols;
        let raw = self.field(c.id, "id")?;
        if raw.is_empty() {
            return Err(self.parse_err(c.id, "empty id".to_string()));
        }
        let id = parse_u64(raw).unwrap_or_else(|| hash_id(raw));
        let time = match c.time {
            None => 0,
            Some(col) => {
                let raw = self.field(col, "time")?;
                match parse_u64(raw).or_else(|| parse_seconds(raw)) {
                    Some(t) => t,
                    None => return Err(self.parse_err(col, format!("bad time {:?}", show(raw)))),
                }
            }
        };
        let size = match c.size {
            None => 1,
            Some(col) => {
                let raw = self.field(col, "size")?;
                match parse_u64(raw) {
                    Some(s) => s,
                    None => return Err(self.parse_err(col, format!("bad size {:?}", show(raw)))),
                }
            }
        };
        Ok(Record {
            time,
            id,
            size,
            next_access: cache::NEVER,
        })
    }
}

/// A non-negative decimal number of seconds, truncated (`12.7` → 12).
fn parse_seconds(raw: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(raw).ok()?;
    // Rust's float syntax also admits "inf" and "nan"; the range check refuses them.
    let v: f64 = s.parse().ok()?;
    if (0.0..1.8e19).contains(&v) {
        Some(v as u64)
    } else {
        None
    }
}

/// A field for an error message: lossy UTF-8, at most 40 characters.
fn show(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    if s.chars().count() > 40 {
        let mut t: String = s.chars().take(40).collect();
        t.push('…');
        t
    } else {
        s.into_owned()
    }
}

impl TraceReader for CsvReader {
    fn read_batch(&mut self, out: &mut Vec<Record>, max: usize) -> Result<usize, TraceError> {
        out.clear();
        self.state.check(&self.path)?;
        while out.len() < max {
            match self.rdr.read_byte_record(&mut self.rec) {
                Ok(false) => break,
                Ok(true) => match self.decode() {
                    Ok(r) => {
                        out.push(r);
                        self.records += 1;
                    }
                    Err(e) => return self.state.fail(e, out.len()),
                },
                Err(e) => {
                    let line = e
                        .position()
                        .map_or_else(|| self.rdr.position().line(), |p| p.line());
                    let err = match e.into_kind() {
                        ::csv::ErrorKind::Io(source) => TraceError::Io {
                            path: self.path.clone(),
                            record: self.records + 1,
                            source,
                        },
                        kind => TraceError::Parse {
                            path: self.path.clone(),
                            record: self.records + 1,
                            line,
                            column: 0,
                            msg: format!("{:?}", kind).replace('\n', " "),
                        },
                    };
                    return self.state.fail(err, out.len());
                }
            }
        }
        Ok(out.len())
    }
}
