//! What ECS sends about the lifecycle hooks of a service deployment:
//! - the payload it invokes a Lambda hook with ("Lambda hooks for Amazon ECS service
//!   deployments", ECS developer guide): `executionId`, `lifecycleStage`, `resourceArn` (the
//!   service deployment), `executionDetails` (service, target revision, test and production
//!   traffic weights by revision ARN) and `hookDetails` (what the hook was configured with,
//!   merged with what the last `IN_PROGRESS` answer returned);
//! - the `ECS Hook State Change` EventBridge event ("Amazon ECS service deployment hook state
//!   change events"), which announces a pause hook waiting for `ContinueServiceDeployment`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

crate::string_enum! {
    /// A stage of a service deployment at which a hook can run (`DeploymentLifecycleHookStage`).
    pub enum LifecycleStage {
        ReconcileService = "RECONCILE_SERVICE",
        PreScaleUp = "PRE_SCALE_UP",
        PostScaleUp = "POST_SCALE_UP",
        TestTrafficShift = "TEST_TRAFFIC_SHIFT",
        PostTestTrafficShift = "POST_TEST_TRAFFIC_SHIFT",
        PreProductionTrafficShift = "PRE_PRODUCTION_TRAFFIC_SHIFT",
        ProductionTrafficShift = "PRODUCTION_TRAFFIC_SHIFT",
        PostProductionTrafficShift = "POST_PRODUCTION_TRAFFIC_SHIFT",
    }
}

impl LifecycleStage {
    /// The stage in words, for chat.
    pub fn words(&self) -> String {
        match self {
            LifecycleStage::ReconcileService => "reconcile".into(),
            LifecycleStage::PreScaleUp => "before scale-up".into(),
            LifecycleStage::PostScaleUp => "after scale-up".into(),
            LifecycleStage::TestTrafficShift => "test traffic shift".into(),
            LifecycleStage::PostTestTrafficShift => "after the test traffic shift".into(),
            LifecycleStage::PreProductionTrafficShift => {
                "before the production traffic shift".into()
            }
            LifecycleStage::ProductionTrafficShift => "production traffic shift".into(),
            LifecycleStage::PostProductionTrafficShift => {
                "after the production traffic shift".into()
            }
            LifecycleStage::Other(s) => s.clone(),
        }
    }
}

/// Traffic weights (percent) by service-revision ARN.
pub type Weights = BTreeMap<String, f64>;

/// One invocation of a Lambda lifecycle hook.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookInvocation {
    pub execution_id: String,
    pub stage: LifecycleStage,
    /// The service deployment (`arn:aws:ecs:<region>:<account>:service-deployment/<cluster>/<service>/<id>`).
    pub service_deployment_arn: String,
    pub service_arn: String,
    /// The revision being deployed (green).
    pub target_revision_arn: String,
    pub test_weights: Weights,
    pub production_weights: Weights,
    /// What the hook was configured with, and what its last `IN_PROGRESS` answer returned.
    pub hook_details: Map<String, Value>,
}

fn text(v: &Value, path: &str) -> Result<String> {
    let mut at = v;
    for key in path.split('.') {
        at = &at[key];
    }
    match at {
        Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        Value::Null => Err(Error::bad_event(format!("{path}: missing"))),
        other => Err(Error::bad_event(format!(
            "{path}: must be a non-empty string, not {}",
            super::json_kind(other)
        ))),
    }
}

/// A weight map: ECS's examples give integers; a linear or canary step may be fractional
/// (steps are multiples of 0.1 %). Absent or `null` is an empty map.
fn weights(v: &Value, path: &str) -> Result<Weights> {
    match v {
        Value::Null => Ok(Weights::new()),
        Value::Object(m) => m
            .iter()
            .map(|(arn, w)| match w.as_f64() {
                Some(w) if (0.0..=100.0).contains(&w) => Ok((arn.clone(), w)),
                _ => Err(Error::bad_event(format!(
                    "{path}.{arn}: must be a percentage from 0 to 100, not {w}"
                ))),
            })
            .collect(),
        other => Err(Error::bad_event(format!(
            "{path}: must be an object of weights by revision ARN, not {}",
            super::json_kind(other)
        ))),
    }
}

impl HookInvocation {
    /// Parses the payload ECS invokes a hook with. Every error names the field.
    pub fn parse(v: &Value) -> Result<Self> {
        if !v.is_object() {
            return Err(Error::bad_event(format!(
                "the event must be a JSON object (an ECS lifecycle hook invocation), not {}",
                super::json_kind(v)
            )));
        }
        if !v["executionDetails"].is_object() {
            return Err(Error::bad_event(
                "executionDetails: missing or not an object: not an ECS lifecycle hook invocation",
            ));
        }
        let details = &v["executionDetails"];
        let hook_details = match &v["hookDetails"] {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            other => {
                return Err(Error::bad_event(format!(
                    "hookDetails: must be an object, not {}",
                    super::json_kind(other)
                )))
            }
        };
        Ok(HookInvocation {
            execution_id: text(v, "executionId")?,
            stage: LifecycleStage::from(text(v, "lifecycleStage")?.as_str()),
            service_deployment_arn: text(v, "resourceArn")?,
            service_arn: text(v, "executionDetails.serviceArn")?,
            target_revision_arn: text(v, "executionDetails.targetServiceRevisionArn")?,
            test_weights: weights(
                &details["testTrafficWeights"],
                "executionDetails.testTrafficWeights",
            )?,
            production_weights: weights(
                &details["productionTrafficWeights"],
                "executionDetails.productionTrafficWeights",
            )?,
            hook_details,
        })
    }

    /// The share of production traffic the new revision has (or is about to have), when the
    /// stage says it.
    pub fn green_production_weight(&self) -> Option<f64> {
        self.production_weights
            .get(&self.target_revision_arn)
            .copied()
    }

    /// Whether this is a shift back to the old revision: ECS has no rollback stage; it invokes
    /// the `TEST_TRAFFIC_SHIFT` and `PRODUCTION_TRAFFIC_SHIFT` hooks again with the weights
    /// reversed (the new revision at 0, another above it).
    pub fn is_rollback_shift(&self) -> bool {
        let reversed = |w: &Weights| {
            w.get(&self.target_revision_arn) == Some(&0.0)
                && w.iter()
                    .any(|(arn, w)| arn != &self.target_revision_arn && *w > 0.0)
        };
        match self.stage {
            LifecycleStage::ProductionTrafficShift => reversed(&self.production_weights),
            LifecycleStage::TestTrafficShift => reversed(&self.test_weights),
            _ => false,
        }
    }
}

crate::string_enum! {
    /// What happened to a hook (`detail.eventName` of `ECS Hook State Change`).
    pub enum HookEventName {
        InProgress = "HOOK_IN_PROGRESS",
        AwaitingAction = "HOOK_AWAITING_ACTION",
        Succeeded = "HOOK_SUCCEEDED",
        Failed = "HOOK_FAILED",
        TimedOut = "HOOK_TIMED_OUT",
    }
}

/// The detail of an `ECS Hook State Change` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookStateChange {
    #[serde(default)]
    pub event_type: Option<String>,
    pub event_name: HookEventName,
    pub hook_id: String,
    /// `PAUSE` or `AWS_LAMBDA`.
    #[serde(default)]
    pub hook_type: Option<String>,
    /// When a waiting pause hook times out (and its timeout action is taken).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub lifecycle_stage: Option<LifecycleStage>,
    #[serde(default)]
    pub cluster_arn: Option<String>,
    pub service_arn: String,
    pub service_deployment_arn: String,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}
