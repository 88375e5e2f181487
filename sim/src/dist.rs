//! Probability distributions of durations and sizes, as written in config files:
//!
//! ```toml
//! service_time = { dist = "lognormal", median = "20ms", sigma = 0.5 }
//! size = { dist = "pareto", scale = "4KiB", shape = 1.2, max = "64MiB" }
//! size = { dist = "empirical", table = [["1KiB", 60], ["16KiB", 30], ["1MiB", 10]] }
//! service_time = "5ms"            # shorthand for { dist = "fixed", value = "5ms" }
//! ```
//!
//! | `dist` | parameters | |
//! |---|---|---|
//! | `fixed` | `value` | always `value` |
//! | `uniform` | `min`, `max` | uniform on `[min, max]` |
//! | `exponential` | `mean` > 0 | |
//! | `lognormal` | `median` > 0, `sigma` ≥ 0 | `median · exp(sigma · Z)`, Z standard normal |
//! | `pareto` | `scale` > 0, `shape` > 0 | `P(X > x) = (scale / x)^shape` for `x ≥ scale` |
//! | `empirical` | `table = [[value, weight], ...]` | `value` with probability `weight / Σ weights` |
//!
//! Every distribution also takes optional `min` and `max` that clamp what it draws (for
//! `uniform` they are its bounds). Quantities carry their unit: a duration is a string such as
//! `"20ms"` or `"1.5s"` (a bare number is refused, as everywhere in cdnlab's configs); a size is
//! a string such as `"16KiB"` or an integer number of bytes. `sigma`, `shape` and weights are
//! plain numbers. Where a distribution is expected, a lone quantity (`"20ms"`, `"2KiB"`, `2048`)
//! means `fixed`.
//!
//! In memory a [`Dist`] works in plain `f64`: **seconds** for durations, **bytes** for sizes.
//!
//! Sampling is by inversion (`quantile(u)` with `u` uniform on (0, 1) from one `next_u64`), so
//! a draw depends only on the generator's output — not on `rand_distr`'s algorithms — and
//! [`SplitMix64`] makes it a fixed function of a seed across processes and versions.

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use cache::config_source::{duration, size, ConfigError, RawDuration, RawSize, Source};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

/// A distribution over non-negative values (seconds or bytes; see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    Fixed(f64),
    Uniform {
        min: f64,
        max: f64,
    },
    Exponential {
        mean: f64,
    },
    LogNormal {
        median: f64,
        sigma: f64,
    },
    Pareto {
        scale: f64,
        shape: f64,
    },
    /// `values` ascending and distinct; `cumulative[i]` = P(X ≤ values[i]), the last is 1.
    Empirical {
        values: Vec<f64>,
        cumulative: Vec<f64>,
    },
    /// `inner` clamped into `[min, max]`.
    Clamped {
        inner: Box<Dist>,
        min: f64,
        max: f64,
    },
}

impl Dist {
    /// A zero duration or size, always.
    pub const ZERO: Dist = Dist::Fixed(0.0);

    /// One draw: the quantile of a uniform number in (0, 1) taken from one `next_u64`.
    pub fn sample(&self, rng: &mut impl rand::Rng) -> f64 {
        if let Dist::Fixed(v) = self {
            return *v;
        }
        self.quantile_unchecked(unit_open(rng.next_u64()))
    }

    /// The `p`-quantile (the inverse of [`Dist::cdf`]): `None` unless `0 <= p <= 1`. Every
    /// distribution here has one; the lognormal's uses Wichura's AS241 inverse normal,
    /// accurate to about 1e-16.
    pub fn quantile(&self, p: f64) -> Option<f64> {
        (0.0..=1.0).contains(&p).then(|| self.quantile_unchecked(p))
    }

    fn quantile_unchecked(&self, p: f64) -> f64 {
        match self {
            Dist::Fixed(v) => *v,
            Dist::Uniform { min, max } => min + p * (max - min),
            Dist::Exponential { mean } => -mean * (-p).ln_1p(),
            Dist::LogNormal { median, sigma } => median * (sigma * inverse_normal_cdf(p)).exp(),
            Dist::Pareto { scale, shape } => scale * (1.0 - p).powf(-1.0 / shape),
            Dist::Empirical { values, cumulative } => {
                let i = cumulative.partition_point(|&c| c < p);
                values[i.min(values.len() - 1)]
            }
            Dist::Clamped { inner, min, max } => inner.quantile_unchecked(p).clamp(*min, *max),
        }
    }

    /// P(X ≤ x). Exact except the lognormal's, whose error function is accurate to ~1e-7.
    pub fn cdf(&self, x: f64) -> f64 {
        match self {
            Dist::Fixed(v) => f64::from(u8::from(x >= *v)),
            Dist::Uniform { min, max } if max > min => ((x - min) / (max - min)).clamp(0.0, 1.0),
            Dist::Uniform { min, .. } => f64::from(u8::from(x >= *min)),
            Dist::Exponential { mean } => {
                if x <= 0.0 {
                    0.0
                } else {
                    -(-x / mean).exp_m1()
                }
            }
            Dist::LogNormal { median, sigma } => {
                if x <= 0.0 {
                    0.0
                } else if *sigma == 0.0 {
                    f64::from(u8::from(x >= *median))
                } else {
                    normal_cdf((x / median).ln() / sigma)
                }
            }
            Dist::Pareto { scale, shape } => {
                if x < *scale {
                    0.0
                } else {
                    1.0 - (scale / x).powf(*shape)
                }
            }
            Dist::Empirical { values, cumulative } => {
                let i = values.partition_point(|&v| v <= x);
                if i == 0 {
                    0.0
                } else {
                    cumulative[i - 1]
                }
            }
            Dist::Clamped { inner, min, max } => {
                if x < *min {
                    0.0
                } else if x >= *max {
                    1.0
                } else {
                    inner.cdf(x)
                }
            }
        }
    }

    /// Whether every draw is the same value (then there is nothing to sample).
    pub fn constant(&self) -> Option<f64> {
        match self {
            Dist::Fixed(v) => Some(*v),
            Dist::Uniform { min, max } if min == max => Some(*min),
            Dist::LogNormal { median, sigma } if *sigma == 0.0 => Some(*median),
            Dist::Empirical { values, .. } if values.len() == 1 => Some(values[0]),
            Dist::Clamped { min, max, .. } if min == max => Some(*min),
            Dist::Clamped { inner, min, max } => inner.constant().map(|v| v.clamp(*min, *max)),
            _ => None,
        }
    }

    /// A draw as a duration (the value is in seconds).
    pub fn sample_duration(&self, rng: &mut impl rand::Rng) -> Duration {
        to_duration(self.sample(rng))
    }
}

/// Seconds as a [`Duration`], saturating (negative and NaN are zero).
pub fn to_duration(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(if secs > 0.0 {
        Duration::MAX
    } else {
        Duration::ZERO
    })
}

/// Bytes as a whole size: rounded to the nearest byte, saturating.
pub fn to_size(bytes: f64) -> u64 {
    // `as` saturates, and maps NaN to 0.
    bytes.round() as u64
}

/// A `u64` as a uniform number in the open interval (0, 1): the top 52 bits plus a half, over
/// 2^52 (so exactly representable, never 0 or 1).
pub fn unit_open(x: u64) -> f64 {
    ((x >> 12) as f64 + 0.5) * (1.0 / (1u64 << 52) as f64)
}

/// splitmix64's finaliser: a bijection on `u64` with good avalanche.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Vigna's SplitMix64: a tiny generator whose output is a fixed function of its seed (unlike
/// `rand`'s `StdRng`/`SmallRng`, which may change between versions), for draws that must be
/// reproducible across processes: object sizes, service times, faults.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// A uniform number in (0, 1).
    pub fn unit(&mut self) -> f64 {
        unit_open(rand::RngCore::next_u64(self))
    }
}

impl rand::RngCore for SplitMix64 {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let w = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
    }
}

/// Φ⁻¹(p), the standard normal quantile: Wichura's algorithm AS241 (PPND16), relative error
/// about 1e-16. ±∞ at 0 and 1. The coefficients are the published ones.
#[allow(clippy::inconsistent_digit_grouping, clippy::excessive_precision)]
pub fn inverse_normal_cdf(p: f64) -> f64 {
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q
            * (((((((r * 2509.080_928_730_122_7 + 33430.575_583_588_13) * r
                + 67265.770_927_008_7)
                * r
                + 45921.953_931_549_87)
                * r
                + 13731.693_765_509_461)
                * r
                + 1971.590_950_306_551_4)
                * r
                + 133.141_667_891_784_38)
                * r
                + 3.387_132_872_796_366_5)
            / (((((((r * 5226.495_278_852_546 + 28729.085_735_721_943) * r
                + 39307.895_800_092_71)
                * r
                + 21213.794_301_586_597)
                * r
                + 5394.196_021_424_751)
                * r
                + 687.187_007_492_057_9)
                * r
                + 42.313_330_701_600_91)
                * r
                + 1.0);
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let mut r = if q < 0.0 { p } else { 1.0 - p };
    r = (-r.ln()).sqrt();
    let v = if r <= 5.0 {
        r -= 1.6;
        (((((((r * 7.745_450_142_783_414e-4 + 0.022_723_844_989_269_184) * r
            + 0.241_780_725_177_450_6)
            * r
            + 1.270_458_252_452_368_4)
            * r
            + 3.647_848_324_763_204_5)
            * r
            + 5.769_497_221_460_691)
            * r
            + 4.630_337_846_156_545)
            * r
            + 1.423_437_110_749_683_5)
            / (((((((r * 1.050_750_071_644_416_9e-9 + 5.475_938_084_995_345e-4) * r
                + 0.015_198_666_563_616_457)
                * r
                + 0.148_103_976_427_480_08)
                * r
                + 0.689_767_334_985_1)
                * r
                + 1.676_384_830_183_803_8)
                * r
                + 2.053_191_626_637_759)
                * r
                + 1.0)
    } else {
        r -= 5.0;
        (((((((r * 2.010_334_399_292_288_1e-7 + 2.711_555_568_743_487_6e-5) * r
            + 0.001_242_660_947_388_078_4)
            * r
            + 0.026_532_189_526_576_124)
            * r
            + 0.296_560_571_828_504_9)
            * r
            + 1.784_826_539_917_291_3)
            * r
            + 5.463_784_911_164_114)
            * r
            + 6.657_904_643_501_103)
            / (((((((r * 2.044_263_103_389_939_7e-15 + 1.421_511_758_316_446e-7) * r
                + 1.846_318_317_510_054_8e-5)
                * r
                + 7.868_691_311_456_133e-4)
                * r
                + 0.014_875_361_290_850_615)
                * r
                + 0.136_929_880_922_735_8)
                * r
                + 0.599_832_206_555_887_9)
                * r
                + 1.0)
    };
    if q < 0.0 {
        -v
    } else {
        v
    }
}

/// Φ(z), the standard normal CDF, via the complementary error function of Numerical Recipes
/// (Chebyshev fit, fractional error below 1.2e-7).
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let ans = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        ans
    } else {
        2.0 - ans
    }
}

// ---------------------------------------------------------------------------------------------
// Raw layer
// ---------------------------------------------------------------------------------------------

/// A quantity as written: a string with a unit, or a number (only integers, and only for
/// sizes, are accepted by validation).
#[derive(Debug, Clone, PartialEq)]
pub enum RawQty {
    Int(i64),
    Float(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawQty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawQty;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"20ms\" or a size such as \"16KiB\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawQty, E> {
                Ok(RawQty::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawQty, E> {
                i64::try_from(v)
                    .map(RawQty::Int)
                    .map_err(|_| E::custom("number too large"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawQty, E> {
                Ok(RawQty::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawQty, E> {
                Ok(RawQty::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A distribution as written: an inline table with `dist` and its parameters, or a lone
/// quantity (`"20ms"`), which means `fixed`. Unknown keys are refused.
#[derive(Debug, Clone, PartialEq)]
pub enum RawDist {
    Table(Box<RawDistTable>),
    Fixed(RawQty),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDistTable {
    pub dist: Spanned<String>,
    pub value: Option<Spanned<RawQty>>,
    pub min: Option<Spanned<RawQty>>,
    pub max: Option<Spanned<RawQty>>,
    pub mean: Option<Spanned<RawQty>>,
    pub median: Option<Spanned<RawQty>>,
    pub sigma: Option<Spanned<f64>>,
    pub scale: Option<Spanned<RawQty>>,
    pub shape: Option<Spanned<f64>>,
    #[allow(clippy::type_complexity)]
    pub table: Option<Spanned<Vec<Spanned<(Spanned<RawQty>, Spanned<f64>)>>>>,
}

impl<'de> Deserialize<'de> for RawDist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDist;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a distribution such as { dist = \"lognormal\", median = \"20ms\", sigma = 0.5 }, or a fixed value such as \"20ms\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDist, E> {
                Ok(RawDist::Fixed(RawQty::Int(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDist, E> {
                RawQty::deserialize(de::value::U64Deserializer::new(v)).map(RawDist::Fixed)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawDist, E> {
                Ok(RawDist::Fixed(RawQty::Float(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDist, E> {
                Ok(RawDist::Fixed(RawQty::Text(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDist, A::Error> {
                RawDistTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| RawDist::Table(Box::new(t)))
            }
        }
        d.deserialize_any(V)
    }
}

/// What a distribution's values measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Written `"20ms"`; in seconds in a [`Dist`].
    Duration,
    /// Written `"16KiB"` or an integer of bytes; in bytes in a [`Dist`].
    Size,
}

/// The distribution names, in the order error messages list them.
pub const NAMES: [&str; 6] = [
    "fixed",
    "uniform",
    "exponential",
    "lognormal",
    "pareto",
    "empirical",
];

/// A quantity in the unit's base (seconds or bytes); the error names `key`.
pub fn quantity(
    src: &Source<'_>,
    q: &Spanned<RawQty>,
    key: &str,
    unit: Unit,
) -> Result<f64, ConfigError> {
    let span = q.span();
    match (unit, q.get_ref()) {
        (Unit::Duration, RawQty::Text(t)) => {
            let d = Some(Spanned::new(span, RawDuration(t.clone())));
            Ok(duration(src, &d, key, Duration::ZERO)?.as_secs_f64())
        }
        (Unit::Duration, n) => Err(src.error(
            Some(span),
            key,
            format!(
                "a duration needs a unit: write e.g. \"{}ms\" or \"{}s\"",
                show_num(n),
                show_num(n)
            ),
        )),
        (Unit::Size, RawQty::Text(t)) => {
            let s = Some(Spanned::new(span, RawSize::Text(t.clone())));
            Ok(size(src, &s, key)?.unwrap_or(0) as f64)
        }
        (Unit::Size, RawQty::Int(n)) => {
            let s = Some(Spanned::new(span, RawSize::Bytes(*n)));
            Ok(size(src, &s, key)?.unwrap_or(0) as f64)
        }
        (Unit::Size, RawQty::Float(f)) => Err(src.error(
            Some(span),
            key,
            format!(
                "{f} is not a whole number of bytes: write an integer or a size such as \"16KiB\""
            ),
        )),
    }
}

fn show_num(q: &RawQty) -> String {
    match q {
        RawQty::Int(n) => n.to_string(),
        RawQty::Float(f) => f.to_string(),
        RawQty::Text(t) => t.clone(),
    }
}

/// Validates a distribution written at `key` (spanned by `span`) into a [`Dist`] whose values
/// are in `unit`'s base. Errors name the file, line and the parameter's key (`key.median`).
pub fn validate(
    src: &Source<'_>,
    raw: &RawDist,
    span: Range<usize>,
    key: &str,
    unit: Unit,
) -> Result<Dist, ConfigError> {
    let t = match raw {
        RawDist::Fixed(q) => {
            return Ok(Dist::Fixed(quantity(
                src,
                &Spanned::new(span, q.clone()),
                key,
                unit,
            )?))
        }
        RawDist::Table(t) => t,
    };
    let k = |p: &str| format!("{key}.{p}");
    let name = t.dist.get_ref().as_str();
    let params: &[&str] = match name {
        "fixed" => &["value"],
        "uniform" => &["min", "max"],
        "exponential" => &["mean"],
        "lognormal" => &["median", "sigma"],
        "pareto" => &["scale", "shape"],
        "empirical" => &["table"],
        other => {
            return Err(src.error(
                Some(t.dist.span()),
                &k("dist"),
                format!(
                    "unknown distribution {other:?} (known: {})",
                    NAMES.join(", ")
                ),
            ))
        }
    };
    // Parameters that belong to another distribution.
    let present: [(&str, Option<Range<usize>>); 8] = [
        ("value", t.value.as_ref().map(|v| v.span())),
        ("mean", t.mean.as_ref().map(|v| v.span())),
        ("median", t.median.as_ref().map(|v| v.span())),
        ("sigma", t.sigma.as_ref().map(|v| v.span())),
        ("scale", t.scale.as_ref().map(|v| v.span())),
        ("shape", t.shape.as_ref().map(|v| v.span())),
        ("table", t.table.as_ref().map(|v| v.span())),
        ("", None),
    ];
    for (p, s) in present {
        if let Some(s) = s {
            if !params.contains(&p) {
                return Err(src.error(
                    Some(s),
                    &k(p),
                    format!(
                        "not a parameter of {name} (it takes {}; every distribution also takes min and max)",
                        params.join(" and ")
                    ),
                ));
            }
        }
    }
    let missing = |p: &str| {
        src.error(
            Some(span.clone()),
            &k(p),
            format!("required by {name} ({name} takes {})", params.join(" and ")),
        )
    };
    let qty = |v: &Option<Spanned<RawQty>>, p: &str| -> Result<Option<f64>, ConfigError> {
        v.as_ref()
            .map(|v| quantity(src, v, &k(p), unit))
            .transpose()
    };
    let positive = |v: &Option<Spanned<RawQty>>, p: &str| -> Result<f64, ConfigError> {
        let x = qty(v, p)?.ok_or_else(|| missing(p))?;
        if x > 0.0 {
            Ok(x)
        } else {
            Err(src.error(v.as_ref().map(|v| v.span()), &k(p), "must be more than 0"))
        }
    };
    let number = |v: &Option<Spanned<f64>>, p: &str, zero_ok: bool| -> Result<f64, ConfigError> {
        let s = v.as_ref().ok_or_else(|| missing(p))?;
        let x = *s.get_ref();
        if x.is_finite() && (x > 0.0 || (zero_ok && x == 0.0)) {
            Ok(x)
        } else {
            let want = if zero_ok { "0 or more" } else { "more than 0" };
            Err(src.error(
                Some(s.span()),
                &k(p),
                format!("{x} is out of range (must be {want})"),
            ))
        }
    };
    let min = qty(&t.min, "min")?;
    let max = qty(&t.max, "max")?;
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            return Err(src.error(
                t.max.as_ref().map(|v| v.span()),
                &k("max"),
                format!(
                    "max ({}) is less than min ({})",
                    show(t.max.as_ref()),
                    show(t.min.as_ref())
                ),
            ));
        }
    }
    let inner = match name {
        "fixed" => Dist::Fixed(qty(&t.value, "value")?.ok_or_else(|| missing("value"))?),
        "uniform" => {
            return Ok(Dist::Uniform {
                min: min.ok_or_else(|| missing("min"))?,
                max: max.ok_or_else(|| missing("max"))?,
            })
        }
        "exponential" => Dist::Exponential {
            mean: positive(&t.mean, "mean")?,
        },
        "lognormal" => Dist::LogNormal {
            median: positive(&t.median, "median")?,
            sigma: number(&t.sigma, "sigma", true)?,
        },
        "pareto" => Dist::Pareto {
            scale: positive(&t.scale, "scale")?,
            shape: number(&t.shape, "shape", false)?,
        },
        _ => empirical(src, t, &k("table"), unit, missing("table"))?,
    };
    Ok(match (min, max) {
        (None, None) => inner,
        (lo, hi) => Dist::Clamped {
            inner: Box::new(inner),
            min: lo.unwrap_or(0.0),
            max: hi.unwrap_or(f64::INFINITY),
        },
    })
}

fn show(q: Option<&Spanned<RawQty>>) -> String {
    q.map(|q| show_num(q.get_ref())).unwrap_or_default()
}

fn empirical(
    src: &Source<'_>,
    t: &RawDistTable,
    key: &str,
    unit: Unit,
    missing: ConfigError,
) -> Result<Dist, ConfigError> {
    let table = t.table.as_ref().ok_or(missing)?;
    if table.get_ref().is_empty() {
        return Err(src.error(
            Some(table.span()),
            key,
            "empty table: give at least one [value, weight] pair",
        ));
    }
    let mut rows: Vec<(f64, f64)> = Vec::with_capacity(table.get_ref().len());
    for (i, row) in table.get_ref().iter().enumerate() {
        let (v, w) = row.get_ref();
        let value = quantity(src, v, &format!("{key}[{i}][0]"), unit)?;
        let weight = *w.get_ref();
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(src.error(
                Some(w.span()),
                &format!("{key}[{i}][1]"),
                format!("weight {weight} is out of range (must be 0 or more)"),
            ));
        }
        rows.push((value, weight));
    }
    let total: f64 = rows.iter().map(|r| r.1).sum();
    if total <= 0.0 || !total.is_finite() {
        return Err(src.error(
            Some(table.span()),
            key,
            "the weights must add up to more than 0",
        ));
    }
    rows.retain(|r| r.1 > 0.0);
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut values: Vec<f64> = Vec::with_capacity(rows.len());
    let mut cumulative: Vec<f64> = Vec::with_capacity(rows.len());
    let mut acc = 0.0;
    for (v, w) in rows {
        acc += w;
        if values.last() == Some(&v) {
            *cumulative.last_mut().expect("a value was pushed") = acc / total;
        } else {
            values.push(v);
            cumulative.push(acc / total);
        }
    }
    *cumulative.last_mut().expect("at least one row") = 1.0;
    Ok(Dist::Empirical { values, cumulative })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_normal_known_values() {
        // Reference values from Python's statistics.NormalDist (also AS241) and tables.
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.9, 1.281_551_565_544_600_4),
            (0.99, 2.326_347_874_040_840_8),
            (0.841_344_746_068_542_9, 1.0),
            (1e-10, -6.361_340_902_404_056),
            (0.025, -1.959_963_984_540_053_8),
            (0.3, -0.524_400_512_708_040_7),
            (0.01, -2.326_347_874_040_840_8),
            (1e-300, -37.047_096_299_361_2),
        ] {
            let got = inverse_normal_cdf(p);
            assert!(
                (got - z).abs() <= 1e-12 * z.abs().max(1.0),
                "Φ⁻¹({p}) = {got}, want {z}"
            );
        }
        assert_eq!(inverse_normal_cdf(0.0), f64::NEG_INFINITY);
        assert_eq!(inverse_normal_cdf(1.0), f64::INFINITY);
        for i in 1..1000 {
            let p = i as f64 / 1000.0;
            assert!((normal_cdf(inverse_normal_cdf(p)) - p).abs() < 2e-7, "{p}");
        }
    }

    #[test]
    fn quantiles_invert_cdfs() {
        let dists = [
            Dist::Fixed(3.0),
            Dist::Uniform { min: 1.0, max: 5.0 },
            Dist::Exponential { mean: 0.04 },
            Dist::LogNormal {
                median: 16384.0,
                sigma: 1.5,
            },
            Dist::Pareto {
                scale: 100.0,
                shape: 1.2,
            },
            Dist::Clamped {
                inner: Box::new(Dist::Exponential { mean: 2.0 }),
                min: 0.5,
                max: 4.0,
            },
        ];
        for d in &dists {
            for i in 1..100 {
                let p = i as f64 / 100.0;
                let x = d.quantile(p).unwrap();
                if d.constant().is_none() && !matches!(d, Dist::Clamped { .. }) {
                    assert!((d.cdf(x) - p).abs() < 1e-6, "{d:?} at {p}");
                }
                assert!(d.cdf(x) >= p - 1e-6, "{d:?} at {p}");
            }
            assert_eq!(d.quantile(1.5), None);
            assert_eq!(d.quantile(-0.1), None);
        }
        let e = Dist::Empirical {
            values: vec![1.0, 2.0, 10.0],
            cumulative: vec![0.25, 0.75, 1.0],
        };
        assert_eq!(e.quantile(0.0), Some(1.0));
        assert_eq!(e.quantile(0.25), Some(1.0));
        assert_eq!(e.quantile(0.26), Some(2.0));
        assert_eq!(e.quantile(0.99), Some(10.0));
        assert_eq!(e.cdf(5.0), 0.75);
        assert_eq!(e.cdf(0.5), 0.0);
    }

    #[test]
    fn splitmix_is_fixed() {
        // The first outputs of SplitMix64 seeded with 0 (Vigna's reference implementation).
        let mut r = SplitMix64::new(0);
        use rand::RngCore;
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let u = unit_open(0);
        assert!(u > 0.0 && u < 1e-15);
        assert_eq!(1.0 - unit_open(u64::MAX), u);
    }
}
