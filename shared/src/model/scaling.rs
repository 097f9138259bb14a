//! A service's scalable target (Application Auto Scaling) in the project's terms.

use serde::Serialize;

/// Which of a scalable target's scaling activities are suspended (its `SuspendedState`, each
/// flag `false` when AWS leaves it out, as the API reference gives the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Suspended {
    /// Scale-in by target tracking and step scaling policies.
    pub dynamic_in: bool,
    /// Scale-out by target tracking and step scaling policies.
    pub dynamic_out: bool,
    /// Scheduled actions.
    pub scheduled: bool,
}

impl Suspended {
    /// Everything suspended: what a sleeping service's target holds, so neither a scheduled
    /// action nor a policy can bring tasks back.
    pub const ALL: Suspended = Suspended {
        dynamic_in: true,
        dynamic_out: true,
        scheduled: true,
    };
}

/// A service's scalable target as off-hours and the task-watcher read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalableTarget {
    pub min: i32,
    pub max: i32,
    pub suspended: Suspended,
}

/// The scalable target's resource id of a service: `service/<cluster name>/<service>`.
pub fn resource_id(cluster: &str, service: &str) -> String {
    format!("service/{}/{service}", super::arn::cluster_name(cluster))
}
