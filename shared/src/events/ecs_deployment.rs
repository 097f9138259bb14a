//! `ECS Deployment State Change` (source `aws.ecs`).

use serde::{Deserialize, Serialize};

crate::string_enum! {
    /// The deployment's new state.
    pub enum DeploymentEventName {
        InProgress = "SERVICE_DEPLOYMENT_IN_PROGRESS",
        Completed = "SERVICE_DEPLOYMENT_COMPLETED",
        Failed = "SERVICE_DEPLOYMENT_FAILED",
    }
}

/// The detail of an `ECS Deployment State Change` event. The service's ARN is in the envelope's
/// `resources`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsDeploymentStateChange {
    #[serde(default)]
    pub event_type: Option<String>,
    pub event_name: DeploymentEventName,
    pub deployment_id: String,
    #[serde(default)]
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub reason: Option<String>,
}

impl EcsDeploymentStateChange {
    /// An in-progress event whose reason says the circuit breaker is rolling back.
    pub fn is_rollback(&self) -> bool {
        self.event_name == DeploymentEventName::InProgress
            && self
                .reason
                .as_deref()
                .is_some_and(|r| r.to_ascii_lowercase().contains("rolling back"))
    }
}
