//! Elastic Load Balancing adapter: the health of a target group's targets (the deploy-gate).

use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;
use aws_sdk_elasticloadbalancingv2::Client;

use crate::error::{Error, Result};
use crate::model::health::TargetHealth;

/// How many reasons a reading keeps (the first few say enough).
const REASONS: usize = 3;

/// The targets of a target group, counted by health state, with why the unhealthy ones are.
pub async fn target_health(client: &Client, target_group_arn: &str) -> Result<TargetHealth> {
    let out = client
        .describe_target_health()
        .target_group_arn(target_group_arn)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeTargetHealth", e))?;
    let mut health = TargetHealth::default();
    for d in out.target_health_descriptions() {
        let Some(h) = d.target_health() else {
            health.other += 1;
            continue;
        };
        match h.state() {
            Some(TargetHealthStateEnum::Healthy) => health.healthy += 1,
            Some(TargetHealthStateEnum::Initial) => health.initial += 1,
            Some(TargetHealthStateEnum::Unhealthy) => health.unhealthy += 1,
            _ => health.other += 1,
        }
        let reason = match (h.reason(), h.description()) {
            (Some(r), Some(text)) => Some(format!("{}: {text}", r.as_str())),
            (Some(r), None) => Some(r.as_str().to_string()),
            (None, Some(text)) => Some(text.to_string()),
            (None, None) => None,
        };
        if let Some(reason) = reason.filter(|_| h.state() != Some(&TargetHealthStateEnum::Healthy))
        {
            if health.reasons.len() < REASONS && !health.reasons.contains(&reason) {
                health.reasons.push(reason);
            }
        }
    }
    Ok(health)
}
