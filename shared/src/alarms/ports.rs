//! What the alarm-notifier needs from AWS beyond reading services and publishing, and its
//! implementation for [`Clients`].

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Utc};

use crate::aws::{cloudwatch, Clients};
use crate::error::Result;
use crate::ports::{Calls, Publish, ReadServices};

/// What the alarm-notifier needs beyond reading services and publishing; it reads an alarm's
/// tags (`autopilot:severity`, `autopilot:runbook`).
pub trait AlarmPorts: Calls + Publish + ReadServices {
    /// An alarm's tags (`autopilot:severity`, `autopilot:runbook`).
    fn alarm_tags(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>>> + Send;
    /// The times of an alarm's state changes between `from` and `to`.
    fn state_changes(
        &self,
        name: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<DateTime<Utc>>>> + Send;
}

impl AlarmPorts for Clients {
    async fn alarm_tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        cloudwatch::alarm_tags(&self.cloudwatch, arn).await
    }

    async fn state_changes(
        &self,
        name: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        cloudwatch::state_changes(&self.cloudwatch, name, from, to).await
    }
}
