//! A service deployment of ECS's blue/green, linear and canary strategies, and its lifecycle
//! hooks, as the deployer and the deploy-gate read them (`DescribeServiceDeployments`).

use chrono::{DateTime, Utc};

/// One lifecycle hook of a service deployment, as `lifecycleHookDetails` gives it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HookBrief {
    pub hook_id: String,
    /// `AWS_LAMBDA` or `PAUSE`.
    pub target_type: String,
    /// `AWAITING_ACTION`, `IN_PROGRESS`, `SUCCEEDED`, `FAILED` or `TIMED_OUT`.
    pub status: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// `ROLLBACK` or `CONTINUE`.
    pub timeout_action: Option<String>,
}

/// What the functions need of a service deployment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceDeploymentBrief {
    pub arn: String,
    /// `ServiceDeploymentStatus` as ECS spells it.
    pub status: String,
    pub status_reason: Option<String>,
    /// The stage it is in (`BAKE_TIME`...), as ECS spells it.
    pub lifecycle_stage: Option<String>,
    /// Its strategy and bake time, from its deployment configuration.
    pub strategy: Option<String>,
    pub bake_minutes: Option<i32>,
    /// Why it was rolled back, when it was.
    pub rollback_reason: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// Whether it replaces running revisions.
    pub has_source: bool,
    /// The revision it deploys, and the tasks it asked for.
    pub target_revision: Option<String>,
    pub requested_tasks: Option<u32>,
    pub hooks: Vec<HookBrief>,
}

impl ServiceDeploymentBrief {
    /// Whether ECS is rolling it back (or has).
    pub fn is_rollback(&self) -> bool {
        self.status.starts_with("ROLLBACK")
    }
}
