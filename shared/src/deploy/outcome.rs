//! The outcome of a deployment: what an `ECS Deployment State Change` event says happened, and
//! the pure decision of what to read and report about it. The handler is in `report.rs`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::config::{DeployTarget, Strategy};
use crate::error::{Error, Result};
use crate::events::{DeploymentEventName, EcsDeploymentStateChange, Event};
use crate::model::arn::Arn;
use crate::model::service::ServiceSnapshot;
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
    /// A deployment started that the deployer may not have made (a `sam deploy`, another
    /// tool, a person): read the service and the revisions it lists, and say in the service's
    /// thread if it replaces a revision the deployer pinned ([`check_replacement`]).
    CheckReplaced { target: &'a DeployTarget },
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
/// when one entry has it); a deploy's start only to check, for a pin-digest service, that it
/// does not replace the deployer's pinned release unannounced (the deployer's own start was
/// announced with the push); pruning only after a completed deployment outside dry run.
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
        DeploymentOutcome::InProgress if target.strategy == Strategy::PinDigest => {
            OutcomePlan::CheckReplaced { target }
        }
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

/// A deployment that puts a revision the autopilot did not register (a `sam deploy` or any
/// other tool's) in place of one the deployer pinned to a pushed digest: what replaced what.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replacement {
    pub deployment: String,
    /// The revision rolling out, and the image it names for the target's container.
    pub by: DeployedImage,
    /// The deployer's pinned revision it replaces, and the release that revision ran.
    pub replaced: DeployedImage,
}

/// A revision read for [`check_replacement`]: its tags and `(container, image)`s.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RevisionRead {
    pub tags: BTreeMap<String, String>,
    pub containers: Vec<(String, String)>,
}

/// What a deployment's start means for the deployer's pinned release.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "is", rename_all = "kebab-case")]
pub enum ReplacementCheck {
    /// Nothing to say, for this reason.
    Quiet { reason: &'static str },
    /// Say in the service's thread what replaced what.
    Replaced(Replacement),
}

/// Whether the deployer registered a revision (its `autopilot:registered-by` tag).
pub fn registered_by_deployer(tags: &BTreeMap<String, String>) -> bool {
    tags.get(tags::REGISTERED_BY).map(String::as_str) == Some("deployer")
}

/// The revisions [`check_replacement`] needs, as `(the deployment's, the others listed beside
/// it, newest first)`: nothing when the deployment is no longer listed or replaces nothing.
pub fn replacement_reads(
    change: &EcsDeploymentStateChange,
    service: Option<&ServiceSnapshot>,
) -> Option<(String, Vec<String>)> {
    let service = service?;
    let deployment = service.deployment(&change.deployment_id)?;
    let new = if deployment.task_definition.is_empty() {
        service.task_definition.clone()
    } else {
        deployment.task_definition.clone()
    };
    let mut others: Vec<&crate::model::service::DeploymentSnapshot> = service
        .deployments
        .iter()
        .filter(|d| d.id != change.deployment_id && !d.task_definition.is_empty())
        .filter(|d| d.task_definition != new)
        .collect();
    others.sort_by_key(|d| std::cmp::Reverse(d.created_at));
    let mut old: Vec<String> = vec![];
    for d in others {
        if !old.contains(&d.task_definition) {
            old.push(d.task_definition.clone());
        }
    }
    Some((new, old))
}

/// Decides whether a deployment's start replaces the deployer's pinned release without the
/// deployer: the deployment rolls out a revision the deployer did not register, while a
/// revision it did register (and pinned to a digest) still runs beside it (an ACTIVE
/// deployment, listed until its tasks are replaced). The deployer does not re-pin: the
/// replacement may be meant (a rollback through `ImageTag`, a change to run exactly as the
/// template says), and a second deployment would fight the tool that made the first; it says
/// what replaced what, in the service's thread, so no release is lost unannounced. Quiet when
/// the new revision runs the release's digest anyway. `read` holds what [`replacement_reads`]
/// named (the others may be missing when the new one is the deployer's). Pure.
pub fn check_replacement(
    change: &EcsDeploymentStateChange,
    service: Option<&ServiceSnapshot>,
    read: &BTreeMap<String, RevisionRead>,
    container: Option<&str>,
) -> ReplacementCheck {
    let quiet = |reason| ReplacementCheck::Quiet { reason };
    let Some((new, old)) = replacement_reads(change, service) else {
        return quiet("deployment-not-listed: the service no longer lists it");
    };
    let Some(new_read) = read.get(&new) else {
        return quiet("revision-not-read: the deployment's revision could not be read");
    };
    if registered_by_deployer(&new_read.tags) {
        return quiet("deployers-own: the deployer registered the revision, its push announced it");
    }
    if old.is_empty() {
        return quiet("nothing-replaced: no other revision is listed beside the deployment");
    }
    let Some((pinned, pinned_read)) = old.iter().find_map(|arn| {
        Some((arn, read.get(arn)?)).filter(|(_, r)| registered_by_deployer(&r.tags))
    }) else {
        return quiet("no-release-replaced: the revisions it replaces are not the deployer's");
    };
    let none = BTreeMap::new();
    let by = deployed_image(&new, &new_read.tags, &none, &new_read.containers, container);
    let replaced = deployed_image(
        pinned,
        &pinned_read.tags,
        &none,
        &pinned_read.containers,
        container,
    );
    let runs_the_release = match (&replaced.digest, &by.image) {
        (Some(digest), Some(image)) => image.ends_with(&format!("@{digest}")),
        _ => false,
    };
    if runs_the_release {
        return quiet("same-release: the new revision pins the release's digest too");
    }
    ReplacementCheck::Replaced(Replacement {
        deployment: change.deployment_id.clone(),
        by,
        replaced,
    })
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
    use chrono::TimeZone;

    use super::*;
    use crate::model::service::DeploymentSnapshot;

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
        let mut edge = target("prod", "edge");
        edge.strategy = Strategy::FollowTag;
        let targets = [
            target("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "web"),
            target("prod", "api"),
            edge,
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
                OutcomePlan::CheckReplaced {
                    target: &targets[0],
                },
            ),
            (
                InProgress,
                "prod",
                "edge",
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
    fn a_revision_the_autopilot_did_not_register_replacing_a_pinned_one_is_told() {
        const STACK: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:9";
        const PINNED: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8";
        const OLDER: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:5";
        const RELEASE: &str =
            "sha256:0c1f6e7bb4b4f7e2a1d3c5b7e9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7";
        let at = |m: u32| {
            chrono::Utc
                .with_ymd_and_hms(2026, 11, 16, 10, m, 0)
                .single()
        };
        let listed = |id: &str, status: &str, td: &str, m: u32| DeploymentSnapshot {
            id: id.into(),
            status: status.into(),
            task_definition: td.into(),
            created_at: at(m),
            ..DeploymentSnapshot::default()
        };
        let service = |deployments: Vec<DeploymentSnapshot>| ServiceSnapshot {
            task_definition: STACK.into(),
            deployments,
            ..ServiceSnapshot::default()
        };
        let start = EcsDeploymentStateChange {
            event_type: None,
            event_name: DeploymentEventName::InProgress,
            deployment_id: "ecs-svc/new".into(),
            updated_at: None,
            reason: Some("ECS deployment ecs-svc/new in progress.".into()),
        };
        let ours = |tag: &str| RevisionRead {
            tags: BTreeMap::from([
                (tags::REGISTERED_BY.to_string(), "deployer".to_string()),
                (tags::IMAGE_TAG.to_string(), tag.to_string()),
                (tags::IMAGE_DIGEST.to_string(), RELEASE.to_string()),
            ]),
            containers: vec![("app".into(), format!("r/web@{RELEASE}"))],
        };
        let theirs = |image: &str| RevisionRead {
            tags: BTreeMap::from([(
                "aws:cloudformation:stack-name".to_string(),
                "shop".to_string(),
            )]),
            containers: vec![("app".into(), image.into())],
        };
        let sam_over_pinned = vec![
            listed("ecs-svc/new", "PRIMARY", STACK, 30),
            listed("ecs-svc/old", "ACTIVE", PINNED, 10),
        ];
        let replaced = ReplacementCheck::Replaced(Replacement {
            deployment: "ecs-svc/new".into(),
            by: DeployedImage {
                task_definition: STACK.into(),
                tag: None,
                digest: None,
                image: Some("r/web:latest".into()),
            },
            replaced: DeployedImage {
                task_definition: PINNED.into(),
                tag: Some("v1.4.2".into()),
                digest: Some(RELEASE.into()),
                image: Some(format!("r/web@{RELEASE}")),
            },
        });
        let quiet = |reason: &str| reason.split(':').next().unwrap_or_default().to_string();
        for (case, deployments, read, expected) in [
            (
                "sam deploy over the pinned release",
                sam_over_pinned.clone(),
                vec![(STACK, theirs("r/web:latest")), (PINNED, ours("v1.4.2"))],
                Ok(replaced.clone()),
            ),
            (
                "the newest of ours among several listed is named",
                vec![
                    listed("ecs-svc/new", "PRIMARY", STACK, 30),
                    listed("ecs-svc/older", "ACTIVE", OLDER, 5),
                    listed("ecs-svc/old", "ACTIVE", PINNED, 10),
                ],
                vec![
                    (STACK, theirs("r/web:latest")),
                    (PINNED, ours("v1.4.2")),
                    (OLDER, theirs("r/web:v1")),
                ],
                Ok(replaced.clone()),
            ),
            (
                "the deployer's own deploy",
                vec![
                    listed("ecs-svc/new", "PRIMARY", PINNED, 30),
                    listed("ecs-svc/old", "ACTIVE", OLDER, 10),
                ],
                vec![(PINNED, ours("v1.4.2"))],
                Err("deployers-own"),
            ),
            (
                "the stack's revision over the stack's (no release pinned yet)",
                vec![
                    listed("ecs-svc/new", "PRIMARY", STACK, 30),
                    listed("ecs-svc/old", "ACTIVE", OLDER, 10),
                ],
                vec![(STACK, theirs("r/web:latest")), (OLDER, theirs("r/web:v1"))],
                Err("no-release-replaced"),
            ),
            (
                "a forced deployment of the same revision",
                vec![
                    listed("ecs-svc/new", "PRIMARY", STACK, 30),
                    listed("ecs-svc/old", "ACTIVE", STACK, 10),
                ],
                vec![(STACK, theirs("r/web:latest"))],
                Err("nothing-replaced"),
            ),
            (
                "the pinned deployment already left the list",
                vec![listed("ecs-svc/new", "PRIMARY", STACK, 30)],
                vec![(STACK, theirs("r/web:latest"))],
                Err("nothing-replaced"),
            ),
            (
                "a person pinned the release's digest by hand",
                sam_over_pinned.clone(),
                vec![
                    (STACK, theirs(&format!("r/web@{RELEASE}"))),
                    (PINNED, ours("v1.4.2")),
                ],
                Err("same-release"),
            ),
            (
                "the deployment is no longer listed",
                vec![listed("ecs-svc/later", "PRIMARY", STACK, 40)],
                vec![],
                Err("deployment-not-listed"),
            ),
            (
                "the new revision was not read",
                sam_over_pinned.clone(),
                vec![(PINNED, ours("v1.4.2"))],
                Err("revision-not-read"),
            ),
        ] {
            let read: BTreeMap<String, RevisionRead> =
                read.into_iter().map(|(a, r)| (a.to_string(), r)).collect();
            let svc = service(deployments);
            let got = check_replacement(&start, Some(&svc), &read, Some("app"));
            match (&got, expected) {
                (ReplacementCheck::Quiet { reason }, Err(want)) => {
                    assert_eq!(quiet(reason), want, "{case}")
                }
                (got, Ok(want)) => assert_eq!(got, &want, "{case}"),
                (got, Err(want)) => panic!("{case}: {got:?}, wanted quiet {want}"),
            }
        }
        assert_eq!(
            check_replacement(&start, None, &BTreeMap::new(), None),
            ReplacementCheck::Quiet {
                reason: "deployment-not-listed: the service no longer lists it"
            }
        );
        // What is read: the deployment's revision, then the others listed, newest first.
        let svc = service(vec![
            listed("ecs-svc/new", "PRIMARY", STACK, 30),
            listed("ecs-svc/older", "ACTIVE", OLDER, 5),
            listed("ecs-svc/old", "ACTIVE", PINNED, 10),
        ]);
        assert_eq!(
            replacement_reads(&start, Some(&svc)),
            Some((
                STACK.to_string(),
                vec![PINNED.to_string(), OLDER.to_string()]
            ))
        );
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
