//! The deployer's chat notifications. All of one service share its ARN as thread id, so the
//! start, the outcome and any failure of a deploy read as one thread.

use chrono::Duration;

use super::config::DeployTarget;
use super::outcome::{DeployedImage, DeploymentOutcome, StoppedTask};
use super::plan::{short_digest, Decision, Reason};
use crate::aws::arn::{ecs_service_arn, ecs_service_url, ecs_task_url};
use crate::error::Error;
use crate::events::{EcrImageAction, EcsDeploymentStateChange, Event};
use crate::notify::{link, neutralise, Notification, Severity};
use crate::tags;

fn base(
    id: String,
    severity: Severity,
    title: String,
    description: String,
    service_arn: String,
    event_type: &str,
    target: &DeployTarget,
) -> Notification {
    Notification::new(id, severity, title, service_arn.clone())
        .describe(description)
        .event_type(event_type)
        .keywords([
            target.cluster_name().to_string(),
            target.service.clone(),
            "deploy".into(),
        ])
        .resources([service_arn])
        .facts([
            ("cluster".to_string(), target.cluster_name().to_string()),
            ("service".to_string(), target.service.clone()),
        ])
}

/// A push decision that chat must hear of: a deploy, or a skip that needs a person.
pub(super) fn push_decision(
    push: &Event<EcrImageAction>,
    target: &DeployTarget,
    decision: &Decision,
) -> Notification {
    let d = &push.detail;
    let tag = neutralise(d.image_tag.as_deref().unwrap_or("?"));
    let digest = d.image_digest.clone().unwrap_or_default();
    let cluster = target.cluster_name();
    let service = &target.service;
    let service_arn = ecs_service_arn(&push.region, &push.account, cluster, service);
    let console = link(
        &ecs_service_url(&push.region, cluster, service),
        "the service's deployments",
    );
    let (severity, title, next_steps) = match decision.reason {
        Reason::Deployed => (
            Severity::Info,
            format!("Deploying {}:{tag} to {cluster}/{service}", d.repository_name),
            vec![
                format!("Follow the rollout in {console}; the outcome follows in this thread."),
                format!("To hold deploys back, tag the service {}=true.", tags::DEPLOY_FREEZE),
            ],
        ),
        Reason::DeployFreeze => (
            Severity::Warning,
            format!("Deploy of {}:{tag} to {cluster}/{service} held back: deploy freeze", d.repository_name),
            vec![format!(
                "Remove the tag {} from the service (or set it to false), then push the tag again.",
                tags::DEPLOY_FREEZE
            )],
        ),
        _ => (
            Severity::Critical,
            format!("Cannot deploy {}:{tag} to {cluster}/{service}", d.repository_name),
            vec![
                "Check the entry in the deployer's DEPLOY_TARGETS: cluster, service and container must name what exists.".into(),
                format!("Look at {console}."),
            ],
        ),
    };
    let mut n = base(
        format!(
            "deploy:{cluster}/{service}:{digest}:{}",
            reason_code(decision.reason)
        ),
        severity,
        title,
        format!(
            "{}\nImage `{}:{tag}` (`{}`), strategy {}.",
            neutralise(&decision.detail),
            d.repository_name,
            short_digest(&digest),
            target.strategy.as_str()
        ),
        service_arn,
        if decision.reason == Reason::Deployed {
            "deploy-started"
        } else {
            "deploy-skipped"
        },
        target,
    );
    n = n.next_steps(next_steps).dry_run(decision.dry_run);
    n.additional_context
        .insert("repository".into(), d.repository_name.clone());
    n.additional_context.insert("tag".into(), tag);
    n.additional_context.insert("digest".into(), digest);
    if let Some(arn) = &decision.task_definition_arn {
        n.related_resources.push(arn.clone());
        n.additional_context
            .insert("taskDefinition".into(), arn.clone());
    }
    n
}

fn reason_code(r: Reason) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A deploy that was decided but could not be made.
pub(super) fn deploy_error(
    push: &Event<EcrImageAction>,
    target: &DeployTarget,
    err: &Error,
) -> Notification {
    let d = &push.detail;
    let tag = neutralise(d.image_tag.as_deref().unwrap_or("?"));
    let cluster = target.cluster_name();
    let service = &target.service;
    let mut n = base(
        format!(
            "deploy-error:{cluster}/{service}:{}",
            d.image_digest.as_deref().unwrap_or_default()
        ),
        Severity::Critical,
        format!(
            "Deploy of {}:{tag} to {cluster}/{service} failed to start",
            d.repository_name
        ),
        format!(
            "The deployer could not update the service: {}",
            neutralise(&err.to_string())
        ),
        ecs_service_arn(&push.region, &push.account, cluster, service),
        "deploy-error",
        target,
    );
    n.next_steps = if err.is_retryable() {
        vec![
            "This looks temporary (throttling or a 5xx): the event is retried automatically."
                .into(),
        ]
    } else {
        vec![
            "Check the deployer's IAM permissions (ecs:RegisterTaskDefinition, ecs:UpdateService, iam:PassRole on the task roles).".into(),
            "Push the tag again once fixed.".into(),
        ]
    };
    n
}

/// A deployment that completed.
pub(super) fn completed(
    change: &Event<EcsDeploymentStateChange>,
    target: &DeployTarget,
    service_arn: &str,
    image: &DeployedImage,
    duration: Option<Duration>,
) -> Notification {
    let cluster = target.cluster_name();
    let service = &target.service;
    let what = match (&image.tag, &image.digest) {
        (Some(t), Some(dg)) => format!("`{}` (`{}`)", neutralise(t), short_digest(dg)),
        _ => format!(
            "`{}`",
            neutralise(image.image.as_deref().unwrap_or("its image"))
        ),
    };
    let took = duration
        .map(|d| {
            format!(
                " in {}m {:02}s",
                d.num_minutes(),
                d.num_seconds().rem_euclid(60)
            )
        })
        .unwrap_or_default();
    let mut n = base(
        format!("deployment:{}:completed", change.detail.deployment_id),
        Severity::Success,
        format!("Deployed {cluster}/{service}"),
        format!(
            "Deployment {} completed{took}: {cluster}/{service} runs {what}, task definition {}.",
            change.detail.deployment_id,
            image.task_definition.rsplit('/').next().unwrap_or_default()
        ),
        service_arn.to_string(),
        "deploy-completed",
        target,
    );
    if let Some(t) = &image.tag {
        n.additional_context.insert("tag".into(), neutralise(t));
    }
    if let Some(dg) = &image.digest {
        n.additional_context.insert("digest".into(), dg.clone());
    }
    if let Some(d) = duration {
        n.additional_context
            .insert("durationSeconds".into(), d.num_seconds().to_string());
    }
    n.related_resources.push(image.task_definition.clone());
    n
}

/// A deployment that failed or is rolling back, with its stopped tasks' reasons.
pub(super) fn failed(
    change: &Event<EcsDeploymentStateChange>,
    outcome: DeploymentOutcome,
    target: &DeployTarget,
    service_arn: &str,
    stopped: &[StoppedTask],
) -> Notification {
    let cluster = target.cluster_name();
    let service = &target.service;
    let region = Some(change.region.as_str())
        .filter(|r| !r.is_empty())
        .or_else(|| service_arn.split(':').nth(3))
        .unwrap_or("us-east-1");
    let (word, event_type) = match outcome {
        DeploymentOutcome::RollingBack => ("rolling back", "deploy-rolling-back"),
        _ => ("failed", "deploy-failed"),
    };
    let reason = neutralise(
        change
            .detail
            .reason
            .as_deref()
            .unwrap_or("ECS gave no reason"),
    );
    // The same reason from many tasks is said once, with a count.
    let mut reasons: Vec<(String, usize, String)> = Vec::new();
    for t in stopped {
        let mut line = neutralise(t.stopped_reason.as_deref().unwrap_or("no stop reason"));
        if !t.containers.is_empty() {
            line.push_str(&format!(" [{}]", neutralise(&t.containers.join("; "))));
        }
        match reasons.iter_mut().find(|(l, _, _)| *l == line) {
            Some((_, count, _)) => *count += 1,
            None => reasons.push((line, 1, t.task_id.clone())),
        }
    }
    let mut description = format!(
        "Deployment {} of {cluster}/{service} {word}: {reason}",
        change.detail.deployment_id
    );
    if reasons.is_empty() {
        description.push_str("\nNo stopped tasks were found for this deployment.");
    } else {
        description.push_str(&format!("\nStopped tasks ({}):", stopped.len()));
        for (line, count, task_id) in &reasons {
            let task = link(&ecs_task_url(region, cluster, task_id), task_id);
            description.push_str(&format!("\n• {count}× {line} (e.g. {task})"));
        }
    }
    let mut n = base(
        format!(
            "deployment:{}:{}",
            change.detail.deployment_id,
            event_type.trim_start_matches("deploy-")
        ),
        Severity::Critical,
        format!("Deployment of {cluster}/{service} {word}"),
        description,
        service_arn.to_string(),
        event_type,
        target,
    );
    n.next_steps = vec![
        format!("Open {}.", link(&ecs_service_url(region, cluster, service), "the service's deployments and events")),
        "Read the stopped tasks' logs: a crash at start, a wrong port or health-check path, or missing secrets are the usual causes.".into(),
        "Fix the image or the task definition and push a new tag; the circuit breaker keeps the last good revision running.".into(),
    ];
    n.additional_context
        .insert("deploymentId".into(), change.detail.deployment_id.clone());
    n.additional_context
        .insert("stoppedTasks".into(), stopped.len().to_string());
    n
}
