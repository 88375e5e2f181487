//! When requests are due: the total rate over time (a base rate, then phases that step or
//! ramp to new rates) and the arrival instants it gives, Poisson or evenly spaced, found by
//! inverting the cumulative rate (time rescaling) so that a changing rate needs no thinning.

use crate::spec::{Arrival, Phase};
use rand::Rng;

/// A piece of the rate curve: from `start` (seconds since traffic began) the rate is
/// `rate + slope · (t − start)`, and `lambda` requests are due before `start`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    start: f64,
    rate: f64,
    slope: f64,
    lambda: f64,
}

/// The total request rate as a function of time since traffic began (warm-up included).
#[derive(Debug, Clone, PartialEq)]
pub struct RateCurve {
    /// In order of `start`; the first starts at 0, the last runs forever.
    segments: Vec<Segment>,
}

impl RateCurve {
    /// `base` requests per second from the start; each phase begins at `offset + phase.at`
    /// (`offset` is the warm-up: phases count from the measured period) and moves linearly
    /// from the rate reached then to `phase.rate` over `phase.ramp`. A phase that begins
    /// before the previous ramp ends starts from the rate reached at that instant.
    /// Phases must be in order of `at` (the workload's validation guarantees it).
    pub fn new(base: f64, phases: &[Phase], offset: f64) -> RateCurve {
        // Breakpoints of a piecewise linear function: (time, rate at that time, slope after).
        let mut points: Vec<(f64, f64, f64)> = vec![(0.0, base, 0.0)];
        for p in phases {
            let at = offset + p.at.as_secs_f64();
            let ramp = p.ramp.as_secs_f64();
            // The rate at `at` under what came before; drop breakpoints after `at` (a ramp
            // the new phase interrupts ends where it got to).
            points.retain(|&(t, _, _)| t <= at);
            let &(t0, r0, k0) = points.last().expect("the base point stays");
            let from = r0 + k0 * (at - t0);
            if ramp > 0.0 {
                points.push((at, from, (p.rate - from) / ramp));
                points.push((at + ramp, p.rate, 0.0));
            } else {
                points.push((at, p.rate, 0.0));
            }
        }
        let mut segments = Vec::with_capacity(points.len());
        let mut lambda = 0.0;
        for (i, &(start, rate, slope)) in points.iter().enumerate() {
            if i > 0 {
                let prev: &Segment = segments.last().unwrap();
                let dt = start - prev.start;
                lambda += prev.rate * dt + prev.slope * dt * dt / 2.0;
            }
            segments.push(Segment {
                start,
                rate,
                slope,
                lambda,
            });
        }
        RateCurve { segments }
    }

    /// The rate at `t` seconds.
    pub fn rate_at(&self, t: f64) -> f64 {
        let s = self.segment_at(t);
        (s.rate + s.slope * (t - s.start)).max(0.0)
    }

    /// Requests due in `[0, t)`: the integral of the rate.
    pub fn cumulative(&self, t: f64) -> f64 {
        let s = self.segment_at(t);
        let dt = t - s.start;
        s.lambda + s.rate * dt + s.slope * dt * dt / 2.0
    }

    fn segment_at(&self, t: f64) -> &Segment {
        let i = self.segments.partition_point(|s| s.start <= t);
        &self.segments[i.saturating_sub(1)]
    }

    /// The time at which the cumulative rate reaches `lambda`, searching from segment
    /// `from` on (returns the segment it lies in); `None` if it never does.
    fn invert(&self, lambda: f64, mut from: usize) -> Option<(f64, usize)> {
        loop {
            let s = &self.segments[from];
            let d = lambda - s.lambda;
            let x = if s.slope == 0.0 {
                if s.rate <= 0.0 {
                    f64::INFINITY
                } else {
                    d / s.rate
                }
            } else {
                // rate·x + slope·x²/2 = d, the root where the rate is still positive.
                let disc = s.rate * s.rate + 2.0 * s.slope * d;
                if disc < 0.0 {
                    f64::INFINITY
                } else {
                    2.0 * d / (s.rate + disc.sqrt())
                }
            };
            match self.segments.get(from + 1) {
                Some(next) if !(x.is_finite() && s.start + x < next.start) => from += 1,
                _ if x.is_finite() => return Some((s.start + x.max(0.0), from)),
                _ => return None,
            }
        }
    }
}

/// The arrival instants of one region: its share of the curve, Poisson or evenly spaced.
pub struct Arrivals {
    curve: RateCurve,
    /// The region's share of the total rate.
    share: f64,
    arrival: Arrival,
    /// Cumulative (scaled) requests of the last arrival.
    lambda: f64,
    segment: usize,
}

impl Arrivals {
    /// `phase` in `[0, 1)` offsets evenly spaced arrivals so that regions do not all send at
    /// the same instants (draw it from the region's generator).
    pub fn new(curve: RateCurve, share: f64, arrival: Arrival, phase: f64) -> Arrivals {
        Arrivals {
            curve,
            share,
            arrival,
            lambda: match arrival {
                Arrival::Poisson => 0.0,
                Arrival::Constant => phase - 1.0,
            },
            segment: 0,
        }
    }

    /// The next arrival, in seconds since traffic began (`None` if the rate stays at 0).
    pub fn next(&mut self, rng: &mut impl Rng) -> Option<f64> {
        let step = match self.arrival {
            // Exponential with mean 1 in rescaled time.
            Arrival::Poisson => -(1.0 - rng.random::<f64>()).ln(),
            Arrival::Constant => 1.0,
        };
        self.lambda += step;
        let (t, seg) = self.curve.invert(self.lambda / self.share, self.segment)?;
        self.segment = seg;
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::dist::SplitMix64;
    use std::time::Duration;

    fn phase(at: f64, rate: f64, ramp: f64) -> Phase {
        Phase {
            at: Duration::from_secs_f64(at),
            rate,
            ramp: Duration::from_secs_f64(ramp),
        }
    }

    #[test]
    fn steps_and_ramps_integrate_exactly() {
        // 100/s for 10 s, ramp to 300/s over 10 s, then 300/s.
        let c = RateCurve::new(100.0, &[phase(5.0, 300.0, 10.0)], 5.0);
        assert_eq!(c.rate_at(3.0), 100.0);
        assert_eq!(c.rate_at(15.0), 200.0);
        assert_eq!(c.rate_at(25.0), 300.0);
        assert!((c.cumulative(10.0) - 1000.0).abs() < 1e-9);
        assert!((c.cumulative(20.0) - 3000.0).abs() < 1e-9);
        assert!((c.cumulative(30.0) - 6000.0).abs() < 1e-9);
    }

    #[test]
    fn an_interrupted_ramp_starts_the_next_phase_where_it_got_to() {
        let c = RateCurve::new(0.0, &[phase(0.0, 100.0, 10.0), phase(5.0, 10.0, 0.0)], 0.0);
        assert!((c.rate_at(4.0) - 40.0).abs() < 1e-9);
        assert_eq!(c.rate_at(6.0), 10.0);
        assert!((c.cumulative(5.0) - 125.0).abs() < 1e-9);
    }

    #[test]
    fn constant_arrivals_are_evenly_spaced_and_follow_steps() {
        let c = RateCurve::new(10.0, &[phase(1.0, 100.0, 0.0)], 0.0);
        let mut a = Arrivals::new(c, 1.0, Arrival::Constant, 0.0);
        let mut rng = SplitMix64::new(1);
        let t: Vec<f64> = (0..15).map(|_| a.next(&mut rng).unwrap()).collect();
        for (i, x) in t.iter().take(10).enumerate() {
            assert!((x - i as f64 * 0.1).abs() < 1e-9, "{i}: {x}");
        }
        assert!((t[10] - 1.0).abs() < 1e-9);
        assert!((t[11] - 1.01).abs() < 1e-9);
    }

    #[test]
    fn poisson_counts_match_the_integral_of_the_rate() {
        // Ramp 0 → 2000/s over 10 s, then hold: 10 000 + 20 000 expected in 20 s.
        let c = RateCurve::new(0.0, &[phase(0.0, 2000.0, 10.0)], 0.0);
        let mut a = Arrivals::new(c.clone(), 0.5, Arrival::Poisson, 0.0);
        let mut rng = SplitMix64::new(7);
        let mut n = [0u32; 2];
        let mut last = 0.0;
        while let Some(t) = a.next(&mut rng) {
            assert!(t >= last);
            last = t;
            if t >= 20.0 {
                break;
            }
            n[(t >= 10.0) as usize] += 1;
        }
        // Half the rate: 5 000 and 10 000, within 4 standard deviations.
        assert!((n[0] as f64 - 5000.0).abs() < 4.0 * 5000f64.sqrt(), "{n:?}");
        assert!(
            (n[1] as f64 - 10000.0).abs() < 4.0 * 10000f64.sqrt(),
            "{n:?}"
        );
    }

    #[test]
    fn a_zero_rate_never_arrives() {
        let c = RateCurve::new(0.0, &[], 0.0);
        let mut a = Arrivals::new(c, 1.0, Arrival::Poisson, 0.0);
        assert_eq!(a.next(&mut SplitMix64::new(1)), None);
    }
}
