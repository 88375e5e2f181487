//! Cache sizes as users write them (`10%`, `64MiB`, `5000`), resolved against a working set.

use std::fmt;
use std::str::FromStr;

/// One cache size from `--sizes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeSpec {
    /// A fraction of the working set, kept as an exact decimal `num / den` so that
    /// `floor(working_set × fraction)` is computed without rounding error.
    Fraction { num: u64, den: u64 },
    /// A size with a unit: bytes.
    Bytes(u64),
    /// A bare integer: bytes, or objects when the cache counts objects.
    Plain(u64),
}

impl SizeSpec {
    /// The capacity in size units: bytes, or objects when `objects` is set. `working_set` is
    /// in the same unit (the sum of first-seen sizes, or the number of distinct objects).
    pub fn resolve(&self, working_set: u64, objects: bool) -> Result<u64, String> {
        match *self {
            SizeSpec::Fraction { num, den } => Ok((working_set as u128 * num as u128 / den as u128) as u64),
            SizeSpec::Bytes(b) if objects => Err(format!(
                "size `{}` has a byte unit but --objects counts objects: give a bare integer or a percentage",
                bytesize::ByteSize(b).display().iec()
            )),
            SizeSpec::Bytes(b) | SizeSpec::Plain(b) => Ok(b),
        }
    }
}

impl FromStr for SizeSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if let Some(pct) = t.strip_suffix('%') {
            let (num, den) = parse_decimal(pct.trim())
                .ok_or_else(|| format!("bad size `{s}`: expected a percentage like 0.1%"))?;
            // num/den percent → num / (den × 100) of the working set.
            let den = den
                .checked_mul(100)
                .ok_or_else(|| format!("bad size `{s}`: too many decimals"))?;
            if num == 0 || num > den {
                return Err(format!(
                    "bad size `{s}`: a percentage must be above 0% and at most 100%"
                ));
            }
            return Ok(SizeSpec::Fraction { num, den });
        }
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            let n: u64 = t
                .parse()
                .map_err(|_| format!("bad size `{s}`: too large"))?;
            return if n == 0 {
                Err(format!("bad size `{s}`: must be above 0"))
            } else {
                Ok(SizeSpec::Plain(n))
            };
        }
        let b: bytesize::ByteSize = t
            .parse()
            .map_err(|e| format!("bad size `{s}`: {e} (expected e.g. 10%, 64MiB or 5000)"))?;
        if b.as_u64() == 0 {
            return Err(format!("bad size `{s}`: must be above 0"));
        }
        Ok(SizeSpec::Bytes(b.as_u64()))
    }
}

impl fmt::Display for SizeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SizeSpec::Fraction { num, den } => write!(f, "{}%", num as f64 * 100.0 / den as f64),
            SizeSpec::Bytes(b) => write!(f, "{}", bytesize::ByteSize(b).display().iec()),
            SizeSpec::Plain(n) => write!(f, "{n}"),
        }
    }
}

/// Parses a non-negative decimal such as `12.5` into `(125, 10)`; at most 12 decimals.
fn parse_decimal(s: &str) -> Option<(u64, u64)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if (int.is_empty() && frac.is_empty()) || frac.len() > 12 {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let den = 10u64.pow(frac.len() as u32);
    let int: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    Some((int.checked_mul(den)?.checked_add(frac)?, den))
}

/// Parses a comma-separated `--sizes` list.
pub fn parse_sizes(list: &str) -> Result<Vec<SizeSpec>, String> {
    let sizes: Vec<SizeSpec> = list
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    if sizes.is_empty() {
        return Err("no cache size given".into());
    }
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_resolve_exactly_like_the_reference() {
        // libCacheSim's fractional sizes of the CloudPhysics working set (shared/traces/README.md).
        let wss = 2_029_769_728;
        assert_eq!(
            "0.1%".parse::<SizeSpec>().unwrap().resolve(wss, false),
            Ok(2_029_769)
        );
        assert_eq!(
            "1%".parse::<SizeSpec>().unwrap().resolve(wss, false),
            Ok(20_297_697)
        );
        assert_eq!(
            "10%".parse::<SizeSpec>().unwrap().resolve(wss, false),
            Ok(202_976_972)
        );
        assert_eq!(
            "10%".parse::<SizeSpec>().unwrap().resolve(48_974, true),
            Ok(4897)
        );
        assert_eq!("100%".parse::<SizeSpec>().unwrap().resolve(7, true), Ok(7));
    }

    #[test]
    fn units_and_plain_numbers() {
        assert_eq!(
            "64MiB".parse::<SizeSpec>().unwrap(),
            SizeSpec::Bytes(64 << 20)
        );
        assert_eq!("5000".parse::<SizeSpec>().unwrap(), SizeSpec::Plain(5000));
        assert_eq!(SizeSpec::Plain(5000).resolve(1, true), Ok(5000));
        assert!(SizeSpec::Bytes(10).resolve(1, true).is_err());
        assert_eq!(parse_sizes("1%, 64MiB,5000").unwrap().len(), 3);
    }

    #[test]
    fn refuses_nonsense() {
        for bad in [
            "",
            "0%",
            "101%",
            "-1%",
            "x%",
            "1.2.3%",
            "0",
            "12 parsecs",
            "abc",
            "0MiB",
        ] {
            assert!(parse_sizes(bad).is_err(), "{bad} accepted");
        }
    }
}
