//! The deployer's configuration.

use serde::{Deserialize, Serialize};
use wildmatch::WildMatch;

use crate::config::Env;
use crate::error::{Error, Result};

/// How a new image reaches the service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Register a task-definition revision that names the image by digest, then point the
    /// service at it.
    #[default]
    PinDigest,
    /// The task definition names a mutable tag: force a new deployment so ECS resolves it again.
    FollowTag,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::PinDigest => "pin-digest",
            Strategy::FollowTag => "follow-tag",
        }
    }
}

/// One entry of `DEPLOY_TARGETS`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployTarget {
    /// The ECR repository name (not its URI).
    pub repository: String,
    /// Tag globs (`*`, `?`); a push whose tag matches any of them is deployed.
    pub tags: Vec<String>,
    /// Cluster name or ARN.
    pub cluster: String,
    /// Service name.
    pub service: String,
    /// The container whose image changes; may be left out when the task has one container.
    #[serde(default)]
    pub container: Option<String>,
    #[serde(default)]
    pub strategy: Strategy,
}

impl DeployTarget {
    /// Whether a tag matches one of the globs.
    pub fn matches_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|g| WildMatch::new(g).matches(tag))
    }

    /// The cluster's name, whether it was configured as a name or an ARN.
    pub fn cluster_name(&self) -> &str {
        cluster_name(&self.cluster)
    }
}

pub use crate::model::arn::cluster_name;

/// Everything the deployer reads from its environment.
#[derive(Clone, Debug, PartialEq)]
pub struct DeployerConfig {
    pub targets: Vec<DeployTarget>,
    /// Fleet mode (`FLEET=true`): services also follow repositories through their own tags
    /// (`autopilot:deploy`...), found with the Resource Groups Tagging API on each push.
    pub fleet: bool,
    pub topic_arn: String,
    pub dry_run: bool,
    /// Keep this many revisions registered by the deployer; `None` keeps all.
    pub keep_revisions: Option<u32>,
    /// Where pause reminders go; `None`: pauses are announced without a reminder.
    pub reminders: Option<super::pause::Reminders>,
}

impl DeployerConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from(&Env::process())
    }

    /// Reads a given environment.
    pub fn from(env: &Env<'_>) -> Result<Self> {
        const VAR: &str = "DEPLOY_TARGETS";
        let fleet = env.bool_or("FLEET", false)?;
        let targets: Vec<DeployTarget> = match env.json(VAR)? {
            Some(targets) => targets,
            None if fleet => vec![],
            None => return Err(Error::Config {
                var: VAR,
                message: "is required (unless FLEET=true): a JSON array of {repository, tags, cluster, service, container?, strategy?}".into(),
            }),
        };
        if targets.is_empty() && !fleet {
            return Err(Error::Config {
                var: VAR,
                message: "must name at least one target".into(),
            });
        }
        for (i, t) in targets.iter().enumerate() {
            let bad = |message: String| Error::Config {
                var: VAR,
                message: format!("[{i}]: {message}"),
            };
            for (field, value) in [
                ("repository", &t.repository),
                ("cluster", &t.cluster),
                ("service", &t.service),
            ] {
                if value.trim().is_empty() {
                    return Err(bad(format!("{field} must not be empty")));
                }
            }
            if t.repository.contains(':') || t.repository.contains('@') {
                return Err(bad(format!(
                    "repository must be the repository name, without a registry, tag or digest; got {:?}",
                    t.repository
                )));
            }
            if t.tags.is_empty() || t.tags.iter().any(|g| g.trim().is_empty()) {
                return Err(bad(
                    "tags must hold at least one non-empty glob, e.g. [\"latest\"] or [\"v*\"]"
                        .into(),
                ));
            }
            if t.container.as_deref().is_some_and(|c| c.trim().is_empty()) {
                return Err(bad("container must not be empty when given".into()));
            }
        }
        for (i, a) in targets.iter().enumerate() {
            if let Some(j) = targets[..i].iter().position(|b| {
                b.repository == a.repository
                    && b.service == a.service
                    && b.cluster_name() == a.cluster_name()
            }) {
                return Err(Error::Config {
                    var: VAR,
                    message: format!(
                        "[{i}] repeats [{j}]: repository {} to service {}/{} is configured twice",
                        a.repository,
                        a.cluster_name(),
                        a.service
                    ),
                });
            }
        }
        Ok(DeployerConfig {
            targets,
            fleet,
            topic_arn: env.topic_arn("NOTIFY_TOPIC_ARN")?,
            dry_run: env.bool_or("DRY_RUN", false)?,
            keep_revisions: env.u32_in("KEEP_REVISIONS", 1, 1000)?,
            reminders: reminders(env)?,
        })
    }
}

/// `PAUSE_REMINDER_ROLE_ARN`, `PAUSE_REMINDER_QUEUE_ARN` and `PAUSE_REMINDER_PREFIX` together
/// (or none: no reminders), and `PAUSE_REMINDER_MINUTES` (default 60).
fn reminders(env: &Env<'_>) -> Result<Option<super::pause::Reminders>> {
    let role = env.optional("PAUSE_REMINDER_ROLE_ARN");
    let queue = env.optional("PAUSE_REMINDER_QUEUE_ARN");
    let prefix = env.optional("PAUSE_REMINDER_PREFIX");
    let lead_minutes = env
        .u32_in("PAUSE_REMINDER_MINUTES", 5, 10_080)?
        .unwrap_or(60);
    let (role_arn, queue_arn, prefix) = match (role, queue, prefix) {
        (None, None, None) => return Ok(None),
        (Some(r), Some(q), Some(p)) => (r, q, p),
        (r, q, _) => {
            let var = if r.is_none() {
                "PAUSE_REMINDER_ROLE_ARN"
            } else if q.is_none() {
                "PAUSE_REMINDER_QUEUE_ARN"
            } else {
                "PAUSE_REMINDER_PREFIX"
            };
            return Err(Error::Config {
                var,
                message: "is needed with the other PAUSE_REMINDER_* variables (set all three, or none for no reminders)".into(),
            });
        }
    };
    // A schedule name is at most 64 of [0-9a-zA-Z-_.]; the deployer adds 16 hex digits.
    let ok = prefix.len() <= 48
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !ok {
        return Err(Error::Config {
            var: "PAUSE_REMINDER_PREFIX",
            message: format!(
                "must be at most 48 of [0-9a-zA-Z-_.] (a schedule name with 16 more), got {prefix:?}"
            ),
        });
    }
    if !role_arn.starts_with("arn:")
        || !queue_arn.starts_with("arn:")
        || !queue_arn.ends_with(".fifo")
    {
        return Err(Error::Config {
            var: if role_arn.starts_with("arn:") {
                "PAUSE_REMINDER_QUEUE_ARN"
            } else {
                "PAUSE_REMINDER_ROLE_ARN"
            },
            message: "must be an ARN (the queue the deployer reads, a FIFO queue)".into(),
        });
    }
    Ok(Some(super::pause::Reminders {
        role_arn,
        queue_arn,
        prefix,
        lead_minutes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:chat";

    fn config(targets: &str) -> Result<DeployerConfig> {
        DeployerConfig::from(&Env::from_pairs(&[
            ("DEPLOY_TARGETS", targets),
            ("NOTIFY_TOPIC_ARN", TOPIC),
        ]))
    }

    #[test]
    fn pause_reminders_need_all_three_variables_or_none() {
        let targets = r#"[{"repository":"web","tags":["v*"],"cluster":"prod","service":"web"}]"#;
        let none = config(targets).unwrap();
        assert_eq!(none.reminders, None);
        let role = "arn:aws:iam::123456789012:role/reminders";
        let queue = "arn:aws:sqs:us-east-1:123456789012:deployer.fifo";
        let all = DeployerConfig::from(&Env::from_pairs(&[
            ("DEPLOY_TARGETS", targets),
            ("NOTIFY_TOPIC_ARN", TOPIC),
            ("PAUSE_REMINDER_ROLE_ARN", role),
            ("PAUSE_REMINDER_QUEUE_ARN", queue),
            ("PAUSE_REMINDER_PREFIX", "shop-prod-pause-"),
        ]))
        .unwrap()
        .reminders
        .unwrap();
        assert_eq!(
            (all.lead_minutes, all.prefix.as_str()),
            (60, "shop-prod-pause-")
        );
        let e = DeployerConfig::from(&Env::from_pairs(&[
            ("DEPLOY_TARGETS", targets),
            ("NOTIFY_TOPIC_ARN", TOPIC),
            ("PAUSE_REMINDER_ROLE_ARN", role),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("PAUSE_REMINDER_QUEUE_ARN"), "{e}");
        let e = DeployerConfig::from(&Env::from_pairs(&[
            ("DEPLOY_TARGETS", targets),
            ("NOTIFY_TOPIC_ARN", TOPIC),
            ("PAUSE_REMINDER_ROLE_ARN", role),
            ("PAUSE_REMINDER_QUEUE_ARN", queue),
            ("PAUSE_REMINDER_PREFIX", "a name with spaces"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("PAUSE_REMINDER_PREFIX"), "{e}");
    }

    #[test]
    fn reads_targets_with_defaults() {
        let c = config(r#"[{"repository":"web","tags":["v*"],"cluster":"prod","service":"web"}]"#)
            .unwrap();
        assert_eq!(c.targets[0].strategy, Strategy::PinDigest);
        assert_eq!(c.targets[0].container, None);
        assert!(!c.dry_run);
        assert_eq!(c.keep_revisions, None);
        assert!(c.targets[0].matches_tag("v1.2.3"));
        assert!(!c.targets[0].matches_tag("latest"));
    }

    #[test]
    fn globs_use_star_and_question_mark() {
        let c =
            config(r#"[{"repository":"r","tags":["main-*","rc?"],"cluster":"c","service":"s"}]"#)
                .unwrap();
        let t = &c.targets[0];
        assert!(t.matches_tag("main-abc123"));
        assert!(t.matches_tag("rc1"));
        assert!(!t.matches_tag("rc10"));
        assert!(!t.matches_tag("feature-x"));
    }

    #[test]
    fn errors_name_the_variable_and_the_entry() {
        let cases = [
            ("not json", "DEPLOY_TARGETS"),
            ("[]", "at least one"),
            (
                r#"[{"repository":"r","tags":[],"cluster":"c","service":"s"}]"#,
                "[0]: tags",
            ),
            (
                r#"[{"repository":"r","tags":["x"],"cluster":"c","service":"s","strategy":"yolo"}]"#,
                "[0].strategy",
            ),
            (
                r#"[{"repository":"r","tags":["x"],"cluster":"c","service":"s","stratgy":"pin-digest"}]"#,
                "stratgy",
            ),
            (
                r#"[{"repository":"1.dkr.ecr.us-east-1.amazonaws.com/r:latest","tags":["x"],"cluster":"c","service":"s"}]"#,
                "repository name",
            ),
            (
                r#"[{"repository":"r","tags":["x"],"cluster":"c","service":"s"},{"repository":"r","tags":["y"],"cluster":"arn:aws:ecs:us-east-1:1:cluster/c","service":"s"}]"#,
                "configured twice",
            ),
        ];
        for (value, needle) in cases {
            let e = config(value).unwrap_err().to_string();
            assert!(
                e.contains("DEPLOY_TARGETS") && e.contains(needle),
                "{value}: {e}"
            );
        }
        let e = DeployerConfig::from(&Env::from_pairs(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("DEPLOY_TARGETS"), "{e}");
        let e = DeployerConfig::from(&Env::from_pairs(&[(
            "DEPLOY_TARGETS",
            r#"[{"repository":"r","tags":["x"],"cluster":"c","service":"s"}]"#,
        )]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("NOTIFY_TOPIC_ARN"), "{e}");
        let e = DeployerConfig::from(&Env::from_pairs(&[
            (
                "DEPLOY_TARGETS",
                r#"[{"repository":"r","tags":["x"],"cluster":"c","service":"s"}]"#,
            ),
            ("NOTIFY_TOPIC_ARN", TOPIC),
            ("KEEP_REVISIONS", "0"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("KEEP_REVISIONS"), "{e}");
    }

    #[test]
    fn cluster_names_come_out_of_arns() {
        assert_eq!(cluster_name("arn:aws:ecs:us-east-1:1:cluster/prod"), "prod");
        assert_eq!(cluster_name("prod"), "prod");
    }
}
