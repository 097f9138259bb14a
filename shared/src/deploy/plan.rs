//! Deciding what a push means for each configured service. Pure: no I/O. The plan's data
//! model is in `model.rs`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::config::{DeployTarget, Strategy};
pub use super::decision::*;
use crate::events::{EcrImageAction, Event};
use crate::model::arn::dns_suffix;
use crate::tags;

/// The entries of `DEPLOY_TARGETS` whose state is needed to decide: those for this repository
/// that pass every check that needs no AWS call.
pub fn targets_needing_state(push: &Event<EcrImageAction>, targets: &[DeployTarget]) -> Vec<usize> {
    targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.repository == push.detail.repository_name && precheck(push, t).is_none())
        .map(|(i, _)| i)
        .collect()
}

/// A skip that needs no AWS state, or `None` when the state must be read.
fn precheck(push: &Event<EcrImageAction>, target: &DeployTarget) -> Option<(Reason, String)> {
    let d = &push.detail;
    if !d.is_successful_push() {
        return Some((
            Reason::NotASuccessfulPush,
            format!(
                "the event is a {} with result {}, not a successful PUSH",
                d.action_type, d.result
            ),
        ));
    }
    let Some(tag) = d.image_tag.as_deref() else {
        return Some((
            Reason::NoTag,
            "the image was pushed by digest, without a tag: nothing to match".into(),
        ));
    };
    if let Some(why) = d.not_an_image() {
        return Some((Reason::NotAnImage, why));
    }
    if !target.matches_tag(tag) {
        return Some((
            Reason::NoMatchingTarget,
            format!("tag {tag} matches none of {:?}", target.tags),
        ));
    }
    None
}

/// Decides every target a push could concern. `live` holds the state read for the indices
/// [`targets_needing_state`] returned; `now` stands in for a missing event time.
pub fn plan_push(
    push: &Event<EcrImageAction>,
    targets: &[DeployTarget],
    live: &BTreeMap<usize, Live>,
    dry_run: bool,
    now: DateTime<Utc>,
) -> PushPlan {
    let d = &push.detail;
    let mut planned = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        if target.repository != d.repository_name {
            continue;
        }
        let (reason, detail, step) = match precheck(push, target) {
            Some((reason, detail)) => (reason, detail, None),
            None => decide(push, target, live.get(&i), now),
        };
        planned.push(Planned {
            target: Some(i),
            decision: Decision {
                cluster: Some(target.cluster.clone()),
                service: Some(target.service.clone()),
                action: if step.is_some() {
                    Action::Deploy
                } else {
                    Action::Skip
                },
                reason,
                detail,
                task_definition_arn: None,
                dry_run,
            },
            step,
        });
    }
    if planned.is_empty() {
        planned.push(Planned {
            target: None,
            decision: Decision {
                cluster: None,
                service: None,
                action: Action::Skip,
                reason: Reason::NoMatchingTarget,
                detail: format!(
                    "no DEPLOY_TARGETS entry is for repository {}",
                    d.repository_name
                ),
                task_definition_arn: None,
                dry_run,
            },
            step: None,
        });
    }
    PushPlan {
        event_id: push.id.clone(),
        repository: d.repository_name.clone(),
        tag: d.image_tag.clone(),
        digest: d.image_digest.clone(),
        planned,
    }
}

fn decide(
    push: &Event<EcrImageAction>,
    target: &DeployTarget,
    live: Option<&Live>,
    now: DateTime<Utc>,
) -> (Reason, String, Option<Step>) {
    let d = &push.detail;
    let tag = d.image_tag.as_deref().unwrap_or_default();
    let digest = d.image_digest.as_deref().unwrap_or_default();
    let name = format!("{}/{}", target.cluster_name(), target.service);
    let Some(service) = live.and_then(|l| l.service.as_ref()) else {
        return (
            Reason::ServiceNotFound,
            format!("service {name} does not exist: check DEPLOY_TARGETS"),
            None,
        );
    };
    if service.status != "ACTIVE" {
        return (
            Reason::ServiceNotFound,
            format!(
                "service {name} is {}, not ACTIVE: check DEPLOY_TARGETS",
                service.status
            ),
            None,
        );
    }
    // UpdateService cannot change the task definition of a service that CodeDeploy or an
    // external controller deploys (nor force a new deployment of it).
    if let Some(controller) = service.controller.as_deref().filter(|c| *c != "ECS") {
        return (
            Reason::UnsupportedDeploymentController,
            format!(
                "service {name} is deployed by the {controller} deployment controller, and UpdateService cannot change its task definition ({}): remove it from DEPLOY_TARGETS",
                if controller == "CODE_DEPLOY" {
                    "start a CodeDeploy deployment instead"
                } else {
                    "create a task set instead"
                }
            ),
            None,
        );
    }
    // Follow-tag records the image on the service's tags; a service with an old short ARN
    // (service/<name>, no cluster) cannot be tagged.
    if target.strategy == Strategy::FollowTag
        && !crate::model::arn::is_long_service_arn(&service.arn)
    {
        return (
            Reason::ShortServiceArn,
            format!(
                "service {name} has an old short ARN ({}), which cannot be tagged, and follow-tag records the image in the service's tags: migrate the service to the long ARN format (see \"Migrate an Amazon ECS short service ARN to a long ARN\" in the ECS guide), or use pin-digest",
                service.arn
            ),
            None,
        );
    }
    let td = live.and_then(|l| l.task_definition.as_ref());

    // What the service runs, and when that image was pushed.
    let (running_digest, running_pushed_at) = match target.strategy {
        Strategy::PinDigest => {
            let container_image = td.and_then(|td| {
                container_of(td, target.container.as_deref())
                    .ok()
                    .map(|(_, image)| image)
            });
            let digest_in_image = container_image
                .and_then(|image| image.split_once('@'))
                .map(|(_, d)| d.to_string());
            let tags = td.map(|td| &td.tags);
            (
                digest_in_image.or_else(|| tags.and_then(|t| t.get(tags::IMAGE_DIGEST).cloned())),
                tags.and_then(|t| t.get(tags::PUSHED_AT))
                    .and_then(|v| parse_time(v)),
            )
        }
        Strategy::FollowTag => (
            service.tags.get(tags::IMAGE_DIGEST).cloned(),
            service
                .tags
                .get(tags::PUSHED_AT)
                .and_then(|v| parse_time(v)),
        ),
    };
    if running_digest.as_deref() == Some(digest) {
        return (
            Reason::AlreadyRunning,
            format!("service {name} already runs {digest}"),
            None,
        );
    }
    if let (Some(running), Some(pushed)) = (running_pushed_at, push.time) {
        if pushed < running {
            return (
                Reason::OlderThanRunning,
                format!(
                    "this push ({}) is older than the image service {name} runs (pushed {}): a late event never rolls back",
                    pushed.to_rfc3339(),
                    running.to_rfc3339()
                ),
                None,
            );
        }
    }
    if service
        .tags
        .get(tags::DEPLOY_FREEZE)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return (
            Reason::DeployFreeze,
            format!(
                "service {name} carries {}=true: {tag} is not deployed",
                tags::DEPLOY_FREEZE
            ),
            None,
        );
    }

    let image_tags = image_tags(push, now);
    let mut left_out = String::new();
    let step = match target.strategy {
        Strategy::FollowTag => Step::FollowTag {
            service_arn: service.arn.clone(),
            tags: image_tags,
        },
        Strategy::PinDigest => {
            let Some(td) = td else {
                return (
                    Reason::ServiceNotFound,
                    format!("the task definition of service {name} could not be read"),
                    None,
                );
            };
            let container = match container_of(td, target.container.as_deref()) {
                Ok((container, _)) => container.to_string(),
                Err(why) => {
                    return (
                        Reason::ContainerNotFound,
                        format!("service {name}: {why}"),
                        None,
                    )
                }
            };
            let copy = super::copy_tags::copy_tags(&td.arn, &td.tags, image_tags);
            if !copy.left_out.is_empty() {
                left_out = format!(
                    "; tags of {} not copied (reserved by AWS, or beyond the 50-tag limit): {}",
                    td.arn,
                    copy.left_out.join(", ")
                );
            }
            let new_tags = copy.tags;
            Step::PinDigest {
                service_arn: service.arn.clone(),
                base: td.arn.clone(),
                container,
                image: format!(
                    "{}.dkr.ecr.{}.{}/{}@{}",
                    push.account,
                    push.region,
                    dns_suffix(&push.region),
                    d.repository_name,
                    digest
                ),
                tags: new_tags,
            }
        }
    };
    (
        Reason::Deployed,
        format!(
            "{}:{tag} ({}) rolls out to service {name} ({}){left_out}",
            d.repository_name,
            short_digest(digest),
            target.strategy.as_str()
        ),
        Some(step),
    )
}

/// The tags that say which image a revision or service runs.
fn image_tags(push: &Event<EcrImageAction>, now: DateTime<Utc>) -> BTreeMap<String, String> {
    let d = &push.detail;
    let pushed_at = push.time.unwrap_or(now);
    BTreeMap::from([
        (
            tags::IMAGE_TAG.to_string(),
            d.image_tag.clone().unwrap_or_default(),
        ),
        (
            tags::IMAGE_DIGEST.to_string(),
            d.image_digest.clone().unwrap_or_default(),
        ),
        (
            tags::PUSHED_AT.to_string(),
            pushed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        (tags::EVENT_ID.to_string(), push.id.clone()),
    ])
}

/// The target container: the named one, or the only one.
fn container_of<'a>(
    td: &'a LiveTaskDefinition,
    name: Option<&str>,
) -> Result<(&'a str, &'a str), String> {
    match name {
        Some(name) => td
            .containers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(n, i)| (n.as_str(), i.as_str()))
            .ok_or_else(|| {
                format!(
                    "task definition {} has no container {name} (it has {})",
                    td.arn,
                    names(td)
                )
            }),
        None => match td.containers.as_slice() {
            [(n, i)] => Ok((n.as_str(), i.as_str())),
            _ => Err(format!(
                "task definition {} has {} containers ({}): set \"container\" in DEPLOY_TARGETS, or tag the service autopilot:deploy-container=<name>",
                td.arn,
                td.containers.len(),
                names(td)
            )),
        },
    }
}

fn names(td: &LiveTaskDefinition) -> String {
    td.containers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_time(v: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `sha256:0123456789ab…` for messages.
pub fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algo, hex)) if hex.chars().count() > 12 => {
            format!("{algo}:{}", hex.chars().take(12).collect::<String>())
        }
        _ => digest.to_string(),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
