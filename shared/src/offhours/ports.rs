//! What off-hours needs from AWS beyond reading services, scaling and publishing, and its
//! implementation for [`Clients`].

use std::collections::BTreeMap;
use std::future::Future;

use crate::aws::{cloudwatch, ecs, pricing, tagging, Clients};
use crate::capacity::Capacity;
use crate::error::Result;
use crate::model::alarm::ServiceAlarm;
use crate::model::price::{FargatePrices, TaskSize};
use crate::model::service::TaggedService;
use crate::ports::{Calls, Publish, ReadServices};

/// What off-hours needs beyond reading services, scaling and publishing.
pub trait OffHoursPorts: Calls + Publish + ReadServices + Capacity {
    /// The ECS services carrying tag `key` with one of `values` (any value when empty), with
    /// all their tags, across every cluster of the account and region.
    fn tagged_services(
        &self,
        key: &str,
        values: &[String],
    ) -> impl Future<Output = Result<Vec<TaggedService>>> + Send;
    /// An alarm's tags (its `autopilot:muted-by` mark).
    fn alarm_tags(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>>> + Send;
    /// Every service ARN of a cluster (for tag selection).
    fn service_arns(&self, cluster: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Removes tags from a service.
    fn untag_service(&self, arn: &str, keys: &[&str]) -> impl Future<Output = Result<()>> + Send;
    /// Metric alarms by the (cluster name, service) their dimensions, or their metric math's,
    /// name.
    fn alarms_by_service(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<(String, String), Vec<ServiceAlarm>>>> + Send;
    /// Adds tags to an alarm.
    fn tag_alarm(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Removes tags from an alarm.
    fn untag_alarm(&self, arn: &str, keys: &[&str]) -> impl Future<Output = Result<()>> + Send;
    /// Turns alarms' actions on or off.
    fn set_alarm_actions(
        &self,
        names: &[String],
        enable: bool,
    ) -> impl Future<Output = Result<()>> + Send;
    /// What one Fargate task of a revision is billed for (vCPU, GB, CPU architecture,
    /// ephemeral storage), for the savings estimate.
    fn task_size(&self, task_definition: &str) -> impl Future<Output = Result<TaskSize>> + Send;
    /// Fargate's prices in a region, from the AWS Price List.
    fn fargate_prices(&self, region: &str) -> impl Future<Output = Result<FargatePrices>> + Send;
}

impl OffHoursPorts for Clients {
    async fn tagged_services(&self, key: &str, values: &[String]) -> Result<Vec<TaggedService>> {
        tagging::tagged_services(&self.tagging, key, values).await
    }

    async fn alarm_tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        cloudwatch::alarm_tags(&self.cloudwatch, arn).await
    }

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

    async fn task_size(&self, task_definition: &str) -> Result<TaskSize> {
        let (revision, _) = ecs::describe_task_definition(&self.ecs, task_definition).await?;
        Ok(revision.billed_size())
    }

    async fn fargate_prices(&self, region: &str) -> Result<FargatePrices> {
        pricing::fargate_prices(&self.pricing, region).await
    }
}
