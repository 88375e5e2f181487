//! When each chunk of one direction is delivered: delay, jitter and loss draws, in order.

use super::LinkSpec;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;
use tokio::time::Instant;

/// The size of a TCP segment on a typical path (1500-byte MTU less 40 bytes of headers): the
/// unit the loss rate applies to.
pub const SEGMENT: usize = 1460;

/// When each chunk of one direction is delivered: the delay, jitter and loss draws, in order.
///
/// Pure (no I/O): the relay uses one per direction, and tests can check it alone.
#[derive(Debug)]
pub struct Schedule {
    one_way: Duration,
    jitter: Duration,
    loss: f64,
    rto: Duration,
    rng: StdRng,
    last: Option<Instant>,
}

/// One chunk's fate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// When the chunk may be written on (before pacing).
    pub at: Instant,
    /// Whether it was lost (and so is one retransmission timeout late).
    pub lost: bool,
}

impl Schedule {
    /// The schedule of one direction of connection number `conn` (0-based, accept order);
    /// `upstream` tells the direction. Same spec, connection and direction: same draws.
    pub fn new(spec: &LinkSpec, conn: u64, upstream: bool) -> Schedule {
        let stream = splitmix64(conn.wrapping_mul(2).wrapping_add(u64::from(upstream)));
        Schedule {
            one_way: spec.rtt / 2,
            jitter: spec.jitter,
            loss: spec.loss,
            rto: spec.rto(),
            rng: StdRng::seed_from_u64(splitmix64(spec.seed ^ stream)),
            last: None,
        }
    }

    /// The one-way delay drawn for the next chunk (no loss, no queueing).
    fn draw_delay(&mut self) -> Duration {
        if self.jitter.is_zero() {
            return self.one_way;
        }
        let half = self.jitter.as_nanos() as i128 / 2;
        let u = self.rng.random_range(-half..=half);
        let d = (self.one_way.as_nanos() as i128 + u).max(0);
        Duration::from_nanos(d as u64)
    }

    /// The delivery of a chunk of `len` bytes that arrived at `arrival`: `arrival + one way +
    /// jitter (+ RTO if lost)`, but never before the previous chunk's.
    ///
    /// `loss` is the probability that one TCP segment ([`SEGMENT`] bytes) is lost, so that a
    /// loss rate means the same whatever size the chunks happen to be read in: a chunk of `k`
    /// segments is lost (late) with probability `1 − (1 − loss)^k`, and several losses within
    /// one chunk cost one timeout. A chunk no larger than a segment is lost with probability
    /// `loss`.
    pub fn next(&mut self, arrival: Instant, len: usize) -> Delivery {
        let mut at = arrival + self.draw_delay();
        let lost = self.loss > 0.0 && self.rng.random_bool(self.chunk_loss(len));
        if lost {
            at += self.rto;
        }
        self.order(at, lost)
    }

    /// The probability that a chunk of `len` bytes has at least one segment lost.
    pub fn chunk_loss(&self, len: usize) -> f64 {
        if self.loss >= 1.0 {
            return 1.0;
        }
        let segments = len.div_ceil(SEGMENT);
        if segments <= 1 {
            return self.loss;
        }
        (1.0 - (1.0 - self.loss).powf(segments as f64)).clamp(0.0, 1.0)
    }

    /// The delivery of the end of the stream (EOF): one way later, after everything before it;
    /// never lost, no jitter draw.
    pub fn end(&mut self, arrival: Instant) -> Delivery {
        self.order(arrival + self.one_way, false)
    }

    fn order(&mut self, at: Instant, lost: bool) -> Delivery {
        let at = match self.last {
            Some(prev) if prev > at => prev,
            _ => at,
        };
        self.last = Some(at);
        Delivery { at, lost }
    }
}

/// splitmix64's finaliser: spreads connection numbers and seeds into unrelated seeds.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rtt_ms: u64, jitter_ms: u64, loss: f64) -> LinkSpec {
        LinkSpec {
            rtt: Duration::from_millis(rtt_ms),
            jitter: Duration::from_millis(jitter_ms),
            loss,
            ..LinkSpec::default()
        }
    }

    #[test]
    fn schedule_delays_by_half_the_rtt() {
        let t0 = Instant::now();
        let mut s = Schedule::new(&spec(80, 0, 0.0), 0, true);
        for i in 0..10 {
            let at = t0 + Duration::from_millis(i * 100);
            assert_eq!(
                s.next(at, 100),
                Delivery {
                    at: at + Duration::from_millis(40),
                    lost: false
                }
            );
        }
        let end = t0 + Duration::from_secs(5);
        assert_eq!(s.end(end).at, end + Duration::from_millis(40));
    }

    #[test]
    fn jitter_stays_in_bounds_keeps_order_and_is_seeded() {
        let t0 = Instant::now();
        let draws = |seed, conn, up| {
            let mut sp = spec(80, 20, 0.0);
            sp.seed = seed;
            let mut s = Schedule::new(&sp, conn, up);
            (0..2000u64)
                .map(|i| s.next(t0 + Duration::from_micros(i * 500), 100).at)
                .collect::<Vec<_>>()
        };
        let a = draws(1, 0, true);
        assert_eq!(a, draws(1, 0, true), "same seed, same draws");
        assert_ne!(a, draws(2, 0, true));
        assert_ne!(a, draws(1, 1, true));
        assert_ne!(a, draws(1, 0, false));
        assert!(a.windows(2).all(|w| w[0] <= w[1]), "in order");
        // Spaced far apart, chunks never queue: each delay is 40 ms ± 10 ms, spread across it.
        let mut s = Schedule::new(&spec(80, 20, 0.0), 0, true);
        let delays: Vec<Duration> = (0..2000u64)
            .map(|i| {
                let at = t0 + Duration::from_millis(i * 100);
                s.next(at, 100).at - at
            })
            .collect();
        let (lo, hi) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
        assert!(
            *lo >= Duration::from_millis(30) && *lo < Duration::from_millis(31),
            "{lo:?}"
        );
        assert!(
            *hi <= Duration::from_millis(50) && *hi > Duration::from_millis(49),
            "{hi:?}"
        );
        let mean = delays.iter().sum::<Duration>() / delays.len() as u32;
        assert!(
            mean.abs_diff(Duration::from_millis(40)) < Duration::from_micros(500),
            "{mean:?}"
        );
    }

    #[test]
    fn loss_adds_the_rto_and_what_follows_queues() {
        let t0 = Instant::now();
        let mut s = Schedule::new(&spec(80, 0, 1.0), 0, true);
        let d = s.next(t0, 100);
        assert!(d.lost);
        assert_eq!(d.at, t0 + Duration::from_millis(40 + 240));
        // About 1% lost at loss 1%, and a chunk right after a lost one waits for it.
        let mut s = Schedule::new(&spec(80, 0, 0.01), 0, true);
        let mut lost = 0;
        let mut prev_lost = None;
        for i in 0..100_000u64 {
            let at = t0 + Duration::from_millis(i);
            let d = s.next(at, 100);
            if let Some(p) = prev_lost.take() {
                assert!(d.at >= p);
            }
            if d.lost {
                lost += 1;
                prev_lost = Some(d.at);
            }
        }
        assert!((800..1200).contains(&lost), "{lost}");
    }

    #[test]
    fn loss_is_per_segment_whatever_the_chunk_size() {
        let s = Schedule::new(&spec(80, 0, 0.01), 0, true);
        assert_eq!(s.chunk_loss(1), 0.01);
        assert_eq!(s.chunk_loss(SEGMENT), 0.01);
        // 10 segments: 1 − 0.99¹⁰.
        assert!((s.chunk_loss(10 * SEGMENT) - 0.095_617_9).abs() < 1e-6);
        // The chance that 1 MB (685 segments) goes through without a loss does not depend on
        // the size of the chunks it is read in: 0.99^685.
        let clean = |chunk: usize| (1.0 - s.chunk_loss(chunk)).powf(1_000_000.0 / chunk as f64);
        let want = 0.99f64.powf(1_000_000.0 / SEGMENT as f64);
        for chunk in [SEGMENT, 4 * SEGMENT, 40 * SEGMENT] {
            assert!(
                (clean(chunk) - want).abs() < 1e-9,
                "{chunk}: {}",
                clean(chunk)
            );
        }
        assert_eq!(
            Schedule::new(&spec(80, 0, 1.0), 0, true).chunk_loss(1 << 20),
            1.0
        );
        assert_eq!(
            Schedule::new(&spec(80, 0, 0.0), 0, true).chunk_loss(1 << 20),
            0.0
        );
    }
}
