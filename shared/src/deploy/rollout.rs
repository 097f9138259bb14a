//! A deployment's outcome (`ECS Deployment State Change`): parse, plan ([`outcome::plan`]), read what the report needs,
//! prune, notify in the deploy's thread.

use std::collections::BTreeMap;

use serde::Serialize;

use super::config::DeployTarget;
use super::outcome::{
    self, DeployedImage, DeploymentOutcome, OutcomePlan, Replacement, Resolution,
};
use super::{fleet, notices, prune, Deployer};
use crate::deploy::ports::DeployPorts;
use crate::error::Result;
use crate::events::{EcsDeploymentStateChange, Event};
use crate::model::arn::is_long_service_arn;
use crate::model::service::ServiceSnapshot;
use crate::model::task::StoppedTask;
use crate::tags;

/// What a deployment event's invocation returns.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutReport {
    /// The cluster's name, when the event or the target says it.
    pub cluster: Option<String>,
    pub service: String,
    pub deployment_id: String,
    pub outcome: DeploymentOutcome,
    /// Whether a notice was published.
    pub notified: bool,
    /// Why nothing was said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// The revisions deregistered after a completed deploy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pruned: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<DeployedImage>,
    /// A failed deployment's stopped tasks, or why they could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_tasks: Option<Vec<StoppedTask>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_tasks_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
    /// What replaced the deployer's pinned release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<Replacement>,
    /// For a blue/green, linear or canary service: its newest service deployment as ECS
    /// describes it (status, and why it rolled back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_deployment: Option<notices::GatedOutcome>,
}

/// How many stopped tasks of a failed deployment are read for their reasons.
const MAX_STOPPED_TASKS: usize = 100;

/// The targets a deployment event can be about: `DEPLOY_TARGETS`, and in fleet mode, for a
/// service not named there, the target its own tags describe (a service whose tags are wrong
/// is not reported on, its pushes already said why). Returns the services it had to read
/// (one DescribeServices), so the report does not read them again.
async fn targets_of<P: DeployPorts>(
    deployer: &Deployer<P>,
    cluster: Option<&str>,
    service: &str,
) -> Result<(Vec<DeployTarget>, Option<Vec<ServiceSnapshot>>)> {
    let mut targets = deployer.config.targets.clone();
    let configured = targets
        .iter()
        .any(|t| t.service == service && cluster.is_none_or(|c| t.cluster_name() == c));
    let Some(cluster) = cluster.filter(|_| deployer.config.fleet && !configured) else {
        return Ok((targets, None));
    };
    let found = deployer
        .clients
        .services(cluster, &[service.to_string()])
        .await?;
    if let Some(found) = found.first().filter(|s| s.tags.contains_key(tags::DEPLOY)) {
        if let Ok(target) = fleet::target_from_tags(&found.arn, &found.tags) {
            targets.push(target);
        }
    }
    Ok((targets, Some(found)))
}

/// The target's service: as [`targets_of`] read it, or read now.
async fn read_unless_read<P: DeployPorts>(
    deployer: &Deployer<P>,
    target: &DeployTarget,
    service: &str,
    read: Option<Vec<ServiceSnapshot>>,
) -> Result<Vec<ServiceSnapshot>> {
    match read {
        Some(read) => Ok(read),
        None => {
            let names = [service.to_string()];
            deployer.clients.services(&target.cluster, &names).await
        }
    }
}

pub(super) async fn handle<P: DeployPorts>(
    deployer: &Deployer<P>,
    change: Event<EcsDeploymentStateChange>,
) -> Result<RolloutReport> {
    let (service_arn, cluster, service) = outcome::service_of(&change)?;
    let happened = DeploymentOutcome::of(&change.detail);
    let deployment_id = change.detail.deployment_id.clone();
    let (targets, read) = targets_of(deployer, cluster.as_deref(), &service).await?;
    let plan = outcome::plan(
        happened,
        cluster.as_deref(),
        &service,
        &targets,
        deployer.config.keep_revisions,
        deployer.config.dry_run,
    );
    tracing::info!(plan = ?plan, "deployment outcome plan");
    let mut result = RolloutReport {
        cluster: cluster.clone(),
        service: service.clone(),
        deployment_id: deployment_id.clone(),
        outcome: happened,
        notified: false,
        reason: None,
        resolution: None,
        pruned: None,
        image: None,
        stopped_tasks: None,
        stopped_tasks_error: None,
        notification_id: None,
        replaced: None,
        service_deployment: None,
    };
    let (target, prune) = match plan {
        OutcomePlan::Quiet(reason) => {
            result.reason = Some(reason);
            return Ok(result);
        }
        OutcomePlan::CheckReplaced { target } => {
            return check_replaced(
                deployer,
                &change,
                &service_arn,
                &service,
                target,
                read,
                result,
            )
            .await
        }
        OutcomePlan::Report { target, prune } => (target, prune),
    };
    result.cluster = Some(target.cluster_name().to_string());
    let services = read_unless_read(deployer, target, &service, read).await?;
    let svc = services.first();
    let resolution = outcome::resolve(&change.detail, svc);
    tracing::info!(resolution = ?resolution, "deployment resolved");
    result.resolution = Some(resolution.clone());
    // Remember a rollback on the service before saying anything, so that its completion is told
    // from a deploy whichever event comes next (a short ARN cannot be tagged: then only the
    // listed deployments tell).
    if let Some(value) = svc.and_then(|s| outcome::to_remember(&resolution, s)) {
        let arn = svc.map(|s| s.arn.as_str()).unwrap_or_default();
        if !deployer.config.dry_run && is_long_service_arn(arn) {
            let tag = BTreeMap::from([(tags::ROLLBACK.to_string(), value)]);
            deployer.clients.tag_service(arn, &tag).await?;
        }
    }
    let notice = match &resolution {
        Resolution::Completed | Resolution::RolledBack(_) => {
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
                let (td, td_tags) = deployer.clients.revision(&td_arn).await?;
                image = outcome::deployed_image(
                    &td_arn,
                    &td_tags,
                    &svc.map(|s| s.tags.clone()).unwrap_or_default(),
                    &td.containers(),
                    target.container.as_deref(),
                );
                // Pruning follows a deploy, never a rollback: the failed revision stays to
                // be looked at.
                if let Some(keep) = prune.filter(|_| resolution == Resolution::Completed) {
                    let pruned = prune::prune(&deployer.clients, &td, &td_tags, keep).await?;
                    result.pruned = Some(pruned);
                }
            }
            let took = outcome::duration(started, change.detail.updated_at.or(change.time));
            result.image = Some(image.clone());
            match &resolution {
                Resolution::RolledBack(r) => {
                    notices::rolled_back(target, &service_arn, &image, r, took)
                }
                _ => notices::completed(&change, target, &service_arn, &image, took),
            }
        }
        Resolution::Failed { failed, rollback } => {
            // The stopped tasks of the deployment that failed, never of the rollback. A failure
            // to read them never holds the notice back: it says they could not be read.
            let stopped = match failed {
                Some(failed) => deployer
                    .clients
                    .deployment_stops(&target.cluster, &service, failed, MAX_STOPPED_TASKS)
                    .await
                    .map_err(|e| {
                        tracing::error!(error = ?e, deployment = %failed, "could not read the deployment's stopped tasks");
                        e.to_string()
                    }),
                None => Ok(vec![]),
            };
            match &stopped {
                Ok(tasks) => result.stopped_tasks = Some(tasks.clone()),
                Err(why) => result.stopped_tasks_error = Some(why.clone()),
            }
            notices::failed(
                &change,
                target,
                &service_arn,
                failed.as_deref(),
                rollback.as_ref(),
                stopped.as_deref().map_err(String::as_str),
            )
        }
    };
    // A traffic-shifting service: ECS's own account of the deployment (its status, why it
    // rolled back) joins the notice; a failed read never holds it back.
    let notice = match svc.filter(|s| s.shifts_traffic()) {
        Some(s) => match deployer
            .clients
            .latest_service_deployment(&s.cluster, &s.name)
            .await
        {
            Ok(Some(d)) => {
                let outcome = notices::GatedOutcome::of(&d);
                let notice = notices::with_service_deployment(notice, &outcome);
                result.service_deployment = Some(outcome);
                notice
            }
            Ok(None) => notice,
            Err(e) => {
                tracing::warn!(error = ?e, "the service deployment could not be read; the notice goes without it");
                notice
            }
        },
        None => notice,
    };
    deployer
        .clients
        .publish(&deployer.config.topic_arn, &notice)
        .await?;
    result.notified = true;
    result.notification_id = Some(notice.id);
    Ok(result)
}

/// A deployment's start on a pin-digest service: reads the service (unless already read) and
/// the revisions it lists (the deployment's first, the others only when it is not the
/// deployer's), then says in the service's thread what replaced the deployer's pinned release,
/// when [`outcome::check_replacement`] finds that.
async fn check_replaced<P: DeployPorts>(
    deployer: &Deployer<P>,
    change: &Event<EcsDeploymentStateChange>,
    service_arn: &str,
    service: &str,
    target: &DeployTarget,
    read: Option<Vec<ServiceSnapshot>>,
    mut result: RolloutReport,
) -> Result<RolloutReport> {
    result.cluster = Some(target.cluster_name().to_string());
    let services = read_unless_read(deployer, target, service, read).await?;
    let svc = services.first();
    let mut revisions = BTreeMap::new();
    if let Some((new, old)) = outcome::replacement_reads(&change.detail, svc) {
        let (td, tags) = deployer.clients.revision(&new).await?;
        let ours = outcome::registered_by_deployer(&tags);
        revisions.insert(
            new,
            outcome::RevisionRead {
                tags,
                containers: td.containers(),
            },
        );
        if !ours {
            // An older revision that cannot be read (deregistered since, a denied read) is left
            // out of the comparison rather than failing the deployment's report, which would
            // hold back every event queued behind it.
            for arn in old {
                match deployer.clients.revision(&arn).await {
                    Ok((td, tags)) => {
                        revisions.insert(
                            arn,
                            outcome::RevisionRead {
                                tags,
                                containers: td.containers(),
                            },
                        );
                    }
                    Err(error) => {
                        tracing::warn!(revision = %arn, error = ?error, "an older revision could not be read: not compared");
                    }
                }
            }
        }
    }
    let check =
        outcome::check_replacement(&change.detail, svc, &revisions, target.container.as_deref());
    tracing::info!(check = ?check, "deployment start checked for a replaced release");
    match &check {
        outcome::ReplacementCheck::Quiet { reason } => result.reason = Some(reason),
        outcome::ReplacementCheck::Replaced(r) => {
            let notice = notices::replaced(change, target, service_arn, r);
            deployer
                .clients
                .publish(&deployer.config.topic_arn, &notice)
                .await?;
            result.replaced = Some(r.clone());
            result.notified = true;
            result.notification_id = Some(notice.id);
        }
    }
    Ok(result)
}
