//! The in-memory fake's side of this job's ports (`testing::FakeAws`).

use std::collections::BTreeMap;

use super::config::{CrashLoopAction, RestartNetwork, TaskWatcherConfig};
use super::TaskPorts;
use crate::error::Result;
use crate::events::EcsTaskStateChange;
use crate::model::revision::RevisionFacts;
use crate::model::task::RunAgain;
use crate::testing::FakeAws;

impl TaskPorts for FakeAws {
    async fn recent_stops(
        &self,
        _cluster: &str,
        service: &str,
        limit: usize,
    ) -> Result<Vec<EcsTaskStateChange>> {
        self.call("ECS.ListTasks");
        self.call("ECS.DescribeTasks");
        Ok(self.with(|s| {
            s.stops
                .get(service)
                .map(|v| v.iter().take(limit).cloned().collect())
                .unwrap_or_default()
        }))
    }

    async fn task_tags(&self, _cluster: &str, task_arn: &str) -> Result<BTreeMap<String, String>> {
        self.call("ECS.DescribeTasks");
        Ok(self.with(|s| s.task_tags.get(task_arn).cloned().unwrap_or_default()))
    }

    async fn revision_facts(&self, task_definition: &str) -> Result<RevisionFacts> {
        self.call("ECS.DescribeTaskDefinition");
        Ok(self.with(|s| RevisionFacts {
            logs: s.awslogs.get(task_definition).cloned().unwrap_or_default(),
            tags: s
                .definition_tags
                .get(task_definition)
                .cloned()
                .unwrap_or_default(),
        }))
    }

    async fn run_again(&self, r: &RunAgain<'_>) -> Result<String> {
        self.call("ECS.RunTask");
        self.with(|s| {
            s.run_tags.push(r.tags.clone());
            s.run_started_by.push(r.started_by.to_string());
        });
        if let Some(code) = self.with(|s| s.run_fails_with) {
            return Err(crate::testing::aws_error("RunTask", code));
        }
        let token = r.client_token.clone();
        Ok(self.with(|s| {
            if !s.runs.contains(&token) {
                s.runs.push(token.clone());
            }
            format!("arn:aws:ecs:us-east-1:123456789012:task/restarted/{token}")
        }))
    }
}

/// The task-watcher's configuration in the core's tests: 3 failing stops in 15 minutes make a
/// crash loop, at most 3 restarts, in subnet-1 and sg-1; `action` on a loop.
pub(crate) fn config(action: CrashLoopAction) -> TaskWatcherConfig {
    TaskWatcherConfig {
        topic_arn: "arn:aws:sns:us-east-1:123456789012:chat".into(),
        crash_loop_threshold: 3,
        crash_loop_window_minutes: 15,
        crash_loop_action: action,
        max_restarts: 3,
        restart_network: Some(RestartNetwork {
            subnets: vec!["subnet-1".into()],
            security_groups: vec!["sg-1".into()],
            assign_public_ip: false,
        }),
        dry_run: false,
    }
}
