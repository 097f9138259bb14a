//! One ECS service as every job sees it: built in one place (the ECS adapter's
//! `describe_services`), read by the deployer, the task-watcher, the alarm-notifier and off-hours.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// A service and its deployments, with its tags.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceSnapshot {
    /// The cluster's name (from the service's ARN).
    pub cluster: String,
    pub name: String,
    pub arn: String,
    /// ACTIVE, DRAINING or INACTIVE.
    pub status: String,
    /// The deployment controller (ECS, CODE_DEPLOY, EXTERNAL), when ECS says.
    pub controller: Option<String>,
    /// ECS's deployment strategy (ROLLING, BLUE_GREEN, LINEAR, CANARY), when ECS says.
    pub strategy: Option<String>,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    /// The task definition the service runs (its PRIMARY deployment's).
    pub task_definition: String,
    pub deployments: Vec<DeploymentSnapshot>,
    pub tags: BTreeMap<String, String>,
    /// FARGATE, EC2 or EXTERNAL, when the service names a launch type.
    pub launch_type: Option<String>,
    /// Its capacity provider strategy (FARGATE, FARGATE_SPOT, an Auto Scaling group's), when
    /// it has one instead of a launch type.
    pub capacity_providers: Vec<ProviderShare>,
}

/// One item of a capacity provider strategy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderShare {
    pub provider: String,
    /// The tasks placed on it first.
    pub base: i32,
    /// Its relative share of the tasks beyond the bases.
    pub weight: i32,
}

/// One of a service's deployments.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeploymentSnapshot {
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    pub task_definition: String,
    /// IN_PROGRESS, COMPLETED or FAILED.
    pub rollout_state: Option<String>,
    /// Why: a circuit-breaker rollback says `ECS deployment circuit breaker: rolling back to
    /// deploymentId <id>` while it runs.
    pub rollout_state_reason: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

impl ServiceSnapshot {
    /// Whether ECS shifts traffic for it (blue/green, linear, canary): its deployments are
    /// service deployments with stages, hooks and a rollback reason.
    pub fn shifts_traffic(&self) -> bool {
        matches!(
            self.strategy.as_deref(),
            Some("BLUE_GREEN" | "LINEAR" | "CANARY")
        )
    }

    /// The PRIMARY deployment: the one rolling out or done.
    pub fn primary(&self) -> Option<&DeploymentSnapshot> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }

    /// A deployment by id.
    pub fn deployment(&self, id: &str) -> Option<&DeploymentSnapshot> {
        self.deployments.iter().find(|d| d.id == id)
    }

    /// No deployment is replacing another, and none is rolling out.
    pub fn steady(&self) -> bool {
        self.deployments.len() <= 1
            && self
                .deployments
                .iter()
                .all(|d| d.rollout_state.as_deref() != Some("IN_PROGRESS"))
    }

    /// Whether it carries a tag.
    pub fn has_tag(&self, key: &str) -> bool {
        self.tags.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(id: &str, status: &str, rollout: Option<&str>) -> DeploymentSnapshot {
        DeploymentSnapshot {
            id: id.into(),
            status: status.into(),
            task_definition: format!("td:{id}"),
            rollout_state: rollout.map(str::to_string),
            rollout_state_reason: None,
            created_at: None,
        }
    }

    #[test]
    fn steady_means_one_deployment_not_rolling_out() {
        let with = |deployments| ServiceSnapshot {
            deployments,
            ..ServiceSnapshot::default()
        };
        assert!(with(vec![]).steady());
        assert!(with(vec![deployment("1", "PRIMARY", Some("COMPLETED"))]).steady());
        assert!(with(vec![deployment("1", "PRIMARY", None)]).steady());
        assert!(!with(vec![deployment("1", "PRIMARY", Some("IN_PROGRESS"))]).steady());
        let replacing = with(vec![
            deployment("2", "PRIMARY", Some("IN_PROGRESS")),
            deployment("1", "ACTIVE", Some("COMPLETED")),
        ]);
        assert!(!replacing.steady());
        assert_eq!(replacing.primary().map(|d| d.id.as_str()), Some("2"));
        assert_eq!(
            replacing.deployment("1").map(|d| d.status.as_str()),
            Some("ACTIVE")
        );
    }
}

/// A service found by its tags: its ARN and every tag it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedService {
    pub arn: String,
    pub tags: BTreeMap<String, String>,
}
