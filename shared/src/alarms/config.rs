//! The alarm-notifier's configuration.

use std::collections::BTreeMap;

use crate::config::Env;
use crate::error::{Error, Result};
use crate::notify::Severity;

/// Everything the alarm-notifier reads from its environment.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmNotifierConfig {
    /// Where everything goes that `SEVERITY_TOPICS` does not route.
    pub topic_arn: String,
    /// Per-severity topics.
    pub severity_topics: BTreeMap<String, String>,
    pub flap_threshold: u32,
    pub flap_window_minutes: u32,
}

impl AlarmNotifierConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from(&Env::process())
    }

    /// Reads a given environment.
    pub fn from(env: &Env<'_>) -> Result<Self> {
        const VAR: &str = "SEVERITY_TOPICS";
        let severity_topics: BTreeMap<String, String> = env.json(VAR)?.unwrap_or_default();
        for (severity, arn) in &severity_topics {
            if !["critical", "warning", "info"].contains(&severity.as_str()) {
                return Err(Error::Config {
                    var: VAR,
                    message: format!("keys must be critical, warning or info, got {severity:?}"),
                });
            }
            if !crate::model::arn::is_topic_arn(arn) {
                return Err(Error::Config {
                    var: VAR,
                    message: format!("{severity}: must be an SNS topic ARN, got {arn:?}"),
                });
            }
        }
        Ok(AlarmNotifierConfig {
            topic_arn: env.topic_arn("NOTIFY_TOPIC_ARN")?,
            severity_topics,
            flap_threshold: env.u32_in("FLAP_THRESHOLD", 1, 1000)?.unwrap_or(4),
            flap_window_minutes: env.u32_in("FLAP_WINDOW_MINUTES", 1, 1440)?.unwrap_or(30),
        })
    }

    /// The topic for a severity.
    pub fn topic_for(&self, severity: Severity) -> &str {
        self.severity_topics
            .get(severity.as_str())
            .map(String::as_str)
            .unwrap_or(&self.topic_arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:chat";

    #[test]
    fn routes_by_severity_with_a_default() {
        let c = AlarmNotifierConfig::from(&Env::from_pairs(&[
            ("NOTIFY_TOPIC_ARN", TOPIC),
            (
                "SEVERITY_TOPICS",
                r#"{"critical": "arn:aws:sns:us-east-1:123456789012:pager"}"#,
            ),
        ]))
        .unwrap();
        assert_eq!(
            c.topic_for(Severity::Critical),
            "arn:aws:sns:us-east-1:123456789012:pager"
        );
        assert_eq!(c.topic_for(Severity::Warning), TOPIC);
        assert_eq!((c.flap_threshold, c.flap_window_minutes), (4, 30));
    }

    #[test]
    fn errors_name_the_variable() {
        for (var, value, needle) in [
            (
                "SEVERITY_TOPICS",
                r#"{"urgent": "arn:aws:sns:us-east-1:1:x"}"#,
                "critical, warning or info",
            ),
            (
                "SEVERITY_TOPICS",
                r#"{"critical": "pager"}"#,
                "SNS topic ARN",
            ),
            ("SEVERITY_TOPICS", "[]", "invalid JSON"),
            ("FLAP_THRESHOLD", "0", "from 1 to 1000"),
            ("FLAP_WINDOW_MINUTES", "forever", "whole number"),
        ] {
            let e = AlarmNotifierConfig::from(&Env::from_pairs(&[
                ("NOTIFY_TOPIC_ARN", TOPIC),
                (var, value),
            ]))
            .unwrap_err()
            .to_string();
            assert!(e.contains(var) && e.contains(needle), "{var}={value}: {e}");
        }
    }
}
