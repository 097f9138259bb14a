//! The task-watcher's configuration.

use serde::{Deserialize, Serialize};

use crate::config::Env;
use crate::error::{Error, Result};

/// What a crash loop does besides the alert.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrashLoopAction {
    #[default]
    Alert,
    ScaleToZero,
}

/// `RESTART_NETWORK`: where restarted standalone tasks run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestartNetwork {
    pub subnets: Vec<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default)]
    pub assign_public_ip: bool,
}

/// The longest crash-loop window: about as long as ECS lists stopped tasks.
pub const MAX_CRASH_LOOP_WINDOW_MINUTES: u32 = 60;

/// Everything the task-watcher reads from its environment.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskWatcherConfig {
    pub topic_arn: String,
    pub crash_loop_threshold: u32,
    pub crash_loop_window_minutes: u32,
    pub crash_loop_action: CrashLoopAction,
    pub max_restarts: u32,
    pub restart_network: Option<RestartNetwork>,
    pub dry_run: bool,
}

impl TaskWatcherConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from(&Env::process())
    }

    /// Reads a given environment.
    pub fn from(env: &Env<'_>) -> Result<Self> {
        let crash_loop_action = match env.optional("CRASH_LOOP_ACTION").as_deref().map(str::trim) {
            None | Some("alert") => CrashLoopAction::Alert,
            Some("scale-to-zero") => CrashLoopAction::ScaleToZero,
            Some(other) => {
                return Err(Error::Config {
                    var: "CRASH_LOOP_ACTION",
                    message: format!("must be alert or scale-to-zero, got {other:?}"),
                })
            }
        };
        let restart_network: Option<RestartNetwork> = env.json("RESTART_NETWORK")?;
        if let Some(n) = &restart_network {
            if n.subnets.is_empty() || n.subnets.iter().any(|s| !s.starts_with("subnet-")) {
                return Err(Error::Config {
                    var: "RESTART_NETWORK",
                    message: format!(
                        "subnets must list subnet ids (subnet-...), got {:?}",
                        n.subnets
                    ),
                });
            }
            if n.security_groups.iter().any(|g| !g.starts_with("sg-")) {
                return Err(Error::Config {
                    var: "RESTART_NETWORK",
                    message: format!(
                        "securityGroups must list group ids (sg-...), got {:?}",
                        n.security_groups
                    ),
                });
            }
        }
        // ECS lists a stopped task for about an hour (ListTasks): a longer window would
        // undercount the stops it is meant to see.
        let window = env.u32_in("CRASH_LOOP_WINDOW_MINUTES", 1, u32::MAX)?;
        if let Some(w) = window.filter(|w| *w > MAX_CRASH_LOOP_WINDOW_MINUTES) {
            return Err(Error::Config {
                var: "CRASH_LOOP_WINDOW_MINUTES",
                message: format!(
                    "must be at most {MAX_CRASH_LOOP_WINDOW_MINUTES}: ECS lists stopped tasks for about an hour, so a longer window undercounts; got {w}"
                ),
            });
        }
        Ok(TaskWatcherConfig {
            topic_arn: env.topic_arn("NOTIFY_TOPIC_ARN")?,
            crash_loop_threshold: env.u32_in("CRASH_LOOP_THRESHOLD", 2, 100)?.unwrap_or(3),
            crash_loop_window_minutes: window.unwrap_or(15),
            crash_loop_action,
            max_restarts: env.u32_in("MAX_RESTARTS", 0, 100)?.unwrap_or(3),
            restart_network,
            dry_run: env.bool_or("DRY_RUN", false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:chat";

    #[test]
    fn defaults() {
        let c = TaskWatcherConfig::from(&Env::from_pairs(&[("NOTIFY_TOPIC_ARN", TOPIC)])).unwrap();
        assert_eq!(
            (
                c.crash_loop_threshold,
                c.crash_loop_window_minutes,
                c.max_restarts
            ),
            (3, 15, 3)
        );
        assert_eq!(c.crash_loop_action, CrashLoopAction::Alert);
        assert_eq!(c.restart_network, None);
    }

    #[test]
    fn errors_name_the_variable() {
        for (var, value, needle) in [
            ("CRASH_LOOP_ACTION", "panic", "scale-to-zero"),
            ("CRASH_LOOP_THRESHOLD", "1", "from 2 to 100"),
            ("CRASH_LOOP_WINDOW_MINUTES", "x", "whole number"),
            ("CRASH_LOOP_WINDOW_MINUTES", "0", "whole number"),
            ("CRASH_LOOP_WINDOW_MINUTES", "61", "at most 60"),
            ("CRASH_LOOP_WINDOW_MINUTES", "1440", "about an hour"),
            ("MAX_RESTARTS", "-2", "whole number"),
            ("RESTART_NETWORK", r#"{"subnets": []}"#, "subnet ids"),
            (
                "RESTART_NETWORK",
                r#"{"subnets": ["subnet-1"], "securityGroups": ["default"]}"#,
                "group ids",
            ),
            (
                "RESTART_NETWORK",
                r#"{"subnets": ["subnet-1"], "publicIp": true}"#,
                "publicIp",
            ),
            ("DRY_RUN", "perhaps", "true or false"),
        ] {
            let e = TaskWatcherConfig::from(&Env::from_pairs(&[
                ("NOTIFY_TOPIC_ARN", TOPIC),
                (var, value),
            ]))
            .unwrap_err()
            .to_string();
            assert!(e.contains(var) && e.contains(needle), "{var}={value}: {e}");
        }
        let e = TaskWatcherConfig::from(&Env::from_pairs(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("NOTIFY_TOPIC_ARN"), "{e}");
    }
}
