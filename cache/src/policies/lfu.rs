//! Placeholder while `lfu` is being written; the registry refuses to build it.

use crate::params::{ParamError, PolicySpec};
use crate::registry::PolicyInfo;
use crate::Policy;

pub const INFO: PolicyInfo = PolicyInfo {
    name: "lfu",
    about: "not yet implemented",
    params: &[],
    build,
};

fn build(spec: &PolicySpec, _capacity: u64) -> Result<Box<dyn Policy>, ParamError> {
    Err(ParamError::Syntax(format!(
        "{} is not implemented yet",
        spec.name
    )))
}
