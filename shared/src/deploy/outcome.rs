//! The outcome of a deployment: what an `ECS Deployment State Change` event says happened, and
//! the pure decision of what to read and report about it. The handler is in `report.rs`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::config::DeployTarget;
use crate::aws::Arn;
use crate::error::{Error, Result};
use crate::events::{DeploymentEventName, EcsDeploymentStateChange, Event};
use crate::service::ServiceSnapshot;
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
    /// Read the service, [`resolve`] what happened, and report it; after a deploy completed,
    /// prune old revisions down to `prune` when set.
    Report {
        target: &'a DeployTarget,
        prune: Option<usize>,
    },
}

/// The service a deployment event is about: `(service ARN, cluster name, service name)`. The
/// cluster is `None` for a service with an old short ARN (`service/<name>`), which names none.
pub fn service_of(
    change: &Event<EcsDeploymentStateChange>,
) -> Result<(String, Option<String>, String)> {
    let arn = change
        .resources
        .first()
        .ok_or_else(|| Error::bad_event("resources: must hold the service's ARN"))?;
    let parsed = Arn::parse(arn).filter(|a| a.service == "ecs");
    if let Some((cluster, service)) = parsed.as_ref().and_then(|a| a.ecs_service()) {
        return Ok((arn.clone(), Some(cluster.to_string()), service.to_string()));
    }
    match parsed
        .as_ref()
        .and_then(|a| a.resource.strip_prefix("service/"))
    {
        Some(name) if !name.is_empty() && !name.contains('/') => {
            Ok((arn.clone(), None, name.to_string()))
        }
        _ => Err(Error::bad_event(format!(
            "resources[0]: {arn:?} is not an ECS service ARN"
        ))),
    }
}

/// Decides whether to report: only about configured services (a short-ARN service by its name,
/// when one entry has it), nothing while a deploy is in progress (its start was announced with
/// the push), pruning only after a completed deployment outside dry run.
pub fn plan<'a>(
    outcome: DeploymentOutcome,
    cluster: Option<&str>,
    service: &str,
    targets: &'a [DeployTarget],
    keep_revisions: Option<u32>,
    dry_run: bool,
) -> OutcomePlan<'a> {
    let mut matching = targets
        .iter()
        .filter(|t| t.service == service && cluster.is_none_or(|c| t.cluster_name() == c));
    let Some(target) = matching.next() else {
        return OutcomePlan::Quiet("not-a-configured-service");
    };
    if cluster.is_none() && matching.next().is_some() {
        return OutcomePlan::Quiet(
            "short-service-arn: the event's service ARN names no cluster and several DEPLOY_TARGETS entries have that service name; migrate the service to the long ARN format",
        );
    }
    match outcome {
        DeploymentOutcome::InProgress => {
            OutcomePlan::Quiet("in-progress: the start was announced with the push")
        }
        DeploymentOutcome::Completed => OutcomePlan::Report {
            target,
            prune: keep_revisions.filter(|_| !dry_run).map(|k| k as usize),
        },
        DeploymentOutcome::Failed | DeploymentOutcome::RollingBack => OutcomePlan::Report {
            target,
            prune: None,
        },
    }
}

/// A circuit-breaker rollback, as far as it is known.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    /// The deployment that rolls back (a new PRIMARY deployment of the last good revision).
    pub deployment: String,
    /// The deployment that failed.
    pub failed: Option<String>,
    /// The deployment it rolls back to (the last good one).
    pub to: Option<String>,
}

/// What a deployment event means, once the service was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "is", rename_all = "kebab-case")]
pub enum Resolution {
    /// A deploy completed.
    Completed,
    /// A rollback completed: the service runs the last good revision again.
    RolledBack(Rollback),
    /// A deploy failed (`failed`, when known), and ECS rolls it back when `rollback` is set.
    Failed {
        failed: Option<String>,
        rollback: Option<Rollback>,
    },
}

/// The deployment id a rollout reason rolls back to:
/// `ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/123.` gives
/// `ecs-svc/123`; `None` when the reason is no rollback.
pub fn rolling_back_to(reason: &str) -> Option<String> {
    let lower = reason.to_ascii_lowercase();
    let at = lower.find("rolling back to deploymentid")?;
    let rest = reason.get(at + "rolling back to deploymentid".len()..)?;
    let id = rest
        .split_whitespace()
        .next()
        .map(|id| id.trim_end_matches('.').to_string());
    Some(id.unwrap_or_default())
}

/// Reads the rollback the service's `autopilot:rollback` tag remembers: `(rollback, failed)`.
fn remembered(service: &ServiceSnapshot) -> Option<(&str, Option<&str>)> {
    let v = service.tags.get(tags::ROLLBACK)?;
    let mut parts = v.split_whitespace();
    let rollback = parts.next()?;
    let failed = parts.next().filter(|f| *f != "-");
    Some((rollback, failed))
}

/// Tells a rollback from a roll-forward, whatever order ECS's events arrive in: the rollback's
/// own IN_PROGRESS event says it in its reason; while it runs, DescribeServices shows it as the
/// PRIMARY deployment whose `rolloutStateReason` says it, beside the FAILED one; once it has
/// completed, only what the deployer remembered (the service tag `autopilot:rollback`, written
/// by whichever of the failure and the rollback's start was handled first) tells it.
pub fn resolve(change: &EcsDeploymentStateChange, service: Option<&ServiceSnapshot>) -> Resolution {
    let id = change.deployment_id.as_str();
    let deployments = service
        .map(|s| s.deployments.as_slice())
        .unwrap_or_default();
    let memory = service.and_then(remembered);
    let rolling_back = deployments.iter().find_map(|d| {
        let to = rolling_back_to(d.rollout_state_reason.as_deref()?)?;
        Some((d.id.as_str(), to))
    });
    let failed_listed = deployments
        .iter()
        .find(|d| d.rollout_state.as_deref() == Some("FAILED") && d.id != id)
        .map(|d| d.id.clone());
    match change.event_name {
        DeploymentEventName::Failed => {
            let rollback = rolling_back
                .filter(|(r, _)| *r != id)
                .map(|(r, to)| Rollback {
                    deployment: r.to_string(),
                    failed: Some(id.to_string()),
                    to: Some(to).filter(|t| !t.is_empty()),
                })
                .or_else(|| {
                    memory
                        .filter(|(_, f)| *f == Some(id))
                        .map(|(r, _)| Rollback {
                            deployment: r.to_string(),
                            failed: Some(id.to_string()),
                            to: None,
                        })
                });
            Resolution::Failed {
                failed: Some(id.to_string()),
                rollback,
            }
        }
        DeploymentEventName::Completed => {
            let listed = rolling_back.filter(|(r, _)| *r == id);
            let remembered = memory.filter(|(r, _)| *r == id);
            if listed.is_none() && remembered.is_none() {
                return Resolution::Completed;
            }
            Resolution::RolledBack(Rollback {
                deployment: id.to_string(),
                failed: remembered
                    .and_then(|(_, f)| f.map(str::to_string))
                    .or(failed_listed),
                to: listed.map(|(_, to)| to).filter(|t| !t.is_empty()),
            })
        }
        _ => {
            // The rollback's own start (plan() keeps a roll-forward's start quiet).
            let failed = memory
                .filter(|(r, _)| *r == id)
                .and_then(|(_, f)| f.map(str::to_string))
                .or(failed_listed);
            Resolution::Failed {
                failed: failed.clone(),
                rollback: Some(Rollback {
                    deployment: id.to_string(),
                    failed,
                    to: change
                        .reason
                        .as_deref()
                        .and_then(rolling_back_to)
                        .filter(|t| !t.is_empty()),
                }),
            }
        }
    }
}

/// The `autopilot:rollback` value to write so that the rollback's completion is known for one:
/// `None` when there is nothing new to remember.
pub fn to_remember(resolution: &Resolution, service: &ServiceSnapshot) -> Option<String> {
    let Resolution::Failed {
        rollback: Some(r), ..
    } = resolution
    else {
        return None;
    };
    let value = format!("{} {}", r.deployment, r.failed.as_deref().unwrap_or("-"));
    (service.tags.get(tags::ROLLBACK) != Some(&value)).then_some(value)
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
    use crate::service::DeploymentSnapshot;

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
        let completed = |prune| OutcomePlan::Report {
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
                OutcomePlan::Report {
                    target: &targets[0],
                    prune: None,
                },
            ),
            (
                RollingBack,
                "prod",
                "api",
                None,
                false,
                OutcomePlan::Report {
                    target: &targets[1],
                    prune: None,
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
                plan(outcome, Some(cluster), service, &targets, keep, dry),
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

    fn deployment(id: &str, status: &str, state: &str, reason: &str) -> DeploymentSnapshot {
        DeploymentSnapshot {
            id: id.into(),
            status: status.into(),
            rollout_state: Some(state.into()),
            rollout_state_reason: Some(reason.into()),
            ..DeploymentSnapshot::default()
        }
    }

    #[test]
    fn rollbacks_are_resolved_from_the_event_the_listed_deployments_or_memory() {
        use DeploymentEventName::{Completed as C, Failed as F, InProgress as I};
        let event = |name, id: &str, reason: &str| EcsDeploymentStateChange {
            event_type: None,
            event_name: name,
            deployment_id: id.into(),
            updated_at: None,
            reason: Some(reason.into()),
        };
        let service =
            |deployments: Vec<DeploymentSnapshot>, memory: Option<&str>| ServiceSnapshot {
                deployments,
                tags: memory
                    .map(|m| BTreeMap::from([(tags::ROLLBACK.to_string(), m.to_string())]))
                    .unwrap_or_default(),
                ..ServiceSnapshot::default()
            };
        let running = vec![
            deployment(
                "r",
                "PRIMARY",
                "IN_PROGRESS",
                "ECS deployment circuit breaker: rolling back to deploymentId g.",
            ),
            deployment(
                "b",
                "ACTIVE",
                "FAILED",
                "ECS deployment circuit breaker: tasks failed to start.",
            ),
        ];
        let done = vec![deployment(
            "r",
            "PRIMARY",
            "COMPLETED",
            "ECS deployment r completed.",
        )];
        let rollback = |failed: Option<&str>, to: Option<&str>| Rollback {
            deployment: "r".into(),
            failed: failed.map(str::to_string),
            to: to.map(str::to_string),
        };
        let failing = |failed: Option<&str>, r: Option<Rollback>| Resolution::Failed {
            failed: failed.map(str::to_string),
            rollback: r,
        };
        let breaker = "ECS deployment circuit breaker: tasks failed to start.";
        let back = "ECS deployment circuit breaker: rolling back to deploymentId g.";
        for (change, svc, expected, remember) in [
            // The failure, with the rollback listed: both known, remembered.
            (
                event(F, "b", breaker),
                service(running.clone(), None),
                failing(Some("b"), Some(rollback(Some("b"), Some("g")))),
                Some("r b"),
            ),
            // The rollback's start first: the failed deployment is the listed FAILED one.
            (
                event(I, "r", back),
                service(running.clone(), None),
                failing(Some("b"), Some(rollback(Some("b"), Some("g")))),
                Some("r b"),
            ),
            // Already remembered: nothing new to write.
            (
                event(I, "r", back),
                service(running.clone(), Some("r b")),
                failing(Some("b"), Some(rollback(Some("b"), Some("g")))),
                None,
            ),
            // The rollback's start after the failed deployment left the list: memory says it.
            (
                event(I, "r", back),
                service(done.clone(), Some("r b")),
                failing(Some("b"), Some(rollback(Some("b"), Some("g")))),
                None,
            ),
            // Nothing says which failed.
            (
                event(I, "r", back),
                service(vec![], None),
                failing(None, Some(rollback(None, Some("g")))),
                Some("r -"),
            ),
            // A failure without rollback (the circuit breaker without rollback on).
            (
                event(F, "b", breaker),
                service(vec![deployment("b", "PRIMARY", "FAILED", breaker)], None),
                failing(Some("b"), None),
                None,
            ),
            // The rollback's completion: remembered, or still listed as rolling back.
            (
                event(C, "r", "ECS deployment r completed."),
                service(done.clone(), Some("r b")),
                Resolution::RolledBack(rollback(Some("b"), None)),
                None,
            ),
            (
                event(C, "r", "ECS deployment r completed."),
                service(running.clone(), None),
                Resolution::RolledBack(rollback(Some("b"), Some("g"))),
                None,
            ),
            // Another deployment's completion is a deploy, whatever is remembered.
            (
                event(C, "n", "ECS deployment n completed."),
                service(
                    vec![deployment(
                        "n",
                        "PRIMARY",
                        "COMPLETED",
                        "ECS deployment n completed.",
                    )],
                    Some("r b"),
                ),
                Resolution::Completed,
                None,
            ),
        ] {
            let got = resolve(&change, Some(&svc));
            assert_eq!(got, expected, "{change:?} over {:?}", svc.deployments);
            assert_eq!(to_remember(&got, &svc).as_deref(), remember, "{change:?}");
        }
        assert_eq!(rolling_back_to(back).as_deref(), Some("g"));
        assert_eq!(rolling_back_to("ECS deployment g in progress."), None);
    }

    #[test]
    fn a_short_arn_service_is_found_by_its_name_when_one_entry_has_it() {
        let event = |arn: &str| Event {
            id: "1".into(),
            detail_type: "ECS Deployment State Change".into(),
            source: "aws.ecs".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            time: None,
            resources: vec![arn.into()],
            detail: EcsDeploymentStateChange {
                event_type: None,
                event_name: DeploymentEventName::Completed,
                deployment_id: "ecs-svc/1".into(),
                updated_at: None,
                reason: None,
            },
        };
        let short = event("arn:aws:ecs:us-east-1:123456789012:service/web");
        let (_, cluster, service) = service_of(&short).expect("a short ARN is a service ARN");
        assert_eq!((cluster.as_deref(), service.as_str()), (None, "web"));
        let one = [target("prod", "web")];
        assert!(matches!(
            plan(DeploymentOutcome::Completed, None, "web", &one, None, false),
            OutcomePlan::Report { .. }
        ));
        let two = [target("prod", "web"), target("staging", "web")];
        let OutcomePlan::Quiet(why) =
            plan(DeploymentOutcome::Completed, None, "web", &two, None, false)
        else {
            panic!("ambiguous")
        };
        assert!(
            why.contains("migrate the service to the long ARN format"),
            "{why}"
        );
        assert!(service_of(&event("arn:aws:ecs:us-east-1:123456789012:task/x")).is_err());
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
