//! What the task-watcher needs from AWS beyond reading services, scaling and publishing, and
//! its implementation for [`Clients`].

use std::collections::BTreeMap;
use std::future::Future;

use crate::aws::{ecs, Clients};
use crate::capacity::Capacity;
use crate::error::Result;
use crate::events::EcsTaskStateChange;
use crate::model::revision::RevisionFacts;
use crate::model::task::RunAgain;
use crate::ports::{Calls, Publish, ReadServices};

/// What the task-watcher needs beyond reading services, scaling and publishing.
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
