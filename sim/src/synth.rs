//! A synthetic trace: Zipf-popular objects with lognormal sizes, deterministic by seed, and a
//! writer that saves any trace as oracleGeneral with its next-access times.
//!
//! The spec is written `zipf:key=value,...`; every key is optional:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `requests` | 1000000 | number of requests |
//! | `objects` | 100000 | number of distinct objects (popularity ranks 1..=objects) |
//! | `alpha` | 0.8 | Zipf exponent (≥ 0; 0 is uniform) |
//! | `seed` | 1 | seed of everything random |
//! | `size_median` | 16384 | median object size in bytes |
//! | `size_sigma` | 1.0 | sigma of the size's lognormal (0: every object `size_median`) |
//! | `size_min` | 512 | sizes are clamped to `[size_min, size_max]` |
//! | `size_max` | 4194304 | (at most `u32::MAX`, the oracleGeneral limit) |
//! | `duration` | 3600 | seconds the requests are spread over |
//!
//! How a trace is made:
//! - request `i` (0-based) draws a popularity rank `r` from rand_distr's `Zipf(objects, alpha)`
//!   using `StdRng::seed_from_u64(seed)`; P(r) ∝ r^-alpha;
//! - the object id is a fixed bijection of `(r, seed)` (splitmix64's finaliser of `r` plus a
//!   seed-derived key), so ids are scattered and not ordered by popularity;
//! - the object's size depends only on `(seed, id)`: `size_median · exp(size_sigma · z)`,
//!   rounded and clamped, with `z` a standard normal made from a hash of the id (Box–Muller);
//! - request `i` is at time `floor(i · duration / requests)` seconds, so times start at 0 and
//!   rise evenly;
//! - `next_access` is [`cache::NEVER`] (unknown); [`write_oracle_general`] computes it.
//!
//! Keys may be written with `-` for `_` (`size-median`).

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Zipf};
use rustc_hash::FxHashMap;

use crate::trace::{encode_oracle, Record, TraceError, TraceReader};

/// The parameters of a synthetic Zipf trace; see the [module docs](self) for keys and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct ZipfSpec {
    pub requests: u64,
    pub objects: u64,
    pub alpha: f64,
    pub seed: u64,
    pub size_median: u64,
    pub size_sigma: f64,
    pub size_min: u64,
    pub size_max: u64,
    pub duration: u64,
}

impl Default for ZipfSpec {
    fn default() -> Self {
        ZipfSpec {
            requests: 1_000_000,
            objects: 100_000,
            alpha: 0.8,
            seed: 1,
            size_median: 16 * 1024,
            size_sigma: 1.0,
            size_min: 512,
            size_max: 4 * 1024 * 1024,
            duration: 3600,
        }
    }
}

impl ZipfSpec {
    /// Checks the parameters; the error names the bad key.
    pub fn validate(&self) -> Result<(), String> {
        if self.objects == 0 {
            return Err("bad value for `objects`: must be at least 1".into());
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(format!(
                "bad value for `alpha`: {} (must be finite and ≥ 0)",
                self.alpha
            ));
        }
        if !(self.size_sigma.is_finite() && self.size_sigma >= 0.0) {
            return Err(format!(
                "bad value for `size_sigma`: {} (must be finite and ≥ 0)",
                self.size_sigma
            ));
        }
        if self.size_max > u32::MAX as u64 {
            return Err(format!(
                "bad value for `size_max`: {} (at most {})",
                self.size_max,
                u32::MAX
            ));
        }
        if self.size_min > self.size_max {
            return Err(format!(
                "bad value for `size_min`: {} is above size_max {}",
                self.size_min, self.size_max
            ));
        }
        if self.size_median == 0 {
            return Err("bad value for `size_median`: must be at least 1".into());
        }
        Ok(())
    }
}

impl FromStr for ZipfSpec {
    type Err = String;

    /// Parses `zipf:requests=2000000,objects=200000,alpha=0.8,seed=1` (the `zipf:` prefix is
    /// required; `zipf` alone is all defaults).
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let body = match s.strip_prefix("zipf") {
            Some("") => "",
            Some(rest) if rest.starts_with(':') => &rest[1..],
            _ => {
                return Err(format!(
                    "a synthetic trace spec starts with `zipf:`, got `{s}`"
                ))
            }
        };
        let mut spec = ZipfSpec::default();
        for item in body.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(format!("expected key=value, got `{item}`"));
            };
            let key = key.trim();
            let value = value.trim();
            let int = |v: &str| -> Result<u64, String> {
                v.replace('_', "")
                    .parse::<u64>()
                    .map_err(|_| format!("bad value `{v}` for `{key}`: expected an integer"))
            };
            let float = |v: &str| -> Result<f64, String> {
                v.parse::<f64>()
                    .map_err(|_| format!("bad value `{v}` for `{key}`: expected a number"))
            };
            match key.replace('-', "_").as_str() {
                "requests" => spec.requests = int(value)?,
                "objects" => spec.objects = int(value)?,
                "alpha" => spec.alpha = float(value)?,
                "seed" => spec.seed = int(value)?,
                "size_median" => spec.size_median = int(value)?,
                "size_sigma" => spec.size_sigma = float(value)?,
                "size_min" => spec.size_min = int(value)?,
                "size_max" => spec.size_max = int(value)?,
                "duration" => spec.duration = int(value)?,
                _ => {
                    return Err(format!(
                        "unknown key `{key}` in zipf spec (expected requests, objects, alpha, \
                         seed, size_median, size_sigma, size_min, size_max, duration)"
                    ))
                }
            }
        }
        spec.validate()?;
        Ok(spec)
    }
}

impl fmt::Display for ZipfSpec {
    /// The spec with every key, parseable back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "zipf:requests={},objects={},alpha={},seed={},size_median={},size_sigma={},\
             size_min={},size_max={},duration={}",
            self.requests,
            self.objects,
            self.alpha,
            self.seed,
            self.size_median,
            self.size_sigma,
            self.size_min,
            self.size_max,
            self.duration
        )
    }
}

/// splitmix64's finaliser: a bijection on u64 with good avalanche.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The keys derived from a seed: one for ids, one for sizes.
fn keys(seed: u64) -> (u64, u64) {
    let a = mix64(seed ^ 0x6A09_E667_F3BC_C908);
    let b = mix64(a ^ 0xBB67_AE85_84CA_A73B);
    (a, b)
}

/// The object id of popularity rank `rank` (1-based) under `seed`: a bijection of the rank.
pub fn zipf_object_id(seed: u64, rank: u64) -> u64 {
    mix64(rank.wrapping_add(keys(seed).0))
}

/// The size of object `id` under `spec`'s seed and size parameters.
pub fn zipf_object_size(spec: &ZipfSpec, id: u64) -> u64 {
    size_of(spec, keys(spec.seed).1, id)
}

fn size_of(spec: &ZipfSpec, key: u64, id: u64) -> u64 {
    let s = if spec.size_sigma == 0.0 {
        spec.size_median as f64
    } else {
        let h1 = mix64(id ^ key);
        let h2 = mix64(h1 ^ 0x3C6E_F372_FE94_F82B);
        // u1 in (0, 1], u2 in [0, 1).
        let u1 = ((h1 >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64);
        let u2 = (h2 >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        spec.size_median as f64 * (spec.size_sigma * z).exp()
    };
    (s.round() as u64).clamp(spec.size_min, spec.size_max)
}

/// Above this many objects sizes are computed per request instead of cached per rank.
const SIZE_CACHE_MAX: u64 = 1 << 28;

/// The synthetic trace of a [`ZipfSpec`], as a [`TraceReader`].
pub struct ZipfTrace {
    spec: ZipfSpec,
    zipf: Zipf<f64>,
    rng: StdRng,
    id_key: u64,
    size_key: u64,
    /// Per-rank sizes, 0 until first computed; zeroed memory, so untouched pages cost nothing.
    sizes: Vec<u32>,
    next: u64,
    time: u64,
    time_frac: u64,
    time_step: u64,
    time_rem: u64,
}

impl ZipfTrace {
    /// The generator for `spec`.
    ///
    /// # Panics
    /// If the spec is invalid ([`ZipfSpec::validate`]; a parsed spec always is valid).
    pub fn new(spec: &ZipfSpec) -> Self {
        if let Err(e) = spec.validate() {
            panic!("invalid zipf spec: {e}");
        }
        let zipf = Zipf::new(spec.objects as f64, spec.alpha).expect("validated");
        let (id_key, size_key) = keys(spec.seed);
        let sizes = if spec.objects <= SIZE_CACHE_MAX {
            vec![0u32; spec.objects as usize + 1]
        } else {
            Vec::new()
        };
        let time_step = spec.duration.checked_div(spec.requests).unwrap_or(0);
        let time_rem = spec.duration.checked_rem(spec.requests).unwrap_or(0);
        ZipfTrace {
            spec: spec.clone(),
            zipf,
            rng: StdRng::seed_from_u64(spec.seed),
            id_key,
            size_key,
            sizes,
            next: 0,
            time: 0,
            time_frac: 0,
            time_step,
            time_rem,
        }
    }

    /// The spec this trace follows.
    pub fn spec(&self) -> &ZipfSpec {
        &self.spec
    }

    #[inline]
    fn one(&mut self) -> Record {
        let rank = (self.zipf.sample(&mut self.rng) as u64).clamp(1, self.spec.objects);
        let id = mix64(rank.wrapping_add(self.id_key));
        let size = match self.sizes.get_mut(rank as usize) {
            Some(s) if *s != 0 => *s as u64,
            Some(s) => {
                let v = size_of(&self.spec, self.size_key, id);
                // 0 marks "not computed"; a size of 0 (size_max = 0) is just recomputed.
                *s = v as u32;
                v
            }
            None => size_of(&self.spec, self.size_key, id),
        };
        let r = Record {
            time: self.time,
            id,
            size,
            next_access: cache::NEVER,
        };
        // time = floor(i * duration / requests), advanced without division.
        self.time += self.time_step;
        self.time_frac += self.time_rem;
        if self.time_frac >= self.spec.requests {
            self.time_frac -= self.spec.requests;
            self.time += 1;
        }
        r
    }
}

impl TraceReader for ZipfTrace {
    fn read_batch(&mut self, out: &mut Vec<Record>, max: usize) -> Result<usize, TraceError> {
        out.clear();
        let n = (self.spec.requests - self.next).min(max as u64) as usize;
        out.reserve(n.min(1 << 20));
        for _ in 0..n {
            let r = self.one();
            out.push(r);
        }
        self.next += n as u64;
        Ok(n)
    }
}

/// Writes all records of `reader` to `path` in oracleGeneral format, with next_access (the
/// 1-based index of the next request for the same id, -1 if none, as libCacheSim's format
/// defines); returns the record count. A name ending in `.zst` is written zstd-compressed
/// (level 3).
///
/// Streams: memory grows with distinct ids, not with the trace's length. Records go to disk
/// first with next_access unknown; a backward pass over the file then fills it in (for a
/// `.zst` target, over a plain `.partial` file beside it, compressed at the end). A time or
/// size above `u32::MAX` is an error naming the record, not truncated.
pub fn write_oracle_general(reader: &mut dyn TraceReader, path: &Path) -> Result<u64, TraceError> {
    let zst = crate::trace::is_zstd(path);
    let plain = if zst {
        path.with_extension("partial")
    } else {
        path.to_path_buf()
    };
    let result = write_then_link(reader, path, &plain, zst);
    if zst || result.is_err() {
        let _ = std::fs::remove_file(&plain);
    }
    if result.is_err() && zst {
        let _ = std::fs::remove_file(path);
    }
    result
}

fn write_then_link(
    reader: &mut dyn TraceReader,
    path: &Path,
    plain: &Path,
    zst: bool,
) -> Result<u64, TraceError> {
    let werr = |source| TraceError::Write {
        path: path.to_path_buf(),
        source,
    };
    let open_err = |source| TraceError::Open {
        path: path.to_path_buf(),
        source,
    };
    // Read and write: the backward pass reads the records back.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(plain)
        .map_err(open_err)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut batch = Vec::with_capacity(1 << 16);
    let mut count = 0u64;
    while reader.read_batch(&mut batch, 1 << 16)? > 0 {
        for r in &batch {
            count += 1;
            let (Ok(time), Ok(size)) = (u32::try_from(r.time), u32::try_from(r.size)) else {
                let field = if r.time > u32::MAX as u64 {
                    format!("time {}", r.time)
                } else {
                    format!("size {}", r.size)
                };
                return Err(TraceError::Value {
                    path: path.to_path_buf(),
                    record: count,
                    msg: format!("{field} does not fit oracleGeneral's u32"),
                });
            };
            w.write_all(&encode_oracle(time, r.id, size, -1))
                .map_err(werr)?;
        }
    }
    let mut file = w.into_inner().map_err(|e| werr(e.into_error()))?;
    fill_next_access(&mut file, count).map_err(werr)?;
    if zst {
        let mut src = std::fs::File::open(plain).map_err(open_err)?;
        let mut enc =
            zstd::stream::write::Encoder::new(std::fs::File::create(path).map_err(open_err)?, 3)
                .map_err(werr)?;
        std::io::copy(&mut src, &mut enc).map_err(werr)?;
        enc.finish().map_err(werr)?;
    }
    Ok(count)
}

/// Walks a plain oracleGeneral file of `count` records from the end, block by block, and sets
/// each record's next_access from a map of id → index of its next request.
fn fill_next_access(file: &mut std::fs::File, count: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    const BLOCK: u64 = 1 << 16;
    let len = crate::trace::ORACLE_RECORD_LEN as u64;
    let mut next: FxHashMap<u64, u64> = FxHashMap::default();
    let mut buf = vec![0u8; (BLOCK * len) as usize];
    let mut end = count;
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let bytes = &mut buf[..((end - start) * len) as usize];
        file.seek(SeekFrom::Start(start * len))?;
        file.read_exact(bytes)?;
        for (j, rec) in bytes.chunks_exact_mut(len as usize).enumerate().rev() {
            let vtime = start + j as u64 + 1;
            let id = u64::from_le_bytes(rec[4..12].try_into().expect("8 bytes"));
            let following = next.insert(id, vtime).map_or(-1, |v| v as i64);
            rec[16..24].copy_from_slice(&following.to_le_bytes());
        }
        file.seek(SeekFrom::Start(start * len))?;
        file.write_all(bytes)?;
        end = start;
    }
    file.flush()
}
