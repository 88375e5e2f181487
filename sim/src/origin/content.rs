//! What every object is, as pure functions of the seed: its size, its version at a time, its
//! ETag, its Last-Modified date and its bytes. Nothing is stored: a checker (the load
//! generator) recomputes any response from the same functions.
//!
//! - An object's **size** is drawn from its class's size distribution by a [`SplitMix64`]
//!   seeded from `(seed, prefix, index)`: the same in every run and process.
//! - Its **version** at time `t` since the origin's start is `floor((t + phase) / interval)`,
//!   with a per-object phase in `[0, interval)`, so versions do not all change at once; always
//!   0 when the class's `update_interval` is 0.
//! - Its **bytes** depend only on `(seed, path, version)`: little-endian 64-bit words, word `i`
//!   being `mix64(key + (i + 1) · γ)` (the `i`-th output of SplitMix64 started at `key`),
//!   `key` a hash of the three. Any range can be generated without the rest.
//! - **Last-Modified** is [`epoch`] plus the start of the version's period (whole seconds).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use xxhash_rust::xxh3::{xxh3_64_with_seed, Xxh3};

use super::config::Class;
use crate::dist::{mix64, to_size, SplitMix64};

/// The time an origin's start corresponds to in `Last-Modified` dates, in seconds since 1970:
/// 2020-01-01T00:00:00Z.
pub const EPOCH_UNIX_SECS: u64 = 1_577_836_800;

/// [`EPOCH_UNIX_SECS`] as a time.
pub fn epoch() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(EPOCH_UNIX_SECS)
}

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
const SIZE_SALT: u64 = 0x243F_6A88_85A3_08D3;
const PHASE_SALT: u64 = 0x1319_8A2E_0370_7344;
const CONTENT_SALT: u64 = 0xA409_3822_299F_31D0;

/// The generator an object's size is drawn with, before its first draw.
fn object_key(class: &Class, seed: u64, index: u64, salt: u64) -> u64 {
    xxh3_64_with_seed(class.prefix.as_bytes(), seed ^ salt) ^ mix64(index.wrapping_add(GAMMA))
}

/// The path of object `index` of a class: `{prefix}{index}`.
pub fn object_path(class: &Class, index: u64) -> String {
    format!("{}{index}", class.prefix)
}

/// The size of object `index` of `class`, in bytes.
pub fn object_size(class: &Class, seed: u64, index: u64) -> u64 {
    if let Some(v) = class.size.constant() {
        return to_size(v);
    }
    let mut rng = SplitMix64::new(object_key(class, seed, index, SIZE_SALT));
    to_size(class.size.sample(&mut rng))
}

/// The object's phase: when in its period its versions change (nanoseconds, `< interval`).
fn phase(class: &Class, seed: u64, index: u64) -> u128 {
    let interval = class.update_interval.as_nanos();
    if interval == 0 {
        return 0;
    }
    u128::from(mix64(object_key(class, seed, index, PHASE_SALT))) % interval
}

/// The object's version at `t` after the origin's start (0 if its class never updates).
pub fn version_at(class: &Class, seed: u64, index: u64, t: Duration) -> u64 {
    let interval = class.update_interval.as_nanos();
    if interval == 0 {
        return 0;
    }
    u64::try_from((t.as_nanos() + phase(class, seed, index)) / interval).unwrap_or(u64::MAX)
}

/// When `version` of the object began, in nanoseconds after the origin's start (negative for
/// version 0 of an updating object: it began before the origin started).
pub fn version_start(class: &Class, seed: u64, index: u64, version: u64) -> i128 {
    let interval = class.update_interval.as_nanos() as i128;
    i128::from(version) * interval - phase(class, seed, index) as i128
}

/// `Last-Modified` of `version` of the object: [`epoch`] plus [`version_start`], truncated to
/// whole seconds (HTTP dates have no fraction), never before 1970.
pub fn last_modified(class: &Class, seed: u64, index: u64, version: u64) -> SystemTime {
    date_after_epoch(version_start(class, seed, index, version))
}

/// [`epoch`] shifted by `nanos`, in whole seconds (rounded down), between 1970 and 9999.
pub fn date_after_epoch(nanos: i128) -> SystemTime {
    // HTTP dates end with the year 9999.
    const LAST: i128 = 253_402_300_799;
    let secs = (EPOCH_UNIX_SECS as i128 + nanos.div_euclid(1_000_000_000)).clamp(0, LAST);
    UNIX_EPOCH + Duration::from_secs(secs as u64)
}

/// The key the bytes of `(seed, path, version)` are generated from.
pub fn content_key(seed: u64, path: &str, version: u64) -> u64 {
    xxh3_64_with_seed(
        path.as_bytes(),
        mix64(seed ^ CONTENT_SALT) ^ mix64(version.wrapping_add(GAMMA)),
    )
}

/// The quoted strong ETag of `(seed, path, version)`: `"<version hex>-<16 hex digits>"`.
pub fn etag(seed: u64, path: &str, version: u64) -> String {
    format!(
        "\"{version:x}-{:016x}\"",
        mix64(content_key(seed, path, version))
    )
}

/// The bytes at `[offset, offset + buf.len())` of `(seed, path, version)`.
pub fn fill(seed: u64, path: &str, version: u64, offset: u64, buf: &mut [u8]) {
    fill_with_key(content_key(seed, path, version), offset, buf);
}

#[inline(always)]
fn word(key: u64, i: u64) -> [u8; 8] {
    mix64(key.wrapping_add(i.wrapping_add(1).wrapping_mul(GAMMA))).to_le_bytes()
}

/// [`fill`] with the key already computed ([`content_key`]).
pub fn fill_with_key(key: u64, offset: u64, buf: &mut [u8]) {
    let mut i = offset / 8;
    let skip = (offset % 8) as usize;
    let mut rest = buf;
    if skip != 0 {
        let w = word(key, i);
        let n = (8 - skip).min(rest.len());
        rest[..n].copy_from_slice(&w[skip..skip + n]);
        rest = &mut rest[n..];
        i += 1;
    }
    let mut chunks = rest.chunks_exact_mut(8);
    for c in &mut chunks {
        c.copy_from_slice(&word(key, i));
        i += 1;
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let n = tail.len();
        tail.copy_from_slice(&word(key, i)[..n]);
    }
}

/// xxh3-64 of the whole body of `(seed, path, version)` of `size` bytes: what a checker
/// compares a received body with.
pub fn digest(seed: u64, path: &str, version: u64, size: u64) -> u64 {
    digest_range(seed, path, version, 0, size)
}

/// xxh3-64 of the `len` bytes at `offset` of `(seed, path, version)` (a range response).
pub fn digest_range(seed: u64, path: &str, version: u64, offset: u64, len: u64) -> u64 {
    let key = content_key(seed, path, version);
    let mut h = Xxh3::new();
    // A small buffer on the stack: a checker calls this for every response it receives.
    let mut buf = [0u8; 4096];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        fill_with_key(key, offset + done, &mut buf[..n]);
        h.update(&buf[..n]);
        done += n as u64;
    }
    h.digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_is_seekable() {
        let mut whole = vec![0u8; 1000];
        fill(7, "/a/1", 0, 0, &mut whole);
        for off in [0usize, 1, 7, 8, 9, 15, 16, 500, 993, 999, 1000] {
            for len in [0usize, 1, 3, 8, 13, 64] {
                let end = (off + len).min(1000);
                let mut part = vec![0u8; end - off];
                fill(7, "/a/1", 0, off as u64, &mut part);
                assert_eq!(part, whole[off..end], "{off}+{len}");
            }
        }
    }

    #[test]
    fn epoch_dates() {
        assert_eq!(
            httpdate::fmt_http_date(epoch()),
            "Wed, 01 Jan 2020 00:00:00 GMT"
        );
        assert_eq!(date_after_epoch(-1), epoch() - Duration::from_secs(1));
        assert_eq!(
            date_after_epoch(1_999_999_999),
            epoch() + Duration::from_secs(1)
        );
    }
}
