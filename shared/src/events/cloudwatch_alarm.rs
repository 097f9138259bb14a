//! `CloudWatch Alarm State Change` (source `aws.cloudwatch`).
//!
//! Every part of the detail is optional and parsed on its own: an alarm of a shape this code has
//! not seen still yields what could be read, so the notifier can always say something useful.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

crate::string_enum! {
    /// An alarm's state.
    pub enum AlarmStateValue { Ok = "OK", Alarm = "ALARM", InsufficientData = "INSUFFICIENT_DATA" }
}

/// One state of the alarm (current or previous).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmState {
    #[serde(default)]
    pub value: Option<AlarmStateValue>,
    #[serde(default)]
    pub reason: Option<String>,
    /// A JSON document in a string, as CloudWatch sends it.
    #[serde(default)]
    pub reason_data: Option<String>,
    #[serde(default)]
    pub timestamp: Option<String>,
}

impl AlarmState {
    /// The timestamp (CloudWatch writes `2019-10-02T17:04:40.989+0000`).
    pub fn time(&self) -> Option<DateTime<Utc>> {
        parse_time(self.timestamp.as_deref()?)
    }

    /// `reasonData`, parsed; `Null` when absent or not JSON.
    pub fn reason_data(&self) -> Value {
        self.reason_data
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null)
    }
}

/// CloudWatch's timestamps, with or without a colon in the offset.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A metric.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub dimensions: BTreeMap<String, Value>,
}

/// A metric with its statistic and period.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricStat {
    #[serde(default)]
    pub metric: Metric,
    #[serde(default)]
    pub period: Option<i64>,
    #[serde(default)]
    pub stat: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
}

/// One entry of the alarm's metrics: a metric or an expression.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricQuery {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub metric_stat: Option<MetricStat>,
    #[serde(default)]
    pub expression: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub return_data: Option<bool>,
}

/// The alarm's configuration as the event carries it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AlarmConfiguration {
    pub description: Option<String>,
    pub metrics: Vec<MetricQuery>,
    /// Composite alarms.
    pub alarm_rule: Option<String>,
}

/// The detail of a `CloudWatch Alarm State Change` event.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AlarmStateChange {
    pub alarm_name: Option<String>,
    pub configuration: AlarmConfiguration,
    pub state: AlarmState,
    pub previous_state: Option<AlarmState>,
}

fn part<T: DeserializeOwned>(v: Option<&Value>) -> Option<T> {
    v.and_then(|v| serde_json::from_value(v.clone()).ok())
}

impl AlarmStateChange {
    /// Reads whatever parts of the detail make sense; never fails.
    pub fn lenient(detail: &Value) -> Self {
        let config = detail.get("configuration");
        let metrics = config
            .and_then(|c| c.get("metrics"))
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(|m| part(Some(m))).collect())
            .unwrap_or_default();
        AlarmStateChange {
            alarm_name: part(detail.get("alarmName")),
            configuration: AlarmConfiguration {
                description: part(config.and_then(|c| c.get("description"))),
                metrics,
                alarm_rule: part(config.and_then(|c| c.get("alarmRule"))),
            },
            state: part(detail.get("state")).unwrap_or_default(),
            previous_state: part(detail.get("previousState")),
        }
    }

    /// The metric the alarm watches, when it watches one (the single metric, or the one an
    /// expression is built on).
    pub fn primary_metric(&self) -> Option<&MetricStat> {
        let with_stat = || {
            self.configuration
                .metrics
                .iter()
                .filter_map(|m| m.metric_stat.as_ref())
        };
        self.configuration
            .metrics
            .iter()
            .find(|m| m.return_data != Some(false) && m.metric_stat.is_some())
            .and_then(|m| m.metric_stat.as_ref())
            .or_else(|| with_stat().next())
    }

    /// The expression whose result the alarm compares (metric math, anomaly detection).
    pub fn expression(&self) -> Option<&MetricQuery> {
        self.configuration
            .metrics
            .iter()
            .find(|m| m.expression.is_some() && m.return_data != Some(false))
    }

    /// A dimension of the watched metric, as text.
    pub fn dimension(&self, name: &str) -> Option<String> {
        self.configuration
            .metrics
            .iter()
            .filter_map(|m| m.metric_stat.as_ref())
            .find_map(|s| s.metric.dimensions.get(name))
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    }
}
