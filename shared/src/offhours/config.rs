//! The off-hours function's configuration.

use serde::{Deserialize, Serialize};

use super::calendar::{parse_holidays, parse_windows, Calendar, Zone};
use crate::config::Env;
use crate::error::{Error, Result};

/// A service named in `TARGETS`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRef {
    pub cluster: String,
    pub service: String,
}

/// Tag selection: services in `clusters` whose tag `key` is `value` (read trimmed and whatever
/// its case; see [`TagSelection::selects`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagSelection {
    pub key: String,
    pub value: String,
    /// Where to look; empty: every cluster of the account and region (one paginated
    /// Resource Groups Tagging API GetResources, not ListClusters x ListServices).
    pub clusters: Vec<String>,
}

/// What a service's value of the selection tag says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selected {
    /// The value selects it.
    Yes,
    /// Another value: not selected, and nothing wrong (a custom key's other values).
    No,
    /// A value off-hours cannot read (its own `autopilot:` key with another value): not
    /// selected, and said once in the service's thread.
    Bad,
}

impl TagSelection {
    /// What `value` of the tag `key` says. The value selects whatever its case and surrounding
    /// spaces (`Enabled`, `enabled `); for an `autopilot:` key (the default
    /// `autopilot:off-hours`), whose values are the project's, any other value is a mistake to
    /// report, never silently ignored.
    pub fn selects(&self, value: &str) -> Selected {
        if value.trim().eq_ignore_ascii_case(&self.value) {
            Selected::Yes
        } else if self.key.starts_with(crate::tags::PREFIX) {
            Selected::Bad
        } else {
            Selected::No
        }
    }
}

/// The default selection tag.
pub const DEFAULT_SELECT_TAG: (&str, &str) = (crate::tags::OFF_HOURS, "enabled");

/// Services transitioning at once by default: ten services' calls (about five each, mostly
/// UpdateService, RegisterScalableTarget and TagResource) stay well inside ECS's and Application
/// Auto Scaling's request rates, and a throttled call is retried with backoff.
pub const DEFAULT_CONCURRENCY: u32 = 10;

/// Everything off-hours reads from its environment.
#[derive(Clone, Debug, PartialEq)]
pub struct OffHoursConfig {
    pub calendar: Calendar,
    pub targets: Vec<ServiceRef>,
    pub selection: Option<TagSelection>,
    pub topic_arn: String,
    pub dry_run: bool,
    /// Minutes between ticks (the schedule's period): a tick less than this after a calendar
    /// boundary is the first after it, the one that announces what only needs saying once.
    pub tick_minutes: u32,
    /// How many services transition at the same time (each one's calls stay in order).
    pub concurrency: usize,
    /// When set, only the alarms whose name starts with it are muted and tagged (the stack
    /// scope's role may touch only `<ProjectName>-<Environment>-*`); the others naming a
    /// service are left alone. Alarms that drive auto scaling are never touched.
    pub alarm_prefix: Option<String>,
}

impl OffHoursConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from(&Env::process())
    }

    /// Reads a given environment.
    pub fn from(env: &Env<'_>) -> Result<Self> {
        let cfg = |var: &'static str| move |message: String| Error::Config { var, message };
        let windows = parse_windows(&env.required("ON_HOURS")?).map_err(cfg("ON_HOURS"))?;
        let tz_name = env.optional("TIMEZONE").unwrap_or_else(|| "UTC".into());
        let tz = Zone::named(tz_name.trim()).ok_or_else(|| Error::Config {
            var: "TIMEZONE",
            message: format!("{tz_name:?} is not an IANA timezone, e.g. Europe/Berlin"),
        })?;
        let holidays = parse_holidays(&env.optional("HOLIDAYS").unwrap_or_default())
            .map_err(cfg("HOLIDAYS"))?;
        let targets: Vec<ServiceRef> = env.json("TARGETS")?.unwrap_or_default();
        if let Some((i, _)) = targets
            .iter()
            .enumerate()
            .find(|(_, t)| t.cluster.trim().is_empty() || t.service.trim().is_empty())
        {
            return Err(Error::Config {
                var: "TARGETS",
                message: format!("[{i}]: cluster and service must not be empty"),
            });
        }
        let clusters: Vec<String> = env
            .optional("CLUSTERS")
            .unwrap_or_default()
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        let select = env.optional("SELECT_TAG");
        // SELECT_TAG without CLUSTERS: the tagged services of every cluster of the account.
        let selection = match (select, clusters.is_empty()) {
            (None, true) => None,
            (s, _) => {
                let (key, value) = match s {
                    None => (
                        DEFAULT_SELECT_TAG.0.to_string(),
                        DEFAULT_SELECT_TAG.1.to_string(),
                    ),
                    Some(s) => match s.split_once('=') {
                        Some((k, v)) if !k.trim().is_empty() => {
                            (k.trim().to_string(), v.trim().to_string())
                        }
                        _ => {
                            return Err(Error::Config {
                                var: "SELECT_TAG",
                                message: format!(
                                    "must be KEY=VALUE, e.g. {}={}; got {s:?}",
                                    DEFAULT_SELECT_TAG.0, DEFAULT_SELECT_TAG.1
                                ),
                            })
                        }
                    },
                };
                Some(TagSelection {
                    key,
                    value,
                    clusters,
                })
            }
        };
        let alarm_prefix = env.optional("ALARM_PREFIX");
        if let Some(p) = &alarm_prefix {
            // CloudWatch alarm names are 1 to 255 characters: a longer prefix matches nothing.
            if p.chars().count() > 255 || p.trim() != p {
                return Err(Error::Config {
                    var: "ALARM_PREFIX",
                    message: format!(
                        "must be the start of alarm names (at most 255 characters, no surrounding spaces), e.g. shop-prod-; got {p:?}"
                    ),
                });
            }
        }
        if targets.is_empty() && selection.is_none() {
            return Err(Error::Config {
                var: "TARGETS",
                message: "name services in TARGETS, or clusters to search in CLUSTERS (with SELECT_TAG), or both".into(),
            });
        }
        Ok(OffHoursConfig {
            calendar: Calendar {
                windows,
                tz,
                holidays,
            },
            targets,
            selection,
            topic_arn: env.topic_arn("NOTIFY_TOPIC_ARN")?,
            dry_run: env.bool_or("DRY_RUN", false)?,
            tick_minutes: env.u32_in("TICK_MINUTES", 1, 60)?.unwrap_or(15),
            concurrency: env
                .u32_in("CONCURRENCY", 1, 50)?
                .unwrap_or(DEFAULT_CONCURRENCY) as usize,
            alarm_prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:chat";

    #[test]
    fn reads_a_full_configuration() {
        let c = OffHoursConfig::from(&Env::from_pairs(&[
            ("ON_HOURS", "Mon-Fri 07:00-19:00"),
            ("TIMEZONE", "Europe/Berlin"),
            ("HOLIDAYS", "2026-12-24"),
            ("TARGETS", r#"[{"cluster": "dev", "service": "web"}]"#),
            ("CLUSTERS", "dev, staging"),
            ("NOTIFY_TOPIC_ARN", TOPIC),
        ]))
        .unwrap();
        assert_eq!(c.targets.len(), 1);
        let sel = c.selection.unwrap();
        assert_eq!((sel.key.as_str(), sel.value.as_str()), DEFAULT_SELECT_TAG);
        assert_eq!(sel.clusters, ["dev", "staging"]);
    }

    #[test]
    fn the_selection_value_is_read_trimmed_and_whatever_its_case_and_other_values_of_its_own_key_are_bad(
    ) {
        let ours = TagSelection {
            key: DEFAULT_SELECT_TAG.0.into(),
            value: DEFAULT_SELECT_TAG.1.into(),
            clusters: vec![],
        };
        for (v, expected) in [
            ("enabled", Selected::Yes),
            ("Enabled", Selected::Yes),
            ("enabled ", Selected::Yes),
            ("ENABLED", Selected::Yes),
            ("yes", Selected::Bad),
            ("", Selected::Bad),
            ("enable", Selected::Bad),
        ] {
            assert_eq!(ours.selects(v), expected, "{v:?}");
        }
        let team = TagSelection {
            key: "team".into(),
            value: "shop".into(),
            clusters: vec![],
        };
        assert_eq!(team.selects("Shop"), Selected::Yes);
        assert_eq!(
            team.selects("billing"),
            Selected::No,
            "another team's service"
        );
    }

    #[test]
    fn alarm_prefix_is_optional_and_checked() {
        let base = [
            ("ON_HOURS", "Mon-Fri 07:00-19:00"),
            ("NOTIFY_TOPIC_ARN", TOPIC),
            ("CLUSTERS", "dev"),
        ];
        let c = OffHoursConfig::from(&Env::from_pairs(&base)).expect("config");
        assert_eq!(c.alarm_prefix, None);
        let mut with = base.to_vec();
        with.push(("ALARM_PREFIX", "shop-prod-"));
        let c = OffHoursConfig::from(&Env::from_pairs(&with)).expect("config");
        assert_eq!(c.alarm_prefix.as_deref(), Some("shop-prod-"));
        let long = "a".repeat(256);
        for bad in [" shop-prod-", long.as_str()] {
            let mut with = base.to_vec();
            with.push(("ALARM_PREFIX", bad));
            let e = OffHoursConfig::from(&Env::from_pairs(&with))
                .unwrap_err()
                .to_string();
            assert!(e.contains("ALARM_PREFIX"), "{e}");
        }
    }

    #[test]
    fn select_tag_without_clusters_selects_in_every_cluster_of_the_account() {
        let c = OffHoursConfig::from(&Env::from_pairs(&[
            ("ON_HOURS", "Mon-Fri 07:00-19:00"),
            ("NOTIFY_TOPIC_ARN", TOPIC),
            ("SELECT_TAG", "team=shop"),
        ]))
        .expect("config");
        let sel = c.selection.expect("a selection");
        assert_eq!((sel.key.as_str(), sel.value.as_str()), ("team", "shop"));
        assert!(sel.clusters.is_empty());
    }

    #[test]
    fn errors_point_at_the_bad_part() {
        let base = [
            ("NOTIFY_TOPIC_ARN", TOPIC),
            ("TARGETS", r#"[{"cluster": "dev", "service": "web"}]"#),
        ];
        for (var, value, needle) in [
            ("ON_HOURS", "Mon-Fri 7-19", "7-19"),
            ("TIMEZONE", "Mars/Olympus", "IANA"),
            ("HOLIDAYS", "tomorrow", "tomorrow"),
            ("SELECT_TAG", "enabled", "KEY=VALUE"),
            ("TICK_MINUTES", "90", "60"),
            ("TARGETS", r#"[{"cluster": "dev"}]"#, "service"),
        ] {
            let mut pairs = vec![("ON_HOURS", "Mon-Fri 07:00-19:00")];
            pairs.extend(base.iter().filter(|(k, _)| *k != var));
            pairs.retain(|(k, _)| *k != var);
            pairs.push((var, value));
            let e = OffHoursConfig::from(&Env::from_pairs(&pairs))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{var}={value}: {e}");
        }
        let e = OffHoursConfig::from(&Env::from_pairs(&[
            ("ON_HOURS", "Mon-Fri 07:00-19:00"),
            ("NOTIFY_TOPIC_ARN", TOPIC),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("TARGETS") && e.contains("CLUSTERS"), "{e}");
        let e = OffHoursConfig::from(&Env::from_pairs(&[
            ("ON_HOURS", "Mon-Fri 07:00-19:00"),
            ("NOTIFY_TOPIC_ARN", TOPIC),
            ("CLUSTERS", "dev"),
            ("SELECT_TAG", "novalue"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("SELECT_TAG") && e.contains("KEY=VALUE"), "{e}");
    }
}
