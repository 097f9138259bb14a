//! Tasks: stopped ones read back (for crash loops and failed deployments), tags, run again.

use std::collections::BTreeMap;

use aws_sdk_ecs::operation::list_tasks::builders::ListTasksFluentBuilder;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride,
    DesiredStatus, KeyValuePair, LaunchType, NetworkConfiguration, Task, TaskField, TaskOverride,
};
use aws_sdk_ecs::Client;
use chrono::DateTime;
use futures_util::{stream, StreamExt, TryStreamExt};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::events::{EcsTaskStateChange, StopCode, TaskContainer};
use crate::model::task::{RunAgain, StoppedTask};

use super::{tag_list, tag_map, DESCRIBE_TASKS_BATCH};

/// How many pages of a service's stopped tasks (100 each) are read for a deployment's.
pub const DEPLOYMENT_STOPS_PAGES: usize = 3;

/// The stopped tasks a deployment started, summarised for the failure notice (id, stop code,
/// stop reason, what each container said), at most `limit`. ListTasks takes `startedBy` only as
/// its one filter, so the service's stopped tasks are listed (`serviceName` and
/// `desiredStatus=STOPPED`, up to [`DEPLOYMENT_STOPS_PAGES`] pages of 100), described, and those
/// whose `startedBy` is the deployment's id (ECS sets it on the tasks a deployment starts) are
/// kept.
pub async fn stopped_task_summaries(
    client: &Client,
    cluster: &str,
    service: &str,
    deployment_id: &str,
    limit: usize,
) -> Result<Vec<StoppedTask>> {
    let mut found = vec![];
    let mut pages = client
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Stopped)
        .max_results(DESCRIBE_TASKS_BATCH as i32)
        .into_paginator()
        .send();
    let mut read = 0;
    while let Some(page) = pages.next().await {
        let arns = page
            .map_err(|e| Error::aws("ListTasks", e))?
            .task_arns
            .unwrap_or_default();
        for task in describe_tasks(client, cluster, &arns).await? {
            if task.started_by() == Some(deployment_id) && found.len() < limit {
                found.push(stopped_task(&task));
            }
        }
        read += 1;
        if found.len() >= limit || read >= DEPLOYMENT_STOPS_PAGES {
            break;
        }
    }
    Ok(found)
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

/// Describes tasks, 100 per call, the calls side by side (at most
/// [`FAN_OUT`](crate::aws::FAN_OUT) at a time), in the order given.
pub async fn describe_tasks(client: &Client, cluster: &str, arns: &[String]) -> Result<Vec<Task>> {
    let batches: Vec<Vec<Task>> =
        stream::iter(arns.chunks(DESCRIBE_TASKS_BATCH).map(<[String]>::to_vec))
            .map(|chunk| async move {
                let out = client
                    .describe_tasks()
                    .cluster(cluster)
                    .set_tasks(Some(chunk))
                    .include(TaskField::Tags)
                    .send()
                    .await
                    .map_err(|e| Error::aws("DescribeTasks", e))?;
                Ok::<_, Error>(out.tasks.unwrap_or_default())
            })
            .buffered(crate::aws::FAN_OUT)
            .try_collect()
            .await?;
    Ok(batches.into_iter().flatten().collect())
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

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
    use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
    use aws_sdk_ecs::types::{Container, TaskStopCode};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    use super::*;

    const TASKS: &str = "arn:aws:ecs:us-east-1:123456789012:task/prod/";

    /// A stopped task as DescribeTasks returns it: `startedBy` is the id of the deployment that
    /// started it (`ecs-svc/...`), as the Task data type documents.
    fn task(id: &str, started_by: &str) -> Task {
        Task::builder()
            .task_arn(format!("{TASKS}{id}"))
            .group("service:web")
            .started_by(started_by)
            .last_status("STOPPED")
            .stop_code(TaskStopCode::EssentialContainerExited)
            .stopped_reason("Essential container in task exited")
            .containers(
                Container::builder()
                    .name("app")
                    .exit_code(1)
                    .reason("Error: Cannot find module 'next'")
                    .build(),
            )
            .build()
    }

    #[tokio::test]
    async fn a_deployments_stops_are_the_services_stopped_tasks_it_started() {
        // ListTasks documents that `startedBy` must be the only filter when given: the service's
        // stopped tasks are listed instead (two pages here), and only the deployment's kept.
        let list_filters_ok = |r: &aws_sdk_ecs::operation::list_tasks::ListTasksInput| {
            r.started_by().is_none()
                && r.service_name() == Some("web")
                && r.cluster() == Some("prod")
                && r.desired_status() == Some(&DesiredStatus::Stopped)
        };
        let first = mock!(Client::list_tasks)
            .match_requests(move |r| list_filters_ok(r) && r.next_token().is_none())
            .then_output(|| {
                ListTasksOutput::builder()
                    .task_arns(format!("{TASKS}a"))
                    .task_arns(format!("{TASKS}b"))
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(Client::list_tasks)
            .match_requests(move |r| list_filters_ok(r) && r.next_token() == Some("page-2"))
            .then_output(|| {
                ListTasksOutput::builder()
                    .task_arns(format!("{TASKS}c"))
                    .build()
            });
        let describe_first = mock!(Client::describe_tasks)
            .match_requests(|r| r.tasks().len() == 2)
            .then_output(|| {
                DescribeTasksOutput::builder()
                    .tasks(task("a", "ecs-svc/1"))
                    .tasks(task("b", "ecs-svc/0"))
                    .build()
            });
        let describe_second = mock!(Client::describe_tasks)
            .match_requests(|r| r.tasks().len() == 1)
            .then_output(|| {
                DescribeTasksOutput::builder()
                    .tasks(task("c", "ecs-svc/1"))
                    .build()
            });
        let client = mock_client!(
            aws_sdk_ecs,
            RuleMode::MatchAny,
            &[&first, &second, &describe_first, &describe_second]
        );
        let stops = stopped_task_summaries(&client, "prod", "web", "ecs-svc/1", 100)
            .await
            .expect("read");
        let ids: Vec<&str> = stops.iter().map(|s| s.task_id.as_str()).collect();
        assert_eq!(ids, ["a", "c"], "only the deployment's own tasks");
        assert_eq!(
            stops[0].containers,
            ["app: exit code 1 (Error: Cannot find module 'next')"]
        );
        assert_eq!(first.num_calls() + second.num_calls(), 2);

        // The limit stops the reading early.
        let one = stopped_task_summaries(&client, "prod", "web", "ecs-svc/1", 1)
            .await
            .expect("read");
        assert_eq!(one.len(), 1);
        assert_eq!(
            second.num_calls(),
            1,
            "no second page once the limit is reached"
        );
    }

    #[tokio::test]
    async fn a_failed_listing_names_list_tasks() {
        let denied = mock!(Client::list_tasks).then_error(|| {
            aws_sdk_ecs::operation::list_tasks::ListTasksError::generic(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not authorized to perform: ecs:ListTasks")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&denied]);
        let e = stopped_task_summaries(&client, "prod", "web", "ecs-svc/1", 100)
            .await
            .expect_err("denied");
        assert!(e.to_string().contains("ListTasks"), "{e}");
    }
}
