//! A metric alarm on a service, in the project's terms.

use super::arn::Arn;

/// A metric alarm on a service, as off-hours reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAlarm {
    pub name: String,
    pub arn: String,
    /// Whether its actions are on now.
    pub actions_enabled: bool,
    /// Its `AlarmActions`, `OKActions` and `InsufficientDataActions` (ARNs).
    pub actions: Vec<String>,
}

impl ServiceAlarm {
    /// Whether one of its actions is a scaling policy (`arn:<partition>:autoscaling:<region>:
    /// <account>:scalingPolicy:<id>:resource/...`, the ARN Application Auto Scaling gives a
    /// policy and sets as the action of the alarms a target-tracking policy creates, or of a
    /// step-scaling alarm): such an alarm drives scaling, it is not a page, and it belongs to
    /// auto scaling.
    pub fn drives_scaling(&self) -> bool {
        self.actions.iter().any(|a| {
            Arn::parse(a).is_some_and(|arn| {
                arn.service == "autoscaling" && arn.resource.starts_with("scalingPolicy:")
            })
        })
    }
}
