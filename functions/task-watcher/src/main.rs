//! `task-watcher`: explains stopped ECS tasks, alerts, restarts opted-in standalone tasks and
//! catches crash loops. Everything but the entry point lives in `autopilot-core`.

use autopilot_core::tasks::{TaskWatcher, TaskWatcherConfig};

// One thread: Lambda sends one event at a time, a 128 MB function has a fraction of one vCPU,
// and worker threads would only cost init time (fan-out is concurrent on this one thread).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot_core::runtime::start(|sdk| {
        // One account (its own), or every member account of an organization (a hub:
        // SPOKE_ROLE_ARN set), each event handled in the account it comes from.
        let config = TaskWatcherConfig::from_env()?;
        autopilot_core::org::scoped(sdk, move |clients| {
            TaskWatcher::new(clients, config.clone())
        })
    })
    .await
}
