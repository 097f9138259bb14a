//! Ports: what the jobs need from AWS, in their own terms, taking and returning project types.
//! The adapters in `aws/` implement them for [`Clients`](crate::aws::Clients); the core's tests
//! implement them in memory (`testing::FakeAws`), so a whole flow runs without the emulator.
//!
//! Every method returns a `Send` future: the Lambda runtime drives handlers on a multi-threaded
//! executor.

use std::collections::BTreeMap;
use std::future::Future;

#[cfg(feature = "alarms")]
use chrono::{DateTime, Utc};

#[cfg(feature = "offhours")]
use crate::aws::cloudwatch::ServiceAlarm;
#[cfg(feature = "deploy")]
use crate::aws::ecs::Revision;
#[cfg(feature = "tasks")]
use crate::aws::ecs::{RevisionFacts, RunAgain};
use crate::aws::CallLog;
#[cfg(feature = "deploy")]
use crate::deploy::outcome::StoppedTask;
use crate::error::Result;
#[cfg(feature = "tasks")]
use crate::events::EcsTaskStateChange;
use crate::notify::Notification;
use crate::service::ServiceSnapshot;

/// The record of the AWS calls an invocation made (logged and counted per invocation).
pub trait Calls: Send + Sync {
    fn calls(&self) -> &CallLog;
}

/// Publish a chat notification.
pub trait Publish: Send + Sync {
    /// Returns the message id.
    fn publish(
        &self,
        topic_arn: &str,
        n: &Notification,
    ) -> impl Future<Output = Result<String>> + Send;
}

/// Read services, with their tags and deployments.
pub trait ReadServices: Send + Sync {
    /// The services of one cluster (name or ARN) among `names`; missing ones are absent.
    fn services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<ServiceSnapshot>>> + Send;
}

/// Find services by their tags, across every cluster of the account and region (fleet mode).
#[cfg(feature = "fleet")]
pub trait FindTagged: Send + Sync {
    /// The ECS services carrying tag `key` with one of `values` (any value when empty), with
    /// all their tags.
    fn tagged_services(
        &self,
        key: &str,
        values: &[String],
    ) -> impl Future<Output = Result<Vec<crate::aws::tagging::TaggedService>>> + Send;
}

/// Tag a service (ECS): what the jobs remember is written as the service's tags.
pub trait TagService: Send + Sync {
    /// Adds (or overwrites) tags on a service.
    fn tag_service(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Set a service's capacity: the one way both the task-watcher and off-hours scale.
#[cfg(feature = "autoscaling")]
pub trait Capacity: TagService {
    /// The services' scalable targets (bounds and suspended state), by resource id
    /// (`service/<cluster>/<service>`); services without a target are absent.
    fn scalable_targets(
        &self,
        resource_ids: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, crate::aws::autoscaling::ScalableTarget>>> + Send;
    /// Sets a scalable target's bounds and, when given, its suspended state.
    fn set_bounds(
        &self,
        cluster: &str,
        service: &str,
        min: i32,
        max: i32,
        suspended: Option<crate::aws::autoscaling::Suspended>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn set_desired(
        &self,
        cluster: &str,
        service: &str,
        desired: i32,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// What the task-watcher needs beyond reading services, scaling and publishing.
#[cfg(feature = "tasks")]
pub trait TaskPorts: Calls + Publish + ReadServices + Capacity {
    /// A service's recently stopped tasks (ECS keeps them about an hour), at most `limit`.
    fn recent_stops(
        &self,
        cluster: &str,
        service: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<EcsTaskStateChange>>> + Send;
    /// A task's tags (empty when the task is gone).
    fn task_tags(
        &self,
        cluster: &str,
        task_arn: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>>> + Send;
    /// Where a revision's containers log, and its tags.
    fn revision_facts(
        &self,
        task_definition: &str,
    ) -> impl Future<Output = Result<RevisionFacts>> + Send;
    /// Runs a stopped task again; returns the new task's ARN.
    fn run_again(&self, r: &RunAgain<'_>) -> impl Future<Output = Result<String>> + Send;
}

/// Read an alarm's tags (the alarm-notifier's severity and runbook; off-hours' mute mark).
pub trait AlarmTags: Send + Sync {
    fn alarm_tags(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>>> + Send;
}

/// What off-hours needs beyond reading services, scaling and publishing.
#[cfg(feature = "offhours")]
pub trait OffHoursPorts:
    Calls + Publish + ReadServices + Capacity + AlarmTags + FindTagged
{
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
    /// A revision's task-level CPU units and memory MiB, for the savings estimate.
    fn task_size(
        &self,
        task_definition: &str,
    ) -> impl Future<Output = Result<(Option<f64>, Option<f64>)>> + Send;
}

/// What the alarm-notifier needs beyond reading services and publishing; it reads an alarm's
/// tags (`autopilot:severity`, `autopilot:runbook`).
#[cfg(feature = "alarms")]
pub trait AlarmPorts: Calls + Publish + ReadServices + AlarmTags {
    /// The times of an alarm's state changes between `from` and `to`.
    fn state_changes(
        &self,
        name: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<DateTime<Utc>>>> + Send;
}

/// What the deployer needs beyond reading services, tagging them and publishing.
#[cfg(feature = "deploy")]
pub trait DeployPorts: Calls + Publish + ReadServices + TagService + FindTagged {
    /// A task-definition revision, with its tags.
    fn revision(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<(Revision, BTreeMap<String, String>)>> + Send;
    /// Registers a copy of `base` with `container`'s image replaced and `tags`; returns its ARN.
    fn register_copy(
        &self,
        base: &Revision,
        container: &str,
        image: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<String>> + Send;
    /// Points a service at a revision, or forces a new deployment of the one it has.
    fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition: Option<&str>,
        force_new_deployment: bool,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The stopped tasks of `service` that its deployment `deployment_id` started, summarised
    /// for the failure notice.
    fn deployment_stops(
        &self,
        cluster: &str,
        service: &str,
        deployment_id: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoppedTask>>> + Send;
    /// The ACTIVE revisions of a family, newest first.
    fn active_revisions(&self, family: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
    fn deregister(&self, arn: &str) -> impl Future<Output = Result<()>> + Send;
}
