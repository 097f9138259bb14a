//! The ports every job shares: the call record, publishing, reading services and tagging
//! them, in the project's terms, with their implementation for [`Clients`] (the adapters in
//! `aws/` make the calls). Each job's own port lives with the job (`deploy::ports`,
//! `tasks::ports`, `alarms::ports`, `offhours::ports`); the capacity port shared by the
//! task-watcher and off-hours lives in [`crate::capacity`]. The core's tests implement them in
//! memory (`testing::FakeAws`), so a whole flow runs without the emulator.
//!
//! Every method returns a `Send` future: the Lambda runtime drives handlers on a multi-threaded
//! executor.

use std::collections::BTreeMap;
use std::future::Future;

use crate::aws::{ecs, sns, CallLog, Clients};
use crate::error::Result;
use crate::model::service::ServiceSnapshot;
use crate::notify::Notification;

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

/// Tag a service (ECS): what the jobs remember is written as the service's tags.
pub trait TagService: Send + Sync {
    /// Adds (or overwrites) tags on a service.
    fn tag_service(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<()>> + Send;
}

impl Calls for Clients {
    fn calls(&self) -> &CallLog {
        &self.calls
    }
}

impl Publish for Clients {
    async fn publish(&self, topic_arn: &str, n: &Notification) -> Result<String> {
        match &self.account {
            Some(account) => {
                sns::publish(&self.sns, topic_arn, &n.clone().in_account(account)).await
            }
            None => sns::publish(&self.sns, topic_arn, n).await,
        }
    }
}

impl ReadServices for Clients {
    async fn services(&self, cluster: &str, names: &[String]) -> Result<Vec<ServiceSnapshot>> {
        ecs::describe_services(&self.ecs, cluster, names).await
    }
}

impl TagService for Clients {
    async fn tag_service(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        ecs::tag_resource(&self.ecs, arn, tags).await
    }
}
