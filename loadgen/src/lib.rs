//! The open-loop load generator: viewers in regions that send requests at scheduled instants,
//! check every body, and measure latency from the scheduled instant into HDR histograms.

pub mod spec;

pub use spec::{Arrival, MixEntry, Mode, Phase, Popularity, WorkloadSpec};
