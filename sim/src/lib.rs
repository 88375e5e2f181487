//! The simulated world: trace readers ([`trace`]), the synthetic Zipf workload ([`synth`]),
//! the trace-driven simulator ([`simulate`]), geography ([`geo`]), latency-injecting links
//! ([`link`]), distributions ([`dist`]) and simulated origins ([`origin`]).

pub mod capacity;
pub mod dist;
pub mod geo;
pub mod link;
pub mod origin;
pub mod simulate;
pub mod synth;
pub mod trace;
