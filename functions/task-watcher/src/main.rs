//! `task-watcher`: explains stopped ECS tasks, alerts, restarts opted-in standalone tasks and
//! catches crash loops. Everything but the entry point lives in `autopilot-core`.

use autopilot_core::aws::Clients;
use autopilot_core::tasks::{TaskWatcher, TaskWatcherConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot_core::runtime::start(|sdk| {
        Ok(TaskWatcher::new(
            Clients::new(sdk),
            TaskWatcherConfig::from_env()?,
        ))
    })
    .await
}
