//! Reports a deployment's outcome: parse, plan ([`outcome::plan`]), read what the report needs,
//! prune, notify in the deploy's thread.

use serde_json::{json, Value};

use super::outcome::{self, DeploymentOutcome, OutcomePlan};
use super::{notices, prune, Deployer};
use crate::error::Result;
use crate::events::{EcsDeploymentStateChange, Event};
use crate::metrics::Metrics;
use crate::ports::DeployPorts;

/// How many stopped tasks of a failed deployment are read for their reasons.
const MAX_STOPPED_TASKS: usize = 100;

pub(super) async fn handle<P: DeployPorts>(
    d: &Deployer<P>,
    change: Event<EcsDeploymentStateChange>,
) -> Result<Value> {
    let (service_arn, cluster, service) = outcome::service_of(&change)?;
    let happened = DeploymentOutcome::of(&change.detail);
    let deployment_id = change.detail.deployment_id.clone();
    let plan = outcome::plan(
        happened,
        &cluster,
        &service,
        &d.config.targets,
        d.config.keep_revisions,
        d.config.dry_run,
    );
    tracing::info!(plan = ?plan, "deployment outcome plan");
    let mut result = json!({
        "cluster": cluster, "service": service, "deploymentId": deployment_id,
        "outcome": happened, "notified": false,
    });
    let notice = match plan {
        OutcomePlan::Quiet(reason) => {
            result["reason"] = json!(reason);
            return Ok(json!({ "deployment": result }));
        }
        OutcomePlan::ReportCompleted { target, prune } => {
            let services = d
                .clients
                .services(&target.cluster, std::slice::from_ref(&service))
                .await?;
            let svc = services.first();
            let deployment = svc.and_then(|s| s.deployment(&deployment_id));
            // The PRIMARY deployment runs the service's task definition by definition; an older
            // one names its own.
            let td_arn = deployment
                .filter(|dep| dep.status != "PRIMARY")
                .map(|dep| dep.task_definition.clone())
                .or_else(|| svc.map(|s| s.task_definition.clone()))
                .unwrap_or_default();
            let started = deployment.and_then(|dep| dep.created_at);
            let mut image = outcome::DeployedImage {
                task_definition: td_arn.clone(),
                ..Default::default()
            };
            if !td_arn.is_empty() {
                let (td, td_tags) = d.clients.revision(&td_arn).await?;
                image = outcome::deployed_image(
                    &td_arn,
                    &td_tags,
                    &svc.map(|s| s.tags.clone()).unwrap_or_default(),
                    &td.containers(),
                    target.container.as_deref(),
                );
                if let Some(keep) = prune {
                    let pruned = prune::prune(&d.clients, &td, &td_tags, keep).await?;
                    result["pruned"] = json!(pruned);
                }
            }
            let took = outcome::duration(started, change.detail.updated_at.or(change.time));
            result["image"] = json!(image);
            notices::completed(&change, target, &service_arn, &image, took)
        }
        OutcomePlan::ReportFailed { target } => {
            let stopped = d
                .clients
                .deployment_stops(&target.cluster, &deployment_id, MAX_STOPPED_TASKS)
                .await?;
            result["stoppedTasks"] = json!(stopped);
            notices::failed(&change, happened, target, &service_arn, &stopped)
        }
    };
    d.clients.publish(&d.config.topic_arn, &notice).await?;
    result["notified"] = json!(true);
    result["notificationId"] = json!(notice.id);
    Metrics::new("deployer")
        .count(
            match happened {
                DeploymentOutcome::Completed => "DeploymentsCompleted",
                _ => "DeploymentsFailed",
            },
            1,
        )
        .emit();
    Ok(json!({ "deployment": result }))
}
