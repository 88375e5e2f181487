//! Durations and sizes as people write them in configuration files: `250ms`, `2s`, `1d`;
//! `512KiB`, `64MiB`, `1GB`.
//!
//! Both parsers return a message (naming the value) rather than a typed error: callers put it
//! into an error that names the file, line and key (the edge and the simulated world
//! both parse their configs with these, which is why they live in the crate both depend on).

use std::time::Duration;

/// The longest duration accepted: 100 years of 365 days. Anything longer is almost certainly a
/// typo, and adding it to an `Instant` could overflow (which panics).
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Parses a duration such as `250ms`, `2s`, `1d`, `365d`, `0s` or `1h 30m` (humantime syntax:
/// `ns`, `us`, `ms`, `s`, `m`, `h`, `d`, `w`, and the long forms). A bare `0` is zero; any
/// other number needs a unit. At most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration: write e.g. \"2s\", \"250ms\" or \"1d\"".into());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        if t.bytes().all(|b| b == b'0') {
            return Ok(Duration::ZERO);
        }
        return Err(format!(
            "duration {t:?} has no unit: write e.g. \"{t}s\" or \"{t}ms\""
        ));
    }
    let d = humantime::parse_duration(t).map_err(|e| format!("bad duration {t:?}: {e}"))?;
    if d > MAX_DURATION {
        return Err(format!(
            "duration {t:?} is longer than the maximum of 100 years (36500d)"
        ));
    }
    Ok(d)
}

/// Formats a duration exactly, in days and smaller units, the way [`parse_duration`] reads it
/// back: `365d`, `1d 2h`, `1m 30s`, `250ms`, `0s`.
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    let parts = [
        (secs / 86_400, "d"),
        (secs / 3_600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
        (u64::from(nanos / 1_000_000), "ms"),
        (u64::from(nanos / 1_000 % 1_000), "us"),
        (u64::from(nanos % 1_000), "ns"),
    ];
    let mut out = String::new();
    for (n, unit) in parts {
        if n > 0 {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&n.to_string());
            out.push_str(unit);
        }
    }
    out
}

/// Parses a size in bytes: `512KiB`, `64MiB`, `100B`, `1GB`, `1.5 GiB`, or a bare integer
/// (bytes). Units are those of the `bytesize` crate, case-insensitive: `B`; decimal `K`/`KB`,
/// `M`/`MB`, `G`/`GB`, `T`/`TB`, `P`/`PB`, `E`/`EB`; binary `KiB`, `MiB`, `GiB`, `TiB`, `PiB`,
/// `EiB`. A value that does not fit in 64 bits is refused (bytesize alone would saturate).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty size: write e.g. \"64MiB\", \"512KiB\" or a number of bytes".into());
    }
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    let num_len = t
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (num, unit) = (&t[..num_len], t[num_len..].trim_start());
    let bad = |why: &str| format!("bad size {t:?}: {why}");
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return Err(bad("expected a number followed by a unit, e.g. \"64MiB\""));
    }
    if unit.is_empty() {
        // Only reachable for a number with a fraction, or one too large for u64.
        return Err(bad(if num.contains('.') {
            "a byte count must be a whole number"
        } else {
            "too large"
        }));
    }
    // The unit's factor, from bytesize itself: "1<unit>" parses to exactly that factor.
    let factor = format!("1{unit}")
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|_| {
            bad(&format!(
                "unknown unit {unit:?} (use B, KB, KiB, MB, MiB, GB, GiB, TB, TiB, ...)"
            ))
        })?;
    let too_large = || bad("too large (sizes must fit in 64 bits)");
    match num.split_once('.') {
        None => {
            let n: u64 = num.parse().map_err(|_| too_large())?;
            n.checked_mul(factor).ok_or_else(too_large)
        }
        Some((whole, frac)) => {
            let whole: u64 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| too_large())?
            };
            let whole = whole.checked_mul(factor).ok_or_else(too_large)?;
            // The fractional part in f64 is exact enough: it is below one unit.
            let frac: f64 = format!("0.{frac}").parse().map_err(|_| too_large())?;
            let part = (frac * factor as f64).round();
            whole.checked_add(part as u64).ok_or_else(too_large)
        }
    }
}

/// Formats a byte count compactly and exactly: `64MiB`, `512KiB`, `1000B`.
pub fn format_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["EiB", "PiB", "TiB", "GiB", "MiB", "KiB"];
    for (i, u) in UNITS.iter().enumerate() {
        let f = 1u64 << (10 * (6 - i));
        if n >= f && n & (f - 1) == 0 {
            return format!("{}{u}", n / f);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_good() {
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        for (text, want) in [
            ("250ms", ms(250)),
            ("2s", s(2)),
            ("1d", s(86_400)),
            ("365d", s(365 * 86_400)),
            ("0s", s(0)),
            ("0", s(0)),
            ("000", s(0)),
            (" 10s ", s(10)),
            ("1h 30m", s(5_400)),
            ("5min", s(300)),
            ("1w", s(7 * 86_400)),
            ("100us", Duration::from_micros(100)),
            ("36500d", MAX_DURATION),
            ("1.5s", ms(1_500)),
        ] {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn durations_bad() {
        for (text, needle) in [
            ("", "empty"),
            ("   ", "empty"),
            ("2", "no unit"),
            ("10", "\"10s\""),
            ("2x", "unknown time unit"),
            ("s", "bad duration"),
            ("-1s", "bad duration"),
            ("2 s s", "bad duration"),
            ("36501d", "maximum"),
            ("99999999999999999999999d", "bad duration"),
        ] {
            let e = parse_duration(text).unwrap_err();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn durations_format_round_trip() {
        for d in [0, 1, 250, 2_000, 86_400_000, 90_061_001] {
            let d = Duration::from_millis(d);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
        assert_eq!(format_duration(Duration::from_secs(365 * 86_400)), "365d");
        assert_eq!(
            format_duration(Duration::from_millis(90_061_001)),
            "1d 1h 1m 1s 1ms"
        );
        assert_eq!(
            format_duration(Duration::from_nanos(1_001_001)),
            "1ms 1us 1ns"
        );
        assert_eq!(format_duration(MAX_DURATION), "36500d");
    }

    #[test]
    fn sizes_good() {
        for (text, want) in [
            ("512KiB", 512 << 10),
            ("64MiB", 64 << 20),
            ("100B", 100),
            ("1GB", 1_000_000_000),
            ("1gb", 1_000_000_000),
            ("64 mib", 64 << 20),
            ("1.5KiB", 1536),
            (".5KiB", 512),
            ("1.KiB", 1024),
            ("0", 0),
            ("0B", 0),
            ("12345", 12_345),
            (" 7 ", 7),
            ("2k", 2_000),
            ("3M", 3_000_000),
        ] {
            assert_eq!(parse_size(text), Ok(want), "{text}");
        }
        assert_eq!(parse_size("15EiB"), Ok(15 << 60));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_size("18446744073709551615B"), Ok(u64::MAX));
    }

    #[test]
    fn sizes_bad() {
        for (text, needle) in [
            ("", "empty"),
            ("MiB", "expected a number"),
            ("-1KiB", "expected a number"),
            ("1..5KiB", "expected a number"),
            ("64 MiBs", "unknown unit \"MiBs\""),
            ("64 lightyears", "unknown unit"),
            ("1.5", "whole number"),
            ("16EiB", "too large"),
            ("18446744073709551616", "too large"),
            ("99999999999999999999999KiB", "too large"),
            ("1e3KiB", "unknown unit"),
            ("NaN", "expected a number"),
            ("inf", "expected a number"),
        ] {
            let e = parse_size(text).unwrap_err();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn sizes_format() {
        assert_eq!(format_size(64 << 20), "64MiB");
        assert_eq!(format_size(512 << 10), "512KiB");
        assert_eq!(format_size(1000), "1000B");
        assert_eq!(format_size(0), "0B");
        assert_eq!(format_size(3 << 60), "3EiB");
        for n in [0, 1, 1023, 1024, 1536, 64 << 20, u64::MAX] {
            assert_eq!(parse_size(&format_size(n)), Ok(n));
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = parse_duration(&s);
            let _ = parse_size(&s);
        }

        #[test]
        fn unit_like_strings_never_panic(
            n in "[0-9.]{0,25}",
            sp in " ?",
            u in "(B|k|K|KB|KiB|M|MiB|G|GiB|T|TiB|P|PiB|E|EiB|ms|s|m|h|d|w|y|us|ns|x)?",
        ) {
            let s = format!("{n}{sp}{u}");
            if let Ok(d) = parse_duration(&s) {
                prop_assert!(d <= MAX_DURATION);
            }
            let _ = parse_size(&s);
        }

        #[test]
        fn formatted_durations_parse_back(secs in 0..MAX_DURATION.as_secs(), nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn integer_sizes_are_bytes(n: u64) {
            prop_assert_eq!(parse_size(&n.to_string()), Ok(n));
            prop_assert_eq!(parse_size(&format_size(n)), Ok(n));
        }

        #[test]
        fn binary_multiples(n in 0u64..1 << 30) {
            prop_assert_eq!(parse_size(&format!("{n}KiB")), Ok(n << 10));
            prop_assert_eq!(parse_size(&format!("{n} MiB")), Ok(n << 20));
        }
    }
}
