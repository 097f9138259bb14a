//! ECS adapters: services (this file), task-definition revisions (`revisions.rs`) and tasks
//! (`tasks.rs`). Batched reads and the writes the functions make; SDK types stay in here.

mod deployments;
mod revisions;
mod tasks;

pub use deployments::*;
pub use revisions::*;
pub use tasks::*;

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{Service, ServiceField, Tag};
use aws_sdk_ecs::Client;
use chrono::DateTime;

use crate::error::{Error, Result};
use crate::model::service::{DeploymentSnapshot, ProviderShare, ServiceSnapshot};

/// DescribeServices takes at most this many services per call.
pub const DESCRIBE_SERVICES_BATCH: usize = 10;

/// DescribeTasks takes at most this many tasks per call.
pub const DESCRIBE_TASKS_BATCH: usize = 100;

/// Tags as a map.
pub fn tag_map(tags: Option<&[Tag]>) -> BTreeMap<String, String> {
    tags.unwrap_or_default()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// A map as tags.
pub fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Describes services of one cluster with their tags, 10 per call, as snapshots. Services that
/// do not exist are absent from the result.
pub async fn describe_services(
    client: &Client,
    cluster: &str,
    names: &[String],
) -> Result<Vec<ServiceSnapshot>> {
    let mut found = Vec::with_capacity(names.len());
    for chunk in names.chunks(DESCRIBE_SERVICES_BATCH) {
        let out = client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(|e| Error::aws("DescribeServices", e))?;
        found.extend(out.services().iter().map(|s| snapshot(cluster, s)));
    }
    Ok(found)
}

/// A described service as the project's one service model.
fn snapshot(cluster: &str, s: &Service) -> ServiceSnapshot {
    let arn = s.service_arn().unwrap_or_default().to_string();
    // The long ARN names the cluster: arn:...:service/<cluster>/<service>.
    let cluster = crate::model::arn::Arn::parse(&arn)
        .and_then(|a| a.ecs_service().map(|(c, _)| c.to_string()))
        .unwrap_or_else(|| crate::model::arn::cluster_name(cluster).to_string());
    ServiceSnapshot {
        cluster,
        name: s.service_name().unwrap_or_default().to_string(),
        arn,
        status: s.status().unwrap_or_default().to_string(),
        controller: s
            .deployment_controller()
            .map(|c| c.r#type().as_str().to_string()),
        strategy: s
            .deployment_configuration()
            .and_then(|c| c.strategy())
            .map(|x| x.as_str().to_string()),
        desired: s.desired_count(),
        running: s.running_count(),
        pending: s.pending_count(),
        task_definition: s.task_definition().unwrap_or_default().to_string(),
        deployments: s
            .deployments()
            .iter()
            .map(|d| DeploymentSnapshot {
                id: d.id().unwrap_or_default().to_string(),
                status: d.status().unwrap_or_default().to_string(),
                task_definition: d.task_definition().unwrap_or_default().to_string(),
                rollout_state: d.rollout_state().map(|r| r.as_str().to_string()),
                rollout_state_reason: d.rollout_state_reason().map(str::to_string),
                created_at: d
                    .created_at()
                    .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
            })
            .collect(),
        tags: tag_map(s.tags.as_deref()),
        launch_type: s.launch_type().map(|l| l.as_str().to_string()),
        capacity_providers: s
            .capacity_provider_strategy()
            .iter()
            .map(|c| ProviderShare {
                provider: c.capacity_provider().to_string(),
                base: c.base(),
                weight: c.weight(),
            })
            .collect(),
    }
}

/// Points a service at a task definition (or forces a new deployment of the one it has).
pub async fn update_service(
    client: &Client,
    cluster: &str,
    service: &str,
    task_definition: Option<&str>,
    force_new_deployment: bool,
) -> Result<()> {
    client
        .update_service()
        .cluster(cluster)
        .service(service)
        .set_task_definition(task_definition.map(str::to_string))
        .force_new_deployment(force_new_deployment)
        .send()
        .await
        .map_err(|e| Error::aws("UpdateService", e))?;
    Ok(())
}

/// Adds or replaces tags on an ECS resource.
pub async fn tag_resource(
    client: &Client,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> Result<()> {
    client
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .map_err(|e| Error::aws("TagResource", e))?;
    Ok(())
}

/// Sets a service's desired count.
pub async fn update_desired_count(
    client: &Client,
    cluster: &str,
    service: &str,
    desired: i32,
) -> Result<()> {
    client
        .update_service()
        .cluster(cluster)
        .service(service)
        .desired_count(desired)
        .send()
        .await
        .map_err(|e| Error::aws("UpdateService", e))?;
    Ok(())
}

/// Every service ARN of a cluster (ListServices, 100 per page).
pub async fn list_service_arns(client: &Client, cluster: &str) -> Result<Vec<String>> {
    client
        .list_services()
        .cluster(cluster)
        .max_results(100)
        .into_paginator()
        .items()
        .send()
        .collect::<std::result::Result<Vec<String>, _>>()
        .await
        .map_err(|e| Error::aws("ListServices", e))
}

/// Removes tags from a resource.
pub async fn untag_resource(client: &Client, arn: &str, keys: &[&str]) -> Result<()> {
    client
        .untag_resource()
        .resource_arn(arn)
        .set_tag_keys(Some(keys.iter().map(|k| k.to_string()).collect()))
        .send()
        .await
        .map_err(|e| Error::aws("UntagResource", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{CapacityProviderStrategyItem, LaunchType};

    use super::*;

    #[test]
    fn a_snapshot_carries_the_launch_type_or_the_capacity_provider_strategy() {
        let item = |provider: &str, base: i32, weight: i32| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(provider)
                .base(base)
                .weight(weight)
                .build()
                .expect("a strategy item")
        };
        let spot = Service::builder()
            .service_arn("arn:aws:ecs:eu-west-1:123456789012:service/dev/batch")
            .service_name("batch")
            .capacity_provider_strategy(item("FARGATE", 1, 1))
            .capacity_provider_strategy(item("FARGATE_SPOT", 0, 3))
            .build();
        let s = snapshot("dev", &spot);
        assert_eq!(s.launch_type, None);
        assert_eq!(
            s.capacity_providers,
            [
                ProviderShare {
                    provider: "FARGATE".into(),
                    base: 1,
                    weight: 1
                },
                ProviderShare {
                    provider: "FARGATE_SPOT".into(),
                    base: 0,
                    weight: 3
                }
            ]
        );
        let fargate = Service::builder()
            .service_arn("arn:aws:ecs:us-east-1:123456789012:service/dev/web")
            .launch_type(LaunchType::Fargate)
            .build();
        let s = snapshot("dev", &fargate);
        assert_eq!(s.launch_type.as_deref(), Some("FARGATE"));
        assert!(s.capacity_providers.is_empty());
    }
}
