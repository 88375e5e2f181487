//! The simulated world: trace readers ([`trace`]), the synthetic Zipf workload ([`synth`]) and
//! the trace-driven simulator ([`simulate`]).

pub mod capacity;
pub mod dist;
pub mod origin;
pub mod simulate;
pub mod synth;
pub mod trace;
