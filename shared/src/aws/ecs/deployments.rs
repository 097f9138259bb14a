//! Service deployments (ECS's blue/green, linear and canary deployments): what one is, its
//! lifecycle hooks, and the target group its new revision uses. Shapes from the API reference
//! of `DescribeServiceDeployments` and `DescribeServiceRevisions` (the emulator has neither).

use aws_sdk_ecs::Client;
use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::model::deployment::{HookBrief, ServiceDeploymentBrief};

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(t?.to_millis().ok()?)
}

/// A service deployment, `None` when ECS does not know it (its `failures` name it).
pub async fn service_deployment(
    client: &Client,
    arn: &str,
) -> Result<Option<ServiceDeploymentBrief>> {
    let out = client
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeServiceDeployments", e))?;
    Ok(out
        .service_deployments()
        .first()
        .map(|d| ServiceDeploymentBrief {
            arn: d.service_deployment_arn().unwrap_or_default().to_string(),
            status: d
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            status_reason: d.status_reason().map(str::to_string),
            lifecycle_stage: d.lifecycle_stage().map(|s| s.as_str().to_string()),
            strategy: d
                .deployment_configuration()
                .and_then(|c| c.strategy())
                .map(|s| s.as_str().to_string()),
            bake_minutes: d
                .deployment_configuration()
                .and_then(|c| c.bake_time_in_minutes()),
            rollback_reason: d.rollback().and_then(|r| r.reason()).map(str::to_string),
            created_at: time(d.created_at()),
            has_source: !d.source_service_revisions().is_empty(),
            target_revision: d
                .target_service_revision()
                .and_then(|t| t.arn())
                .map(str::to_string),
            requested_tasks: d
                .target_service_revision()
                .and_then(|t| u32::try_from(t.requested_task_count()).ok()),
            hooks: d
                .lifecycle_hook_details()
                .iter()
                .map(|h| HookBrief {
                    hook_id: h.hook_id().unwrap_or_default().to_string(),
                    target_type: h
                        .target_type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    status: h
                        .status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    expires_at: time(h.expires_at()),
                    timeout_action: h.timeout_action().map(|a| a.as_str().to_string()),
                })
                .collect(),
        }))
}

/// A service's newest service deployment (`ListServiceDeployments`, then its description):
/// `None` when ECS lists none.
pub async fn latest_service_deployment(
    client: &Client,
    cluster: &str,
    service: &str,
) -> Result<Option<ServiceDeploymentBrief>> {
    let out = client
        .list_service_deployments()
        .cluster(cluster)
        .service(service)
        .max_results(20)
        .send()
        .await
        .map_err(|e| Error::aws("ListServiceDeployments", e))?;
    let newest = out
        .service_deployments()
        .iter()
        .max_by_key(|d| d.created_at().map(|t| (t.secs(), t.subsec_nanos())))
        .and_then(|d| d.service_deployment_arn());
    match newest {
        Some(arn) => service_deployment(client, arn).await,
        None => Ok(None),
    }
}

/// The target group a service revision uses and the production listener rule (or listener)
/// in front of it, from its resolved configuration: in a blue/green deployment ECS alternates
/// the service's two target groups, and this says which one the new revision is in.
pub async fn revision_target_group(
    client: &Client,
    revision_arn: &str,
) -> Result<Option<(String, Option<String>)>> {
    let out = client
        .describe_service_revisions()
        .service_revision_arns(revision_arn)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeServiceRevisions", e))?;
    Ok(out
        .service_revisions()
        .first()
        .and_then(|r| r.resolved_configuration())
        .and_then(|c| c.load_balancers().first())
        .and_then(|lb| {
            Some((
                lb.target_group_arn()?.to_string(),
                lb.production_listener_rule().map(str::to_string),
            ))
        }))
}
