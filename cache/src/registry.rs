//! The registry: every policy by name, with its parameters and constructor.

use crate::params::{ParamError, PolicySpec};
use crate::policies;
use crate::Policy;

/// A policy constructor: a spec naming this policy, and a capacity in size units.
pub type Constructor = fn(&PolicySpec, u64) -> Result<Box<dyn Policy>, ParamError>;

/// One registered policy.
pub struct PolicyInfo {
    /// The name users type, lower case.
    pub name: &'static str,
    /// One line for `--help` and the README.
    pub about: &'static str,
    /// Parameter keys it accepts, with their defaults, as `key=default`.
    pub params: &'static [&'static str],
    /// Builds the policy with `capacity` size units from a spec whose name is `name`.
    pub build: Constructor,
}

/// Every policy, in the order the CLI lists them.
pub static REGISTRY: &[PolicyInfo] = &[
    policies::fifo::INFO,
    policies::lru::INFO,
    policies::clock::INFO,
    policies::lfu::INFO,
    policies::arc::INFO,
    policies::twoq::INFO,
    policies::s3fifo::INFO,
    policies::sieve::INFO,
    policies::wtinylfu::INFO,
    policies::gdsf::INFO,
    policies::belady::INFO,
];

/// The registered names, comma-separated.
pub fn names() -> String {
    REGISTRY
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(",")
}

/// Builds the policy `spec` names with `capacity` size units.
pub fn build(spec: &PolicySpec, capacity: u64) -> Result<Box<dyn Policy>, ParamError> {
    let info = REGISTRY
        .iter()
        .find(|p| p.name == spec.name)
        .ok_or_else(|| ParamError::UnknownPolicy(spec.name.clone(), names()))?;
    (info.build)(spec, capacity)
}

/// Whether the policy needs each request's next access time (an offline policy).
pub fn is_offline(name: &str) -> bool {
    name == "belady"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_builds_by_name_and_reports_it() {
        for info in REGISTRY {
            let p = build(&info.name.parse().unwrap(), 100).unwrap();
            assert!(
                p.name().starts_with(info.name),
                "{} vs {}",
                p.name(),
                info.name
            );
            assert_eq!(p.capacity(), 100);
            assert!(p.is_empty());
        }
        let e = build(&"nope".parse().unwrap(), 1)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("unknown policy `nope`") && e.contains("s3fifo"),
            "{e}"
        );
    }
}
