//! The open-loop load generator: viewers in regions that send requests at scheduled instants,
//! check every body, and measure latency from the scheduled instant into HDR histograms.

pub mod check;
pub mod conn;
pub mod engine;
pub mod picker;
pub mod replay;
pub mod schedule;
pub mod spec;
pub mod stats;
pub mod trace_spec;

pub use check::{CatalogClass, Checker, Objects, Verdict};
pub use conn::Protocol;
pub use engine::{Live, Loadgen, Plan, RegionPlan, RegionReport, Report, Second, Sent};
pub use replay::{Replay, TraceRequest};
pub use spec::{Arrival, MixEntry, Mode, Phase, Popularity, WorkloadSpec};
pub use stats::{Bucket, CacheKind, Counters, Figures, Percentiles};
pub use trace_spec::{TraceSpec, TRACE_CLASS};
