//! Block reading shared by the fixed-size binary formats: large reads into one buffer, whole
//! records handed out as slices, a partial record at the end reported as truncation.

use std::io::{ErrorKind, Read};
use std::path::PathBuf;

use super::TraceError;

/// The read buffer: 1 MiB, plus room for a carried-over partial record.
pub(crate) const BLOCK: usize = 1 << 20;

/// Whether a reader may still produce records, and what to report once it may not.
#[derive(Default)]
pub(crate) struct ErrorState {
    /// An error met while filling a batch that already held records: reported by the next call.
    pending: Option<TraceError>,
    failed: bool,
}

impl ErrorState {
    /// Called at the start of `read_batch`: the pending error, or [`TraceError::Stopped`] after one.
    pub(crate) fn check(&mut self, path: &std::path::Path) -> Result<(), TraceError> {
        if let Some(e) = self.pending.take() {
            self.failed = true;
            return Err(e);
        }
        if self.failed {
            return Err(TraceError::Stopped {
                path: path.to_path_buf(),
            });
        }
        Ok(())
    }

    /// Records `e`, met while filling a batch of `filled` records: returned now if the batch is
    /// empty, else kept for the next call so the good records are delivered first.
    pub(crate) fn fail(&mut self, e: TraceError, filled: usize) -> Result<usize, TraceError> {
        if filled == 0 {
            self.failed = true;
            Err(e)
        } else {
            self.pending = Some(e);
            Ok(filled)
        }
    }
}

pub(crate) struct BlockReader {
    src: Box<dyn Read + Send>,
    pub(crate) path: PathBuf,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Records consumed so far.
    pub(crate) records: u64,
}

impl BlockReader {
    pub(crate) fn new(src: Box<dyn Read + Send>, path: PathBuf) -> Self {
        BlockReader {
            src,
            path,
            buf: vec![0; BLOCK + 128],
            start: 0,
            end: 0,
            eof: false,
            records: 0,
        }
    }

    /// Reads until at least `want` bytes are buffered or the source ends; returns what is
    /// buffered (possibly less than `want` at the end). `want` must be at most 128.
    pub(crate) fn peek(&mut self, want: usize) -> Result<&[u8], TraceError> {
        debug_assert!(want <= 128);
        while self.end - self.start < want && !self.eof {
            self.refill()?;
        }
        Ok(&self.buf[self.start..self.end])
    }

    /// The buffered whole records of `rec` bytes, reading more when fewer than one is buffered.
    /// Empty at a clean end; a trailing partial record is [`TraceError::Truncated`].
    #[inline]
    pub(crate) fn records(&mut self, rec: usize) -> Result<&[u8], TraceError> {
        if self.end - self.start < rec {
            self.fill_slow(rec)?;
        }
        let n = (self.end - self.start) / rec * rec;
        Ok(&self.buf[self.start..self.start + n])
    }

    #[cold]
    fn fill_slow(&mut self, rec: usize) -> Result<(), TraceError> {
        while self.end - self.start < rec {
            if self.eof {
                let got = self.end - self.start;
                if got == 0 {
                    return Ok(());
                }
                return Err(TraceError::Truncated {
                    path: self.path.clone(),
                    record: self.records + 1,
                    got,
                    want: rec,
                });
            }
            self.refill()?;
        }
        Ok(())
    }

    /// Marks `n` records of `rec` bytes as consumed.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize, rec: usize) {
        self.start += n * rec;
        debug_assert!(self.start <= self.end);
        self.records += n as u64;
    }

    /// Moves the unread tail to the front and reads once into the free space.
    fn refill(&mut self) -> Result<(), TraceError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(TraceError::Io {
                        path: self.path.clone(),
                        record: self.records + 1,
                        source,
                    })
                }
            }
        }
    }
}
