//! FIFO: evict the object admitted longest ago; hits change nothing.

use super::lru::RecencyList;
use crate::params::{ParamError, Params, PolicySpec};
use crate::registry::PolicyInfo;
use crate::Policy;

pub const INFO: PolicyInfo = PolicyInfo {
    name: "fifo",
    about: "first in, first out: the oldest admission is evicted, hits change nothing",
    params: &[],
    build,
};

/// FIFO is the recency list without promotion on hit.
pub type Fifo = RecencyList<false>;

fn build(spec: &PolicySpec, capacity: u64) -> Result<Box<dyn Policy>, ParamError> {
    Params::new(spec, &[]).finish()?;
    Ok(Box::new(Fifo::new(capacity)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::testing::{ids, run};

    #[test]
    fn evicts_in_admission_order_regardless_of_hits() {
        let (p, ev) = run(
            Fifo::new(3),
            &[(1, 1), (2, 1), (3, 1), (1, 1), (4, 1), (1, 1), (5, 1)],
        );
        // 4 evicts 1 (its hit does not save it); 1 is then a miss and evicts 2; 5 evicts 3.
        assert_eq!(ids(&ev), vec![1, 2, 3]);
        assert_eq!(p.name(), "fifo");
    }
}
