//! The caching reverse proxy: a CDN edge configured like a CloudFront distribution.
//!
//! The per-request path (`proxy`) is a sequence of stages (match behavior → build key → look
//! up → fetch/collapse → store → range → respond) so that later features slot in as stages.
//! `edge` never knows whether it runs inside a simulation: `cdnlab edge --config FILE` runs it
//! alone.

pub mod admin;
pub mod body;
pub mod config;
pub mod fill;
pub mod mapped;
pub mod metrics;
pub mod origin;
pub mod partial;
pub mod proxy;
pub mod semantics;
pub mod server;
pub mod store;
pub mod viewer_io;
/// Duration and size parsing, shared with the simulated world (it lives in `cache`).
pub use cache::units;

pub use config::Config;
pub use server::{start, RunningEdge};
