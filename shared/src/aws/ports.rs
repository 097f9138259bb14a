//! The ports of the core, implemented with the AWS SDK through this folder's adapters.

use std::collections::BTreeMap;

#[cfg(feature = "alarms")]
use chrono::{DateTime, Utc};

#[cfg(feature = "autoscaling")]
use super::autoscaling;
#[cfg(feature = "cloudwatch")]
use super::cloudwatch;
#[cfg(feature = "offhours")]
use super::cloudwatch::ServiceAlarm;
#[cfg(feature = "deploy")]
use super::ecs::Revision;
#[cfg(feature = "tasks")]
use super::ecs::{RevisionFacts, RunAgain};
use super::{ecs, sns, CallLog, Clients};
#[cfg(feature = "deploy")]
use crate::deploy::outcome::StoppedTask;
use crate::error::Result;
#[cfg(feature = "tasks")]
use crate::events::EcsTaskStateChange;
use crate::notify::Notification;
#[cfg(feature = "alarms")]
use crate::ports::AlarmPorts;
#[cfg(feature = "cloudwatch")]
use crate::ports::AlarmTags;
#[cfg(feature = "autoscaling")]
use crate::ports::Capacity;
#[cfg(feature = "deploy")]
use crate::ports::DeployPorts;
#[cfg(feature = "offhours")]
use crate::ports::OffHoursPorts;
#[cfg(feature = "tasks")]
use crate::ports::TaskPorts;
use crate::ports::{Calls, Publish, ReadServices, TagService};
use crate::service::ServiceSnapshot;

impl Calls for Clients {
    fn calls(&self) -> &CallLog {
        &self.calls
    }
}

impl Publish for Clients {
    async fn publish(&self, topic_arn: &str, n: &Notification) -> Result<String> {
        sns::publish(&self.sns, topic_arn, n).await
    }
}

impl ReadServices for Clients {
    async fn services(&self, cluster: &str, names: &[String]) -> Result<Vec<ServiceSnapshot>> {
        ecs::describe_services(&self.ecs, cluster, names).await
    }
}

#[cfg(feature = "fleet")]
impl crate::ports::FindTagged for Clients {
    async fn tagged_services(
        &self,
        key: &str,
        values: &[String],
    ) -> Result<Vec<super::tagging::TaggedService>> {
        super::tagging::tagged_services(&self.tagging, key, values).await
    }
}

impl TagService for Clients {
    async fn tag_service(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        ecs::tag_resource(&self.ecs, arn, tags).await
    }
}

#[cfg(feature = "autoscaling")]
impl Capacity for Clients {
    async fn scalable_targets(
        &self,
        resource_ids: &[String],
    ) -> Result<BTreeMap<String, autoscaling::ScalableTarget>> {
        autoscaling::targets(&self.autoscaling, resource_ids).await
    }

    async fn set_bounds(
        &self,
        cluster: &str,
        service: &str,
        min: i32,
        max: i32,
        suspended: Option<autoscaling::Suspended>,
    ) -> Result<()> {
        autoscaling::set_bounds(&self.autoscaling, cluster, service, min, max, suspended).await
    }

    async fn set_desired(&self, cluster: &str, service: &str, desired: i32) -> Result<()> {
        ecs::update_desired_count(&self.ecs, cluster, service, desired).await
    }
}

#[cfg(feature = "tasks")]
impl TaskPorts for Clients {
    async fn recent_stops(
        &self,
        cluster: &str,
        service: &str,
        limit: usize,
    ) -> Result<Vec<EcsTaskStateChange>> {
        ecs::stopped_tasks_of_service(&self.ecs, cluster, service, limit).await
    }

    async fn task_tags(&self, cluster: &str, task_arn: &str) -> Result<BTreeMap<String, String>> {
        ecs::task_tags(&self.ecs, cluster, task_arn).await
    }

    async fn revision_facts(&self, task_definition: &str) -> Result<RevisionFacts> {
        let (revision, tags) = ecs::describe_task_definition(&self.ecs, task_definition).await?;
        Ok(RevisionFacts {
            logs: revision.awslogs(),
            tags,
        })
    }

    async fn run_again(&self, r: &RunAgain<'_>) -> Result<String> {
        ecs::run_task(&self.ecs, r).await
    }
}

#[cfg(feature = "offhours")]
impl OffHoursPorts for Clients {
    async fn service_arns(&self, cluster: &str) -> Result<Vec<String>> {
        ecs::list_service_arns(&self.ecs, cluster).await
    }

    async fn untag_service(&self, arn: &str, keys: &[&str]) -> Result<()> {
        ecs::untag_resource(&self.ecs, arn, keys).await
    }

    async fn alarms_by_service(&self) -> Result<BTreeMap<(String, String), Vec<ServiceAlarm>>> {
        cloudwatch::alarms_by_service(&self.cloudwatch).await
    }

    async fn tag_alarm(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        cloudwatch::tag_alarm(&self.cloudwatch, arn, tags).await
    }

    async fn untag_alarm(&self, arn: &str, keys: &[&str]) -> Result<()> {
        cloudwatch::untag_alarm(&self.cloudwatch, arn, keys).await
    }

    async fn set_alarm_actions(&self, names: &[String], enable: bool) -> Result<()> {
        cloudwatch::set_alarm_actions(&self.cloudwatch, names, enable).await
    }

    async fn task_size(&self, task_definition: &str) -> Result<(Option<f64>, Option<f64>)> {
        let (revision, _) = ecs::describe_task_definition(&self.ecs, task_definition).await?;
        Ok(revision.size())
    }
}

#[cfg(feature = "cloudwatch")]
impl AlarmTags for Clients {
    async fn alarm_tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        cloudwatch::alarm_tags(&self.cloudwatch, arn).await
    }
}

#[cfg(feature = "alarms")]
impl AlarmPorts for Clients {
    async fn state_changes(
        &self,
        name: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        cloudwatch::state_changes(&self.cloudwatch, name, from, to).await
    }
}

#[cfg(feature = "deploy")]
impl DeployPorts for Clients {
    async fn revision(&self, arn: &str) -> Result<(Revision, BTreeMap<String, String>)> {
        ecs::describe_task_definition(&self.ecs, arn).await
    }

    async fn register_copy(
        &self,
        base: &Revision,
        container: &str,
        image: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        ecs::register_copy(&self.ecs, base, container, image, tags).await
    }

    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition: Option<&str>,
        force_new_deployment: bool,
    ) -> Result<()> {
        ecs::update_service(
            &self.ecs,
            cluster,
            service,
            task_definition,
            force_new_deployment,
        )
        .await
    }

    async fn deployment_stops(
        &self,
        cluster: &str,
        service: &str,
        deployment_id: &str,
        limit: usize,
    ) -> Result<Vec<StoppedTask>> {
        ecs::stopped_task_summaries(&self.ecs, cluster, service, deployment_id, limit).await
    }

    async fn active_revisions(&self, family: &str) -> Result<Vec<String>> {
        ecs::active_revisions(&self.ecs, family).await
    }

    async fn deregister(&self, arn: &str) -> Result<()> {
        ecs::deregister_task_definition(&self.ecs, arn).await
    }
}
