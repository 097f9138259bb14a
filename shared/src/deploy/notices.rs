//! The deployer's chat notifications. All of one service share its ARN as thread id, so the
//! start, the outcome and any failure of a deploy read as one thread.

use chrono::Duration;
use serde::Serialize;

use super::config::DeployTarget;
use super::outcome::{DeployedImage, Replacement, Rollback};
use super::plan::{short_digest, Decision, Reason};
use crate::error::Error;
use crate::events::{DeploymentEventName, EcrImageAction, EcsDeploymentStateChange, Event};
use crate::model::arn::{ecs_service_arn, ecs_service_url, ecs_task_url};
use crate::model::task::StoppedTask;
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
pub fn push_decision(
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
        Reason::UnsupportedDeploymentController => (
            Severity::Critical,
            format!("Cannot deploy {}:{tag} to {cluster}/{service}", d.repository_name),
            vec![
                "The service is deployed by CodeDeploy or an external controller, which UpdateService cannot drive: deploy it with its own controller, or recreate it with the ECS (rolling) deployment controller.".into(),
                "Until then, remove its entry from the deployer's DEPLOY_TARGETS.".into(),
            ],
        ),
        Reason::ShortServiceArn => (
            Severity::Critical,
            format!("Cannot deploy {}:{tag} to {cluster}/{service}", d.repository_name),
            vec![
                "Migrate the service to the long ARN format (ECS console: the service's Migrate action, after aws ecs put-account-setting --name serviceLongArnFormat --value enabled); the migration cannot be undone.".into(),
                "Or set \"strategy\": \"pin-digest\" in its DEPLOY_TARGETS entry: pinning tags only the revisions it registers.".into(),
            ],
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

/// What an image is, for a message: `tag` (`digest`), or the image reference.
fn image_words(image: &DeployedImage) -> String {
    match (&image.tag, &image.digest) {
        (Some(t), Some(dg)) => format!("`{}` (`{}`)", neutralise(t), short_digest(dg)),
        _ => format!(
            "`{}`",
            neutralise(image.image.as_deref().unwrap_or("its image"))
        ),
    }
}

/// ` in 4m 30s`, or nothing when the duration is unknown.
fn took_words(duration: Option<Duration>) -> String {
    duration
        .map(|d| {
            format!(
                " in {}m {:02}s",
                d.num_minutes(),
                d.num_seconds().rem_euclid(60)
            )
        })
        .unwrap_or_default()
}

/// The revision part of a task-definition ARN: `family:7`.
fn revision_name(task_definition: &str) -> &str {
    task_definition.rsplit('/').next().unwrap_or_default()
}

/// The image and duration facts a completed deployment or rollback adds.
fn image_facts(n: &mut Notification, image: &DeployedImage, duration: Option<Duration>) {
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
}

/// A deployment that completed.
pub fn completed(
    change: &Event<EcsDeploymentStateChange>,
    target: &DeployTarget,
    service_arn: &str,
    image: &DeployedImage,
    duration: Option<Duration>,
) -> Notification {
    let cluster = target.cluster_name();
    let service = &target.service;
    let mut n = base(
        format!("deployment:{}:completed", change.detail.deployment_id),
        Severity::Success,
        format!("Deployed {cluster}/{service}"),
        format!(
            "Deployment {} completed{}: {cluster}/{service} runs {}, task definition {}.",
            change.detail.deployment_id,
            took_words(duration),
            image_words(image),
            revision_name(&image.task_definition)
        ),
        service_arn.to_string(),
        "deploy-completed",
        target,
    );
    image_facts(&mut n, image, duration);
    n
}

/// A deployment that replaces the deployer's pinned release with a revision the autopilot did
/// not register (a `sam deploy` that changed the task definition or the service, another tool,
/// a person): what replaced what, in the service's thread.
pub(super) fn replaced(
    change: &Event<EcsDeploymentStateChange>,
    target: &DeployTarget,
    service_arn: &str,
    r: &Replacement,
) -> Notification {
    let cluster = target.cluster_name();
    let service = &target.service;
    let (new, old) = (
        revision_name(&r.by.task_definition),
        revision_name(&r.replaced.task_definition),
    );
    let release = image_words(&r.replaced);
    let mut n = base(
        format!("deployment:{}:replaced", r.deployment),
        Severity::Warning,
        format!("{cluster}/{service}: {new} replaces the release {old}"),
        format!(
            "Deployment {} rolls out task definition {new}, which the autopilot did not register (a `sam deploy` that changed the task definition or the service, another tool, or a person), in place of {old}, which the deployer pinned to {release}. {new} runs `{}`: unless that is the same image, the release is no longer what runs.",
            r.deployment,
            neutralise(r.by.image.as_deref().unwrap_or("an image it names")),
        ),
        service_arn.to_string(),
        "deploy-replaced",
        target,
    );
    let region = Some(change.region.as_str())
        .filter(|r| !r.is_empty())
        .unwrap_or("us-east-1");
    n.next_steps = vec![
        "If this was meant (a rollback, a deliberate change), nothing to do: the next push is deployed on top of it, keeping its changes.".into(),
        format!(
            "To run the release again with the new settings, push its image under a new tag; to run {old} as it was, `aws ecs update-service --cluster {cluster} --service {service} --task-definition {old}`."
        ),
        format!(
            "Open {}.",
            link(
                &ecs_service_url(region, cluster, service),
                "the service's deployments"
            )
        ),
    ];
    n.additional_context
        .insert("deploymentId".into(), r.deployment.clone());
    n.additional_context
        .insert("replacedTaskDefinition".into(), old.to_string());
    if let Some(t) = &r.replaced.tag {
        n.additional_context.insert("tag".into(), neutralise(t));
    }
    if let Some(dg) = &r.replaced.digest {
        n.additional_context.insert("digest".into(), dg.clone());
    }
    n.related_resources.push(r.by.task_definition.clone());
    n.related_resources.push(r.replaced.task_definition.clone());
    n
}

/// A circuit-breaker rollback that completed: the service runs the last good revision again.
pub(super) fn rolled_back(
    target: &DeployTarget,
    service_arn: &str,
    image: &DeployedImage,
    rollback: &Rollback,
    duration: Option<Duration>,
) -> Notification {
    let cluster = target.cluster_name();
    let service = &target.service;
    let revision = revision_name(&image.task_definition);
    let failed = rollback
        .failed
        .as_deref()
        .map(|f| format!("deployment {f} failed, and "))
        .unwrap_or_default();
    let mut n = base(
        format!("deployment:{}:rolled-back", rollback.deployment),
        Severity::Warning,
        format!("Rolled back {cluster}/{service} to {revision}"),
        format!(
            "The circuit breaker rolled the service back: {failed}rollback {} completed{}. {cluster}/{service} runs {} again, task definition {revision}.",
            rollback.deployment,
            took_words(duration),
            image_words(image),
        ),
        service_arn.to_string(),
        "deploy-rolled-back",
        target,
    );
    n.next_steps = vec![
        "The failure notice above in this thread lists the failed deployment's stopped tasks and their reasons.".into(),
        "Fix the image or the task definition and push a new tag: the service keeps running the last good revision until then.".into(),
    ];
    if let Some(f) = &rollback.failed {
        n.additional_context
            .insert("failedDeploymentId".into(), f.clone());
    }
    n.additional_context
        .insert("deploymentId".into(), rollback.deployment.clone());
    image_facts(&mut n, image, duration);
    n
}

/// A deployment that failed (and is being rolled back, when `rollback` is set), with the stopped
/// tasks' reasons of the deployment that failed. Its id is the failed deployment's, whichever
/// event told it (the failure, or the rollback's start): Chatbot shows it once.
pub(super) fn failed(
    change: &Event<EcsDeploymentStateChange>,
    target: &DeployTarget,
    service_arn: &str,
    failed: Option<&str>,
    rollback: Option<&Rollback>,
    stopped: std::result::Result<&[StoppedTask], &str>,
) -> Notification {
    let cluster = target.cluster_name();
    let service = &target.service;
    let region = Some(change.region.as_str())
        .filter(|r| !r.is_empty())
        .or_else(|| service_arn.split(':').nth(3))
        .unwrap_or("us-east-1");
    // The failure's own event gives its reason; the rollback's start only says it rolls back.
    let reason = (change.detail.event_name == DeploymentEventName::Failed)
        .then(|| {
            neutralise(
                change
                    .detail
                    .reason
                    .as_deref()
                    .unwrap_or("ECS gave no reason"),
            )
        })
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    // The same reason from many tasks is said once, with a count.
    let mut reasons: Vec<(String, usize, String)> = Vec::new();
    for t in stopped.unwrap_or_default() {
        let mut line = neutralise(t.stopped_reason.as_deref().unwrap_or("no stop reason"));
        if !t.containers.is_empty() {
            line.push_str(&format!(" [{}]", neutralise(&t.containers.join("; "))));
        }
        match reasons.iter_mut().find(|(l, _, _)| *l == line) {
            Some((_, count, _)) => *count += 1,
            None => reasons.push((line, 1, t.task_id.clone())),
        }
    }
    let which = failed.unwrap_or("(the failed one is no longer listed)");
    let mut description = format!("Deployment {which} of {cluster}/{service} failed{reason}");
    if let Some(r) = rollback {
        description.push_str(&format!(
            "\nThe circuit breaker is rolling back (deployment {}{}).",
            r.deployment,
            r.to.as_deref()
                .map(|to| format!(" to {to}"))
                .unwrap_or_default()
        ));
    }
    if failed.is_some() {
        if let Err(why) = stopped {
            description.push_str(&format!(
                "\nThe stopped tasks' reasons could not be read ({}): see the service's events.",
                neutralise(why)
            ));
        } else if reasons.is_empty() {
            description.push_str("\nNo stopped tasks were found for this deployment.");
        } else {
            let count = stopped.map_or(0, <[StoppedTask]>::len);
            description.push_str(&format!("\nStopped tasks ({count}):"));
            for (line, count, task_id) in &reasons {
                let task = link(&ecs_task_url(region, cluster, task_id), task_id);
                description.push_str(&format!("\n• {count}× {line} (e.g. {task})"));
            }
        }
    }
    let (id, event_type, title) = match (failed, rollback) {
        (Some(f), Some(_)) => (
            format!("deployment:{f}:failed"),
            "deploy-rolling-back",
            format!("Deployment of {cluster}/{service} failed, rolling back"),
        ),
        (Some(f), None) => (
            format!("deployment:{f}:failed"),
            "deploy-failed",
            format!("Deployment of {cluster}/{service} failed"),
        ),
        (None, _) => (
            format!("deployment:{}:rolling-back", change.detail.deployment_id),
            "deploy-rolling-back",
            format!("Deployment of {cluster}/{service} failed, rolling back"),
        ),
    };
    let mut n = base(
        id,
        Severity::Critical,
        title,
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
    n.additional_context.insert(
        "deploymentId".into(),
        failed.unwrap_or(&change.detail.deployment_id).to_string(),
    );
    if let Some(r) = rollback {
        n.additional_context
            .insert("rollbackDeploymentId".into(), r.deployment.clone());
    }
    n.additional_context.insert(
        "stoppedTasks".into(),
        stopped.map_or_else(|_| "unknown".into(), |s| s.len().to_string()),
    );
    n
}

/// A traffic-shifting deployment's end, as ECS's `DescribeServiceDeployments` tells it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatedOutcome {
    pub arn: String,
    pub strategy: Option<String>,
    /// `SUCCESSFUL`, `ROLLBACK_SUCCESSFUL`, `IN_PROGRESS`...
    pub status: String,
    pub status_reason: Option<String>,
    pub rollback_reason: Option<String>,
    pub bake_minutes: Option<i32>,
}

impl GatedOutcome {
    pub fn of(d: &crate::model::deployment::ServiceDeploymentBrief) -> Self {
        GatedOutcome {
            arn: d.arn.clone(),
            strategy: d.strategy.clone(),
            status: d.status.clone(),
            status_reason: d.status_reason.clone(),
            rollback_reason: d.rollback_reason.clone(),
            bake_minutes: d.bake_minutes,
        }
    }
}

/// A deployment notice with ECS's account of a blue/green, linear or canary deployment added:
/// its strategy and status, why it stopped or rolled back, the bake time.
pub fn with_service_deployment(n: Notification, o: &GatedOutcome) -> Notification {
    let strategy = match o.strategy.as_deref() {
        Some("BLUE_GREEN") => "blue/green",
        Some("LINEAR") => "linear",
        Some("CANARY") => "canary",
        _ => "service",
    };
    let status = match o.status.as_str() {
        "SUCCESSFUL" => "completed",
        "ROLLBACK_SUCCESSFUL" => "rolled back",
        "ROLLBACK_IN_PROGRESS" | "ROLLBACK_REQUESTED" => "rolling back",
        "ROLLBACK_FAILED" => "failed to roll back",
        "STOPPED" | "STOP_REQUESTED" => "stopped",
        "IN_PROGRESS" | "PENDING" => "in progress",
        other => other,
    };
    let mut lines = vec![format!("ECS's {strategy} deployment: {status}.")];
    if let Some(reason) = &o.rollback_reason {
        lines.push(format!("Rolled back because: {}", neutralise(reason)));
    }
    if let Some(reason) = o
        .status_reason
        .as_ref()
        .filter(|r| Some(*r) != o.rollback_reason.as_ref())
    {
        lines.push(format!("ECS says: {}", neutralise(reason)));
    }
    if let (Some(m), "SUCCESSFUL") = (o.bake_minutes, o.status.as_str()) {
        lines.push(format!(
            "The previous revision ran {m} min beside it (the bake time) before ECS removed it."
        ));
    }
    let description = if n.description.is_empty() {
        lines.join("\n")
    } else {
        format!("{}\n{}", n.description, lines.join("\n"))
    };
    n.describe(description)
        .resources([o.arn.clone()])
        .facts([("serviceDeployment".to_string(), o.arn.clone())])
}
