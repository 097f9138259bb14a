//! Small ECS adapters: batched reads and the writes the functions make.

use std::collections::BTreeMap;

use aws_sdk_ecs::operation::list_tasks::builders::ListTasksFluentBuilder;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride,
    DesiredStatus, KeyValuePair, LaunchType, NetworkConfiguration, Service, ServiceField,
    SortOrder, Tag, Task, TaskDefinition, TaskDefinitionField, TaskDefinitionStatus, TaskField,
    TaskOverride,
};
use aws_sdk_ecs::Client;
use chrono::DateTime;
use serde_json::Value;

use crate::deploy::outcome::StoppedTask;
use crate::error::{Error, Result};
use crate::events::{EcsTaskStateChange, StopCode, TaskContainer};
use crate::service::{DeploymentSnapshot, ServiceSnapshot};

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
    let cluster = crate::aws::Arn::parse(&arn)
        .and_then(|a| a.ecs_service().map(|(c, _)| c.to_string()))
        .unwrap_or_else(|| crate::deploy::config::cluster_name(cluster).to_string());
    ServiceSnapshot {
        cluster,
        name: s.service_name().unwrap_or_default().to_string(),
        arn,
        status: s.status().unwrap_or_default().to_string(),
        controller: s
            .deployment_controller()
            .map(|c| c.r#type().as_str().to_string()),
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
                created_at: d
                    .created_at()
                    .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
            })
            .collect(),
        tags: tag_map(s.tags.as_deref()),
    }
}

/// A task-definition revision as DescribeTaskDefinition returned it. Kept whole, because the
/// deployer registers copies identical in every field; the rest of the core reads it through
/// these accessors.
#[derive(Clone, Debug)]
pub struct Revision(TaskDefinition);

/// Where a container logs, from its `awslogs` log configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsLogs {
    pub container: String,
    pub group: String,
    /// Empty when the configuration names none.
    pub region: String,
    pub prefix: Option<String>,
}

impl Revision {
    pub fn arn(&self) -> &str {
        self.0.task_definition_arn().unwrap_or_default()
    }

    pub fn family(&self) -> &str {
        self.0.family().unwrap_or_default()
    }

    /// `(container name, image)` in definition order.
    pub fn containers(&self) -> Vec<(String, String)> {
        self.0
            .container_definitions()
            .iter()
            .map(|c| {
                (
                    c.name().unwrap_or_default().to_string(),
                    c.image().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// Task-level CPU units and memory MiB, when set.
    pub fn size(&self) -> (Option<f64>, Option<f64>) {
        let num = |v: Option<&str>| v.and_then(|v| v.parse::<f64>().ok());
        (num(self.0.cpu()), num(self.0.memory()))
    }

    /// The containers that log with `awslogs`, and where.
    pub fn awslogs(&self) -> Vec<AwsLogs> {
        self.0
            .container_definitions()
            .iter()
            .filter_map(|c| {
                let log = c.log_configuration()?;
                if log.log_driver().as_str() != "awslogs" {
                    return None;
                }
                let o = log.options()?;
                Some(AwsLogs {
                    container: c.name()?.to_string(),
                    group: o.get("awslogs-group")?.clone(),
                    region: o.get("awslogs-region").cloned().unwrap_or_default(),
                    prefix: o.get("awslogs-stream-prefix").cloned(),
                })
            })
            .collect()
    }
}

/// Describes a task definition with its tags.
pub async fn describe_task_definition(
    client: &Client,
    task_definition: &str,
) -> Result<(Revision, BTreeMap<String, String>)> {
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
    Ok((Revision(td), tags))
}

/// Registers a copy of `base`, identical in every field RegisterTaskDefinition accepts, with
/// `container`'s image replaced and `tags` as the revision's tags. Returns the new ARN.
pub async fn register_copy(
    client: &Client,
    base: &Revision,
    container: &str,
    image: &str,
    tags: &BTreeMap<String, String>,
) -> Result<String> {
    let base = &base.0;
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

/// The stopped tasks a deployment started (`startedBy` = its id), summarised for the failure
/// notice: id, stop code, stop reason, and what each container said.
pub async fn stopped_task_summaries(
    client: &Client,
    cluster: &str,
    deployment_id: &str,
    limit: usize,
) -> Result<Vec<StoppedTask>> {
    let tasks = stopped_tasks_started_by(client, cluster, deployment_id, limit).await?;
    Ok(tasks.iter().map(stopped_task).collect())
}

fn stopped_task(task: &Task) -> StoppedTask {
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

/// The stopped tasks of a service, at most `limit` (newest first as ECS lists them), in the
/// shape of the task state change event, so one classifier serves both. Tasks of other groups
/// are dropped, whatever the listing returned.
pub async fn stopped_tasks_of_service(
    client: &Client,
    cluster: &str,
    service: &str,
    limit: usize,
) -> Result<Vec<EcsTaskStateChange>> {
    let tasks = stopped_tasks(client, cluster, limit, |l| l.service_name(service)).await?;
    let group = format!("service:{service}");
    Ok(tasks
        .iter()
        .filter(|t| t.group() == Some(group.as_str()))
        .map(task_state)
        .collect())
}

/// A task's tags (DescribeTasks with tags); empty when the task is not found.
pub async fn task_tags(
    client: &Client,
    cluster: &str,
    task_arn: &str,
) -> Result<BTreeMap<String, String>> {
    let described = describe_tasks(client, cluster, &[task_arn.to_string()]).await?;
    Ok(tag_map(described.first().and_then(|d| d.tags.as_deref())))
}

/// A described task, in the shape of the event, so one classifier serves both.
fn task_state(task: &Task) -> EcsTaskStateChange {
    EcsTaskStateChange {
        task_arn: task.task_arn().unwrap_or_default().to_string(),
        cluster_arn: task.cluster_arn().unwrap_or_default().to_string(),
        task_definition_arn: task.task_definition_arn().map(str::to_string),
        group: task.group().map(str::to_string),
        started_by: task.started_by().map(str::to_string),
        last_status: task.last_status().unwrap_or_default().to_string(),
        desired_status: task.desired_status().map(str::to_string),
        stop_code: task.stop_code().map(|c| StopCode::from(c.as_str())),
        stopped_reason: task.stopped_reason().map(str::to_string),
        launch_type: task.launch_type().map(|l| l.as_str().to_string()),
        capacity_provider_name: task.capacity_provider_name().map(str::to_string),
        cpu: task.cpu().map(str::to_string),
        memory: task.memory().map(str::to_string),
        containers: task
            .containers()
            .iter()
            .map(|c| TaskContainer {
                name: c.name().unwrap_or_default().to_string(),
                image: c.image().map(str::to_string),
                image_digest: c.image_digest().map(str::to_string),
                last_status: c.last_status().map(str::to_string),
                exit_code: c.exit_code().map(i64::from),
                reason: c.reason().map(str::to_string),
            })
            .collect(),
        overrides: None,
        stopped_at: task
            .stopped_at()
            .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
        version: Some(task.version()),
    }
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

/// The ACTIVE revisions of a family, newest first (one page of 100).
pub async fn active_revisions(client: &Client, family: &str) -> Result<Vec<String>> {
    let listed = client
        .list_task_definitions()
        .family_prefix(family)
        .status(TaskDefinitionStatus::Active)
        .sort(SortOrder::Desc)
        .max_results(100)
        .send()
        .await
        .map_err(|e| Error::aws("ListTaskDefinitions", e))?;
    Ok(listed.task_definition_arns().to_vec())
}

/// Deregisters a task definition revision.
pub async fn deregister_task_definition(client: &Client, arn: &str) -> Result<()> {
    client
        .deregister_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| Error::aws("DeregisterTaskDefinition", e))?;
    Ok(())
}

/// A stopped task to run again as it ran, in the task-watcher's terms.
pub struct RunAgain<'a> {
    pub cluster: &'a str,
    pub task_definition: Option<&'a str>,
    pub group: Option<&'a str>,
    pub started_by: &'a str,
    /// Derived from the stopped task: a duplicate event starts no second task.
    pub client_token: String,
    pub subnets: &'a [String],
    pub security_groups: &'a [String],
    pub assign_public_ip: bool,
    pub tags: &'a BTreeMap<String, String>,
    /// The capacity provider it ran on (wins over the launch type).
    pub capacity_provider: Option<&'a str>,
    pub launch_type: Option<&'a str>,
    /// The event's `overrides`, as sent: their container overrides are passed on.
    pub overrides: Option<&'a Value>,
}

/// Runs a task again (RunTask); returns the new task's ARN.
pub async fn run_task(client: &Client, r: &RunAgain<'_>) -> Result<String> {
    let mut req = client
        .run_task()
        .cluster(r.cluster)
        .set_task_definition(r.task_definition.map(str::to_string))
        .set_group(r.group.map(str::to_string))
        .started_by(r.started_by)
        .client_token(&r.client_token)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .set_subnets(Some(r.subnets.to_vec()))
                        .set_security_groups(
                            Some(r.security_groups.to_vec()).filter(|g| !g.is_empty()),
                        )
                        .assign_public_ip(if r.assign_public_ip {
                            AssignPublicIp::Enabled
                        } else {
                            AssignPublicIp::Disabled
                        })
                        .build()
                        .map_err(|e| Error::bad_event(format!("RESTART_NETWORK: {e}")))?,
                )
                .build(),
        )
        .set_tags(Some(tag_list(r.tags)));
    req = match (r.capacity_provider, r.launch_type) {
        (Some(cp), _) => req.capacity_provider_strategy(
            CapacityProviderStrategyItem::builder()
                .capacity_provider(cp)
                .weight(1)
                .build()
                .map_err(|e| Error::bad_event(format!("detail.capacityProviderName: {e}")))?,
        ),
        (None, Some(lt)) => req.launch_type(LaunchType::from(lt)),
        (None, None) => req,
    };
    if let Some(overrides) = container_overrides(r.overrides) {
        req = req.overrides(
            TaskOverride::builder()
                .set_container_overrides(Some(overrides))
                .build(),
        );
    }
    let out = req.send().await.map_err(|e| Error::aws("RunTask", e))?;
    if let Some(f) = out.failures().first() {
        return Err(Error::UnexpectedResponse {
            operation: "RunTask",
            detail: format!(
                "{}: {}",
                f.reason().unwrap_or("failure"),
                f.detail().unwrap_or_default()
            ),
        });
    }
    out.tasks()
        .first()
        .and_then(|t| t.task_arn())
        .map(str::to_string)
        .ok_or_else(|| Error::UnexpectedResponse {
            operation: "RunTask",
            detail: "no task in the response".into(),
        })
}

/// The event's container overrides, as RunTask takes them (name, command, environment, cpu,
/// memory); `None` when there are none worth passing.
pub(crate) fn container_overrides(overrides: Option<&Value>) -> Option<Vec<ContainerOverride>> {
    let list = overrides?.get("containerOverrides")?.as_array()?;
    let out: Vec<ContainerOverride> = list
        .iter()
        .filter_map(|o| {
            let name = o.get("name")?.as_str()?;
            let command: Option<Vec<String>> =
                o.get("command").and_then(Value::as_array).map(|c| {
                    c.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                });
            let environment: Option<Vec<KeyValuePair>> =
                o.get("environment").and_then(Value::as_array).map(|e| {
                    e.iter()
                        .filter_map(|kv| {
                            Some(
                                KeyValuePair::builder()
                                    .name(kv.get("name")?.as_str()?)
                                    .value(
                                        kv.get("value").and_then(Value::as_str).unwrap_or_default(),
                                    )
                                    .build(),
                            )
                        })
                        .collect()
                });
            let int = |k: &str| {
                o.get(k)
                    .and_then(Value::as_i64)
                    .and_then(|n| i32::try_from(n).ok())
            };
            Some(
                ContainerOverride::builder()
                    .name(name)
                    .set_command(command)
                    .set_environment(environment)
                    .set_cpu(int("cpu"))
                    .set_memory(int("memory"))
                    .set_memory_reservation(int("memoryReservation"))
                    .build(),
            )
        })
        .collect();
    (!out.is_empty()).then_some(out)
}
