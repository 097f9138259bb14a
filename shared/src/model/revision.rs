//! A task-definition revision, in the project's terms: what the task-watcher reads of one, and
//! its number.

use std::collections::BTreeMap;

/// Where a container logs, from its `awslogs` log configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsLogs {
    pub container: String,
    pub group: String,
    /// Empty when the configuration names none.
    pub region: String,
    pub prefix: Option<String>,
}

/// What the task-watcher reads of a revision, once for the life of its process: where its
/// containers log, and its tags (the `autopilot:restart` opt-in of every task it runs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RevisionFacts {
    pub logs: Vec<AwsLogs>,
    pub tags: BTreeMap<String, String>,
}

/// The revision number at the end of a task-definition ARN (`...:task-definition/web:7` is 7).
pub fn revision_number(arn: &str) -> u64 {
    arn.rsplit(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
