//! The outcome of a deployment: what an `ECS Deployment State Change` event says happened, and
//! the pure decision of what to read and report about it. The handler is in `report.rs`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::config::DeployTarget;
use crate::aws::Arn;
use crate::error::{Error, Result};
use crate::events::{DeploymentEventName, EcsDeploymentStateChange, Event};
use crate::tags;

/// What the event says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentOutcome {
    Completed,
    Failed,
    RollingBack,
    InProgress,
}

impl DeploymentOutcome {
    /// From the event's name and reason.
    pub fn of(change: &EcsDeploymentStateChange) -> DeploymentOutcome {
        match change.event_name {
            DeploymentEventName::Completed => DeploymentOutcome::Completed,
            DeploymentEventName::Failed => DeploymentOutcome::Failed,
            _ if change.is_rollback() => DeploymentOutcome::RollingBack,
            _ => DeploymentOutcome::InProgress,
        }
    }
}

/// One stopped task of a deployment, as the failure notice shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoppedTask {
    pub task_id: String,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    /// `name: exit code N (reason)` per container that says something.
    pub containers: Vec<String>,
}

/// The image a completed deployment runs, as far as the tags tell.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DeployedImage {
    pub task_definition: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub image: Option<String>,
}

/// What to do about a deployment state change.
#[derive(Clone, Debug, PartialEq)]
pub enum OutcomePlan<'a> {
    /// Nothing to read or say, for this reason.
    Quiet(&'static str),
    /// Read the service and the revision it runs, report the image and how long it took, and
    /// prune old revisions down to `prune` when set.
    ReportCompleted {
        target: &'a DeployTarget,
        prune: Option<usize>,
    },
    /// Read the deployment's stopped tasks and report it failed (or rolling back) with their
    /// reasons.
    ReportFailed { target: &'a DeployTarget },
}

/// The service a deployment event is about: `(service ARN, cluster name, service name)`.
pub fn service_of(change: &Event<EcsDeploymentStateChange>) -> Result<(String, String, String)> {
    let arn = change
        .resources
        .first()
        .ok_or_else(|| Error::bad_event("resources: must hold the service's ARN"))?;
    let (cluster, service) = Arn::parse(arn)
        .and_then(|a| a.ecs_service())
        .map(|(c, s)| (c.to_string(), s.to_string()))
        .ok_or_else(|| {
            Error::bad_event(format!("resources[0]: {arn:?} is not an ECS service ARN"))
        })?;
    Ok((arn.clone(), cluster, service))
}

/// Decides what to report: only about configured services, nothing while in progress (the
/// start was announced with the push), pruning only after a completed deployment outside dry
/// run.
pub fn plan<'a>(
    outcome: DeploymentOutcome,
    cluster: &str,
    service: &str,
    targets: &'a [DeployTarget],
    keep_revisions: Option<u32>,
    dry_run: bool,
) -> OutcomePlan<'a> {
    let Some(target) = targets
        .iter()
        .find(|t| t.cluster_name() == cluster && t.service == service)
    else {
        return OutcomePlan::Quiet("not-a-configured-service");
    };
    match outcome {
        DeploymentOutcome::InProgress => {
            OutcomePlan::Quiet("in-progress: the start was announced with the push")
        }
        DeploymentOutcome::Completed => OutcomePlan::ReportCompleted {
            target,
            prune: keep_revisions.filter(|_| !dry_run).map(|k| k as usize),
        },
        DeploymentOutcome::Failed | DeploymentOutcome::RollingBack => {
            OutcomePlan::ReportFailed { target }
        }
    }
}

/// The image a revision runs: tag and digest from the revision's tags (pin-digest) or the
/// service's (follow-tag), the image of the target's container (or the only one).
pub fn deployed_image(
    task_definition: &str,
    revision_tags: &BTreeMap<String, String>,
    service_tags: &BTreeMap<String, String>,
    containers: &[(String, String)],
    container: Option<&str>,
) -> DeployedImage {
    let pick = |k: &str| {
        revision_tags
            .get(k)
            .or_else(|| service_tags.get(k))
            .cloned()
    };
    DeployedImage {
        task_definition: task_definition.to_string(),
        tag: pick(tags::IMAGE_TAG),
        digest: pick(tags::IMAGE_DIGEST),
        image: containers
            .iter()
            .find(|(name, _)| container.is_none_or(|c| c == name))
            .map(|(_, image)| image.clone()),
    }
}

/// How long a deployment took; `None` when a time is missing or they are out of order.
pub fn duration(
    started: Option<DateTime<Utc>>,
    finished: Option<DateTime<Utc>>,
) -> Option<Duration> {
    started
        .zip(finished)
        .map(|(s, f)| f - s)
        .filter(|d| *d >= Duration::zero())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::Strategy;

    fn target(cluster: &str, service: &str) -> DeployTarget {
        DeployTarget {
            repository: "web".into(),
            tags: vec!["*".into()],
            cluster: cluster.into(),
            service: service.into(),
            container: Some("app".into()),
            strategy: Strategy::PinDigest,
        }
    }

    #[test]
    fn outcome_decision_table() {
        use DeploymentOutcome::*;
        let targets = [
            target("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "web"),
            target("prod", "api"),
        ];
        let completed = |prune| OutcomePlan::ReportCompleted {
            target: &targets[0],
            prune,
        };
        for (outcome, cluster, service, keep, dry, expected) in [
            (Completed, "prod", "web", None, false, completed(None)),
            (Completed, "prod", "web", Some(5), false, completed(Some(5))),
            (Completed, "prod", "web", Some(5), true, completed(None)),
            (
                Failed,
                "prod",
                "web",
                Some(5),
                false,
                OutcomePlan::ReportFailed {
                    target: &targets[0],
                },
            ),
            (
                RollingBack,
                "prod",
                "api",
                None,
                false,
                OutcomePlan::ReportFailed {
                    target: &targets[1],
                },
            ),
            (
                InProgress,
                "prod",
                "web",
                None,
                false,
                OutcomePlan::Quiet("in-progress: the start was announced with the push"),
            ),
            (
                Completed,
                "prod",
                "worker",
                None,
                false,
                OutcomePlan::Quiet("not-a-configured-service"),
            ),
            (
                Failed,
                "staging",
                "web",
                None,
                false,
                OutcomePlan::Quiet("not-a-configured-service"),
            ),
        ] {
            assert_eq!(
                plan(outcome, cluster, service, &targets, keep, dry),
                expected,
                "{outcome:?} {cluster}/{service} keep {keep:?} dry {dry}"
            );
        }
    }

    #[test]
    fn a_rollback_is_told_from_its_reason() {
        let change = |name, reason: &str| EcsDeploymentStateChange {
            event_type: None,
            event_name: name,
            deployment_id: "ecs-svc/1".into(),
            updated_at: None,
            reason: Some(reason.into()),
        };
        assert_eq!(
            DeploymentOutcome::of(&change(
                DeploymentEventName::InProgress,
                "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/0."
            )),
            DeploymentOutcome::RollingBack
        );
        assert_eq!(
            DeploymentOutcome::of(&change(
                DeploymentEventName::InProgress,
                "ECS deployment ecs-svc/1 in progress."
            )),
            DeploymentOutcome::InProgress
        );
    }

    #[test]
    fn the_image_comes_from_the_revision_then_the_service() {
        let revision = BTreeMap::from([(tags::IMAGE_TAG.to_string(), "v2".to_string())]);
        let service = BTreeMap::from([
            (tags::IMAGE_TAG.to_string(), "latest".to_string()),
            (tags::IMAGE_DIGEST.to_string(), "sha256:abc".to_string()),
        ]);
        let containers = [
            ("sidecar".to_string(), "envoy:1".to_string()),
            ("app".to_string(), "web@sha256:abc".to_string()),
        ];
        let image = deployed_image("td:7", &revision, &service, &containers, Some("app"));
        assert_eq!(image.tag.as_deref(), Some("v2"), "the revision wins");
        assert_eq!(
            image.digest.as_deref(),
            Some("sha256:abc"),
            "else the service"
        );
        assert_eq!(image.image.as_deref(), Some("web@sha256:abc"));
        let only = deployed_image("td:7", &revision, &service, &containers[..1], None);
        assert_eq!(only.image.as_deref(), Some("envoy:1"));
    }

    #[test]
    fn a_duration_needs_both_times_in_order() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().ok();
        let (a, b) = (t("2026-11-16T10:00:00Z"), t("2026-11-16T10:04:30Z"));
        assert_eq!(duration(a, b), Some(Duration::seconds(270)));
        assert_eq!(duration(b, a), None);
        assert_eq!(duration(a, None), None);
    }
}
