//! CloudWatch alarm notifications delivered through SNS: an alarm action publishes to a topic,
//! and the topic is subscribed to the alarm-notifier. Lambda hands over
//! `{"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "<the alarm as JSON>", ...}}]}`;
//! each record is read into the same [`AlarmStateChange`] as the EventBridge event, so the
//! message, routing and threading are the same.
//!
//! What the SNS form lacks: `reasonData` (the datapoints and the threshold are read from
//! `NewStateReason` and `Trigger.Threshold` instead), the previous state's time (so flapping is
//! not checked), anomaly-detection bands (the reason is quoted), and the region's code (taken
//! from `AlarmArn`; `Region` is a display name such as "US East (N. Virginia)").

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::cloudwatch_alarm::{parse_time, MetricQuery};
use super::{AlarmConfiguration, AlarmState, AlarmStateChange, Event, Metric, MetricStat};
use crate::error::{Error, Result};
use crate::model::arn::Arn;

/// The detail type the alarms read from SNS stand in for.
const ALARM_STATE_CHANGE: &str = "CloudWatch Alarm State Change";

/// Whether an invocation's payload is an SNS event (`Records` rather than an EventBridge
/// envelope).
pub fn is_sns_event(v: &Value) -> bool {
    v.get("Records").is_some()
}

/// Reads every record of an SNS event as an alarm state change. A record that is not an alarm
/// notification is a `BadEvent` naming the record and what it is.
pub fn alarm_events(v: &Value) -> Result<Vec<Event<AlarmStateChange>>> {
    let records = v
        .get("Records")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| Error::bad_event("Records: must be a non-empty array of SNS records"))?;
    records
        .iter()
        .enumerate()
        .map(|(i, r)| record(i, r))
        .collect()
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn record(i: usize, r: &Value) -> Result<Event<AlarmStateChange>> {
    let source = str_at(r, "EventSource").unwrap_or_default();
    if source != "aws:sns" {
        return Err(Error::bad_event(format!(
            "Records[{i}].EventSource: {source:?} is not aws:sns"
        )));
    }
    let sns = r
        .get("Sns")
        .filter(|s| s.is_object())
        .ok_or_else(|| Error::bad_event(format!("Records[{i}].Sns: must be an object")))?;
    let topic = str_at(sns, "TopicArn").unwrap_or("an unknown topic");
    let subject = str_at(sns, "Subject").unwrap_or_default();
    let text = str_at(sns, "Message")
        .ok_or_else(|| Error::bad_event(format!("Records[{i}].Sns.Message: must be a string")))?;
    let not_an_alarm = |what: String| {
        Error::bad_event(format!(
            "Records[{i}].Sns.Message from {topic} (subject {subject:?}) is not a CloudWatch alarm notification: {what}"
        ))
    };
    let m: Value = match serde_json::from_str::<Value>(text) {
        Ok(m) if m.is_object() => m,
        Ok(other) => {
            return Err(not_an_alarm(format!(
                "it is JSON but not an object ({})",
                super::json_kind(&other)
            )))
        }
        Err(_) => {
            let start: String = text.chars().take(40).collect();
            return Err(not_an_alarm(format!("it is plain text ({start:?}...)")));
        }
    };
    let (Some(name), Some(new_state)) = (str_at(&m, "AlarmName"), str_at(&m, "NewStateValue"))
    else {
        let keys: Vec<&str> = m
            .as_object()
            .into_iter()
            .flat_map(|o| o.keys().map(String::as_str))
            .take(8)
            .collect();
        return Err(not_an_alarm(format!(
            "it has no AlarmName and NewStateValue (its keys: {})",
            keys.join(", ")
        )));
    };
    let arn = str_at(&m, "AlarmArn").unwrap_or_default().to_string();
    let parsed = Arn::parse(&arn);
    let reason = str_at(&m, "NewStateReason").map(str::to_string);
    let trigger = m.get("Trigger").cloned().unwrap_or(Value::Null);
    let children = m.get("TriggeringChildren").and_then(Value::as_array);
    let reason_data = match children {
        Some(children) => json!({
            "triggeringAlarms": children
                .iter()
                .map(|c| json!({
                    "arn": c.get("Arn").cloned().unwrap_or(Value::Null),
                    "state": {"value": c.get("State").and_then(|s| s.get("Value")).cloned().unwrap_or(Value::Null)},
                }))
                .collect::<Vec<_>>()
        }),
        None => {
            let mut data = Map::new();
            if let Some(t) = trigger.get("Threshold").and_then(Value::as_f64) {
                data.insert("threshold".into(), json!(t));
            }
            if let Some(points) = reason.as_deref().and_then(datapoints_oldest_first) {
                data.insert("recentDatapoints".into(), json!(points));
            }
            Value::Object(data)
        }
    };
    let detail = AlarmStateChange {
        alarm_name: Some(name.to_string()),
        configuration: AlarmConfiguration {
            description: str_at(&m, "AlarmDescription").map(str::to_string),
            metrics: metrics(&trigger),
            alarm_rule: str_at(&m, "AlarmRule").map(str::to_string),
        },
        state: AlarmState {
            value: Some(new_state.into()),
            reason,
            reason_data: Some(reason_data.to_string()),
            timestamp: str_at(&m, "StateChangeTime").map(str::to_string),
        },
        previous_state: str_at(&m, "OldStateValue").map(|v| AlarmState {
            value: Some(v.into()),
            ..AlarmState::default()
        }),
    };
    Ok(Event {
        id: str_at(sns, "MessageId").unwrap_or_default().to_string(),
        detail_type: ALARM_STATE_CHANGE.into(),
        source: "aws.cloudwatch".into(),
        account: str_at(&m, "AWSAccountId")
            .map(str::to_string)
            .or_else(|| parsed.as_ref().map(|a| a.account.to_string()))
            .unwrap_or_default(),
        region: parsed
            .as_ref()
            .map(|a| a.region.to_string())
            .unwrap_or_default(),
        time: str_at(&m, "StateChangeTime").and_then(parse_time),
        resources: if arn.is_empty() {
            vec![]
        } else {
            vec![arn.clone()]
        },
        detail,
    })
}

/// The datapoints CloudWatch's reason lists, newest first (`[93.2 (16/11/26 14:04:00), 91.7
/// (...)]`), in the order `reasonData` has them: oldest first.
fn datapoints_oldest_first(reason: &str) -> Option<Vec<f64>> {
    let after = reason.split_once("datapoints [")?.1;
    let list = after.split_once(']')?.0;
    let mut points: Vec<f64> = list
        .split("), ")
        .map(|p| p.split_whitespace().next().and_then(|n| n.parse().ok()))
        .collect::<Option<_>>()?;
    points.reverse();
    Some(points)
}

/// SNS's dimensions: `[{"value": "...", "name": "..."}]` (lower case, unlike the rest).
fn dimensions(v: Option<&Value>) -> BTreeMap<String, Value> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let name = str_at(d, "name").or_else(|| str_at(d, "Name"))?;
            let value = d.get("value").or_else(|| d.get("Value"))?;
            Some((name.to_string(), value.clone()))
        })
        .collect()
}

/// SNS writes the statistic in capitals (`AVERAGE`); the EventBridge event as `Average`.
fn statistic(trigger: &Value) -> Option<String> {
    if str_at(trigger, "StatisticType") == Some("ExtendedStatistic") {
        return str_at(trigger, "ExtendedStatistic").map(str::to_string);
    }
    let s = str_at(trigger, "Statistic")?;
    Some(
        match s {
            "AVERAGE" => "Average",
            "SUM" => "Sum",
            "MINIMUM" => "Minimum",
            "MAXIMUM" => "Maximum",
            "SAMPLE_COUNT" => "SampleCount",
            other => other,
        }
        .to_string(),
    )
}

/// The alarm's metrics from its `Trigger`: the single metric, or the `Metrics` of metric math.
fn metrics(trigger: &Value) -> Vec<MetricQuery> {
    if let Some(list) = trigger.get("Metrics").and_then(Value::as_array) {
        return list
            .iter()
            .map(|q| MetricQuery {
                id: str_at(q, "Id").map(str::to_string),
                expression: str_at(q, "Expression").map(str::to_string),
                label: str_at(q, "Label").map(str::to_string),
                return_data: q.get("ReturnData").and_then(Value::as_bool),
                metric_stat: q.get("MetricStat").map(|s| {
                    let metric = s.get("Metric").cloned().unwrap_or(Value::Null);
                    MetricStat {
                        metric: Metric {
                            namespace: str_at(&metric, "Namespace").map(str::to_string),
                            name: str_at(&metric, "MetricName").map(str::to_string),
                            dimensions: dimensions(metric.get("Dimensions")),
                        },
                        period: s.get("Period").and_then(Value::as_i64),
                        stat: str_at(s, "Stat").map(str::to_string),
                        unit: str_at(s, "Unit").map(str::to_string),
                    }
                }),
            })
            .collect();
    }
    let Some(name) = str_at(trigger, "MetricName") else {
        return vec![];
    };
    vec![MetricQuery {
        id: Some("m1".into()),
        metric_stat: Some(MetricStat {
            metric: Metric {
                namespace: str_at(trigger, "Namespace").map(str::to_string),
                name: Some(name.to_string()),
                dimensions: dimensions(trigger.get("Dimensions")),
            },
            period: trigger.get("Period").and_then(Value::as_i64),
            stat: statistic(trigger),
            unit: str_at(trigger, "Unit").map(str::to_string),
        }),
        expression: None,
        label: None,
        return_data: Some(true),
    }]
}
