//! Reading typed configuration from the environment.
//!
//! Each function has its own `Config::from_env()`, built on [`Env`], called once at init. Every
//! error names the variable and says what was wrong with it.

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// A source of environment variables: the process environment in Lambda, a map in tests.
pub struct Env<'a> {
    lookup: Lookup<'a>,
    /// Every variable looked up, set or not: what a configuration reads, for the template check
    /// that the SAM template sets exactly what each function reads.
    read: RefCell<BTreeSet<&'static str>>,
}

impl<'a> Env<'a> {
    /// The process environment.
    pub fn process() -> Env<'static> {
        Env {
            lookup: Box::new(|name| std::env::var(name).ok()),
            read: RefCell::default(),
        }
    }

    /// Variables from a list of pairs (for tests and tools).
    pub fn from_pairs(pairs: &'a [(&'a str, &'a str)]) -> Self {
        Env {
            lookup: Box::new(move |name| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_string())
            }),
            read: RefCell::default(),
        }
    }

    /// The names of the variables looked up so far, set or not.
    pub fn names_read(&self) -> BTreeSet<&'static str> {
        self.read.borrow().clone()
    }

    /// The value, or `None` when unset or blank.
    pub fn optional(&self, var: &'static str) -> Option<String> {
        self.read.borrow_mut().insert(var);
        (self.lookup)(var).filter(|v| !v.trim().is_empty())
    }

    /// The value; an error naming the variable when it is unset or blank.
    pub fn required(&self, var: &'static str) -> Result<String> {
        self.optional(var).ok_or_else(|| Error::Config {
            var,
            message: "is required but not set".into(),
        })
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`), `default` when unset.
    pub fn bool_or(&self, var: &'static str, default: bool) -> Result<bool> {
        match self.optional(var) {
            None => Ok(default),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(Error::Config {
                    var,
                    message: format!("must be true or false, got {v:?}"),
                }),
            },
        }
    }

    /// A whole number within `min..=max`, `None` when unset.
    pub fn u32_in(&self, var: &'static str, min: u32, max: u32) -> Result<Option<u32>> {
        let Some(v) = self.optional(var) else {
            return Ok(None);
        };
        match v.trim().parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(Error::Config {
                var,
                message: format!("must be a whole number from {min} to {max}, got {v:?}"),
            }),
        }
    }

    /// A number within `min..=max`, `default` when unset.
    pub fn f64_in(&self, var: &'static str, min: f64, max: f64, default: f64) -> Result<f64> {
        let Some(v) = self.optional(var) else {
            return Ok(default);
        };
        match v.trim().parse::<f64>() {
            Ok(n) if n.is_finite() && (min..=max).contains(&n) => Ok(n),
            _ => Err(Error::Config {
                var,
                message: format!("must be a number from {min} to {max}, got {v:?}"),
            }),
        }
    }

    /// A JSON value; the error gives the path inside the JSON that was wrong.
    pub fn json<T: DeserializeOwned>(&self, var: &'static str) -> Result<Option<T>> {
        let Some(v) = self.optional(var) else {
            return Ok(None);
        };
        let de = &mut serde_json::Deserializer::from_str(&v);
        serde_path_to_error::deserialize(de)
            .map(Some)
            .map_err(|e| Error::Config {
                var,
                message: format!("invalid JSON at {}: {}", e.path(), e.inner()),
            })
    }

    /// An SNS topic ARN.
    pub fn topic_arn(&self, var: &'static str) -> Result<String> {
        let arn = self.required(var)?;
        if crate::model::arn::is_topic_arn(&arn) {
            Ok(arn)
        } else {
            Err(Error::Config {
                var,
                message: format!(
                    "must be an SNS topic ARN (arn:aws:sns:region:account:name), got {arn:?}"
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_variable_and_the_problem() {
        let env = Env::from_pairs(&[
            ("FLAG", "maybe"),
            ("N", "-1"),
            ("J", "[1,\"x\"]"),
            ("T", "nope"),
        ]);
        let e = env.bool_or("FLAG", false).unwrap_err().to_string();
        assert!(e.contains("FLAG") && e.contains("maybe"), "{e}");
        let e = env.u32_in("N", 0, 10).unwrap_err().to_string();
        assert!(e.contains("N:") && e.contains("-1"), "{e}");
        let e = env.json::<Vec<u32>>("J").unwrap_err().to_string();
        assert!(e.contains("J:") && e.contains("[1]"), "{e}");
        let e = env.required("MISSING").unwrap_err().to_string();
        assert!(e.contains("MISSING") && e.contains("required"), "{e}");
        let e = env.topic_arn("T").unwrap_err().to_string();
        assert!(e.contains("SNS topic ARN"), "{e}");
    }

    #[test]
    fn names_read_lists_every_lookup_set_or_not() {
        let env = Env::from_pairs(&[("SET", "1"), ("NEVER_READ", "x")]);
        let _ = env.u32_in("SET", 0, 3);
        let _ = env.bool_or("UNSET", false);
        let _ = env.required("ALSO_UNSET");
        assert_eq!(
            env.names_read().into_iter().collect::<Vec<_>>(),
            ["ALSO_UNSET", "SET", "UNSET"]
        );
    }

    #[test]
    fn defaults_apply_when_unset_or_blank() {
        let env = Env::from_pairs(&[("BLANK", "  ")]);
        assert!(!env.bool_or("BLANK", false).unwrap());
        assert!(env.bool_or("UNSET", true).unwrap());
        assert_eq!(env.u32_in("UNSET", 0, 3).unwrap(), None);
        assert!(env.json::<Vec<u32>>("BLANK").unwrap().is_none());
    }
}
