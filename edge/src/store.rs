//! The cache store: response payloads in memory, bounded in payload bytes, with eviction
//! decided by a [`cache::Policy`], split into shards that each sit behind their own lock.
//!
//! # Layout
//!
//! A key string (built by the proxy from the request) is hashed with xxh3 ([`Store::hash_key`]).
//! The hash selects the shard (its top bits) and is the object id the shard's policy sees.
//! Each shard is a `Mutex` around:
//! - its own policy instance, sized to the shard's share of the capacity: it decides what is
//!   held and is the only index from hash to object (see [`Policy::slot`]);
//! - a vector of [`Entry`] indexed by the policy's slot (by value: an entry is one
//!   reference-counted buffer, see its layout): the payloads (policies own none). A lookup is
//!   one probe of the policy's index, whose candidate slots the store checks against the key
//!   of the entry it keeps there ([`Policy::slot_where`]); a hit is recorded by slot
//!   ([`Policy::touch_slot`]), without probing again;
//! - a reused `Vec<Evicted>` that the policy's `admit` fills, from which the store frees the
//!   evicted entries (at the slots the evictions report);
//! - counters for [`StoreStats`].
//!
//! Readers get a clone of the [`Entry`] (a reference-count increment on its buffer): an entry
//! evicted or invalidated while a response is being streamed from it stays alive until that
//! reader drops it (and every header value and body slice taken from it), and not longer
//! ([`Entry::is_unique`] tells). Entries leaving the store are dropped after the shard's lock is
//! released, so freeing buffers never happens under a lock; the metadata estimate (which reads
//! an entry's buffer, cold for an evicted entry) is computed and accounted outside the lock
//! too.
//!
//! # Invariants
//!
//! After every operation, in every shard: there is an entry at exactly the slots of the ids
//! the policy holds, each under its id's slot (`Policy::slot`), and the payload bytes held are
//! at most the shard's capacity; so the store as a whole never holds more than `capacity`
//! payload bytes.
//!
//! # Hash collisions
//!
//! Objects are identified by the 64-bit hash, and each entry carries its full key string. A lookup
//! whose hash matches an entry with a different key string is a miss (and records no access
//! with the policy). Inserting a key whose hash is held by a different key replaces that entry
//! (it is removed as a refresh would be, then the new one is admitted): with 64-bit hashes
//! this costs a spurious miss about once per 2^64 / (objects held) insertions.

use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cache::{Evicted, ObjId, ParamError, Policy, PolicySpec, Request};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use shared::SharedBuf;

/// One stored response (a variant): a single reference-counted buffer. Immutable once
/// stored; refreshed by replacing. Cloning it is one reference-count increment.
///
/// # Layout
///
/// The `Entry` itself is one thin pointer (8 bytes, the store's slot for it) to a
/// reference-counted buffer (`SharedBuf`, an `Arc<[u8]>` with a 4-byte count and the length
/// as a varint in the allocation instead of two 8-byte counts there and the length in the
/// handle): everything else lives in the one allocation it points to, made once, at its exact
/// size, by [`Entry::new`]: the count (4 bytes) and the buffer's length (a varint: 2 bytes
/// up to 16 KiB, 3 up to 2 MiB), then
///
/// ```text
/// field                 encoding
/// key_len               varint
/// path_len              varint: the path is the first `path_len` bytes of the key
/// meta_len              varint: the bytes from the end of the key to the start of the body
/// key                   UTF-8
/// status, flags         varint: status × 2 + revalidate_always
/// received_at           varint: milliseconds since the UNIX epoch (truncated)
/// age_at_receipt        varint: whole seconds
/// fresh_for             varint: whole seconds
/// stale_while_reval.    varint: whole seconds
/// stale_if_error        varint: whole seconds
/// headers               one record per field line, in `HeaderMap` order (below)
/// body                  to the end of the buffer
/// ```
///
/// Varints are LEB128: 7 bits a byte, one byte below 128, two below 16 Ki. The three lengths
/// come first so that finding the key and the body (on every lookup, under the shard's lock)
/// reads three bytes or so; the times are decoded only when asked for. A typical entry's
/// fixed fields take 17 or 18 bytes (6 of them the reception time).
///
/// So an entry costs the count and length and those fields, plus its key, plus two bytes per
/// header line beyond the names and values, plus its body, rounded up to a multiple of 4 (the
/// count's alignment).
///
/// A header record is the name, then the value's length as a LEB128 varint (one byte below
/// 128, two below 16 KiB), then the value's bytes. The name is one byte `0x80 + i` for the
/// `i`-th of the common standard response headers in `STANDARD_NAMES` (`content-type`,
/// `etag`, …), or `0x00`, the name's length as a varint, and the name. So a common header
/// costs two bytes plus its value, usually *less* than its name and value; and decoding
/// never scans for a separator nor parses a standard name.
///
/// # Why not a `Bytes`
///
/// [`headers`](Entry::headers) and [`body`](Entry::body) hand out [`Bytes`] that share the
/// buffer (no copy). Each call makes one with [`Bytes::from_owner`], a 24-byte allocation that
/// lives as long as that response does, not as long as the entry. Holding a `Bytes` in the
/// entry instead would cost 16 bytes more in every map slot (a `Bytes` is 32) and, from the
/// first time the entry is read, the 24-byte shared block `Bytes` allocates for as long as
/// the entry is cached.
///
/// # Times
///
/// HTTP ages and lifetimes have one-second resolution (`Age`, `max-age`, `Expires − Date`,
/// `stale-while-revalidate` are all delta-seconds) and [`semantics::current_age`] truncates
/// to whole seconds, so the entry keeps whole seconds, saturating at `u32::MAX` (136 years):
/// `fresh_for` is rounded *up*, and each stale window `w` is stored as
/// `ceil(fresh_for + w) − ceil(fresh_for)`. For whole-second values (everything an origin can
/// send) that is the value itself; for a sub-second lifetime or window from the configuration
/// the proxy's decisions are unchanged, because it compares them with whole-second ages only
/// (`age < fresh_for`, `age − fresh_for < window` ⇔ `age < ceil(fresh_for + window)` for
/// integer `age`). `received_at` is kept in milliseconds, truncated: an age can tick at most
/// one millisecond early (over- rather than under-estimating it).
///
/// [`semantics::current_age`]: crate::semantics::current_age
#[derive(Clone)]
pub struct Entry {
    buf: SharedBuf,
}

const FLAG_REVALIDATE_ALWAYS: usize = 1;

/// What [`Entry::new`] is told besides the key, headers and body.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    pub status: StatusCode,
    /// When the response was received.
    pub received_at: SystemTime,
    /// The origin's `Age` on receipt.
    pub age_at_receipt: Duration,
    /// The freshness lifetime.
    pub fresh_for: Duration,
    pub stale_while_revalidate: Duration,
    pub stale_if_error: Duration,
    pub revalidate_always: bool,
}

/// Why [`Entry::new`] could not build an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("the path is not a prefix of the key")]
    PathNotPrefix,
    #[error("the key and headers take more than 4 GiB")]
    TooLarge,
}

/// Estimated heap bytes per object outside the entry's buffer: the store's slot for it (the
/// 8-byte `Entry` in a vector grown by quarters: ~10 bytes) and the policy's index bucket and
/// record (a 4-byte slot in a hash table 7/16 to 7/8 full, plus a 24-, 32- or 56-byte record
/// in a vector grown by quarters). Measured with a counting allocator by `cargo bench -p edge
/// --bench store`, which prints the whole overhead per policy: this part comes to ~42–52
/// bytes for LRU and FIFO, ~50–62 for CLOCK, SIEVE, ARC, LFU and S3-FIFO or 2Q while the
/// cache fills, ~75–90 for S3-FIFO once evicting (its ghost remembers ~0.9 evicted ids per
/// held object) and ~75 for 2Q, ~75–90 for GDSF and ~75–95 for W-TinyLFU (whose frequency
/// sketch counts every object seen recently, held or not). The estimate is the default
/// policy's (S3-FIFO) over its life.
pub const INDEX_BYTES_PER_OBJECT: usize = 70;

/// The common response header names an entry stores as one byte (`0x80 + index`). Append
/// only: the index is the stored encoding (entries live in memory only, but keep it stable).
static STANDARD_NAMES: [HeaderName; 43] = {
    use http::header::*;
    [
        ACCEPT_RANGES,
        ACCESS_CONTROL_ALLOW_CREDENTIALS,
        ACCESS_CONTROL_ALLOW_HEADERS,
        ACCESS_CONTROL_ALLOW_METHODS,
        ACCESS_CONTROL_ALLOW_ORIGIN,
        ACCESS_CONTROL_EXPOSE_HEADERS,
        ACCESS_CONTROL_MAX_AGE,
        AGE,
        ALLOW,
        ALT_SVC,
        CACHE_CONTROL,
        CONTENT_DISPOSITION,
        CONTENT_ENCODING,
        CONTENT_LANGUAGE,
        CONTENT_LENGTH,
        CONTENT_LOCATION,
        CONTENT_RANGE,
        CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY_REPORT_ONLY,
        CONTENT_TYPE,
        DATE,
        ETAG,
        EXPIRES,
        LAST_MODIFIED,
        LINK,
        LOCATION,
        PRAGMA,
        REFERRER_POLICY,
        REFRESH,
        RETRY_AFTER,
        SERVER,
        SET_COOKIE,
        STRICT_TRANSPORT_SECURITY,
        TRAILER,
        TRANSFER_ENCODING,
        VARY,
        VIA,
        WARNING,
        WWW_AUTHENTICATE,
        X_CONTENT_TYPE_OPTIONS,
        X_DNS_PREFETCH_CONTROL,
        X_FRAME_OPTIONS,
        X_XSS_PROTECTION,
    ]
};

/// A header record's name: an index into [`STANDARD_NAMES`], or the name's byte range.
#[derive(Clone, Copy)]
enum Name {
    Standard(u8),
    Custom(usize, usize),
}

/// The one-byte code of a name in [`STANDARD_NAMES`].
fn standard_code(name: &HeaderName) -> Option<u8> {
    STANDARD_NAMES
        .iter()
        .position(|s| s == name)
        .map(|i| 0x80 + i as u8)
}

fn varint_len(n: usize) -> usize {
    varint_len_u64(n as u64)
}

fn varint_len_u64(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Reads a LEB128 varint at `*pos` and moves past it.
#[inline]
fn read_varint(buf: &[u8], pos: &mut usize) -> usize {
    read_varint_u64(buf, pos) as usize
}

/// Reads a LEB128 varint of up to 64 bits at `*pos` and moves past it.
#[inline]
fn read_varint_u64(buf: &[u8], pos: &mut usize) -> u64 {
    let b = buf[*pos];
    *pos += 1;
    if b < 0x80 {
        return b.into();
    }
    let (mut n, mut shift) = (u64::from(b & 0x7F), 7);
    loop {
        let b = buf[*pos];
        *pos += 1;
        n |= u64::from(b & 0x7F) << shift;
        if b < 0x80 {
            return n;
        }
        shift += 7;
    }
}

/// Where the parts of an entry's buffer are (offsets into it).
#[derive(Clone, Copy)]
struct Spans {
    /// The start of the key (and of the path).
    key: usize,
    path_end: usize,
    key_end: usize,
    /// The start of the body: the end of the header records.
    body: usize,
}

/// The bytes a header record takes.
fn record_len(n: &HeaderName, v: &HeaderValue) -> usize {
    let name = match standard_code(n) {
        Some(_) => 1,
        None => 1 + varint_len(n.as_str().len()) + n.as_str().len(),
    };
    name + varint_len(v.len()) + v.len()
}

/// Writes into the entry's buffer, which was allocated at its final size.
struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Cursor<'_> {
    fn extend_from_slice(&mut self, b: &[u8]) {
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }
    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }
    fn varint(&mut self, n: usize) {
        self.varint_u64(n as u64);
    }
    fn varint_u64(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.push((n as u8 & 0x7F) | 0x80);
            n >>= 7;
        }
        self.push(n as u8);
    }
    fn len(&self) -> usize {
        self.len
    }
}

fn secs_u32(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// Whole seconds, rounded up, saturating.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}

impl Entry {
    /// Builds an entry: `key` (the full cache key), `path` (a prefix of the key: the request
    /// path invalidation matches on), `headers` (hop-by-hop already stripped by the caller),
    /// the body as the concatenation of `body` chunks, all copied into one freshly allocated
    /// buffer of exactly the needed size (so no slice of a receive buffer is kept alive).
    /// Times are converted as described under [Times](Entry#times).
    pub fn new<B: AsRef<[u8]>>(
        key: &str,
        path: &str,
        meta: &Meta,
        headers: &HeaderMap,
        body: &[B],
    ) -> Result<Entry, EntryError> {
        if !key.starts_with(path) {
            return Err(EntryError::PathNotPrefix);
        }
        let received_ms = meta
            .received_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let fresh = ceil_secs(meta.fresh_for);
        let window = |w: Duration| {
            let end = ceil_secs(meta.fresh_for.saturating_add(w));
            secs_u32(Duration::from_secs(end - fresh))
        };
        let status_flags = usize::from(meta.status.as_u16()) * 2
            + if meta.revalidate_always {
                FLAG_REVALIDATE_ALWAYS
            } else {
                0
            };
        // The meta block's varints, in order (see the layout).
        let times: [u64; 6] = [
            status_flags as u64,
            received_ms,
            secs_u32(meta.age_at_receipt).into(),
            secs_u32(Duration::from_secs(fresh)).into(),
            window(meta.stale_while_revalidate).into(),
            window(meta.stale_if_error).into(),
        ];
        let header_bytes: usize = headers.iter().map(|(n, v)| record_len(n, v)).sum();
        let meta_len = times.iter().map(|&t| varint_len_u64(t)).sum::<usize>() + header_bytes;
        let lengths = varint_len(key.len()) + varint_len(path.len()) + varint_len(meta_len);
        let body_start = lengths + key.len() + meta_len;
        if u32::try_from(body_start).is_err() {
            return Err(EntryError::TooLarge);
        }
        let body_len: usize = body.iter().map(|c| c.as_ref().len()).sum();
        let len = body_start + body_len;
        // One allocation of exactly `len` bytes, zeroed, then filled in place.
        let buf = SharedBuf::build(len, |buf| {
            let mut v = Cursor { buf, len: 0 };
            v.varint(key.len());
            v.varint(path.len());
            v.varint(meta_len);
            v.extend_from_slice(key.as_bytes());
            for t in times {
                v.varint_u64(t);
            }
            for (n, val) in headers {
                match standard_code(n) {
                    Some(code) => v.push(code),
                    None => {
                        v.push(0);
                        v.varint(n.as_str().len());
                        v.extend_from_slice(n.as_str().as_bytes());
                    }
                }
                v.varint(val.len());
                v.extend_from_slice(val.as_bytes());
            }
            debug_assert_eq!(v.len(), body_start);
            for c in body {
                v.extend_from_slice(c.as_ref());
            }
            debug_assert_eq!(v.len(), len);
        });
        Ok(Entry { buf })
    }

    /// The whole buffer as a [`Bytes`] sharing it: one 24-byte allocation, whatever is then
    /// sliced from it.
    fn bytes(&self) -> Bytes {
        Bytes::from_owner(self.buf.clone())
    }

    /// The buffer and where the key, the path and the body are in it (its three leading
    /// varints, decoded): one look at the buffer for what a lookup needs.
    #[inline]
    fn parts(&self) -> (&[u8], Spans) {
        let buf: &[u8] = &self.buf;
        let mut pos = 0;
        let key_len = read_varint(buf, &mut pos);
        let path_len = read_varint(buf, &mut pos);
        let meta_len = read_varint(buf, &mut pos);
        let spans = Spans {
            key: pos,
            path_end: pos + path_len,
            key_end: pos + key_len,
            body: pos + key_len + meta_len,
        };
        (buf, spans)
    }

    #[inline]
    fn spans(&self) -> Spans {
        self.parts().1
    }

    /// The meta block's six varints (status and flags, received_at, age, fresh_for, the two
    /// windows), and where the header records start.
    fn meta_fields(&self) -> ([u64; 6], usize) {
        let (buf, s) = self.parts();
        let mut pos = s.key_end;
        let mut out = [0; 6];
        for f in &mut out {
            *f = read_varint_u64(buf, &mut pos);
        }
        (out, pos)
    }

    #[inline]
    fn headers_end(&self) -> usize {
        self.spans().body
    }

    #[inline]
    fn key_bytes(&self) -> &[u8] {
        let (buf, s) = self.parts();
        &buf[s.key..s.key_end]
    }

    #[inline]
    fn path_bytes(&self) -> &[u8] {
        let (buf, s) = self.parts();
        &buf[s.key..s.path_end]
    }

    /// If this entry's key is `key`, the size the policy is told ([`Entry::policy_size`]): what
    /// a lookup needs, from one look at the buffer.
    #[inline]
    fn size_if_key(&self, key: &str) -> Option<u64> {
        let (buf, s) = self.parts();
        (&buf[s.key..s.key_end] == key.as_bytes()).then(|| ((buf.len() - s.body) as u64).max(1))
    }

    /// Whether this entry's key is `key` (no UTF-8 check: a byte comparison).
    #[inline]
    pub fn has_key(&self, key: &str) -> bool {
        self.key_bytes() == key.as_bytes()
    }

    /// The full cache key string (used to detect hash collisions).
    pub fn key(&self) -> &str {
        std::str::from_utf8(self.key_bytes()).expect("built from a str")
    }

    /// The request path the key was built from (invalidation matches on it): a prefix of the
    /// key.
    pub fn path(&self) -> &str {
        std::str::from_utf8(self.path_bytes()).expect("a prefix of a str, cut at its length")
    }

    pub fn status(&self) -> StatusCode {
        let code = self.meta_fields().0[0] / 2;
        StatusCode::from_u16(code as u16).expect("stored from a StatusCode")
    }

    /// The header records: (name, value start, value end), offsets into `buf`.
    fn header_records(&self) -> impl Iterator<Item = (Name, usize, usize)> + '_ {
        let end = self.headers_end();
        let mut pos = self.meta_fields().1;
        let buf = &self.buf[..end];
        std::iter::from_fn(move || {
            if pos >= end {
                return None;
            }
            let t = buf[pos];
            pos += 1;
            let name = if t >= 0x80 {
                Name::Standard(t - 0x80)
            } else {
                let len = read_varint(buf, &mut pos);
                pos += len;
                Name::Custom(pos - len, pos)
            };
            let len = read_varint(buf, &mut pos);
            pos += len;
            Some((name, pos - len, pos))
        })
    }

    /// The stored response headers, decoded into a map in their stored order. The values are
    /// slices of the entry's buffer (no copy); custom header names are allocated, standard
    /// ones are not.
    pub fn headers(&self) -> HeaderMap {
        self.headers_from(&self.bytes())
    }

    fn headers_from(&self, all: &Bytes) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (n, v, e) in self.header_records() {
            let name = match n {
                Name::Standard(i) => STANDARD_NAMES[i as usize].clone(),
                Name::Custom(s, e) => match HeaderName::from_bytes(&self.buf[s..e]) {
                    Ok(name) => name,
                    Err(_) => continue, // never: it was a HeaderName
                },
            };
            if let Ok(value) = HeaderValue::from_maybe_shared(all.slice(v..e)) {
                map.append(name, value);
            }
        }
        map
    }

    /// The first value of header `name`, found by walking the stored records (no map built).
    pub fn header(&self, name: &HeaderName) -> Option<HeaderValue> {
        let code = standard_code(name);
        let want = name.as_str().as_bytes();
        let (_, v, e) = self.header_records().find(|&(n, _, _)| match n {
            Name::Standard(i) => code == Some(0x80 + i),
            Name::Custom(s, e) => code.is_none() && &self.buf[s..e] == want,
        })?;
        HeaderValue::from_maybe_shared(self.bytes().slice(v..e)).ok()
    }

    /// The body: a slice of the entry's buffer.
    pub fn body(&self) -> Bytes {
        self.bytes().slice(self.headers_end()..)
    }

    /// [`headers`](Entry::headers) and [`body`](Entry::body) at once, sharing one `Bytes`
    /// allocation (what a response from the entry needs).
    pub fn headers_and_body(&self) -> (HeaderMap, Bytes) {
        let all = self.bytes();
        (self.headers_from(&all), all.slice(self.headers_end()..))
    }

    /// When the response was received (millisecond resolution).
    pub fn received_at(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(self.meta_fields().0[1])
    }

    /// The origin's `Age` on receipt.
    pub fn age_at_receipt(&self) -> Duration {
        Duration::from_secs(self.meta_fields().0[2])
    }

    /// Freshness lifetime (whole seconds, rounded up).
    pub fn fresh_for(&self) -> Duration {
        Duration::from_secs(self.meta_fields().0[3])
    }

    pub fn stale_while_revalidate(&self) -> Duration {
        Duration::from_secs(self.meta_fields().0[4])
    }

    pub fn stale_if_error(&self) -> Duration {
        Duration::from_secs(self.meta_fields().0[5])
    }

    /// `no-cache`: every use needs a successful revalidation first.
    pub fn revalidate_always(&self) -> bool {
        self.meta_fields().0[0] as usize & FLAG_REVALIDATE_ALWAYS != 0
    }

    /// What the entry charges against the store's capacity: its payload bytes, the body's
    /// length.
    #[inline]
    pub fn charge(&self) -> u64 {
        let (buf, s) = self.parts();
        (buf.len() - s.body) as u64
    }

    /// An estimate of the memory the entry costs beyond its body: its buffer's count, length,
    /// fixed fields, key, encoded headers and padding, and the store's and policy's index
    /// ([`INDEX_BYTES_PER_OBJECT`]).
    pub fn metadata_bytes(&self) -> usize {
        self.buf.heap_size() - self.charge() as usize + INDEX_BYTES_PER_OBJECT
    }

    /// Whether no other handle shares this entry's buffer: no clone of it (the store's
    /// included), no header value and no body slice taken from it. Dropping this handle then
    /// frees the entry.
    pub fn is_unique(&self) -> bool {
        self.buf.is_unique()
    }

    /// The size the policy is told: the charge, but at least 1, so that empty bodies (redirects,
    /// 204s) still count and the number of objects held stays bounded by the capacity.
    #[inline]
    fn policy_size(&self) -> u64 {
        self.charge().max(1)
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &self.key())
            .field("path", &self.path())
            .field("status", &self.status())
            .field("headers", &self.headers())
            .field("body_len", &self.charge())
            .field("received_at", &self.received_at())
            .field("age_at_receipt", &self.age_at_receipt())
            .field("fresh_for", &self.fresh_for())
            .field("stale_while_revalidate", &self.stale_while_revalidate())
            .field("stale_if_error", &self.stale_if_error())
            .field("revalidate_always", &self.revalidate_always())
            .finish()
    }
}

/// Totals over all shards. Counters (`evictions`, `evicted_bytes`, `invalidations`) count since
/// the store was built; the rest describe what is held now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Entries held.
    pub objects: u64,
    /// Sum of the held entries' [`Entry::charge`]; never above `capacity`.
    pub payload_bytes: u64,
    /// Sum of the held entries' [`Entry::metadata_bytes`] (an estimate).
    pub metadata_bytes: u64,
    /// Entries the policies evicted to make room.
    pub evictions: u64,
    /// Their payload bytes.
    pub evicted_bytes: u64,
    /// Entries removed by [`Store::remove`] or [`Store::invalidate`].
    pub invalidations: u64,
    /// The capacity in payload bytes (the sum of the shards' capacities).
    pub capacity: u64,
}

/// What [`Store::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// The entry is held; `evicted` entries were evicted to make room for it.
    Stored { evicted: usize },
    /// The entry is not held: it is larger than `max_object_size` or than its shard's capacity,
    /// or the policy refused it (S3-FIFO refuses objects larger than its small queue;
    /// W-TinyLFU may admit and at once evict a newcomer that loses to the main victim). Any
    /// entry previously held for the same key has been removed all the same.
    Refused,
}

/// One shard: a policy and the payloads of the ids it holds, kept at the policy's slots.
struct Shard {
    policy: Box<dyn Policy>,
    /// `entries[s]` is the entry of the object the policy holds at slot `s` (see
    /// [`Policy::slot`]); `None` at the slots it does not use. The policy's index is the only
    /// one: the store keeps no map of its own. Grows by a quarter at a time, as the policy's
    /// slots do, so it stays within about 5/4 of the most objects held at once.
    entries: Vec<Option<Entry>>,
    /// Reused by every `admit` so the miss path does not allocate for it.
    evicted: Vec<Evicted>,
    capacity: u64,
    payload_bytes: u64,
    evictions: u64,
    evicted_bytes: u64,
    invalidations: u64,
}

/// A shard on its own cache lines, so threads hitting neighbouring shards do not contend for
/// the line that holds each other's lock word.
#[repr(align(128))]
struct Padded {
    shard: Mutex<Shard>,
    /// The sum of the held entries' [`Entry::metadata_bytes`], kept outside the lock: computing
    /// it reads an entry's buffer, which for an evicted (cold) entry means a cache miss, so it
    /// is done after the lock is released. It can lag the entries for an instant (and even
    /// dip below zero when an entry is evicted before its inserter has added it).
    metadata_bytes: AtomicI64,
}

impl Padded {
    /// Accounts for entries that left the shard (after the lock is released) and drops them.
    fn bury(&self, dead: &mut Vec<Entry>) {
        let bytes: usize = dead.iter().map(|e| e.metadata_bytes()).sum();
        if bytes > 0 {
            self.metadata_bytes.fetch_sub(bytes as i64, Relaxed);
        }
        dead.clear();
    }
}

impl Shard {
    /// The slot, entry and policy size of `key`, if held. No side effects. The policy offers
    /// the slots its index files under `hash` and the entry kept at each says whether it is
    /// `key`'s ([`Policy::slot_where`]): a key match means a hash match, and the policy need
    /// not read its own record of the object to check the id.
    #[inline]
    fn find_key(&self, hash: ObjId, key: &str) -> Option<(u32, &Entry, u64)> {
        let entries = &self.entries;
        let mut size = 0;
        let slot = self.policy.slot_where(hash, &mut |s| match entries
            .get(s as usize)
            .and_then(Option::as_ref)
        {
            Some(e) => e.size_if_key(key).map(|z| size = z).is_some(),
            None => false,
        })?;
        let e = entries[slot as usize].as_ref()?;
        Some((slot, e, size))
    }

    /// Takes `hash`'s entry out of the entries and the policy (not an eviction), whatever its
    /// key.
    fn take(&mut self, hash: ObjId) -> Option<Entry> {
        let slot = self.policy.slot(hash)?;
        let old = self.entries.get_mut(slot as usize).and_then(Option::take);
        let size = self.policy.remove(hash);
        let old = old?;
        debug_assert_eq!(size, Some(old.policy_size()), "entries and policy disagree");
        self.payload_bytes -= old.charge();
        Some(old)
    }

    /// Takes `hash`'s entry out if its key is `key` (an invalidation).
    fn remove_key(&mut self, hash: ObjId, key: &str) -> Option<Entry> {
        self.find_key(hash, key)?;
        self.invalidations += 1;
        self.take(hash)
    }

    /// Puts `entry` at `slot`, growing the entries by a quarter (at least) if needed.
    fn put(&mut self, slot: u32, entry: Entry) {
        let s = slot as usize;
        let len = self.entries.len();
        if s >= len {
            let want = (s + 1).max(len + len / 4).max(16);
            self.entries.reserve_exact(want - len);
            self.entries.resize_with(want, || None);
        }
        debug_assert!(self.entries[s].is_none(), "slot {slot} is taken");
        self.entries[s] = Some(entry);
    }

    /// `Store::insert` under the lock; entries leaving the shard go to `dead`.
    fn insert(
        &mut self,
        hash: ObjId,
        entry: Entry,
        max_object_size: u64,
        dead: &mut Vec<Entry>,
    ) -> Insert {
        if let Some(old) = self.take(hash) {
            dead.push(old);
        }
        let size = entry.policy_size();
        if entry.charge() > max_object_size || size > self.capacity {
            return Insert::Refused;
        }
        let Shard {
            policy,
            entries,
            evicted,
            ..
        } = self;
        evicted.clear();
        let admitted = policy.admit(&Request::new(hash, size), evicted);
        let mut count = 0;
        // Every evicted slot is freed before the newcomer's entry is put: the policy may have
        // given it one of them.
        for e in evicted.iter() {
            if e.id == hash {
                // The newcomer itself, admitted and evicted in the same call: never stored.
                debug_assert!(!admitted);
                continue;
            }
            let Some(gone) = entries.get_mut(e.slot as usize).and_then(Option::take) else {
                // A policy bug: fail loudly in tests, keep serving in production.
                if cfg!(debug_assertions) {
                    panic!(
                        "the policy evicted {} from slot {}, which is empty",
                        e.id, e.slot
                    );
                }
                continue;
            };
            debug_assert_eq!(e.size, gone.policy_size());
            debug_assert_eq!(
                e.id,
                Store::hash_key(gone.key()),
                "evicted from another slot"
            );
            self.payload_bytes -= gone.charge();
            self.evicted_bytes += gone.charge();
            count += 1;
            dead.push(gone);
        }
        self.evictions += count as u64;
        if !admitted {
            return Insert::Refused;
        }
        let slot = self.policy.slot(hash).expect("admitted, so held at a slot");
        self.payload_bytes += entry.charge();
        self.put(slot, entry);
        Insert::Stored { evicted: count }
    }
}

/// The cache store: see the [module documentation](self).
pub struct Store {
    shards: Box<[Padded]>,
    /// log2 of the shard count: the hash's top `shard_bits` bits select the shard.
    shard_bits: u32,
    max_object_size: u64,
    capacity: u64,
    policy_name: String,
}

impl Store {
    /// A store of `capacity` payload bytes split evenly over `shards` shards, each its own
    /// instance of the `policy` behind its own lock.
    ///
    /// Shard sizing: the count is first reduced to `capacity / max_object_size` (at least 1)
    /// and rounded *down* to a power of two; then it is halved while a fresh policy of one
    /// shard's capacity would refuse an object of `max_object_size` (S3-FIFO admits only
    /// objects that fit its small queue, 10 % of the shard by default; W-TinyLFU only what
    /// fits its window, 1 %). So each shard can hold an object of `max_object_size` unless even
    /// a single shard cannot. The capacity is divided exactly: the first `capacity % n` shards
    /// get one byte more. `shards` and `max_object_size` of 0 count as 1; bodies larger than
    /// `max_object_size` are refused by [`insert`](Store::insert).
    ///
    /// A bad policy spec is an error, and so is an offline policy (`belady`), which needs each
    /// request's next access time.
    pub fn new(
        policy: &PolicySpec,
        capacity: u64,
        max_object_size: u64,
        shards: usize,
    ) -> Result<Store, ParamError> {
        if cache::registry::is_offline(&policy.name) {
            return Err(ParamError::BadValue {
                policy: policy.name.clone(),
                key: "policy".into(),
                value: policy.name.clone(),
                why: "an offline policy needs each request's next access time, which a proxy \
                      cannot know"
                    .into(),
            });
        }
        let max_object_size = max_object_size.max(1);
        let by_size = usize::try_from(capacity / max_object_size).unwrap_or(usize::MAX);
        let mut n = prev_power_of_two(shards.min(by_size).max(1));
        while n > 1 {
            let mut probe = cache::build(policy, capacity / n as u64)?;
            let mut ev = Vec::new();
            if probe.admit(&Request::new(0, max_object_size), &mut ev) {
                break;
            }
            n /= 2;
        }
        let base = capacity / n as u64;
        let extra = capacity % n as u64;
        let mut slots = Vec::with_capacity(n);
        let mut policy_name = String::new();
        for i in 0..n {
            let cap = base + u64::from((i as u64) < extra);
            let p = cache::build(policy, cap)?;
            policy_name = p.name();
            let shard = Mutex::new(Shard {
                policy: p,
                entries: Vec::new(),
                evicted: Vec::with_capacity(16),
                capacity: cap,
                payload_bytes: 0,
                evictions: 0,
                evicted_bytes: 0,
                invalidations: 0,
            });
            slots.push(Padded {
                shard,
                metadata_bytes: AtomicI64::new(0),
            });
        }
        Ok(Store {
            shards: slots.into_boxed_slice(),
            shard_bits: n.trailing_zeros(),
            max_object_size,
            capacity,
            policy_name,
        })
    }

    /// The key's 64-bit hash (xxh3 of the key string): what the policy sees as the object id
    /// and what selects the shard.
    #[inline]
    pub fn hash_key(key: &str) -> u64 {
        xxhash_rust::xxh3::xxh3_64(key.as_bytes())
    }

    /// How many shards the store has (a power of two).
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The policy's name with its resolved parameters, e.g. `s3fifo:small=0.1,ghost=0.9,threshold=2`.
    pub fn policy_name(&self) -> &str {
        &self.policy_name
    }

    /// The largest body the store accepts (at least 1).
    pub fn max_object_size(&self) -> u64 {
        self.max_object_size
    }

    #[inline]
    fn shard_index(&self, hash: u64) -> usize {
        // The top `shard_bits` bits, rotated to the bottom (rotate by 0 keeps all; mask is 0).
        (hash.rotate_left(self.shard_bits) as usize) & (self.shards.len() - 1)
    }

    #[inline]
    fn slot(&self, hash: u64) -> &Padded {
        &self.shards[self.shard_index(hash)]
    }

    #[inline]
    fn lock(&self, hash: u64) -> MutexGuard<'_, Shard> {
        lock(self.slot(hash))
    }

    /// The hit path: the entry for `key` if held, recording the access with the policy
    /// (`touch_slot`). A hash match whose key string differs is a miss (a collision) and
    /// records nothing. A plain miss is offered to the policy's `touch` too, which may learn
    /// from it (frequency sketches) but admits nothing. A hit is one lock, one probe of the
    /// policy's index (checked against the entry's key, not the policy's record), one
    /// reference-count increment and the policy's update of its record.
    #[inline]
    pub fn get(&self, hash: u64, key: &str) -> Option<Entry> {
        let mut guard = self.lock(hash);
        let shard = &mut *guard;
        if let Some((slot, _, size)) = shard.find_key(hash, key) {
            // The slot was just found: no second probe of the policy's index. The policy's
            // update comes before the reference-count increment (a locked instruction, which
            // waits for earlier loads), so the policy's record can be fetched while the
            // entry's buffer still is.
            shard.policy.touch_slot(&Request::new(hash, size), slot);
            return shard.entries[slot as usize].clone();
        }
        if shard.policy.slot(hash).is_none() {
            // The size of a missing object is unknown; `touch` does not store it.
            shard.policy.touch(&Request::new(hash, 0));
        }
        None
    }

    /// The entry for `key` if held, without recording an access (no side effects on the
    /// policy).
    #[inline]
    pub fn peek(&self, hash: u64, key: &str) -> Option<Entry> {
        let guard = self.lock(hash);
        guard.find_key(hash, key).map(|(_, e, _)| e.clone())
    }

    /// Stores `entry` under `hash` (which must be `Store::hash_key(entry.key())`), replacing
    /// any entry held under that hash, whether for the same key (a refresh) or, in the
    /// astronomically rare case of a collision, another key: the old one is removed first
    /// (not counted as an eviction), then the new one is offered to the policy as a miss would
    /// be. Entries the policy evicts are dropped from the shard's map, and freed once no
    /// reader holds them; the drops happen after the lock is released.
    pub fn insert(&self, hash: u64, entry: Entry) -> Insert {
        debug_assert_eq!(hash, Self::hash_key(entry.key()), "hash is not the key's");
        let slot = self.slot(hash);
        let meta = entry.metadata_bytes() as i64;
        let mut dead = Vec::new();
        let outcome = lock(slot).insert(hash, entry, self.max_object_size, &mut dead);
        if let Insert::Stored { .. } = outcome {
            slot.metadata_bytes.fetch_add(meta, Relaxed);
        }
        slot.bury(&mut dead);
        outcome
    }

    /// Removes the entry for `key` (an invalidation: the policy's history, such as ghost
    /// entries, is kept); returns whether it was held.
    pub fn remove(&self, hash: u64, key: &str) -> bool {
        let slot = self.slot(hash);
        let gone = lock(slot).remove_key(hash, key);
        match gone {
            Some(e) => {
                slot.metadata_bytes
                    .fetch_sub(e.metadata_bytes() as i64, Relaxed);
                true
            }
            None => false,
        }
    }

    /// Removes every entry whose path is one of `exact` or starts with one of `prefixes` (the
    /// caller turns a wildcard like `/img/*` into the prefix `/img/`); returns how many entries
    /// went. Scans shard by shard, holding one lock at a time, so an entry inserted into a shard
    /// already scanned survives.
    pub fn invalidate(&self, exact: &[&str], prefixes: &[&str]) -> u64 {
        if exact.is_empty() && prefixes.is_empty() {
            return 0;
        }
        let exact: rustc_hash::FxHashSet<&[u8]> = exact.iter().map(|p| p.as_bytes()).collect();
        let matches =
            |p: &[u8]| exact.contains(p) || prefixes.iter().any(|x| p.starts_with(x.as_bytes()));
        let mut total = 0;
        let mut ids = Vec::new();
        let mut dead = Vec::new();
        for slot in self.shards.iter() {
            {
                let mut shard = lock(slot);
                ids.clear();
                ids.extend(
                    shard
                        .entries
                        .iter()
                        .flatten()
                        .filter(|e| matches(e.path_bytes()))
                        .map(|e| Self::hash_key(e.key())),
                );
                for &id in &ids {
                    dead.extend(shard.take(id));
                }
                shard.invalidations += ids.len() as u64;
            }
            total += ids.len() as u64;
            slot.bury(&mut dead);
        }
        total
    }

    /// Totals over the shards, each locked briefly in turn (so not one atomic snapshot).
    pub fn stats(&self) -> StoreStats {
        let mut s = StoreStats {
            capacity: self.capacity,
            ..StoreStats::default()
        };
        for slot in self.shards.iter() {
            let shard = lock(slot);
            s.objects += shard.policy.len() as u64;
            s.payload_bytes += shard.payload_bytes;
            s.metadata_bytes += slot.metadata_bytes.load(Relaxed).max(0) as u64;
            s.evictions += shard.evictions;
            s.evicted_bytes += shard.evicted_bytes;
            s.invalidations += shard.invalidations;
        }
        s
    }

    /// Panics unless every shard's map holds exactly the policy's ids, within capacity, with
    /// counters matching the entries. For tests.
    #[cfg(test)]
    fn check_invariants(&self) {
        let mut capacity = 0;
        for (i, slot) in self.shards.iter().enumerate() {
            let s = lock(slot);
            capacity += s.capacity;
            assert_eq!(s.policy.capacity(), s.capacity);
            let held = s.entries.iter().flatten().count();
            assert_eq!(held, s.policy.len(), "shard {i}: len");
            let (mut payload, mut meta, mut used) = (0, 0, 0);
            for (slot, e) in s.entries.iter().enumerate() {
                let Some(e) = e else { continue };
                let id = Self::hash_key(e.key());
                assert_eq!(
                    s.policy.slot(id),
                    Some(slot as u32),
                    "shard {i}: {id} not in the policy at slot {slot}"
                );
                assert_eq!(self.shard_index(id), i, "{id} in the wrong shard");
                payload += e.charge();
                used += e.policy_size();
                meta += e.metadata_bytes() as u64;
            }
            assert_eq!(s.payload_bytes, payload, "shard {i}: payload bytes");
            let m = slot.metadata_bytes.load(Relaxed);
            assert_eq!(m, meta as i64, "shard {i}: metadata bytes");
            assert_eq!(s.policy.used(), used, "shard {i}: policy used");
            assert!(
                payload <= s.capacity && used <= s.capacity,
                "shard {i}: over"
            );
        }
        assert_eq!(capacity, self.capacity);
    }
}

fn lock(slot: &Padded) -> MutexGuard<'_, Shard> {
    // A panic under the lock can only come from a bug (in a policy, most likely). Rather than
    // fail every later request to the shard, keep serving: at worst the entries then include
    // some the policy no longer tracks, which costs memory until their slot is reused.
    slot.shard.lock().unwrap_or_else(PoisonError::into_inner)
}

fn prev_power_of_two(n: usize) -> usize {
    debug_assert!(n > 0);
    1 << (usize::BITS - 1 - n.leading_zeros())
}

/// The buffer of an [`Entry`]: a reference-counted, immutable byte buffer behind one thin
/// pointer. `Arc<[u8]>` does the same with a 16-byte handle (pointer and length) and 16 bytes
/// of counts (strong and weak) in the allocation; this one's handle is 8 bytes and its
/// allocation starts with a 4-byte count and the length as a LEB128 varint (2 bytes up to
/// 16 KiB), so an entry saves 18 bytes in its buffer and 8 in the store's slot for it.
///
/// Counting is `Arc`'s: a clone increments with `Relaxed` ordering, a drop decrements with
/// `Release` and the last one frees after an `Acquire` fence, so every access through another
/// handle happens before the free. The bytes are written only in
/// [`build`](SharedBuf::build), before a second handle exists (tests also have `get_mut`,
/// which needs the only handle and refuses large buffers): large buffers live in mappings of
/// their own that the viewer connection sends by page reference
/// ([`crate::mapped`]), and the kernel may still read those pages after the last handle to
/// them is gone.
mod shared {
    use crate::mapped::{self, MIN_MAPPED};
    use std::alloc::{self, Layout};
    use std::ops::Deref;
    use std::ptr::NonNull;
    use std::sync::atomic::{fence, AtomicU32, Ordering};

    /// The count's bytes, at the start of the allocation; the length's varint follows.
    const COUNT_BYTES: usize = 4;

    /// Past this many handles, a clone aborts the process, as `Arc`'s does past
    /// `isize::MAX`: so many can only come from leaked handles, and letting the count wrap
    /// would free the buffer under its readers.
    const MAX_COUNT: u32 = i32::MAX as u32;

    /// Points at the count at the start of the allocation.
    pub struct SharedBuf {
        ptr: NonNull<AtomicU32>,
    }

    // SAFETY: as `Arc<[u8]>`: the count is atomic, and the bytes are immutable while shared
    // (`get_mut` needs the only handle).
    unsafe impl Send for SharedBuf {}
    unsafe impl Sync for SharedBuf {}

    fn varint_len(mut n: usize) -> usize {
        let mut len = 1;
        while n >= 0x80 {
            n >>= 7;
            len += 1;
        }
        len
    }

    /// The allocation of a buffer of `len` bytes: count, length varint, bytes, padded to the
    /// count's alignment.
    fn layout(len: usize) -> Layout {
        let size = COUNT_BYTES
            .checked_add(varint_len(len))
            .and_then(|s| s.checked_add(len))
            .expect("buffer size overflows");
        Layout::from_size_align(size, align_of::<AtomicU32>())
            .expect("buffer too large")
            .pad_to_align()
    }

    impl SharedBuf {
        /// A buffer of `len` zero bytes, not shared yet. From [`MIN_MAPPED`] bytes on, it is a
        /// mapping of its own (see [`crate::mapped`]). [`build`](Self::build) fills it.
        fn zeroed(len: usize) -> SharedBuf {
            let layout = layout(len);
            let mapped = if layout.size() >= MIN_MAPPED {
                mapped::alloc_zeroed(layout.size())
            } else {
                None
            };
            let raw = match mapped {
                Some(p) => p.as_ptr(),
                // SAFETY: the layout's size is not zero (it holds the count).
                None => unsafe { alloc::alloc_zeroed(layout) },
            };
            let Some(ptr) = NonNull::new(raw) else {
                alloc::handle_alloc_error(layout)
            };
            let ptr = ptr.cast::<AtomicU32>();
            // SAFETY: the allocation is ours, aligned for the count, and `layout` has room for
            // the count and the length's varint (`varint_len(len)` bytes) before the data.
            unsafe {
                ptr.write(AtomicU32::new(1));
                let mut at = raw.add(COUNT_BYTES);
                let mut n = len;
                while n >= 0x80 {
                    at.write((n as u8 & 0x7F) | 0x80);
                    at = at.add(1);
                    n >>= 7;
                }
                at.write(n as u8);
            }
            SharedBuf { ptr }
        }

        #[inline]
        fn count(&self) -> &AtomicU32 {
            // SAFETY: the count lives as long as any handle does.
            unsafe { self.ptr.as_ref() }
        }

        /// The data's offset in the allocation and its length, from the length's varint.
        #[inline]
        fn span(&self) -> (usize, usize) {
            let base = self.ptr.as_ptr().cast::<u8>();
            // SAFETY: `zeroed` wrote the varint right after the count; these reads stay
            // within it (its last byte is below 0x80).
            let (b0, b1) = unsafe { (base.add(COUNT_BYTES).read(), base.add(COUNT_BYTES + 1)) };
            if b0 < 0x80 {
                return (COUNT_BYTES + 1, b0.into());
            }
            // SAFETY: as above: b0 had its continuation bit, so the varint goes on.
            let b1 = unsafe { b1.read() };
            if b1 < 0x80 {
                return (
                    COUNT_BYTES + 2,
                    usize::from(b0 & 0x7F) | usize::from(b1) << 7,
                );
            }
            let (mut len, mut shift, mut at) = (0usize, 0, COUNT_BYTES);
            loop {
                // SAFETY: `zeroed` wrote the varint right after the count; these reads stay
                // within it (the last byte is below 0x80).
                let b = unsafe { base.add(at).read() };
                at += 1;
                len |= usize::from(b & 0x7F) << shift;
                if b < 0x80 {
                    return (at, len);
                }
                shift += 7;
            }
        }

        /// A buffer of `len` bytes that `fill` writes (they start zeroed) before any other
        /// handle exists: the one way to write a large buffer.
        pub fn build(len: usize, fill: impl FnOnce(&mut [u8])) -> SharedBuf {
            let mut b = SharedBuf::zeroed(len);
            // SAFETY: `b` was just made, so it is the only handle, and nothing has read its
            // bytes yet (the kernel included: only shared buffers are sent).
            fill(unsafe { b.data_mut() });
            b
        }

        /// The bytes, writable, if this is the only handle and the buffer is below
        /// [`MIN_MAPPED`]. A large buffer's pages may still be held by the kernel for a send
        /// made while it was shared (see [`crate::mapped`]), so it is never written again.
        #[cfg(test)]
        pub fn get_mut(&mut self) -> Option<&mut [u8]> {
            if !self.is_unique() || layout(self.len()).size() >= MIN_MAPPED {
                return None;
            }
            // SAFETY: this is the only handle and the buffer was never sent by reference.
            Some(unsafe { self.data_mut() })
        }

        /// # Safety
        /// No other handle may exist, and no one else may read the bytes while the borrow lasts.
        unsafe fn data_mut(&mut self) -> &mut [u8] {
            let (at, len) = self.span();
            // SAFETY: the `len` bytes at `at` are initialised (zeroed) and within the
            // allocation; the caller guarantees the exclusivity.
            unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().cast::<u8>().add(at), len) }
        }

        /// The bytes of the allocation: count, length, data and padding.
        pub fn heap_size(&self) -> usize {
            let size = layout(self.len()).size();
            if size >= MIN_MAPPED {
                mapped::mapped_len(size)
            } else {
                size
            }
        }

        /// Whether this is the only handle to the buffer.
        #[inline]
        pub fn is_unique(&self) -> bool {
            self.count().load(Ordering::Acquire) == 1
        }
    }

    impl Deref for SharedBuf {
        type Target = [u8];
        #[inline]
        fn deref(&self) -> &[u8] {
            let (at, len) = self.span();
            // SAFETY: as in `get_mut`; shared reads only, no handle can write while shared.
            unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<u8>().add(at), len) }
        }
    }

    impl AsRef<[u8]> for SharedBuf {
        #[inline]
        fn as_ref(&self) -> &[u8] {
            self
        }
    }

    impl Clone for SharedBuf {
        #[inline]
        fn clone(&self) -> SharedBuf {
            if self.count().fetch_add(1, Ordering::Relaxed) > MAX_COUNT {
                std::process::abort();
            }
            SharedBuf { ptr: self.ptr }
        }
    }

    impl Drop for SharedBuf {
        fn drop(&mut self) {
            if self.count().fetch_sub(1, Ordering::Release) != 1 {
                return;
            }
            fence(Ordering::Acquire);
            let layout = layout(self.span().1);
            let raw = self.ptr.as_ptr().cast::<u8>();
            // SAFETY: this was the last handle: no reference into the buffer remains.
            if layout.size() >= MIN_MAPPED && unsafe { mapped::free(raw) } {
                return;
            }
            // SAFETY: as above; `layout` is the one `zeroed` allocated with from the heap.
            unsafe { alloc::dealloc(raw, layout) }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn lengths_counts_and_sharing() {
            let large = |len: usize| layout(len).size() >= MIN_MAPPED;
            for len in [
                0,
                1,
                127,
                128,
                16_383,
                16_384,
                65_000,
                1 << 21,
                (1 << 21) + 3,
            ] {
                assert!(SharedBuf::zeroed(len).iter().all(|&x| x == 0));
                let mut b = SharedBuf::build(len, |data| {
                    assert_eq!(data.len(), len);
                    assert!(data.iter().all(|&x| x == 0));
                    if len > 0 {
                        data[0] = 1;
                        data[len - 1] = 2;
                    }
                });
                assert_eq!(b.len(), len);
                // A large buffer lives in a registered mapping and is never written again.
                assert_eq!(b.get_mut().is_none(), large(len));
                #[cfg(all(target_os = "linux", not(miri)))]
                assert_eq!(mapped::contains(&b), large(len) && len > 0);
                let c = b.clone();
                assert!(!b.is_unique() && b.get_mut().is_none());
                assert_eq!(c.len(), len);
                if len > 1 {
                    assert_eq!((c[0], c[len - 1]), (1, 2));
                }
                assert_eq!(c.as_ptr(), b.as_ptr());
                drop(c);
                assert!(b.is_unique());
                assert_eq!(b.get_mut().is_some(), !large(len));
            }
            // 4-byte count, a 1-byte length, 5 bytes: 10, padded to 12.
            assert_eq!(layout(5).size(), 12);
            assert_eq!(layout(1024).size(), 4 + 2 + 1024 + 2);
            assert_eq!(size_of::<SharedBuf>(), 8);
            assert_eq!(size_of::<Option<SharedBuf>>(), 8);
        }

        #[test]
        fn handles_cross_threads_and_the_last_one_frees() {
            let mut b = SharedBuf::zeroed(1000);
            b.get_mut().unwrap().fill(7);
            std::thread::scope(|s| {
                for _ in 0..4 {
                    let mine = b.clone();
                    s.spawn(move || {
                        for _ in 0..10_000 {
                            let c = mine.clone();
                            assert_eq!(c[999], 7);
                        }
                    });
                }
            });
            assert!(b.is_unique());
            let bytes = bytes::Bytes::from_owner(b.clone());
            assert!(!b.is_unique());
            drop(b);
            assert_eq!(bytes.len(), 1000);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn spec(s: &str) -> PolicySpec {
        s.parse().unwrap()
    }

    fn meta() -> Meta {
        Meta {
            status: StatusCode::OK,
            received_at: SystemTime::UNIX_EPOCH,
            age_at_receipt: Duration::ZERO,
            fresh_for: Duration::from_secs(60),
            stale_while_revalidate: Duration::ZERO,
            stale_if_error: Duration::ZERO,
            revalidate_always: false,
        }
    }

    /// The bytes of an entry's fixed fields: its buffer less the key, header records and body.
    fn fixed_fields(e: &Entry) -> usize {
        let s = e.spans();
        s.key + (e.meta_fields().1 - s.key_end)
    }

    /// An entry whose key starts with `path` (as the proxy's keys do).
    fn entry(key: &str, path: &str, size: usize) -> Entry {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, "text/plain".parse().unwrap());
        Entry::new(key, path, &meta(), &headers, &[vec![b'x'; size]]).unwrap()
    }

    /// The key of the object the tests call `k`: `/k`, which is also its path.
    fn key(k: &str) -> String {
        format!("/{k}")
    }

    fn put(s: &Store, k: &str, size: usize) -> Insert {
        let k = key(k);
        s.insert(Store::hash_key(&k), entry(&k, &k, size))
    }

    fn get(s: &Store, k: &str) -> Option<Entry> {
        let k = key(k);
        s.get(Store::hash_key(&k), &k)
    }

    fn peek(s: &Store, k: &str) -> Option<Entry> {
        let k = key(k);
        s.peek(Store::hash_key(&k), &k)
    }

    fn held(s: &Store, keys: &[&str]) -> Vec<String> {
        keys.iter()
            .filter(|k| peek(s, k).is_some())
            .map(|k| k.to_string())
            .collect()
    }

    fn lru(capacity: u64) -> Store {
        let s = Store::new(&spec("lru"), capacity, capacity, 1).unwrap();
        assert_eq!(s.shard_count(), 1);
        s
    }

    #[test]
    fn lru_evicts_exactly_the_least_recently_used() {
        let s = lru(30);
        assert_eq!(put(&s, "a", 10), Insert::Stored { evicted: 0 });
        assert_eq!(put(&s, "b", 10), Insert::Stored { evicted: 0 });
        assert_eq!(put(&s, "c", 10), Insert::Stored { evicted: 0 });
        assert!(get(&s, "a").is_some()); // order now b c a
        assert_eq!(put(&s, "d", 10), Insert::Stored { evicted: 1 });
        assert_eq!(held(&s, &["a", "b", "c", "d"]), ["a", "c", "d"]);
        // peek does not count as an access: c stays the least recent.
        assert!(peek(&s, "c").is_some());
        // 20 bytes need two evictions: c then a.
        assert_eq!(put(&s, "e", 20), Insert::Stored { evicted: 2 });
        assert_eq!(held(&s, &["a", "b", "c", "d", "e"]), ["d", "e"]);
        s.check_invariants();
        let st = s.stats();
        assert_eq!(
            (st.objects, st.payload_bytes, st.evictions, st.evicted_bytes),
            (2, 30, 3, 30)
        );
        assert_eq!(st.capacity, 30);
    }

    #[test]
    fn oversize_is_refused_without_evicting_and_empty_bodies_are_charged_one() {
        let s = Store::new(&spec("lru"), 30, 20, 1).unwrap();
        put(&s, "a", 10);
        assert_eq!(put(&s, "big", 21), Insert::Refused, "over max_object_size");
        assert_eq!(held(&s, &["a"]), ["a"]);
        let s = lru(3);
        assert_eq!(put(&s, "e1", 0), Insert::Stored { evicted: 0 });
        put(&s, "e2", 0);
        put(&s, "e3", 0);
        assert_eq!(put(&s, "e4", 0), Insert::Stored { evicted: 1 });
        assert_eq!(s.stats().objects, 3);
        assert_eq!(s.stats().payload_bytes, 0);
        s.check_invariants();
    }

    #[test]
    fn replacing_removes_the_old_entry_first() {
        let s = lru(30);
        put(&s, "a", 10);
        put(&s, "b", 10);
        put(&s, "c", 10);
        // Refreshing a with 20 bytes: the old a goes first (not an eviction), then 10 more
        // bytes are needed: b, the least recent, is evicted.
        assert_eq!(put(&s, "a", 20), Insert::Stored { evicted: 1 });
        assert_eq!(held(&s, &["a", "b", "c"]), ["a", "c"]);
        assert_eq!(get(&s, "a").unwrap().charge(), 20);
        let st = s.stats();
        assert_eq!((st.evictions, st.payload_bytes), (1, 30));
        // A refresh that is refused still drops the stale entry.
        let s2 = Store::new(&spec("lru"), 30, 15, 1).unwrap();
        put(&s2, "a", 10);
        assert_eq!(put(&s2, "a", 16), Insert::Refused);
        assert!(get(&s2, "a").is_none());
        s.check_invariants();
        s2.check_invariants();
    }

    #[test]
    fn colliding_hash_with_another_key_is_a_miss_and_is_replaced_by_insert() {
        let s = lru(100);
        let h = Store::hash_key("/a");
        s.insert(h, entry("/a", "/a", 10));
        // Pretend "/z" hashes to h: a lookup for it misses, and storing it displaces "/a".
        assert!(s.get(h, "/z").is_none());
        assert!(s.peek(h, "/z").is_none());
        assert!(!s.remove(h, "/z"));
        assert!(s.get(h, "/a").is_some());
        let mut shard = s.lock(h);
        let mut dead = Vec::new();
        let out = shard.insert(h, entry("/z", "/z", 5), u64::MAX, &mut dead);
        assert_eq!(out, Insert::Stored { evicted: 0 });
        assert_eq!(dead[0].key(), "/a");
        assert_eq!(shard.payload_bytes, 5);
        drop(shard);
        let slot = s.slot(h);
        slot.metadata_bytes
            .fetch_add(s.peek(h, "/z").unwrap().metadata_bytes() as i64, Relaxed);
        slot.bury(&mut dead);
        let z = s.peek(h, "/z").unwrap();
        assert_eq!(s.stats().metadata_bytes, z.metadata_bytes() as u64);
        assert!(s.get(h, "/a").is_none());
        assert_eq!(s.get(h, "/z").unwrap().key(), "/z");
    }

    #[test]
    fn evicted_and_removed_entries_are_freed_once_readers_let_go() {
        let s = lru(20);
        put(&s, "a", 10);
        put(&s, "b", 10);
        put(&s, "c", 10);
        // c evicted a. Reading b makes c the least recent; peeking c changes nothing.
        let reader = get(&s, "b").unwrap();
        let peeked = peek(&s, "c").unwrap();
        assert!(!peeked.is_unique(), "store + this reader");
        drop(peeked);
        // A freshly built entry, never shared, is unique; the store holds the only handle to
        // an entry nobody reads.
        assert!(entry("/x", "/x", 1).is_unique());
        assert!(lock(s.slot(Store::hash_key("/c")))
            .find_key(Store::hash_key("/c"), "/c")
            .unwrap()
            .1
            .is_unique());
        put(&s, "d", 10); // evicts c
        assert!(get(&s, "c").is_none());
        assert!(!reader.is_unique(), "store + this reader");
        // Parts handed out (header values, body slices) share the buffer as well.
        let body = reader.body();
        let content_type = reader.header(&http::header::CONTENT_TYPE).unwrap();
        put(&s, "e", 10); // evicts b
        assert_eq!(held(&s, &["b", "d", "e"]), ["d", "e"]);
        assert!(
            !reader.is_unique(),
            "the body and the header value still share it"
        );
        drop((body, content_type));
        assert!(reader.is_unique(), "only the outside reader holds b");
        // Removal and invalidation release the store's reference too.
        let d = get(&s, "d").unwrap();
        assert!(s.remove(Store::hash_key("/d"), "/d"));
        assert!(!s.remove(Store::hash_key("/d"), "/d"));
        assert!(d.is_unique());
        let e = get(&s, "e").unwrap();
        assert_eq!(s.invalidate(&["/e"], &[]), 1);
        assert!(e.is_unique());
        // An evicted entry nobody reads is freed by the eviction.
        let f = entry("/f", "/f", 10);
        let watch = f.clone();
        s.insert(Store::hash_key("/f"), f);
        assert!(!watch.is_unique());
        put(&s, "g", 10);
        put(&s, "h", 10);
        assert!(watch.is_unique(), "the store let go of f");
        s.check_invariants();
        assert_eq!(s.stats().invalidations, 2);
    }

    #[test]
    fn invalidate_matches_exact_paths_and_prefixes() {
        let s = Store::new(&spec("lru"), 1 << 20, 1 << 10, 8).unwrap();
        assert_eq!(s.shard_count(), 8);
        let paths = [
            "/img/a.png",
            "/img/b.png",
            "/img/sub/c.png",
            "/imgx",
            "/css/site.css",
            "/index.html",
        ];
        for (i, p) in paths.iter().enumerate() {
            // Two variants per path (e.g. Accept-Encoding).
            for v in ["gzip", "br"] {
                let key = format!("{p}?v={v}#{i}");
                s.insert(Store::hash_key(&key), entry(&key, p, 100));
            }
        }
        assert_eq!(s.invalidate(&[], &[]), 0);
        assert_eq!(s.invalidate(&["/index.html", "/nope"], &["/img/"]), 8);
        assert_eq!(s.stats().objects, 4);
        assert_eq!(s.invalidate(&["/index.html"], &[]), 0);
        assert_eq!(s.invalidate(&[], &["/"]), 4);
        let st = s.stats();
        assert_eq!((st.objects, st.payload_bytes, st.invalidations), (0, 0, 12));
        s.check_invariants();
    }

    #[test]
    fn shard_sizing() {
        let n = |cap, max, shards| Store::new(&spec("lru"), cap, max, shards).unwrap();
        assert_eq!(n(1 << 30, 1 << 20, 16).shard_count(), 16);
        assert_eq!(n(1 << 30, 1 << 20, 12).shard_count(), 8, "rounded down");
        assert_eq!(
            n(1 << 30, 100 << 20, 64).shard_count(),
            8,
            "1 GiB / 100 MiB = 10"
        );
        assert_eq!(n(100, 1000, 64).shard_count(), 1);
        assert_eq!(n(100, 0, 0).shard_count(), 1);
        // Capacity divides exactly: 103 over 4 shards is 26 + 26 + 26 + 25.
        let s = n(103, 1, 4);
        assert_eq!(s.stats().capacity, 103);
        s.check_invariants();
        // S3-FIFO admits only what fits its small queue (10 % of a shard): 1 GiB with 16 MiB
        // objects needs shards of at least 160 MiB, so 4 shards, not 64.
        let s3 = Store::new(&spec("s3fifo"), 1 << 30, 16 << 20, 64).unwrap();
        assert_eq!(s3.shard_count(), 4);
        let key = "/big";
        let e = entry(key, "/big", 16 << 20);
        assert!(matches!(
            s3.insert(Store::hash_key(key), e),
            Insert::Stored { .. }
        ));
        // A store of no capacity refuses everything, whatever the policy.
        for info in cache::REGISTRY {
            if !cache::registry::is_offline(info.name) {
                let s = Store::new(&spec(info.name), 0, 10, 8).unwrap();
                assert_eq!(s.shard_count(), 1);
                assert_eq!(put(&s, "a", 0), Insert::Refused, "{}", info.name);
                assert_eq!(put(&s, "b", 5), Insert::Refused, "{}", info.name);
                s.check_invariants();
            }
        }
        // Errors: a bad spec, an offline policy.
        assert!(Store::new(&spec("nope"), 100, 1, 1).is_err());
        assert!(Store::new(&spec("lru:x=1"), 100, 1, 1).is_err());
        let e = Store::new(&spec("belady"), 100, 1, 1).err().unwrap();
        assert!(e.to_string().contains("offline"), "{e}");
    }

    #[test]
    fn every_online_policy_keeps_the_invariants() {
        for info in cache::REGISTRY {
            if cache::registry::is_offline(info.name) {
                continue;
            }
            // W-TinyLFU admits only what fits its window (1 % of a shard): it gets 1 shard.
            let s = Store::new(&spec(info.name), 40_000, 400, 4).unwrap();
            let mut rng = 0x9E37_79B9_7F4A_7C15u64;
            for i in 0..4000u64 {
                rng = xorshift(rng);
                let k = format!("k{}", rng % 300);
                match rng >> 60 {
                    0 => {
                        let k = key(&k);
                        s.remove(Store::hash_key(&k), &k);
                    }
                    1 if i % 97 == 0 => {
                        s.invalidate(&["/k1"], &["/k2"]);
                    }
                    2..=8 => {
                        get(&s, &k);
                    }
                    _ => {
                        put(&s, &k, (rng % 401) as usize);
                    }
                }
                if i % 50 == 0 {
                    s.check_invariants();
                }
            }
            s.check_invariants();
            let st = s.stats();
            assert!(st.payload_bytes <= st.capacity, "{}", info.name);
            assert!(st.evictions > 0, "{}", info.name);
        }
    }

    fn xorshift(mut x: u64) -> u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }

    #[test]
    fn four_threads_mixed_operations_keep_the_invariants() {
        for policy in ["lru", "s3fifo", "wtinylfu"] {
            let s = Store::new(&spec(policy), 200_000, 2_000, 8).unwrap();
            let shards = if policy == "wtinylfu" { 1 } else { 8 };
            assert_eq!(s.shard_count(), shards, "{policy}");
            let keys: Vec<String> = (0..2_000).map(|i| format!("/t/{}/{i}", i % 7)).collect();
            std::thread::scope(|scope| {
                for t in 0..4u64 {
                    let (s, keys) = (&s, &keys);
                    scope.spawn(move || {
                        let mut rng = 0x2545_F491_4F6C_DD1Du64 ^ (t + 1).wrapping_mul(0x9E37);
                        for i in 0..20_000u32 {
                            rng = xorshift(rng);
                            let k = &keys[(rng % keys.len() as u64) as usize];
                            let h = Store::hash_key(k);
                            match rng % 100 {
                                0..=59 => {
                                    if let Some(e) = s.get(h, k) {
                                        assert_eq!(e.key(), k.as_str());
                                    }
                                }
                                60..=89 => {
                                    let size = ((rng >> 20) % 2_001) as usize;
                                    s.insert(h, entry(k, k, size));
                                }
                                90..=98 => {
                                    s.remove(h, k);
                                }
                                _ if i % 10 == 0 => {
                                    let p = format!("/t/{}/", rng % 7);
                                    s.invalidate(&[k.as_str()], &[p.as_str()]);
                                }
                                _ => {}
                            }
                            if i % 1000 == 0 {
                                let st = s.stats();
                                assert!(st.payload_bytes <= st.capacity);
                            }
                        }
                    });
                }
            });
            s.check_invariants();
            let st = s.stats();
            assert!(st.evictions > 0 && st.invalidations > 0, "{policy}: {st:?}");
            // No entry is referenced from anywhere but the store now.
            for slot in s.shards.iter() {
                for e in lock(slot).entries.iter().flatten() {
                    assert!(e.is_unique());
                }
            }
        }
    }

    #[test]
    fn prints_per_object_metadata_overhead() {
        // Structural figures (the bench measures actual heap use with a counting allocator).
        assert_eq!(size_of::<Entry>(), size_of::<usize>());
        assert_eq!(size_of::<Option<Entry>>(), size_of::<usize>());
        let e = entry("/k", "/k", 10);
        // Lengths 3, status 2, reception at the epoch 1, ages and windows 1 each.
        assert_eq!(fixed_fields(&e), 10);
        println!(
            "size_of Entry = {}, buffer count and length = 4 + 2 (up to 16 KiB), fixed fields = \
             {} (17 or 18 for a response received now), index estimate (policy + store slot) = \
             {INDEX_BYTES_PER_OBJECT}; a header record: 1 byte for a standard name, a varint \
             value length",
            size_of::<Entry>(),
            fixed_fields(&e),
        );
        // Count 4, length 1 (34 bytes), fixed fields 10, then 1 byte of padding to 40.
        let fixed = 4 + 1 + fixed_fields(&e) + 1 + INDEX_BYTES_PER_OBJECT;
        println!(
            "per-object overhead beyond key and headers ≈ {fixed} bytes + 2 per header line; \
             this entry's metadata estimate = {} bytes",
            e.metadata_bytes()
        );
        let strings = "/k".len() + "content-type".len() + "text/plain".len();
        // content-type is a standard name: one byte, then the value's length and bytes.
        assert_eq!(
            e.metadata_bytes(),
            fixed + "/k".len() + 2 + "text/plain".len()
        );
        assert!(e.metadata_bytes() < fixed + strings);
    }

    #[test]
    fn entry_round_trips_everything() {
        let mut h = HeaderMap::new();
        h.insert(http::header::CONTENT_TYPE, "text/html".parse().unwrap());
        h.append(http::header::SET_COOKIE, "a=1".parse().unwrap());
        h.insert(http::header::ETAG, "\"v1\"".parse().unwrap());
        h.append(http::header::SET_COOKIE, "b=2".parse().unwrap());
        h.insert("x-custom", "caf\u{e9} \t ok".parse().unwrap());
        h.insert("x-empty", HeaderValue::from_static(""));
        h.insert(
            http::header::LAST_MODIFIED,
            HeaderValue::from_bytes(b"\xff obs-text").unwrap(),
        );
        let m = Meta {
            status: StatusCode::NOT_FOUND,
            received_at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            age_at_receipt: Duration::from_secs(7),
            fresh_for: Duration::from_secs(60),
            stale_while_revalidate: Duration::from_secs(30),
            stale_if_error: Duration::from_secs(86_400),
            revalidate_always: true,
        };
        let key = "/p/q?x=1\naccept-encoding:br";
        let e = Entry::new(key, "/p/q", &m, &h, &[&b"hello "[..], b"", b"world"]).unwrap();
        assert_eq!(
            (e.key(), e.path(), e.status()),
            (key, "/p/q", StatusCode::NOT_FOUND)
        );
        assert!(e.has_key(key) && !e.has_key("/p/q"));
        // Same lines, same order (names grouped as HeaderMap iterates them).
        let pairs = |h: &HeaderMap| -> Vec<(String, Vec<u8>)> {
            h.iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect()
        };
        assert_eq!(pairs(&e.headers()), pairs(&h));
        assert_eq!(e.headers(), h);
        assert_eq!(e.header(&http::header::SET_COOKIE).unwrap(), "a=1");
        assert_eq!(e.header(&http::header::ETAG).unwrap(), "\"v1\"");
        assert_eq!(e.header(&HeaderName::from_static("x-empty")).unwrap(), "");
        assert!(e.header(&http::header::AGE).is_none());
        assert_eq!(&e.body()[..], b"hello world");
        assert_eq!(e.charge(), 11);
        assert_eq!(e.received_at(), m.received_at);
        assert_eq!(e.age_at_receipt(), Duration::from_secs(7));
        assert_eq!(e.fresh_for(), Duration::from_secs(60));
        assert_eq!(e.stale_while_revalidate(), Duration::from_secs(30));
        assert_eq!(e.stale_if_error(), Duration::from_secs(86_400));
        assert!(e.revalidate_always());
        let encoded: usize = h.iter().map(|(n, v)| record_len(n, v)).sum();
        // Lengths 3; status 404 × 2 + 1: 2; 1.7e12 ms: 6; 7, 60, 30 s: 1 each; 86,400 s: 3.
        assert_eq!(fixed_fields(&e), 17);
        let len = 17 + key.len() + encoded + 11;
        let heap = (4 + varint_len(len) + len).next_multiple_of(4);
        assert_eq!(e.metadata_bytes(), heap - 11 + INDEX_BYTES_PER_OBJECT);
        // No headers, no body, every status.
        for code in [100, 204, 304, 599, 999] {
            let m = Meta {
                status: StatusCode::from_u16(code).unwrap(),
                revalidate_always: false,
                ..m
            };
            let e = Entry::new("", "", &m, &HeaderMap::new(), &[] as &[&[u8]]).unwrap();
            assert_eq!((e.key(), e.path(), e.status().as_u16()), ("", "", code));
            assert!(e.headers().is_empty() && e.body().is_empty() && !e.revalidate_always());
            assert_eq!((e.charge(), e.policy_size()), (0, 1));
        }
        assert_eq!(
            Entry::new("/a", "/b", &m, &h, &[b"x"]).unwrap_err(),
            EntryError::PathNotPrefix
        );
        assert!(format!("{e:?}").contains("/p/q"));
    }

    #[test]
    fn entry_header_encoding_covers_long_names_values_and_every_standard_name() {
        let mut h = HeaderMap::new();
        let long_name = HeaderName::from_bytes("x-".repeat(100).as_bytes()).unwrap();
        let long_value = HeaderValue::from_bytes(&vec![b'v'; 20_000]).unwrap();
        h.insert(long_name.clone(), long_value.clone());
        for (i, n) in STANDARD_NAMES.iter().enumerate() {
            h.insert(n.clone(), HeaderValue::from_str(&format!("v{i}")).unwrap());
            assert_eq!(standard_code(n), Some(0x80 + i as u8));
        }
        h.insert("x-127", HeaderValue::from_bytes(&[b'w'; 127]).unwrap());
        h.insert("x-128", HeaderValue::from_bytes(&[b'w'; 128]).unwrap());
        let e = Entry::new("/k", "/k", &meta(), &h, &[b"body"]).unwrap();
        assert_eq!(e.headers(), h);
        assert_eq!(e.header(&long_name).unwrap(), long_value);
        assert_eq!(e.header(&http::header::X_XSS_PROTECTION).unwrap(), "v42");
        assert_eq!(
            e.header(&HeaderName::from_static("x-128")).unwrap().len(),
            128
        );
        assert!(e.header(&HeaderName::from_static("x-129")).is_none());
        assert_eq!(&e.body()[..], b"body");
        assert_eq!(
            (varint_len(127), varint_len(128), varint_len(20_000)),
            (1, 2, 3)
        );
    }

    #[test]
    fn entry_body_is_an_exact_fresh_copy() {
        // A chunk that is a slice of a large receive buffer: the entry must not keep it.
        let big = Bytes::from(vec![b'r'; 1 << 16]);
        let chunk = big.slice(100..110);
        let e = Entry::new("/k", "/k", &meta(), &HeaderMap::new(), &[chunk]).unwrap();
        drop(big);
        assert!(e.is_unique());
        assert_eq!(e.body().len(), 10);
        assert_eq!(e.buf.len(), fixed_fields(&e) + 2 + 10);
        let b = e.body();
        assert_eq!(
            b.as_ptr(),
            e.buf[fixed_fields(&e) + 2..].as_ptr(),
            "a slice of the entry"
        );
    }

    #[test]
    fn entry_times_are_whole_seconds_and_keep_the_proxys_decisions() {
        let ms = Duration::from_millis;
        // Saturation, and times before the epoch.
        let m = Meta {
            received_at: SystemTime::UNIX_EPOCH - Duration::from_secs(5),
            age_at_receipt: Duration::from_secs(u64::MAX),
            fresh_for: Duration::MAX,
            stale_while_revalidate: Duration::MAX,
            stale_if_error: Duration::ZERO,
            ..meta()
        };
        let e = Entry::new("/k", "/k", &m, &HeaderMap::new(), &[b"x"]).unwrap();
        assert_eq!(e.received_at(), SystemTime::UNIX_EPOCH);
        let max = Duration::from_secs(u32::MAX.into());
        assert_eq!((e.age_at_receipt(), e.fresh_for()), (max, max));
        assert_eq!(
            (e.stale_while_revalidate(), e.stale_if_error()),
            (Duration::ZERO, Duration::ZERO)
        );
        // received_at keeps milliseconds (truncated).
        let m = Meta {
            received_at: SystemTime::UNIX_EPOCH + Duration::new(1_000, 999_999_999),
            ..meta()
        };
        let e = Entry::new("/k", "/k", &m, &HeaderMap::new(), &[b"x"]).unwrap();
        assert_eq!(e.received_at(), SystemTime::UNIX_EPOCH + ms(1_000_999));
        // Sub-second lifetimes and windows (possible from the configuration): at every whole-
        // second age, the stored values give the decisions the exact ones give.
        let values = [0, 1, 300, 999, 1000, 1001, 1500, 2000, 2700, 59_999];
        for f in values.map(ms) {
            for w in values.map(ms) {
                let m = Meta {
                    fresh_for: f,
                    stale_while_revalidate: w,
                    stale_if_error: w,
                    ..meta()
                };
                let e = Entry::new("/k", "/k", &m, &HeaderMap::new(), &[b"x"]).unwrap();
                for age in (0..70).map(Duration::from_secs) {
                    let ctx = format!("fresh {f:?} window {w:?} age {age:?}");
                    assert_eq!(age < e.fresh_for(), age < f, "{ctx}");
                    if age >= f {
                        let (stale, stale_e) = (age - f, age - e.fresh_for());
                        assert_eq!(stale_e < e.stale_while_revalidate(), stale < w, "{ctx}");
                        assert_eq!(stale_e < e.stale_if_error(), stale < w, "{ctx}");
                    }
                }
                if f.subsec_nanos() == 0 && w.subsec_nanos() == 0 {
                    assert_eq!((e.fresh_for(), e.stale_while_revalidate()), (f, w));
                }
            }
        }
    }

    #[test]
    fn store_and_entries_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Store>();
        send_sync::<Entry>();
    }

    #[test]
    fn hash_is_xxh3_and_shards_use_the_top_bits() {
        assert_eq!(Store::hash_key("abc"), xxhash_rust::xxh3::xxh3_64(b"abc"));
        let s = Store::new(&spec("lru"), 1 << 20, 1, 4).unwrap();
        assert_eq!(s.shard_index(0x3FFF_FFFF_FFFF_FFFF), 0);
        assert_eq!(s.shard_index(0xC000_0000_0000_0000), 3);
        assert_eq!(lru(10).shard_index(u64::MAX), 0);
        assert_eq!(prev_power_of_two(1), 1);
        assert_eq!(prev_power_of_two(7), 4);
        assert_eq!(prev_power_of_two(8), 8);
    }
}
