//! The outcome of a deployment: `ECS Deployment State Change` events for the configured services
//! become a completed or failed (or rolling back) notification in the deploy's thread.

use aws_sdk_ecs::types::Task;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::{notices, prune, Deployer};
use crate::aws::{ecs, sns, Arn};
use crate::error::{Error, Result};
use crate::events::{DeploymentEventName, EcsDeploymentStateChange, Event};
use crate::metrics::Metrics;
use crate::tags;

/// How many stopped tasks of a failed deployment are read for their reasons.
const MAX_STOPPED_TASKS: usize = 100;

/// What the event says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Completed,
    Failed,
    RollingBack,
    InProgress,
}

impl Outcome {
    /// From the event's name and reason.
    pub fn of(change: &EcsDeploymentStateChange) -> Outcome {
        match change.event_name {
            DeploymentEventName::Completed => Outcome::Completed,
            DeploymentEventName::Failed => Outcome::Failed,
            _ if change.is_rollback() => Outcome::RollingBack,
            _ => Outcome::InProgress,
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

impl StoppedTask {
    /// Summarises a described task.
    pub fn of(task: &Task) -> StoppedTask {
        let task_id = task
            .task_arn()
            .and_then(|a| a.rsplit('/').next())
            .unwrap_or("unknown")
            .to_string();
        let containers = task
            .containers()
            .iter()
            .filter(|c| c.exit_code.is_some() || c.reason.is_some())
            .map(|c| {
                let mut s = c.name().unwrap_or("container").to_string();
                if let Some(code) = c.exit_code {
                    s.push_str(&format!(": exit code {code}"));
                }
                if let Some(r) = c.reason() {
                    s.push_str(&format!(" ({r})"));
                }
                s
            })
            .collect();
        StoppedTask {
            task_id,
            stop_code: task.stop_code().map(|c| c.as_str().to_string()),
            stopped_reason: task.stopped_reason().map(str::to_string),
            containers,
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

pub(super) async fn handle(d: &Deployer, change: Event<EcsDeploymentStateChange>) -> Result<Value> {
    let service_arn = change
        .resources
        .first()
        .ok_or_else(|| Error::bad_event("resources: must hold the service's ARN"))?
        .clone();
    let (cluster, service) = Arn::parse(&service_arn)
        .and_then(|a| a.ecs_service())
        .map(|(c, s)| (c.to_string(), s.to_string()))
        .ok_or_else(|| {
            Error::bad_event(format!(
                "resources[0]: {service_arn:?} is not an ECS service ARN"
            ))
        })?;
    let outcome = Outcome::of(&change.detail);
    let deployment_id = change.detail.deployment_id.clone();
    let mut result = json!({
        "cluster": cluster, "service": service, "deploymentId": deployment_id,
        "outcome": outcome, "notified": false,
    });
    let configured = d
        .config
        .targets
        .iter()
        .find(|t| t.cluster_name() == cluster && t.service == service);
    let Some(target) = configured else {
        result["reason"] = json!("not-a-configured-service");
        return Ok(json!({ "deployment": result }));
    };
    let notice = match outcome {
        Outcome::InProgress => {
            result["reason"] = json!("in-progress: the start was announced with the push");
            return Ok(json!({ "deployment": result }));
        }
        Outcome::Completed => {
            let services = ecs::describe_services(
                &d.clients.ecs,
                &target.cluster,
                std::slice::from_ref(&service),
            )
            .await?;
            let svc = services.first();
            let deployment = svc.and_then(|s| {
                s.deployments()
                    .iter()
                    .find(|dep| dep.id() == Some(deployment_id.as_str()))
            });
            // The PRIMARY deployment runs the service's task definition by definition; an older
            // one names its own.
            let td_arn = deployment
                .filter(|dep| dep.status() != Some("PRIMARY"))
                .and_then(|dep| dep.task_definition())
                .or_else(|| svc.and_then(|s| s.task_definition()))
                .unwrap_or_default()
                .to_string();
            let started = deployment
                .and_then(|dep| dep.created_at())
                .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()));
            let finished = change.detail.updated_at.or(change.time);
            let mut image = DeployedImage {
                task_definition: td_arn.clone(),
                ..Default::default()
            };
            if !td_arn.is_empty() {
                let (td, td_tags) = ecs::describe_task_definition(&d.clients.ecs, &td_arn).await?;
                let service_tags = ecs::tag_map(svc.and_then(|s| s.tags.as_deref()));
                // pin-digest writes the image on the revision, follow-tag on the service.
                let pick = |k: &str| td_tags.get(k).or_else(|| service_tags.get(k)).cloned();
                image.tag = pick(tags::IMAGE_TAG);
                image.digest = pick(tags::IMAGE_DIGEST);
                image.image = td
                    .container_definitions()
                    .iter()
                    .find(|c| {
                        target
                            .container
                            .as_deref()
                            .is_none_or(|n| c.name() == Some(n))
                    })
                    .and_then(|c| c.image().map(str::to_string));
                if let Some(keep) = d.config.keep_revisions.filter(|_| !d.config.dry_run) {
                    let pruned = prune::prune(&d.clients.ecs, &td, &td_tags, keep as usize).await?;
                    result["pruned"] = json!(pruned);
                }
            }
            let duration = started
                .zip(finished)
                .map(|(s, f)| f - s)
                .filter(|d| *d >= chrono::Duration::zero());
            result["image"] = json!(image);
            notices::completed(&change, target, &service_arn, &image, duration)
        }
        Outcome::Failed | Outcome::RollingBack => {
            let tasks = ecs::stopped_tasks_started_by(
                &d.clients.ecs,
                &target.cluster,
                &deployment_id,
                MAX_STOPPED_TASKS,
            )
            .await?;
            let stopped: Vec<StoppedTask> = tasks.iter().map(StoppedTask::of).collect();
            result["stoppedTasks"] = json!(stopped);
            notices::failed(&change, outcome, target, &service_arn, &stopped)
        }
    };
    sns::publish(&d.clients.sns, &d.config.topic_arn, &notice).await?;
    result["notified"] = json!(true);
    result["notificationId"] = json!(notice.id);
    Metrics::new("deployer")
        .count(
            match outcome {
                Outcome::Completed => "DeploymentsCompleted",
                _ => "DeploymentsFailed",
            },
            1,
        )
        .emit();
    Ok(json!({ "deployment": result }))
}
