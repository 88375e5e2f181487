//! The caching reverse proxy: a CDN edge configured like a CloudFront distribution.
//!
//! The per-request path is a sequence of stages (match behavior → build key → look up →
//! fetch/collapse → store → respond) so that later features slot in as stages.

pub mod config;
pub mod semantics;
pub mod store;
pub mod units;
