//! Policy specifications as users write them (`s3fifo:small=0.1,ghost=0.9`), parsed and checked.

use std::fmt;
use std::str::FromStr;

/// Why a policy specification was refused. The message names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("unknown policy `{0}` (known: {1})")]
    UnknownPolicy(String, String),
    #[error("policy `{policy}`: unknown parameter `{key}` (known: {known})")]
    UnknownKey {
        policy: String,
        key: String,
        known: String,
    },
    #[error("policy `{policy}`: parameter `{key}` = `{value}`: {why}")]
    BadValue {
        policy: String,
        key: String,
        value: String,
        why: String,
    },
    #[error("policy spec `{0}`: expected `name` or `name:key=value,key=value`")]
    Syntax(String),
}

/// A policy name and its parameters, as written. Serialises as the string form, so a TOML
/// config can say `policy = "s3fifo:small=0.1"`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PolicySpec {
    pub name: String,
    pub params: Vec<(String, String)>,
}

impl FromStr for PolicySpec {
    type Err = ParamError;
    fn from_str(s: &str) -> Result<Self, ParamError> {
        let s = s.trim();
        let (name, rest) = match s.split_once(':') {
            Some((n, r)) => (n.trim(), Some(r)),
            None => (s, None),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ParamError::Syntax(s.to_string()));
        }
        let mut params = Vec::new();
        if let Some(rest) = rest {
            for kv in rest.split(',').filter(|p| !p.trim().is_empty()) {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| ParamError::Syntax(s.to_string()))?;
                let (k, v) = (k.trim(), v.trim());
                if k.is_empty() || v.is_empty() {
                    return Err(ParamError::Syntax(s.to_string()));
                }
                params.push((k.to_ascii_lowercase(), v.to_string()));
            }
        }
        Ok(Self {
            name: name.to_ascii_lowercase(),
            params,
        })
    }
}

impl TryFrom<String> for PolicySpec {
    type Error = ParamError;
    fn try_from(s: String) -> Result<Self, ParamError> {
        s.parse()
    }
}

impl From<PolicySpec> for String {
    fn from(p: PolicySpec) -> String {
        p.to_string()
    }
}

impl fmt::Display for PolicySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (i, (k, v)) in self.params.iter().enumerate() {
            write!(f, "{}{k}={v}", if i == 0 { ':' } else { ',' })?;
        }
        Ok(())
    }
}

/// Typed access to a spec's parameters. Each `take_*` consumes a key; [`Params::finish`]
/// refuses any key nobody took, so a typo is an error rather than a silent default.
pub struct Params<'a> {
    policy: &'a str,
    known: &'static [&'static str],
    left: Vec<(String, String)>,
}

impl<'a> Params<'a> {
    pub fn new(spec: &'a PolicySpec, known: &'static [&'static str]) -> Self {
        Self {
            policy: &spec.name,
            known,
            left: spec.params.clone(),
        }
    }

    fn take(&mut self, key: &str) -> Option<String> {
        let i = self.left.iter().position(|(k, _)| k == key)?;
        Some(self.left.remove(i).1)
    }

    fn bad(&self, key: &str, value: &str, why: &str) -> ParamError {
        ParamError::BadValue {
            policy: self.policy.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            why: why.to_string(),
        }
    }

    /// A fraction in `[lo, hi]`.
    pub fn fraction(
        &mut self,
        key: &str,
        default: f64,
        lo: f64,
        hi: f64,
    ) -> Result<f64, ParamError> {
        let Some(v) = self.take(key) else {
            return Ok(default);
        };
        let x: f64 = v.parse().map_err(|_| self.bad(key, &v, "not a number"))?;
        if !(lo..=hi).contains(&x) {
            return Err(self.bad(key, &v, &format!("must be between {lo} and {hi}")));
        }
        Ok(x)
    }

    /// An integer in `[lo, hi]`.
    pub fn integer(
        &mut self,
        key: &str,
        default: u64,
        lo: u64,
        hi: u64,
    ) -> Result<u64, ParamError> {
        let Some(v) = self.take(key) else {
            return Ok(default);
        };
        let x: u64 = v
            .parse()
            .map_err(|_| self.bad(key, &v, "not a non-negative integer"))?;
        if !(lo..=hi).contains(&x) {
            return Err(self.bad(key, &v, &format!("must be between {lo} and {hi}")));
        }
        Ok(x)
    }

    /// Refuses keys that no `take_*` call consumed.
    pub fn finish(self) -> Result<(), ParamError> {
        match self.left.first() {
            None => Ok(()),
            Some((k, _)) => Err(ParamError::UnknownKey {
                policy: self.policy.to_string(),
                key: k.clone(),
                known: if self.known.is_empty() {
                    "none".into()
                } else {
                    self.known.join(", ")
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_and_params() {
        let p: PolicySpec = "S3FIFO:small=0.1, ghost=0.9,threshold=2".parse().unwrap();
        assert_eq!(p.name, "s3fifo");
        assert_eq!(p.params.len(), 3);
        assert_eq!(p.to_string(), "s3fifo:small=0.1,ghost=0.9,threshold=2");
        assert_eq!("lru".parse::<PolicySpec>().unwrap().params, vec![]);
    }

    #[test]
    fn refuses_bad_syntax_and_keys() {
        assert!("".parse::<PolicySpec>().is_err());
        assert!("lru:small".parse::<PolicySpec>().is_err());
        assert!("lr u".parse::<PolicySpec>().is_err());
        let spec: PolicySpec = "s3fifo:smal=0.1".parse().unwrap();
        let mut p = Params::new(&spec, &["small"]);
        assert_eq!(p.fraction("small", 0.1, 0.0, 1.0).unwrap(), 0.1);
        let e = p.finish().unwrap_err().to_string();
        assert!(e.contains("smal") && e.contains("known: small"), "{e}");
        let spec: PolicySpec = "s3fifo:small=2".parse().unwrap();
        let e = Params::new(&spec, &["small"])
            .fraction("small", 0.1, 0.0, 1.0)
            .unwrap_err();
        assert!(e.to_string().contains("between"), "{e}");
    }
}
