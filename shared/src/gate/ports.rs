//! What the deploy-gate needs from AWS beyond reading services and publishing, and its
//! implementation for [`Clients`].

use std::future::Future;

use chrono::{DateTime, Utc};

use super::plan::DeploymentFacts;
use crate::aws::{cloudwatch, ecs, elbv2, Clients};
use crate::error::{Error, Result};
use crate::model::arn::{load_balancer_dimension, target_group_dimension};
use crate::model::health::{AlarmReading, TargetHealth, Traffic};
use crate::ports::{Calls, Publish, ReadServices};

/// What the gate reads to judge a release.
pub trait GatePorts: Calls + Publish + ReadServices {
    /// The service deployment and its new revision's target group and load balancer.
    fn deployment(
        &self,
        deployment_arn: &str,
        revision_arn: &str,
    ) -> impl Future<Output = Result<DeploymentFacts>> + Send;
    /// The states of named alarms (an alarm that does not exist is absent).
    fn alarms(&self, names: &[String]) -> impl Future<Output = Result<Vec<AlarmReading>>> + Send;
    /// A target group's targets by health.
    fn target_health(
        &self,
        target_group_arn: &str,
    ) -> impl Future<Output = Result<TargetHealth>> + Send;
    /// A target group's requests and 5XX between two times (`target_group` the group's ARN,
    /// `load_balancer` its `app/<name>/<id>` dimension).
    fn traffic(
        &self,
        target_group_arn: &str,
        load_balancer: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Traffic>> + Send;
}

impl GatePorts for Clients {
    async fn deployment(
        &self,
        deployment_arn: &str,
        revision_arn: &str,
    ) -> Result<DeploymentFacts> {
        let (deployment, revision) = futures_util::join!(
            ecs::service_deployment(&self.ecs, deployment_arn),
            ecs::revision_target_group(&self.ecs, revision_arn)
        );
        let deployment = deployment?.ok_or_else(|| {
            Error::invariant(format!(
                "DescribeServiceDeployments does not know {deployment_arn}"
            ))
        })?;
        let (target_group, rule) = revision?.unzip();
        Ok(DeploymentFacts {
            deployment,
            load_balancer: rule.flatten().as_deref().and_then(load_balancer_dimension),
            target_group,
        })
    }

    async fn alarms(&self, names: &[String]) -> Result<Vec<AlarmReading>> {
        cloudwatch::alarm_states(&self.cloudwatch, names).await
    }

    async fn target_health(&self, target_group_arn: &str) -> Result<TargetHealth> {
        elbv2::target_health(&self.elb, target_group_arn).await
    }

    async fn traffic(
        &self,
        target_group_arn: &str,
        load_balancer: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Traffic> {
        let target_group = target_group_dimension(target_group_arn).ok_or_else(|| {
            Error::invariant(format!("{target_group_arn} is not a target group ARN"))
        })?;
        cloudwatch::target_group_traffic(&self.cloudwatch, &target_group, load_balancer, from, to)
            .await
    }
}
