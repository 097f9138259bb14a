//! Typed EventBridge events.
//!
//! Parsing is tolerant: unknown fields are ignored, unknown enum values are kept as
//! `Other(String)`. A malformed event is a `BadEvent` error that names the field, never a panic.

mod cloudwatch_alarm;
mod ecr;
mod ecs_deployment;
mod ecs_hook;
mod ecs_task;
mod sns_alarm;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use cloudwatch_alarm::{
    parse_time, AlarmConfiguration, AlarmState, AlarmStateChange, AlarmStateValue, Metric,
    MetricQuery, MetricStat,
};
pub use ecr::{ActionType, EcrImageAction, PushResult};
pub use ecs_deployment::{DeploymentEventName, EcsDeploymentStateChange};
pub use ecs_hook::{HookEventName, HookInvocation, HookStateChange, LifecycleStage, Weights};
pub use ecs_task::{EcsTaskStateChange, StopCode, TaskContainer};
pub use sns_alarm::{alarm_events as sns_alarm_events, is_sns_event};

use crate::error::{Error, Result};

/// An EventBridge event with its detail still untyped.
pub type Envelope = EventBridgeEvent<Value>;

/// An EventBridge event with a typed detail.
#[derive(Clone, Debug, PartialEq)]
pub struct Event<D> {
    pub id: String,
    pub detail_type: String,
    pub source: String,
    pub account: String,
    pub region: String,
    pub time: Option<chrono::DateTime<chrono::Utc>>,
    pub resources: Vec<String>,
    pub detail: D,
}

/// Parses the envelope of an EventBridge event; names the field that was wrong.
pub fn envelope(value: Value) -> Result<Envelope> {
    if !value.is_object() {
        return Err(Error::bad_event(format!(
            "the event must be a JSON object, got {}",
            json_kind(&value)
        )));
    }
    let env: Envelope = serde_path_to_error::deserialize(value)
        .map_err(|e| Error::bad_event(format!("{}: {}", e.path(), e.inner())))?;
    if !env.detail.is_object() {
        return Err(Error::bad_event(format!(
            "detail: must be a JSON object, got {}",
            json_kind(&env.detail)
        )));
    }
    Ok(env)
}

/// Types the detail of an envelope; the error names the field as `detail.<path>`.
pub fn typed<D: DeserializeOwned>(env: Envelope) -> Result<Event<D>> {
    let detail: D = serde_path_to_error::deserialize(env.detail)
        .map_err(|e| Error::bad_event(format!("detail.{}: {}", e.path(), e.inner())))?;
    Ok(Event {
        id: env.id.unwrap_or_default(),
        detail_type: env.detail_type,
        source: env.source,
        account: env.account.unwrap_or_default(),
        region: env.region.unwrap_or_default(),
        time: env.time,
        resources: env.resources.unwrap_or_default(),
        detail,
    })
}

/// One message of an SQS event, as Lambda's event source mapping hands it over
/// (`{"Records": [{"messageId": ..., "body": ..., "eventSource": "aws:sqs", ...}]}`, "Using
/// Lambda with Amazon SQS"). The body is the EventBridge event a rule sent to the queue.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsRecord {
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_handle: Option<String>,
    pub body: String,
    /// `ApproximateReceiveCount`, `SentTimestamp`, and on a FIFO queue `MessageGroupId`,
    /// `SequenceNumber`, `MessageDeduplicationId`.
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub message_attributes: serde_json::Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5_of_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5_of_message_attributes: Option<String>,
    pub event_source: String,
    #[serde(rename = "eventSourceARN", default)]
    pub event_source_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<String>,
}

impl SqsRecord {
    /// Whether the message came from a FIFO queue (whose name AWS requires to end in `.fifo`),
    /// where order within a batch must hold.
    pub fn is_fifo(&self) -> bool {
        self.event_source_arn.ends_with(".fifo") || self.attributes.contains_key("MessageGroupId")
    }

    /// The event the body carries; a body that is not JSON is a `BadEvent` naming the message.
    pub fn event(&self) -> Result<Value> {
        serde_json::from_str(&self.body).map_err(|e| {
            Error::bad_event(format!(
                "SQS message {}: body is not a JSON event: {e}",
                self.message_id
            ))
        })
    }
}

/// The messages of an SQS event, in the order Lambda delivered them; `None` when the payload is
/// not an SQS event (an EventBridge event, or the SNS records the alarm-notifier reads). A
/// `Records` array whose first record says `"eventSource": "aws:sqs"` is an SQS event, and then
/// every record must be a message: one that is not is a `BadEvent` naming it.
pub fn sqs_records(v: &Value) -> Option<Result<Vec<SqsRecord>>> {
    let records = v.get("Records")?.as_array()?;
    let first = records.first()?;
    if first.get("eventSource").and_then(Value::as_str) != Some("aws:sqs") {
        return None;
    }
    Some(
        records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let rec: SqsRecord = serde_path_to_error::deserialize(r).map_err(|e| {
                    Error::bad_event(format!("Records[{i}].{}: {}", e.path(), e.inner()))
                })?;
                if rec.event_source != "aws:sqs" {
                    return Err(Error::bad_event(format!(
                        "Records[{i}].eventSource: {:?} is not aws:sqs",
                        rec.event_source
                    )));
                }
                if rec.message_id.is_empty() {
                    return Err(Error::bad_event(format!(
                        "Records[{i}].messageId: must not be empty"
                    )));
                }
                Ok(rec)
            })
            .collect(),
    )
}

/// A scheduled event's time: its `time`, else the clock (an invocation by hand).
pub fn scheduled_time(event: &Value) -> Result<DateTime<Utc>> {
    let Some(obj) = event.as_object() else {
        return Err(Error::bad_event(
            "the event must be a JSON object (a scheduled event)",
        ));
    };
    match obj.get("time") {
        None | Some(Value::Null) => Ok(Utc::now()),
        Some(Value::String(t)) => DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| Error::bad_event(format!("time: {t:?} is not an RFC 3339 time"))),
        Some(other) => Err(Error::bad_event(format!(
            "time: must be a string, got {other}"
        ))),
    }
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Declares an enum of the string values AWS documents, keeping any other value as
/// `Other(String)`, so a new value from AWS is carried through instead of rejected.
#[macro_export]
macro_rules! string_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($variant,)+
            /// A value this code does not know yet, kept as sent.
            Other(String),
        }

        impl $name {
            /// The value as AWS spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s.as_str(),
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                Ok($name::from(s.as_ref()))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_errors_name_the_field() {
        let e = envelope(json!([1])).unwrap_err().to_string();
        assert!(e.contains("JSON object"), "{e}");
        let e = envelope(json!({"source": "aws.ecr", "detail": {}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("detail-type"), "{e}");
        let e = envelope(json!({"detail-type": "x", "source": "y"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("detail"), "{e}");
        let e = envelope(json!({"detail-type": 3, "source": "y", "detail": {}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("detail-type"), "{e}");
    }
}

/// The sample events in `events/`, each parsed and written back.
#[cfg(test)]
mod samples {
    use super::*;

    macro_rules! sample {
        ($name:literal) => {
            ($name, include_str!(concat!("../../../events/", $name)))
        };
    }

    /// Every sample of the deployer, as AWS documents the event.
    pub const DEPLOYER: &[(&str, &str)] = &[
        sample!("deployer/ecr-push-latest.json"),
        sample!("deployer/ecr-push-release-tag.json"),
        sample!("deployer/ecr-push-by-digest.json"),
        sample!("deployer/ecr-push-signature.json"),
        sample!("deployer/ecr-push-failed.json"),
        sample!("deployer/ecr-delete.json"),
        sample!("deployer/ecs-deployment-in-progress.json"),
        sample!("deployer/ecs-deployment-completed.json"),
        sample!("deployer/ecs-deployment-failed.json"),
        sample!("deployer/ecs-deployment-rollback.json"),
    ];

    fn round_trip<D: DeserializeOwned + serde::Serialize>(name: &str, raw: &str) {
        let original: Value = serde_json::from_str(raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        let event: Event<D> =
            typed(envelope(original.clone()).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            serde_json::to_value(&event.detail).unwrap(),
            original["detail"],
            "{name}"
        );
        assert_eq!(event.id, original["id"], "{name}");
        assert_eq!(event.account, original["account"], "{name}");
        assert_eq!(event.region, original["region"], "{name}");
        assert_eq!(
            event
                .time
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            original["time"].as_str().map(str::to_string),
            "{name}"
        );
    }

    #[test]
    fn every_deployer_sample_parses_and_round_trips() {
        for (name, raw) in DEPLOYER {
            let v: Value = serde_json::from_str(raw).unwrap();
            match v["detail-type"].as_str() {
                Some("ECR Image Action") => round_trip::<EcrImageAction>(name, raw),
                Some("ECS Deployment State Change") => {
                    round_trip::<EcsDeploymentStateChange>(name, raw)
                }
                other => panic!("{name}: unexpected detail-type {other:?}"),
            }
        }
    }

    /// The SQS-wrapped samples: each record reads back as sent, and its body is the EventBridge
    /// sample it wraps, typed as the function types it.
    #[test]
    fn every_sqs_sample_parses_round_trips_and_unwraps_to_its_event() {
        let samples = [
            (
                sample!("deployer/sqs-ecr-push.json"),
                sample!("deployer/ecr-push-release-tag.json"),
            ),
            (
                sample!("task-watcher/sqs-task-stopped.json"),
                sample!("task-watcher/out-of-memory.json"),
            ),
        ];
        for ((name, raw), (inner_name, inner_raw)) in samples {
            let original: Value =
                serde_json::from_str(raw).unwrap_or_else(|e| panic!("{name}: {e}"));
            let records = sqs_records(&original)
                .unwrap_or_else(|| panic!("{name}: not read as an SQS event"))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(records.len(), 1, "{name}");
            let record = &records[0];
            assert_eq!(
                serde_json::to_value(record).unwrap(),
                original["Records"][0],
                "{name}"
            );
            assert!(record.is_fifo(), "{name}: a FIFO queue's message");
            let event = record.event().unwrap_or_else(|e| panic!("{name}: {e}"));
            let inner: Value = serde_json::from_str(inner_raw).unwrap();
            assert_eq!(event, inner, "{name} wraps {inner_name}");
            match event["detail-type"].as_str() {
                Some("ECR Image Action") => {
                    typed::<EcrImageAction>(envelope(event).unwrap()).unwrap();
                }
                Some("ECS Task State Change") => {
                    typed::<EcsTaskStateChange>(envelope(event).unwrap()).unwrap();
                }
                other => panic!("{name}: unexpected detail-type {other:?}"),
            }
        }
    }

    #[test]
    fn only_sqs_records_are_read_as_sqs_and_bad_ones_are_named() {
        let eventbridge: Value = serde_json::from_str(DEPLOYER[0].1).unwrap();
        assert!(sqs_records(&eventbridge).is_none());
        let sns = serde_json::json!({"Records": [{"EventSource": "aws:sns", "Sns": {}}]});
        assert!(
            sqs_records(&sns).is_none(),
            "the alarm-notifier's SNS records pass through"
        );

        let e = sqs_records(&serde_json::json!({"Records": [
            {"messageId": "m-1", "body": "{}", "eventSource": "aws:sqs"},
            {"body": "{}", "eventSource": "aws:sqs"}
        ]}))
        .unwrap()
        .unwrap_err()
        .to_string();
        assert!(e.contains("Records[1]") && e.contains("messageId"), "{e}");

        let records = sqs_records(&serde_json::json!({"Records": [
            {"messageId": "m-1", "body": "not json", "eventSource": "aws:sqs",
             "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q"}
        ]}))
        .unwrap()
        .unwrap();
        assert!(!records[0].is_fifo());
        let e = records[0].event().unwrap_err();
        assert_eq!(e.error_type(), "NonRetryable");
        assert!(e.to_string().contains("m-1"), "{e}");
    }

    #[test]
    fn samples_mean_what_their_names_say() {
        let ecr = |name: &str| -> EcrImageAction {
            let raw = DEPLOYER.iter().find(|(n, _)| n.ends_with(name)).unwrap().1;
            typed(envelope(serde_json::from_str(raw).unwrap()).unwrap())
                .unwrap()
                .detail
        };
        assert!(ecr("ecr-push-latest.json").is_successful_push());
        assert!(ecr("ecr-push-latest.json").not_an_image().is_none());
        assert!(ecr("ecr-push-signature.json").not_an_image().is_some());
        assert!(ecr("ecr-push-by-digest.json").image_tag.is_none());
        assert!(!ecr("ecr-push-failed.json").is_successful_push());
        assert_eq!(ecr("ecr-delete.json").action_type, ActionType::Delete);
        let dep = |name: &str| -> EcsDeploymentStateChange {
            let raw = DEPLOYER.iter().find(|(n, _)| n.ends_with(name)).unwrap().1;
            typed(envelope(serde_json::from_str(raw).unwrap()).unwrap())
                .unwrap()
                .detail
        };
        assert!(dep("ecs-deployment-rollback.json").is_rollback());
        assert!(!dep("ecs-deployment-in-progress.json").is_rollback());
        assert_eq!(
            dep("ecs-deployment-failed.json").event_name,
            DeploymentEventName::Failed
        );
    }

    #[test]
    fn unknown_values_are_kept_and_unknown_fields_ignored() {
        let raw = serde_json::json!({
            "detail-type": "ECR Image Action", "source": "aws.ecr", "surprise": 1,
            "detail": {"action-type": "REPLICATE", "result": "SUCCESS", "repository-name": "r", "new-field": true}
        });
        let e: Event<EcrImageAction> = typed(envelope(raw).unwrap()).unwrap();
        assert_eq!(e.detail.action_type, ActionType::Other("REPLICATE".into()));
    }

    #[test]
    fn detail_errors_name_the_field() {
        let raw = serde_json::json!({
            "detail-type": "ECR Image Action", "source": "aws.ecr",
            "detail": {"action-type": "PUSH", "result": "SUCCESS", "repository-name": 42}
        });
        let e = typed::<EcrImageAction>(envelope(raw).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("detail.repository-name"), "{e}");
    }
}
