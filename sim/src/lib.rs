//! The simulated world: trace readers ([`trace`]), the synthetic Zipf workload ([`synth`]) and
//! the trace-driven simulator ([`simulate`]).

pub mod capacity;
pub mod link;
pub mod simulate;
pub mod synth;
pub mod trace;
