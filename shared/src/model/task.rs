//! Tasks in the project's terms: a stopped task as a failure notice shows it, and a stopped
//! task to run again.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// One stopped task of a deployment, as the failure notice shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoppedTask {
    pub task_id: String,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    /// `name: exit code N (reason)` per container that says something.
    pub containers: Vec<String>,
}

/// A stopped task to run again as it ran, in the task-watcher's terms.
pub struct RunAgain<'a> {
    pub cluster: &'a str,
    pub task_definition: Option<&'a str>,
    pub group: Option<&'a str>,
    pub started_by: &'a str,
    /// Derived from the stopped task: a duplicate event starts no second task.
    pub client_token: String,
    pub subnets: &'a [String],
    pub security_groups: &'a [String],
    pub assign_public_ip: bool,
    pub tags: &'a BTreeMap<String, String>,
    /// The capacity provider it ran on (wins over the launch type).
    pub capacity_provider: Option<&'a str>,
    pub launch_type: Option<&'a str>,
    /// The event's `overrides`, as sent: their container overrides are passed on.
    pub overrides: Option<&'a Value>,
}
