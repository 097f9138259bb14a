//! The deployer's push plan as data: a decision per service (deploy or skip, with a reason),
//! the state it was decided on, and the step to carry out.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::service::ServiceSnapshot;

/// What happens to one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Deploy,
    Skip,
}

/// Why: one code per decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    NotASuccessfulPush,
    NoMatchingTarget,
    NoTag,
    NotAnImage,
    AlreadyRunning,
    OlderThanRunning,
    DeployFreeze,
    ServiceNotFound,
    ContainerNotFound,
    UnsupportedDeploymentController,
    ShortServiceArn,
    /// Decided and begun, but an AWS call failed (announced on its own, with the error).
    DeployFailed,
    Deployed,
}

impl Reason {
    /// The decisions that chat must hear of: a deploy, and skips a person has to act on or
    /// should know were held back.
    pub fn is_notified(self) -> bool {
        matches!(
            self,
            Reason::Deployed
                | Reason::ServiceNotFound
                | Reason::ContainerNotFound
                | Reason::UnsupportedDeploymentController
                | Reason::ShortServiceArn
                | Reason::DeployFreeze
        )
    }
}

/// One decision, as the invocation returns it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub action: Action,
    pub reason: Reason,
    pub detail: String,
    pub task_definition_arn: Option<String>,
    pub dry_run: bool,
}

/// The service's live task definition, summarised.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveTaskDefinition {
    pub arn: String,
    /// (container name, image) in definition order.
    pub containers: Vec<(String, String)>,
    pub tags: BTreeMap<String, String>,
}

/// The state of one target's service: `service` is `None` when DescribeServices did not find it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Live {
    pub service: Option<ServiceSnapshot>,
    pub task_definition: Option<LiveTaskDefinition>,
}

/// A change to make.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Step {
    /// Register a copy of `base` with `container`'s image set to `image` and `tags` as its
    /// tags, then point the service at it.
    PinDigest {
        service_arn: String,
        base: String,
        container: String,
        image: String,
        tags: BTreeMap<String, String>,
    },
    /// Record the image on the service's tags, then force a new deployment.
    FollowTag {
        service_arn: String,
        tags: BTreeMap<String, String>,
    },
}

/// One target's decision and the change it needs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Planned {
    /// Index into `DEPLOY_TARGETS`; `None` for the lone "no target" decision.
    pub target: Option<usize>,
    pub decision: Decision,
    pub step: Option<Step>,
}

/// The plan for one push.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PushPlan {
    pub event_id: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub planned: Vec<Planned>,
}
