//! Which object each request names: a class by the mix's shares, then an object of the class
//! by its popularity (Zipf by rank, or uniform). Pure functions of the generator's state, so
//! the same seed gives the same sequence.

use crate::spec::{MixEntry, Popularity};
use rand::Rng;
use rand_distr::{Distribution, Zipf};

enum Objects {
    Zipf(Zipf<f64>),
    Uniform(u64),
}

/// Picks `(mix entry, object index)` pairs.
pub struct Picker {
    /// Cumulative shares, the last forced to 1.
    cumulative: Vec<f64>,
    objects: Vec<Objects>,
}

impl Picker {
    /// `counts[i]` is the number of objects of the class of `mix[i]` (at least 1).
    pub fn new(mix: &[MixEntry], counts: &[u64]) -> Picker {
        assert_eq!(mix.len(), counts.len());
        let total: f64 = mix.iter().map(|m| m.share).sum();
        let mut acc = 0.0;
        let mut cumulative: Vec<f64> = mix
            .iter()
            .map(|m| {
                acc += m.share / total;
                acc
            })
            .collect();
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        let objects = mix
            .iter()
            .zip(counts)
            .map(|(m, &n)| match m.popularity {
                Popularity::Zipf { alpha } if alpha > 0.0 && n > 1 => {
                    Objects::Zipf(Zipf::new(n as f64, alpha).expect("validated alpha and count"))
                }
                _ => Objects::Uniform(n.max(1)),
            })
            .collect();
        Picker {
            cumulative,
            objects,
        }
    }

    /// The next `(mix entry, object index)`; object 0 is the most popular under Zipf.
    pub fn pick(&self, rng: &mut impl Rng) -> (usize, u64) {
        let entry = if self.cumulative.len() == 1 {
            0
        } else {
            let u: f64 = rng.random();
            self.cumulative
                .partition_point(|&c| c <= u)
                .min(self.cumulative.len() - 1)
        };
        let index = match &self.objects[entry] {
            Objects::Zipf(z) => (z.sample(rng) as u64).saturating_sub(1),
            Objects::Uniform(n) => rng.random_range(0..*n),
        };
        (entry, index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::dist::SplitMix64;

    fn entry(share: f64, popularity: Popularity) -> MixEntry {
        MixEntry {
            class: "/c/".into(),
            share,
            popularity,
            range: None,
        }
    }

    #[test]
    fn shares_and_zipf_ranks() {
        let p = Picker::new(
            &[
                entry(0.25, Popularity::Uniform),
                entry(0.75, Popularity::Zipf { alpha: 1.0 }),
            ],
            &[10, 1000],
        );
        let mut rng = SplitMix64::new(3);
        let mut per_entry = [0u32; 2];
        let mut top = 0u32;
        let n = 100_000;
        for _ in 0..n {
            let (e, i) = p.pick(&mut rng);
            per_entry[e] += 1;
            if e == 0 {
                assert!(i < 10);
            } else {
                assert!(i < 1000);
                top += (i == 0) as u32;
            }
        }
        assert!((per_entry[0] as f64 / n as f64 - 0.25).abs() < 0.01);
        // Zipf(1) over 1000 ranks: P(rank 1) = 1 / H(1000) ≈ 0.1336.
        let p1 = top as f64 / per_entry[1] as f64;
        assert!((p1 - 0.1336).abs() < 0.01, "{p1}");
    }

    #[test]
    fn same_seed_same_sequence() {
        let p = Picker::new(&[entry(1.0, Popularity::Zipf { alpha: 0.8 })], &[500]);
        let a: Vec<_> = {
            let mut r = SplitMix64::new(9);
            (0..100).map(|_| p.pick(&mut r)).collect()
        };
        let mut r = SplitMix64::new(9);
        let b: Vec<_> = (0..100).map(|_| p.pick(&mut r)).collect();
        assert_eq!(a, b);
    }
}
