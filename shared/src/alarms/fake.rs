//! The in-memory fake's side of this job's ports (`testing::FakeAws`).

use std::collections::BTreeMap;

use crate::error::Result;
use crate::testing::FakeAws;
use chrono::{DateTime, Utc};

use super::AlarmPorts;

impl AlarmPorts for FakeAws {
    async fn alarm_tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        self.tags_of_alarm(arn).await
    }

    async fn state_changes(
        &self,
        name: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        self.call("CloudWatch.DescribeAlarmHistory");
        Ok(self.with(|s| {
            s.history
                .get(name)
                .map(|v| {
                    v.iter()
                        .filter(|t| **t >= from && **t <= to)
                        .copied()
                        .collect()
                })
                .unwrap_or_default()
        }))
    }
}
