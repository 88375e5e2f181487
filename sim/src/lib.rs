//! The simulated world: trace readers ([`trace`]), the synthetic Zipf workload ([`synth`]) and, in time, the trace-driven simulator.

pub mod synth;
pub mod trace;
