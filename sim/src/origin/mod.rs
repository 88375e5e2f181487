//! A simulated origin: an HTTP/1.1 + h2c server of a synthetic catalog whose every byte is a
//! function of the seed, with service times, a concurrency limit that queues, and scheduled
//! faults.
//!
//! - [`config`]: the TOML config ([`config::EXAMPLE`] has every key) and its validation.
//! - [`content`]: sizes, versions, ETags, dates and bytes of objects, as pure functions (what
//!   a checker recomputes).
//! - [`server`]: [`start`] serves a config until [`RunningOrigin::shutdown`].
//! - [`stats`]: the counters, also served as JSON at `GET /_origin/stats`.
//!
//! Paths: `{class.prefix}{n}` for `n` in `0..class.objects` (canonical decimal, no leading
//! zeros); `/trace/<id>/<size>` (any id without `/`, size up to `trace.max_size`, else 400);
//! `/_origin/stats`; anything else 404. Methods GET and HEAD (others 405).

mod body;
pub mod conditional;
pub mod config;
pub mod content;
pub mod faults;
pub mod server;
pub mod stats;

pub use config::{Class, Fault, FaultKind, Listen, OriginConfig, RawOriginConfig, TraceClass};
pub use server::{start, RunningOrigin};
pub use stats::{ClassStats, FaultStats, OriginStats};
