//! What the deployer needs from AWS beyond reading services, tagging them and publishing, and
//! its implementation for [`Clients`].

use std::collections::BTreeMap;
use std::future::Future;

use crate::aws::ecs::{self, Revision};
use crate::aws::scheduler::{self, OneShot};
use crate::aws::{tagging, Clients};
use crate::error::Result;
use crate::model::deployment::ServiceDeploymentBrief;
use crate::model::service::TaggedService;
use crate::model::task::StoppedTask;
use crate::ports::{Calls, Publish, ReadServices, TagService};

/// What the deployer needs beyond reading services, tagging them and publishing.
pub trait DeployPorts: Calls + Publish + ReadServices + TagService {
    /// The ECS services carrying tag `key` with one of `values` (any value when empty), with
    /// all their tags, across every cluster of the account and region (fleet mode).
    fn tagged_services(
        &self,
        key: &str,
        values: &[String],
    ) -> impl Future<Output = Result<Vec<TaggedService>>> + Send;
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
    /// A service deployment of a gated strategy (its status, its hooks); `None` when ECS does
    /// not know it.
    fn service_deployment(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<ServiceDeploymentBrief>>> + Send;
    /// A service's newest service deployment; `None` when ECS lists none.
    fn latest_service_deployment(
        &self,
        cluster: &str,
        service: &str,
    ) -> impl Future<Output = Result<Option<ServiceDeploymentBrief>>> + Send;
    /// Schedules a message to the deployer's queue, once; `false` when it was scheduled already.
    fn schedule_once(&self, schedule: &OneShot) -> impl Future<Output = Result<bool>> + Send;
}

impl DeployPorts for Clients {
    async fn tagged_services(&self, key: &str, values: &[String]) -> Result<Vec<TaggedService>> {
        tagging::tagged_services(&self.tagging, key, values).await
    }

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

    async fn service_deployment(&self, arn: &str) -> Result<Option<ServiceDeploymentBrief>> {
        ecs::service_deployment(&self.ecs, arn).await
    }

    async fn latest_service_deployment(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<ServiceDeploymentBrief>> {
        ecs::latest_service_deployment(&self.ecs, cluster, service).await
    }

    async fn schedule_once(&self, schedule: &OneShot) -> Result<bool> {
        scheduler::create_one_shot(&self.scheduler, schedule).await
    }
}
