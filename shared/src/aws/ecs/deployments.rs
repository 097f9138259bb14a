//! Service deployments (ECS's blue/green, linear and canary deployments): what one is, and the
//! target group its new revision uses. Shapes from the API reference of
//! `DescribeServiceDeployments` and `DescribeServiceRevisions` (the emulator has neither).

use aws_sdk_ecs::Client;

use crate::error::{Error, Result};

/// What the gate needs of a service deployment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceDeploymentBrief {
    /// `ServiceDeploymentStatus` as ECS spells it.
    pub status: String,
    /// Whether it replaces running revisions.
    pub has_source: bool,
    /// Tasks the new revision asked for.
    pub requested_tasks: Option<u32>,
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
            status: d
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            has_source: !d.source_service_revisions().is_empty(),
            requested_tasks: d
                .target_service_revision()
                .and_then(|t| u32::try_from(t.requested_task_count()).ok()),
        }))
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
