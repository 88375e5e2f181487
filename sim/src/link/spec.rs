//! What a link does to traffic ([`LinkSpec`]), its counters ([`LinkStats`]) and the parsers
//! of the values people write (`50Mbit/s`, `0.1%`).

use std::net::IpAddr;
use std::time::Duration;

/// What a link does to the traffic through it. The default is a transparent link: no delay,
/// no jitter, unlimited bandwidth, no loss, 1 handshake round trip (free, as the RTT is 0),
/// seed 1, the system's choice of source address.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSpec {
    /// Round-trip time; each direction gets half.
    pub rtt: Duration,
    /// The round trip varies by up to ± this (each direction by ± half).
    pub jitter: Duration,
    /// Bits per second, each direction separately; `None` is unlimited.
    pub bandwidth_bps: Option<u64>,
    /// Probability that a TCP segment (1460 bytes) is lost, 0..=1; a chunk with a lost
    /// segment arrives one retransmission timeout late (see [`Schedule::next`](super::Schedule::next)).
    pub loss: f64,
    /// Round trips a new connection waits before its first byte goes through.
    pub handshake_rtts: u32,
    /// Seed of the jitter and loss draws.
    pub seed: u64,
    /// Bind the upstream connections to this source address (port chosen by the system),
    /// e.g. a region's own 127.0.0.0/8 address, so that the upstream sees where they come from.
    pub upstream_source: Option<IpAddr>,
}

impl Default for LinkSpec {
    fn default() -> Self {
        LinkSpec {
            rtt: Duration::ZERO,
            jitter: Duration::ZERO,
            bandwidth_bps: None,
            loss: 0.0,
            handshake_rtts: 1,
            seed: 1,
            upstream_source: None,
        }
    }
}

/// The most handshake round trips accepted (TCP is 1, TCP + TLS 1.2 is 3).
pub const MAX_HANDSHAKE_RTTS: u32 = 16;

/// The longest RTT or jitter accepted: anything longer is a typo.
pub const MAX_RTT: Duration = Duration::from_secs(3600);

impl LinkSpec {
    /// Checks the values are usable: loss within 0..=1, a positive bandwidth, a sane RTT and
    /// handshake count. The message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.loss) {
            return Err(format!(
                "loss {} is not a probability between 0 and 1",
                self.loss
            ));
        }
        if self.bandwidth_bps == Some(0) {
            return Err("bandwidth 0: leave it out for an unlimited link".into());
        }
        if self.rtt > MAX_RTT {
            return Err(format!("rtt {:?} is longer than an hour", self.rtt));
        }
        if self.jitter > MAX_RTT {
            return Err(format!("jitter {:?} is longer than an hour", self.jitter));
        }
        if self.handshake_rtts > MAX_HANDSHAKE_RTTS {
            return Err(format!(
                "handshake_rtts {} is more than {MAX_HANDSHAKE_RTTS}",
                self.handshake_rtts
            ));
        }
        Ok(())
    }

    /// The retransmission timeout a lost chunk costs: `max(200 ms, 3 × rtt)`.
    pub fn rto(&self) -> Duration {
        (self.rtt * 3).max(Duration::from_millis(200))
    }

    /// True when the link changes nothing about timing: it then relays with a plain copy.
    pub fn is_transparent(&self) -> bool {
        self.rtt.is_zero()
            && self.jitter.is_zero()
            && self.bandwidth_bps.is_none()
            && self.loss == 0.0
    }
}

impl std::fmt::Display for LinkSpec {
    /// `rtt 80ms, jitter 5ms, bandwidth 50Mbit/s, loss 0.1%, handshake 1 rtt, seed 1`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rtt {}, jitter {}, bandwidth {}, loss {}%, handshake {} rtt, seed {}",
            cache::units::format_duration(self.rtt),
            cache::units::format_duration(self.jitter),
            self.bandwidth_bps
                .map_or_else(|| "unlimited".to_string(), format_bandwidth),
            self.loss * 100.0,
            self.handshake_rtts,
            self.seed
        )?;
        if let Some(src) = self.upstream_source {
            write!(f, ", source {src}")?;
        }
        Ok(())
    }
}

/// Formats bits per second the way [`parse_bandwidth`] reads them back: `50Mbit/s`,
/// `1Gbit/s`, `1500kbit/s`, `300bit/s`.
pub fn format_bandwidth(bps: u64) -> String {
    for (f, u) in [
        (1_000_000_000_000, "Tbit/s"),
        (1_000_000_000, "Gbit/s"),
        (1_000_000, "Mbit/s"),
        (1_000, "kbit/s"),
    ] {
        if bps >= f && bps / f * f == bps {
            return format!("{}{u}", bps / f);
        }
    }
    format!("{bps}bit/s")
}

/// Parses a bandwidth into bits per second.
///
/// Accepted: a positive number (a fraction is fine: `1.5Gbit/s`), optional spaces, then a
/// unit made of a prefix and a suffix:
/// - prefix: none, `k`/`K` (10³), `M` (10⁶), `G` (10⁹), `T` (10¹²), or the binary `Ki`,
///   `Mi`, `Gi`, `Ti` (2¹⁰…); `m`, `g` and `t` are read as `M`, `G` and `T` (nobody means
///   millibits);
/// - suffix: bits as `bit/s`, `bits/s`, `b/s` or `bps`; bytes as `B/s`, `byte/s`,
///   `bytes/s` or `Bps` (× 8). The case of `b`/`B` is what tells bits from bytes.
///
/// Examples: `50Mbit/s`, `8Mbps`, `1Gbit/s`, `100kbit/s`, `10MB/s` (= 80 Mbit/s),
/// `1.5 Gbps`, `512KiB/s`. A bare number has no unit and is refused, as are zero, negative
/// values and anything below 1 bit/s or beyond 2⁶⁴ bit/s.
pub fn parse_bandwidth(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let bad = |why: &str| format!("bad bandwidth {t:?}: {why}");
    if t.is_empty() {
        return Err("empty bandwidth: write e.g. \"50Mbit/s\", \"8Mbps\" or \"10MB/s\"".into());
    }
    let num_len = t
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (num, unit) = (&t[..num_len], t[num_len..].trim_start());
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return Err(bad(
            "expected a number followed by a unit, e.g. \"50Mbit/s\"",
        ));
    }
    if unit.is_empty() {
        return Err(bad(&format!(
            "no unit: write e.g. \"{num}Mbit/s\", \"{num}kbit/s\" or \"{num}MB/s\""
        )));
    }
    let unknown = || {
        bad(&format!(
            "unknown unit {unit:?} (use bit/s, kbit/s, Mbit/s, Gbit/s, Mbps, B/s, kB/s, MB/s, MiB/s, ...)"
        ))
    };
    let (prefix, suffix) = match unit.find(['b', 'B']) {
        Some(i) => (&unit[..i], &unit[i..]),
        None => return Err(unknown()),
    };
    let scale: f64 = match prefix {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" | "m" => 1e6,
        "G" | "g" => 1e9,
        "T" | "t" => 1e12,
        "Ki" | "ki" => 1024.0,
        "Mi" | "mi" => 1024.0 * 1024.0,
        "Gi" | "gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" | "ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(unknown()),
    };
    let bits_per_unit = match suffix {
        "bit/s" | "bits/s" | "b/s" | "bps" => 1.0,
        "B/s" | "byte/s" | "bytes/s" | "Bps" => 8.0,
        _ => return Err(unknown()),
    };
    let n: f64 = num.parse().map_err(|_| bad("not a number"))?;
    let bps = (n * scale * bits_per_unit).round();
    if bps < 1.0 {
        return Err(bad(
            "must be at least 1 bit/s (leave the bandwidth out for an unlimited link)",
        ));
    }
    if bps >= u64::MAX as f64 {
        return Err(bad("too large"));
    }
    Ok(bps as u64)
}

/// Parses a probability: a percentage (`0.1%` → 0.001, `5 %`, `100%`) or a bare fraction
/// (`0.001`, `1`). Must lie within 0..=1 (0%..=100%).
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let bad = |why: &str| format!("bad percentage {t:?}: {why}");
    if t.is_empty() {
        return Err("empty percentage: write e.g. \"0.1%\" or \"0.001\"".into());
    }
    let (num, pct) = match t.strip_suffix('%') {
        Some(n) => (n.trim_end(), true),
        None => (t, false),
    };
    // Digits and one dot only: refuses signs, exponents, "inf" and "NaN".
    if num.is_empty()
        || num == "."
        || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || num.matches('.').count() > 1
    {
        return Err(bad(
            "expected e.g. \"0.1%\" or a fraction such as \"0.001\"",
        ));
    }
    let v: f64 = num.parse().map_err(|_| bad("not a number"))?;
    if pct {
        if v > 100.0 {
            return Err(bad("more than 100%"));
        }
        Ok(v / 100.0)
    } else {
        if v > 1.0 {
            return Err(bad(&format!(
                "a fraction must be between 0 and 1 (did you mean \"{num}%\"?)"
            )));
        }
        Ok(v)
    }
}

/// A link's counters, since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections being relayed now.
    pub open: u64,
    /// Bytes delivered upstream (from the accepted side to the upstream side).
    pub bytes_up: u64,
    /// Bytes delivered downstream (from upstream back to the accepted side).
    pub bytes_down: u64,
    /// Sum over chunks of the time each was held (read to written), plus the handshake waits.
    pub delay_applied: Duration,
    /// Chunks lost (delivered one retransmission timeout late).
    pub lost_chunks: u64,
    /// Accepted connections whose upstream connection failed (they were closed at once).
    pub upstream_failures: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidth_forms() {
        let ok = [
            ("50Mbit/s", 50_000_000),
            ("8Mbps", 8_000_000),
            ("1Gbit/s", 1_000_000_000),
            ("100kbit/s", 100_000),
            ("100Kbit/s", 100_000),
            ("10MB/s", 80_000_000),
            ("1.5 Gbps", 1_500_000_000),
            ("512KiB/s", 512 * 1024 * 8),
            ("300bit/s", 300),
            ("2 bits/s", 2),
            ("1B/s", 8),
            ("1 kB/s", 8_000),
            ("3mbps", 3_000_000),
            (" 1Tbit/s ", 1_000_000_000_000),
        ];
        for (s, want) in ok {
            assert_eq!(parse_bandwidth(s), Ok(want), "{s}");
        }
        for s in [
            "",
            "50",
            "Mbit/s",
            "-5Mbit/s",
            "0Mbit/s",
            "0.0001bit/s",
            "5 Mbit",
            "5 parsecs",
            "1.2.3Mbps",
            "5Xbit/s",
            "99999999999Tbit/s",
            "inf",
            "NaNbps",
        ] {
            assert!(parse_bandwidth(s).is_err(), "{s:?} should be refused");
        }
        for bps in [
            1,
            999,
            1_000,
            50_000_000,
            1_500_000,
            1_000_000_000,
            7_000_000_000_000,
        ] {
            assert_eq!(parse_bandwidth(&format_bandwidth(bps)), Ok(bps));
        }
    }

    #[test]
    fn percent_forms() {
        let ok = [
            ("0.1%", 0.001),
            ("5 %", 0.05),
            ("100%", 1.0),
            ("0%", 0.0),
            ("0.001", 0.001),
            ("1", 1.0),
            ("0", 0.0),
            (".5", 0.5),
        ];
        for (s, want) in ok {
            let got = parse_percent(s).unwrap();
            assert!((got - want).abs() < 1e-12, "{s}: {got}");
        }
        for s in [
            "", "%", "101%", "1.5", "50", "-1%", "-0.1", "1e-3", "inf", "NaN", "x%", "1..2%",
        ] {
            assert!(parse_percent(s).is_err(), "{s:?} should be refused");
        }
        assert!(parse_percent("50").unwrap_err().contains("50%"));
    }

    #[test]
    fn validate_names_the_field() {
        let ok = LinkSpec::default();
        assert!(ok.validate().is_ok());
        assert!(ok.is_transparent());
        let cases = [
            (
                LinkSpec {
                    loss: 1.5,
                    ..ok.clone()
                },
                "loss",
            ),
            (
                LinkSpec {
                    loss: f64::NAN,
                    ..ok.clone()
                },
                "loss",
            ),
            (
                LinkSpec {
                    bandwidth_bps: Some(0),
                    ..ok.clone()
                },
                "bandwidth",
            ),
            (
                LinkSpec {
                    handshake_rtts: 99,
                    ..ok.clone()
                },
                "handshake_rtts",
            ),
            (
                LinkSpec {
                    rtt: Duration::from_secs(7200),
                    ..ok.clone()
                },
                "rtt",
            ),
        ];
        for (spec, field) in cases {
            let e = spec.validate().unwrap_err();
            assert!(e.contains(field), "{e}");
        }
    }

    #[test]
    fn rto_is_at_least_200ms() {
        let s = |ms| LinkSpec {
            rtt: Duration::from_millis(ms),
            ..LinkSpec::default()
        };
        assert_eq!(s(0).rto(), Duration::from_millis(200));
        assert_eq!(s(50).rto(), Duration::from_millis(200));
        assert_eq!(s(80).rto(), Duration::from_millis(240));
    }

    #[test]
    fn display_reads_like_the_flags() {
        let s = LinkSpec {
            rtt: Duration::from_millis(80),
            jitter: Duration::from_millis(5),
            bandwidth_bps: Some(50_000_000),
            loss: 0.001,
            ..LinkSpec::default()
        };
        assert_eq!(
            s.to_string(),
            "rtt 80ms, jitter 5ms, bandwidth 50Mbit/s, loss 0.1%, handshake 1 rtt, seed 1"
        );
    }
}
