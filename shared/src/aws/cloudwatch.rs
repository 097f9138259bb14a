//! CloudWatch adapters: alarm tags and history (alarm-notifier), the alarms that name a service
//! and their actions (off-hours).

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{AlarmType, HistoryItemType};
use aws_sdk_cloudwatch::Client;
use chrono::{DateTime, Duration, Utc};

use crate::error::{Error, Result};

/// Enable/DisableAlarmActions take at most this many alarms per call.
pub const ALARM_ACTIONS_BATCH: usize = 100;

/// An alarm's tags.
pub async fn alarm_tags(client: &Client, arn: &str) -> Result<BTreeMap<String, String>> {
    let out = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| Error::aws("ListTagsForResource", e))?;
    Ok(out
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect())
}

/// The times of an alarm's state changes between `from` and `to` (at most 100).
pub async fn state_changes(
    client: &Client,
    name: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    let to_smithy =
        |t: DateTime<Utc>| aws_smithy_types::DateTime::from_millis(t.timestamp_millis());
    let out = client
        .describe_alarm_history()
        .alarm_name(name)
        .history_item_type(HistoryItemType::StateUpdate)
        // Without AlarmTypes only metric alarms' history comes back: a composite alarm would
        // never count as flapping.
        .alarm_types(AlarmType::CompositeAlarm)
        .alarm_types(AlarmType::MetricAlarm)
        .start_date(to_smithy(from))
        .end_date(to_smithy(to))
        .max_records(100)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeAlarmHistory", e))?;
    Ok(out
        .alarm_history_items()
        .iter()
        .map(|i| {
            i.timestamp()
                .and_then(|t| t.to_millis().ok())
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or(from - Duration::days(1))
        })
        .collect())
}

/// Metric alarms by the (cluster, service) their dimensions name.
pub async fn alarms_by_service(client: &Client) -> Result<BTreeMap<(String, String), Vec<String>>> {
    let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut pages = client
        .describe_alarms()
        .alarm_types(AlarmType::MetricAlarm)
        .max_records(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("DescribeAlarms", e))?;
        for a in page.metric_alarms() {
            let dim = |n: &str| {
                a.dimensions()
                    .iter()
                    .find(|d| d.name() == Some(n))
                    .and_then(|d| d.value())
                    .map(str::to_string)
            };
            if let (Some(c), Some(s), Some(name)) =
                (dim("ClusterName"), dim("ServiceName"), a.alarm_name())
            {
                out.entry((c, s)).or_default().push(name.to_string());
            }
        }
    }
    Ok(out)
}

/// Turns the alarms' actions on or off, 100 per call.
pub async fn set_alarm_actions(client: &Client, names: &[String], enable: bool) -> Result<()> {
    for chunk in names.chunks(ALARM_ACTIONS_BATCH) {
        if enable {
            client
                .enable_alarm_actions()
                .set_alarm_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| Error::aws("EnableAlarmActions", e))?;
        } else {
            client
                .disable_alarm_actions()
                .set_alarm_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| Error::aws("DisableAlarmActions", e))?;
        }
    }
    Ok(())
}
