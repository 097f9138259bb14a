//! Task-definition revisions: read whole, copied, listed and deregistered.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    CpuArchitecture, SortOrder, TaskDefinition, TaskDefinitionField, TaskDefinitionStatus,
};
use aws_sdk_ecs::Client;

use crate::error::{Error, Result};

use super::{tag_list, tag_map};
use crate::model::price::{Arch, TaskSize, FREE_STORAGE_GIB};
use crate::model::revision::{revision_number, AwsLogs};

/// A task-definition revision as DescribeTaskDefinition returned it. Kept whole, because the
/// deployer registers copies identical in every field; the rest of the core reads it through
/// these accessors.
#[derive(Clone, Debug)]
pub struct Revision(TaskDefinition);

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

    /// What one Fargate task of it is billed for: its task-level CPU units and memory MiB as
    /// vCPU and GB (nothing when unset), its CPU architecture and its ephemeral storage.
    pub fn billed_size(&self) -> TaskSize {
        let num = |v: Option<&str>| v.and_then(|v| v.trim().parse::<f64>().ok()).unwrap_or(0.0);
        TaskSize {
            vcpu: num(self.0.cpu()) / 1024.0,
            gb: num(self.0.memory()) / 1024.0,
            arch: match self.0.runtime_platform().and_then(|p| p.cpu_architecture()) {
                Some(CpuArchitecture::Arm64) => Arch::Arm,
                _ => Arch::X86,
            },
            storage_gib: self
                .0
                .ephemeral_storage()
                .map_or(FREE_STORAGE_GIB, |e| f64::from(e.size_in_gib())),
        }
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

#[cfg(test)]
#[allow(dead_code)] // by the deployer's tests
impl Revision {
    /// A revision as tests build it with the SDK's builders.
    pub(crate) fn from_sdk(td: TaskDefinition) -> Self {
        Revision(td)
    }

    /// What registering a copy gives: the same revision under `arn`, `container`'s image
    /// replaced.
    pub(crate) fn copy_as(&self, arn: &str, container: &str, image: &str) -> Self {
        let mut td = self.0.clone();
        td.task_definition_arn = Some(arn.to_string());
        for c in td.container_definitions.iter_mut().flatten() {
            if c.name.as_deref() == Some(container) {
                c.image = Some(image.to_string());
            }
        }
        Revision(td)
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
        // Not idempotent: an attempt whose answer was lost may have registered a revision, and
        // the SDK's own retry would register a second. The caller retries after looking for
        // the one it registered (by its tags) instead.
        .customize()
        .config_override(
            aws_sdk_ecs::config::Config::builder()
                .retry_config(aws_sdk_ecs::config::retry::RetryConfig::disabled()),
        )
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
    let mut arns = listed.task_definition_arns().to_vec();
    // Newest first by revision number, whatever order the answer came in.
    arns.sort_by_key(|a| std::cmp::Reverse(revision_number(a)));
    Ok(arns)
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

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{EphemeralStorage, RuntimePlatform};

    use super::*;
    use crate::model::price::{Arch, TaskSize};

    #[test]
    fn a_task_is_billed_for_its_task_level_size_architecture_and_ephemeral_storage() {
        let base = || TaskDefinition::builder().cpu("512").memory("1024").build();
        assert_eq!(
            Revision::from_sdk(base()).billed_size(),
            TaskSize {
                vcpu: 0.5,
                gb: 1.0,
                arch: Arch::X86,
                storage_gib: 20.0
            },
            "no platform, no storage: x86 and the free 20 GiB"
        );
        let mut arm = base();
        arm.runtime_platform = Some(
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::Arm64)
                .build(),
        );
        arm.ephemeral_storage = Some(EphemeralStorage::builder().size_in_gib(120).build());
        let size = Revision::from_sdk(arm).billed_size();
        assert_eq!((size.arch, size.storage_gib), (Arch::Arm, 120.0));
        let mut x86 = base();
        x86.runtime_platform = Some(
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::X8664)
                .build(),
        );
        assert_eq!(Revision::from_sdk(x86).billed_size().arch, Arch::X86);
        // An EC2 revision without task-level sizes: nothing billed by Fargate.
        let none = Revision::from_sdk(TaskDefinition::builder().build()).billed_size();
        assert_eq!((none.vcpu, none.gb), (0.0, 0.0));
    }
}
