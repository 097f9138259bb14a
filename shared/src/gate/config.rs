//! The deploy-gate's configuration: the function's defaults from its environment (the stack's
//! parameters), which a service's own `autopilot:gate-*` tags override (fleet mode).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Env;
use crate::error::Result;
use crate::tags;

/// What a release must show before the gate lets it through a stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GateSettings {
    /// CloudWatch alarms (names) that must be `OK`.
    pub alarms: Vec<String>,
    /// Whether an alarm in `INSUFFICIENT_DATA` passes (by default it does not: a release that
    /// gets no traffic leaves its alarms without data).
    pub allow_insufficient_data: bool,
    /// Production requests the new revision must have served at a stage that follows
    /// production traffic to it (after a linear or canary step, after the full shift).
    pub min_requests: u32,
    /// Test requests it must have served before any production traffic (0: none needed, for a
    /// service without a test listener rule or smoke tests).
    pub min_test_requests: u32,
    /// Healthy targets it must have in its target group; `None`: as many as its requested tasks.
    pub min_healthy_targets: Option<u32>,
    /// The largest share of its requests that may end in a 5XX from its targets, in percent.
    pub max_error_percent: f64,
    /// How long each gated stage watches before it may pass.
    pub soak_minutes: u32,
    /// How much longer it waits, after the soak, for what is still missing (data, requests,
    /// healthy targets) before it fails the stage.
    pub patience_minutes: u32,
}

impl Default for GateSettings {
    fn default() -> Self {
        GateSettings {
            alarms: vec![],
            allow_insufficient_data: false,
            min_requests: 50,
            min_test_requests: 0,
            min_healthy_targets: None,
            max_error_percent: 1.0,
            soak_minutes: 5,
            patience_minutes: 10,
        }
    }
}

/// The longest soak or patience: a Lambda hook times out after at most 1,440 minutes.
pub const MAX_MINUTES: u32 = 720;

/// The deploy-gate's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct GateConfig {
    pub topic_arn: String,
    pub dry_run: bool,
    /// Seconds ECS waits before it invokes the gate again while a stage is watched.
    pub check_seconds: u32,
    pub defaults: GateSettings,
}

/// Alarm names from a list separated by commas or whitespace (a tag value cannot hold a comma:
/// tags use spaces).
fn names(list: &str) -> Vec<String> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl GateConfig {
    pub fn from_env() -> Result<Self> {
        Self::from(&Env::process())
    }

    pub fn from(env: &Env) -> Result<Self> {
        let d = GateSettings::default();
        Ok(GateConfig {
            topic_arn: env.topic_arn("NOTIFY_TOPIC_ARN")?,
            dry_run: env.bool_or("DRY_RUN", false)?,
            check_seconds: env.u32_in("GATE_CHECK_SECONDS", 10, 300)?.unwrap_or(30),
            defaults: GateSettings {
                alarms: env
                    .optional("GATE_ALARMS")
                    .map(|v| names(&v))
                    .unwrap_or_default(),
                allow_insufficient_data: env.bool_or("GATE_ALLOW_INSUFFICIENT_DATA", false)?,
                min_requests: env
                    .u32_in("GATE_MIN_REQUESTS", 0, 1_000_000_000)?
                    .unwrap_or(d.min_requests),
                min_test_requests: env
                    .u32_in("GATE_MIN_TEST_REQUESTS", 0, 1_000_000_000)?
                    .unwrap_or(d.min_test_requests),
                min_healthy_targets: env
                    .u32_in("GATE_MIN_HEALTHY_TARGETS", 0, 5000)?
                    .filter(|n| *n > 0),
                max_error_percent: env.f64_in(
                    "GATE_MAX_ERROR_PERCENT",
                    0.0,
                    100.0,
                    d.max_error_percent,
                )?,
                soak_minutes: env
                    .u32_in("GATE_SOAK_MINUTES", 0, MAX_MINUTES)?
                    .unwrap_or(d.soak_minutes),
                patience_minutes: env
                    .u32_in("GATE_PATIENCE_MINUTES", 0, MAX_MINUTES)?
                    .unwrap_or(d.patience_minutes),
            },
        })
    }
}

/// A service's settings: the defaults, with what its `autopilot:gate-*` tags say instead.
/// A tag whose value is wrong is not used; the second value says which and why, for the
/// stage's message.
pub fn settings_for(
    defaults: &GateSettings,
    service_tags: &BTreeMap<String, String>,
) -> (GateSettings, Vec<String>) {
    let mut s = defaults.clone();
    let mut problems = vec![];
    let mut number = |key: &str, max: u32| -> Option<u32> {
        let raw = service_tags.get(key)?.trim();
        match raw.parse::<u32>() {
            Ok(n) if n <= max => Some(n),
            _ => {
                problems.push(format!(
                    "tag {key}={raw:?} is not a whole number from 0 to {max}: the default is used"
                ));
                None
            }
        }
    };
    if let Some(n) = number(tags::GATE_MIN_REQUESTS, 1_000_000_000) {
        s.min_requests = n;
    }
    if let Some(n) = number(tags::GATE_MIN_TEST_REQUESTS, 1_000_000_000) {
        s.min_test_requests = n;
    }
    if let Some(n) = number(tags::GATE_MIN_HEALTHY_TARGETS, 5000) {
        s.min_healthy_targets = (n > 0).then_some(n);
    }
    if let Some(n) = number(tags::GATE_SOAK_MINUTES, MAX_MINUTES) {
        s.soak_minutes = n;
    }
    if let Some(n) = number(tags::GATE_PATIENCE_MINUTES, MAX_MINUTES) {
        s.patience_minutes = n;
    }
    if let Some(raw) = service_tags.get(tags::GATE_MAX_ERROR_PERCENT) {
        match raw.trim().parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => s.max_error_percent = p,
            _ => problems.push(format!(
                "tag {}={raw:?} is not a percentage from 0 to 100: the default is used",
                tags::GATE_MAX_ERROR_PERCENT
            )),
        }
    }
    if let Some(raw) = service_tags.get(tags::GATE_ALLOW_INSUFFICIENT_DATA) {
        match raw.trim().to_ascii_lowercase().as_str() {
            "true" => s.allow_insufficient_data = true,
            "false" => s.allow_insufficient_data = false,
            _ => problems.push(format!(
                "tag {}={raw:?} is neither true nor false: the default is used",
                tags::GATE_ALLOW_INSUFFICIENT_DATA
            )),
        }
    }
    if let Some(raw) = service_tags.get(tags::GATE_ALARMS) {
        s.alarms = names(raw);
    }
    (s, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::tags as tag_map;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:chat";

    #[test]
    fn the_defaults_hold_a_release_to_traffic_and_ok_alarms() {
        let c = GateConfig::from(&Env::from_pairs(&[("NOTIFY_TOPIC_ARN", TOPIC)])).unwrap();
        assert_eq!(c.check_seconds, 30);
        assert_eq!(c.defaults, GateSettings::default());
        assert!(!c.defaults.allow_insufficient_data);
        assert!(c.defaults.min_requests > 0);
    }

    #[test]
    fn the_environment_sets_every_default_and_names_a_bad_variable() {
        let env = [
            ("NOTIFY_TOPIC_ARN", TOPIC),
            ("GATE_ALARMS", "web-5xx, web-latency  web-cpu"),
            ("GATE_ALLOW_INSUFFICIENT_DATA", "true"),
            ("GATE_MIN_REQUESTS", "200"),
            ("GATE_MIN_TEST_REQUESTS", "5"),
            ("GATE_MIN_HEALTHY_TARGETS", "3"),
            ("GATE_MAX_ERROR_PERCENT", "0.5"),
            ("GATE_SOAK_MINUTES", "10"),
            ("GATE_PATIENCE_MINUTES", "20"),
            ("GATE_CHECK_SECONDS", "60"),
        ];
        let c = GateConfig::from(&Env::from_pairs(&env)).unwrap();
        assert_eq!(c.defaults.alarms, ["web-5xx", "web-latency", "web-cpu"]);
        assert!(c.defaults.allow_insufficient_data);
        assert_eq!(
            (c.defaults.min_requests, c.defaults.min_test_requests),
            (200, 5)
        );
        assert_eq!(c.defaults.min_healthy_targets, Some(3));
        assert_eq!(c.defaults.max_error_percent, 0.5);
        assert_eq!(
            (c.defaults.soak_minutes, c.defaults.patience_minutes),
            (10, 20)
        );
        assert_eq!(c.check_seconds, 60);

        let bad = [("NOTIFY_TOPIC_ARN", TOPIC), ("GATE_SOAK_MINUTES", "2000")];
        let e = GateConfig::from(&Env::from_pairs(&bad)).unwrap_err();
        assert!(e.to_string().contains("GATE_SOAK_MINUTES"), "{e}");
        let bad = [("NOTIFY_TOPIC_ARN", TOPIC), ("GATE_CHECK_SECONDS", "1")];
        let e = GateConfig::from(&Env::from_pairs(&bad)).unwrap_err();
        assert!(e.to_string().contains("GATE_CHECK_SECONDS"), "{e}");
    }

    #[test]
    fn a_services_tags_override_the_defaults_and_a_bad_one_is_named_and_ignored() {
        let tags = tag_map(&[
            ("autopilot:gate-alarms", "api-5xx api-p99"),
            ("autopilot:gate-min-requests", "1000"),
            ("autopilot:gate-soak-minutes", "ten"),
            ("autopilot:gate-allow-insufficient-data", "true"),
        ]);
        let (s, problems) = settings_for(&GateSettings::default(), &tags);
        assert_eq!(s.alarms, ["api-5xx", "api-p99"]);
        assert_eq!(s.min_requests, 1000);
        assert_eq!(s.soak_minutes, GateSettings::default().soak_minutes);
        assert!(s.allow_insufficient_data);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("autopilot:gate-soak-minutes"),
            "{problems:?}"
        );
    }
}
