//! The in-memory fake's side of the gate's ports (`testing::FakeAws`).

use chrono::{DateTime, Utc};

use super::plan::DeploymentFacts;
use super::GatePorts;
use crate::error::Result;
use crate::model::health::{AlarmReading, TargetHealth, Traffic};
use crate::testing::FakeAws;

/// What the gate's reads find.
#[derive(Clone, Debug, Default)]
pub struct GateWorld {
    pub deployment: DeploymentFacts,
    pub alarms: Vec<AlarmReading>,
    pub targets: TargetHealth,
    pub traffic: Traffic,
    /// The windows traffic was read over.
    pub traffic_reads: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl GatePorts for FakeAws {
    async fn deployment(
        &self,
        _deployment_arn: &str,
        _revision_arn: &str,
    ) -> Result<DeploymentFacts> {
        self.call_or_fail("ECS.DescribeServiceDeployments")?;
        self.call_or_fail("ECS.DescribeServiceRevisions")?;
        Ok(self.with(|s| s.gate.deployment.clone()))
    }

    async fn alarms(&self, names: &[String]) -> Result<Vec<AlarmReading>> {
        self.call_or_fail("CloudWatch.DescribeAlarms")?;
        Ok(self.with(|s| {
            s.gate
                .alarms
                .iter()
                .filter(|a| names.contains(&a.name))
                .cloned()
                .collect()
        }))
    }

    async fn target_health(&self, _target_group_arn: &str) -> Result<TargetHealth> {
        self.call_or_fail("Elastic Load Balancing v2.DescribeTargetHealth")?;
        Ok(self.with(|s| s.gate.targets.clone()))
    }

    async fn traffic(
        &self,
        _target_group_arn: &str,
        _load_balancer: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Traffic> {
        self.call_or_fail("CloudWatch.GetMetricData")?;
        Ok(self.with(|s| {
            s.gate.traffic_reads.push((from, to));
            s.gate.traffic
        }))
    }
}
