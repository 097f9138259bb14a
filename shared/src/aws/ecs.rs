//! Small ECS adapters: batched reads and the writes the functions make.

use std::collections::BTreeMap;

use aws_sdk_ecs::operation::list_tasks::builders::ListTasksFluentBuilder;
use aws_sdk_ecs::types::{
    DesiredStatus, Service, ServiceField, Tag, Task, TaskDefinition, TaskDefinitionField, TaskField,
};
use aws_sdk_ecs::Client;

use crate::error::{Error, Result};

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

/// Describes services of one cluster with their tags, 10 per call. Services that do not exist
/// are absent from the result.
pub async fn describe_services(
    client: &Client,
    cluster: &str,
    names: &[String],
) -> Result<Vec<Service>> {
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
        found.extend(out.services.unwrap_or_default());
    }
    Ok(found)
}

/// Describes a task definition with its tags.
pub async fn describe_task_definition(
    client: &Client,
    task_definition: &str,
) -> Result<(TaskDefinition, BTreeMap<String, String>)> {
    let out = client
        .describe_task_definition()
        .task_definition(task_definition)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeTaskDefinition", e))?;
    let tags = tag_map(out.tags.as_deref());
    let td = out
        .task_definition
        .ok_or_else(|| Error::UnexpectedResponse {
            operation: "DescribeTaskDefinition",
            detail: format!("no taskDefinition for {task_definition}"),
        })?;
    Ok((td, tags))
}

/// Registers a copy of `base`, identical in every field RegisterTaskDefinition accepts, with
/// `container`'s image replaced and `tags` as the revision's tags. Returns the new ARN.
pub async fn register_copy(
    client: &Client,
    base: &TaskDefinition,
    container: &str,
    image: &str,
    tags: &BTreeMap<String, String>,
) -> Result<String> {
    let containers = base
        .container_definitions()
        .iter()
        .map(|c| {
            if c.name() == Some(container) {
                let mut c = c.clone();
                c.image = Some(image.to_string());
                c
            } else {
                c.clone()
            }
        })
        .collect::<Vec<_>>();
    let out = client
        .register_task_definition()
        .set_family(base.family.clone())
        .set_task_role_arn(base.task_role_arn.clone())
        .set_execution_role_arn(base.execution_role_arn.clone())
        .set_network_mode(base.network_mode.clone())
        .set_container_definitions(Some(containers))
        .set_volumes(base.volumes.clone())
        .set_placement_constraints(base.placement_constraints.clone())
        .set_requires_compatibilities(base.requires_compatibilities.clone())
        .set_cpu(base.cpu.clone())
        .set_memory(base.memory.clone())
        .set_pid_mode(base.pid_mode.clone())
        .set_ipc_mode(base.ipc_mode.clone())
        .set_proxy_configuration(base.proxy_configuration.clone())
        .set_ephemeral_storage(base.ephemeral_storage.clone())
        .set_runtime_platform(base.runtime_platform.clone())
        .set_enable_fault_injection(base.enable_fault_injection)
        .set_tags(Some(tag_list(tags)).filter(|t| !t.is_empty()))
        .send()
        .await
        .map_err(|e| Error::aws("RegisterTaskDefinition", e))?;
    out.task_definition
        .and_then(|td| td.task_definition_arn)
        .ok_or_else(|| Error::UnexpectedResponse {
            operation: "RegisterTaskDefinition",
            detail: "no taskDefinitionArn in the response".into(),
        })
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

/// The stopped tasks a deployment (or any `startedBy`) started, described, at most `limit`.
pub async fn stopped_tasks_started_by(
    client: &Client,
    cluster: &str,
    started_by: &str,
    limit: usize,
) -> Result<Vec<Task>> {
    stopped_tasks(client, cluster, limit, |l| l.started_by(started_by)).await
}

/// Lists stopped tasks with a filter, then describes them.
async fn stopped_tasks(
    client: &Client,
    cluster: &str,
    limit: usize,
    filter: impl FnOnce(ListTasksFluentBuilder) -> ListTasksFluentBuilder,
) -> Result<Vec<Task>> {
    let list = client
        .list_tasks()
        .cluster(cluster)
        .desired_status(DesiredStatus::Stopped)
        .max_results(limit.clamp(1, DESCRIBE_TASKS_BATCH) as i32);
    let arns = filter(list)
        .send()
        .await
        .map_err(|e| Error::aws("ListTasks", e))?
        .task_arns
        .unwrap_or_default();
    describe_tasks(client, cluster, &arns).await
}

/// Describes tasks, 100 per call.
pub async fn describe_tasks(client: &Client, cluster: &str, arns: &[String]) -> Result<Vec<Task>> {
    let mut tasks = Vec::with_capacity(arns.len());
    for chunk in arns.chunks(DESCRIBE_TASKS_BATCH) {
        let out = client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .include(TaskField::Tags)
            .send()
            .await
            .map_err(|e| Error::aws("DescribeTasks", e))?;
        tasks.extend(out.tasks.unwrap_or_default());
    }
    Ok(tasks)
}

/// The stopped tasks of a service, described with their tags, at most `limit` (newest first as
/// ECS lists them). Tasks of other groups are dropped, whatever the listing returned.
pub async fn stopped_tasks_of_service(
    client: &Client,
    cluster: &str,
    service: &str,
    limit: usize,
) -> Result<Vec<Task>> {
    let tasks = stopped_tasks(client, cluster, limit, |l| l.service_name(service)).await?;
    let group = format!("service:{service}");
    Ok(tasks
        .into_iter()
        .filter(|t| t.group() == Some(group.as_str()))
        .collect())
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
