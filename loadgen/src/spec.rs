//! The `[workload]` section of a scenario: what viewers ask for and when (raw TOML types and
//! their validation into [`WorkloadSpec`]).

use std::time::Duration;

/// How requests arrive in open-loop mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Exponential gaps at the current rate (a non-homogeneous Poisson process when the rate
    /// changes).
    Poisson,
    /// Evenly spaced at the current rate.
    Constant,
}

/// Which object of a class a request names.
#[derive(Debug, Clone, PartialEq)]
pub enum Popularity {
    /// Rank `r` (1-based) is chosen with probability ∝ `r^-alpha`; rank 1 is object 0.
    Zipf { alpha: f64 },
    /// Every object of the class equally likely.
    Uniform,
}

/// One entry of `workload.mix`: a class of the origin catalog and its share of requests.
#[derive(Debug, Clone, PartialEq)]
pub struct MixEntry {
    /// The class's path prefix, as in the origin's `[[origin.class]] prefix`.
    pub class: String,
    /// Share of requests (the mix's shares sum to 1).
    pub share: f64,
    pub popularity: Popularity,
    /// Ask for byte ranges of this many bytes instead of whole objects (video segments): a
    /// request names one chunk of its object, chosen uniformly, with `Range: bytes=a-b`.
    pub range: Option<u64>,
}

/// A change of the total rate: from `at` (counted from the start of the measured period),
/// the rate moves linearly from its value then to `rate` over `ramp` (0 = a step).
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub at: Duration,
    pub rate: f64,
    pub ramp: Duration,
}

/// Open loop (arrivals on a schedule) or closed loop (virtual viewers that wait for each
/// response, then think).
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Open,
    Closed {
        /// Virtual viewers in total, split over regions by share (at least 1 each).
        viewers: usize,
        think_time: Duration,
    },
}

/// The validated `[workload]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadSpec {
    /// Requests per second in total at the start (warm-up included).
    pub rate: f64,
    pub arrival: Arrival,
    pub mix: Vec<MixEntry>,
    /// In order of `at`.
    pub phases: Vec<Phase>,
    pub mode: Mode,
    /// Every region draws the same sequence of objects (at its own rate), so that PoPs that
    /// differ only in configuration see the same traffic (a policy shoot-out).
    pub same_sequence: bool,
}
